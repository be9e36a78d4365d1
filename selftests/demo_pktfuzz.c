// SPDX-License-Identifier: GPL-2.0
/*
 * AF_DEMO packet fuzzer: crafted DEMO packets, injected from userspace
 * through an AF_INET raw socket of protocol ipproto, starting from valid
 * packets captured on the wire. It proves that
 *
 *  - every malformed packet is dropped by demo_validate() and counted
 *    exactly: a userspace copy of the receive rules (demo_validate(),
 *    demo_seq_hdr_valid(), demo_dgram_rcv(), demo_seq_rcv()) predicts the
 *    fate of each injected packet, and the deltas of the target's
 *    /proc/net/demo_stat counters must equal the predictions;
 *  - no socket receives garbage: every datagram a socket of the target
 *    reads is exactly one the fuzzer sent with a valid header (source
 *    port and bytes; payloads carry a self-check), a raw AF_DEMO socket
 *    sees exactly the valid packets, and the established connection
 *    carries exactly the message stream its peer sent;
 *  - a SYN flood and wrong handshake cookies at a listener cost it nothing
 *    but its table of handshakes in progress (which overflows: SYN cookies
 *    from then on): legitimate clients still connect, exchange data and
 *    close in time;
 *  - afterwards normal traffic works: datagrams both ways, a new
 *    connection with data both ways, the old connection still carries
 *    data and closes cleanly.
 *
 * Topology: namespaces pfz_a (injector, 198.18.20.1) and pfz_b (target,
 * 198.18.20.2) over veth. The injector writes the DEMO header and payload
 * (the kernel builds the IPv4 header), except for the SYN flood, whose
 * spoofed sources (198.19.20.0/24, routed by the target to the injector,
 * which does not forward them) need IP_HDRINCL. In pfz_b an AF_INET raw
 * socket of protocol ipproto sees every DEMO packet arriving, valid or
 * not: it captures the templates, and the fuzzer waits for each batch it
 * injected to show up there, in order, before the next one (pacing, so no
 * queue overflows and the accounting can be exact).
 *
 * Accounting rules (checked after each phase, once every expected
 * delivery has been read):
 *   dInErrors     == packets predicted invalid (any rule)
 *   dInCsumErrors == packets predicted to fail the checksum only
 *   dNoPorts      == valid datagrams to a port no socket is bound to
 *   dInDatagrams  == datagrams read by the target's sockets (counted at
 *                    recvmsg, as UDP's)
 *   dRcvbufErrors == 0 (paced)
 *   dInSegs       == valid segments injected + segments the injector's own
 *                    sockets sent (its dOutSegs + dRetransSegs; resets
 *                    included in OutSegs) - what veth_a dropped (the
 *                    target's backlog full under load; injected packets
 *                    are never among them, the capture sees each one),
 *                    as nothing else sends to the target
 *   dOutRsts      == valid non-RST segments for an unknown connection
 *                    (phases without the sacrificial connection)
 *   dInDupSegs    == duplicates and segments below rcv_nxt on the live
 *                    connection; dListenDrops == ACKs with wrong cookies
 *                    (sent once the flood overflowed the listener's table
 *                    of handshakes, so cookies are checked, not reset).
 * A wrong cookie is random: it passes with probability 2^-31 per ACK,
 * which would show up as a PassiveOpens mismatch.
 *
 * Repeat a run: AFDEMO_SEED=<seed printed on the first line>.
 * Run as root with af_demo loaded (selftests/run_guest.sh does both).
 */
/* diag() lines go to stdout, in order with the TAP lines. */
#define DEMO_DIAG_STREAM stdout
#include "demo_lib.h"

#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <linux/filter.h>
#include <linux/sockios.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "kselftest_harness.h"

#define NS_A		"pfz_a"
#define NS_B		"pfz_b"
#define ADDR_A		"198.18.20.1"
#define ADDR_B		"198.18.20.2"
#define SPOOF_NET	"198.19.20.0/24"
#define SPOOF_BASE	"198.19.20.0"
#define TMO		10000	/* ms: bound on things that happen at once */

/* Ports of the target. Single-bit flips of DG_PORT0 hit the others. */
#define DG_PORT0	7000
#define NDG		4
static const unsigned short dg_ports[NDG] = { 7000, 7001, 7002, 7004 };
#define LPORT		7100	/* seqpacket listener */
#define FLOOD_BACKLOG	64	/* its backlog */
/* No seqpacket socket there; no single-bit flip of it is LPORT. */
#define UNK_PORT	40000

#define MIN_TOTAL	100000	/* the minimum of packets per run */
#define BATCH		128
#define MAXPKT		2048
#define MAX_OTHERS	4096
#define EXQ_SIZE	(1 << 16)

#define PF_MAGIC	0x70667a31	/* "pfz1" */

/* A seqpacket segment's headers, and offsets in them (docs/PROTOCOL.md). */
#define SEQ_HL		((int)(sizeof(struct demohdr) + sizeof(struct demo_seqhdr)))
#define O_SEQ		12
#define O_ACK		16
#define O_WND		20
#define O_NSACK		22
#define O_RSVD		23

/* Shared by every test (each runs in its own child): the run's total. */
static unsigned long long *run_total;

static void __attribute__((constructor)) pf_shared_init(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	run_total = p == MAP_FAILED ? NULL : p;
}

static bool debug_kernel(void)
{
	struct utsname u;
	size_t n;

	if (uname(&u))
		return false;
	n = strlen(u.release);
	return n > 13 && !strcmp(u.release + n - 13, "-afdemo-debug");
}

/* --- checksums and the receive rules, as the module has them ------------- */

static uint32_t sum16(uint32_t s, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s;
}

/* Ones' complement sum of the pseudo-header (addresses network order). */
static uint32_t pseudo(uint32_t saddr, uint32_t daddr, int proto, size_t len)
{
	uint32_t s = 0;

	s = sum16(s, (const uint8_t *)&saddr, 4);
	s = sum16(s, (const uint8_t *)&daddr, 4);
	return s + proto + (uint32_t)len;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

/* RFC 1982: a before b */
static bool demo_seq_before_u(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

/*
 * Write the checksum a sender would, over the bytes the receiver sums: the
 * header's Length of them when that is sane, else all @len.
 */
static void csum_fill(uint8_t *p, size_t len, uint32_t saddr, uint32_t daddr,
		      int proto)
{
	size_t n = len;
	uint16_t c;

	if (len < 12)
		return;
	if (get16(p + 6) >= 12 && get16(p + 6) <= len)
		n = get16(p + 6);
	put16(p + 8, 0);
	c = ~fold(sum16(pseudo(saddr, daddr, proto, n), p, n)) & 0xffff;
	put16(p + 8, c ? c : 0xffff);
}

enum fate {
	F_SHORT,	/* no room for the header */
	F_LEN,		/* Length < 12 or beyond the IP payload */
	F_CSUM,
	F_VERSION,
	F_TYPE,
	F_DFLAGS,	/* datagram with flags */
	F_SEQHDR,	/* demo_seq_hdr_valid() says no */
	F_DGRAM,	/* valid datagram */
	F_SEQ,		/* valid segment */
	F_MAX
};

static const char *const fate_name[F_MAX] = {
	"short", "badlen", "csum", "version", "type", "dgram_flags",
	"seqhdr", "valid_dgram", "valid_seq",
};

/* Headers and SACK blocks of segment @p: where its payload starts. */
static size_t seg_hl(const uint8_t *p)
{
	return SEQ_HL + p[O_NSACK] * sizeof(struct demo_sack_block);
}

/* demo_seq_hdr_valid() */
static bool seq_hdr_valid(const uint8_t *p, size_t len)
{
	uint16_t flags, ctl;

	if (len < (size_t)SEQ_HL)
		return false;
	flags = get16(p + 10);
	if ((flags & ~DEMO_SEQ_FLAGS) || p[O_RSVD])
		return false;
	if (p[O_NSACK] > DEMO_SEQ_MAX_SACK ||
	    (p[O_NSACK] && !(flags & DEMO_SEQ_ACK)) || len < seg_hl(p))
		return false;
	ctl = flags & (DEMO_SEQ_SYN | DEMO_SEQ_FIN | DEMO_SEQ_RST);
	if (!ctl)
		return flags & DEMO_SEQ_ACK;
	if (ctl & (ctl - 1))
		return false;
	if (len > seg_hl(p) || (flags & DEMO_SEQ_EOR))
		return false;
	return ctl != DEMO_SEQ_FIN || (flags & DEMO_SEQ_ACK);
}

/* demo_validate(); *vlen is the length after trimming. */
static enum fate validate(const uint8_t *p, size_t len, uint32_t saddr,
			  uint32_t daddr, int proto, size_t *vlen)
{
	size_t n;

	*vlen = 0;
	if (len < 12)
		return F_SHORT;
	n = get16(p + 6);
	if (n < 12 || n > len)
		return F_LEN;
	if (fold(sum16(pseudo(saddr, daddr, proto, n), p, n)) != 0xffff)
		return F_CSUM;
	*vlen = n;
	if (p[4] != DEMO_VERSION)
		return F_VERSION;
	switch (p[5]) {
	case DEMOPROTO_DGRAM:
		return get16(p + 10) ? F_DFLAGS : F_DGRAM;
	case DEMOPROTO_SEQPACKET:
		return seq_hdr_valid(p, n) ? F_SEQ : F_SEQHDR;
	default:
		return F_TYPE;
	}
}

static uint64_t fnv(uint64_t h, const void *buf, size_t n)
{
	const uint8_t *p = buf;

	while (n--)
		h = (h ^ *p++) * 0x100000001b3ULL;
	return h;
}

#define FNV0	0xcbf29ce484222325ULL

/*
 * Self-checked payload: magic, id, length, then a hash of the body (a
 * function of the id), then the body. Shorter than 16 bytes: no check.
 */
static void selfchk_fill(uint8_t *p, size_t n, uint32_t id)
{
	uint64_t h;
	size_t i;

	if (n < 16) {
		memset(p, 0xee, n);
		return;
	}
	for (i = 16; i < n; i++)
		p[i] = (uint8_t)((id * 2654435761u) >> (i % 24)) ^ (uint8_t)i;
	put32(p, PF_MAGIC);
	put32(p + 4, id);
	put32(p + 8, (uint32_t)n);
	h = fnv(fnv(FNV0, p + 4, 8), p + 16, n - 16);
	put32(p + 12, (uint32_t)h);
}

static bool selfchk_ok(const uint8_t *p, size_t n)
{
	if (n < 16)
		return true;
	return get32(p) == PF_MAGIC && get32(p + 8) == n &&
	       get32(p + 12) == (uint32_t)fnv(fnv(FNV0, p + 4, 8), p + 16,
					      n - 16);
}

/* --- the fuzzer's state ---------------------------------------------------- */

struct exp_ent {		/* an expected delivery */
	uint64_t h;
	uint32_t len;
	uint32_t saddr;
	uint16_t sport;
	bool chk;		/* a whole self-checked payload */
};

struct exq {
	struct exp_ent *e;
	unsigned int head, tail;
};

struct pkt {
	uint8_t b[MAXPKT];
	size_t len;
	uint32_t saddr;		/* source the packet carries */
	bool hdrincl;		/* b holds an IPv4 header first */
};

struct other {			/* a captured packet the fuzzer did not send */
	uint8_t b[MAXPKT];
	size_t len;
	uint32_t saddr;
};

struct ctr {			/* counters of a phase */
	long b[16], a[3];
};

static const char *const ctr_b[] = {
	"InErrors", "InCsumErrors", "NoPorts", "InDatagrams", "RcvbufErrors",
	"InSegs", "OutRsts", "ListenDrops", "InDupSegs", "PassiveOpens",
	"ListenOverflows", "OutSegs", "EstabResets", NULL
};
enum { C_INERR, C_CSUM, C_NOPORTS, C_INDG, C_RCVBUF, C_INSEGS, C_OUTRSTS,
	C_LDROPS, C_DUP, C_POPENS, C_LOVF, C_OUTSEGS, C_ESTRST };

struct pred {			/* what a phase predicts */
	long t0;
	long inerr, csum, noports, valid_seq, rsts, ldrops, dup;
	long fate[F_MAX];
	long sent;
};

struct pf {
	int proto;
	uint32_t a, b;			/* addresses, network order */
	int inj, injh;			/* A: raw, raw with IP_HDRINCL */
	int cap;			/* B: AF_INET raw of ipproto */
	int draw;			/* B: AF_DEMO raw, any protocol */
	int dg[NDG];			/* B: datagram sockets */
	int da;				/* A: datagram socket */
	int lsn;			/* B: seqpacket listener */
	int la, lb;			/* live connection, A and B ends */
	uint32_t la_next, lb_next;	/* next message index each way */
	uint32_t la_rcvd, lb_rcvd;	/* messages each end read */
	struct demo_rng rng;
	struct pkt *batch;
	int nb;
	struct exq dgq[NDG], rawq;
	struct other *others;
	int nothers;
	long others_total, raw_others, dg_read, garbage;
	struct pred p;
	uint32_t next_id;
	char why[256];
};

static struct pf *G;		/* for the helpers' error messages */

static int ns_socket(const char *ns, int dom, int type, int proto)
{
	int cur = ns_save(), fd = -1;

	if (cur >= 0 && !demo_netns_enter(ns))
		fd = socket(dom, type | SOCK_CLOEXEC, proto);
	ns_restore(cur);
	return fd;
}

static bool selfchk_ok(const uint8_t *p, size_t n);

static void exq_push(struct exq *q, uint64_t h, uint32_t len, uint32_t saddr,
		     uint16_t sport)
{
	struct exp_ent *e = &q->e[q->tail++ % EXQ_SIZE];

	e->chk = false;

	e->h = h;
	e->len = len;
	e->saddr = saddr;
	e->sport = sport;
}

static bool exq_empty(const struct exq *q)
{
	return q->head == q->tail;
}

static void fail(struct pf *pf, const char *fmt, ...)
{
	va_list ap;

	pf->garbage++;
	if (pf->why[0])
		return;
	va_start(ap, fmt);
	vsnprintf(pf->why, sizeof(pf->why), fmt, ap);
	va_end(ap);
	diag("FAIL: %s", pf->why);
}

/* Read every datagram queued at the target's sockets and check each one. */
static void drain_dgram(struct pf *pf)
{
	uint8_t buf[65536];
	struct sockaddr_demo sa;
	socklen_t sl;
	ssize_t n;
	int i;

	for (i = 0; i < NDG; i++) {
		for (;;) {
			struct exq *q = &pf->dgq[i];
			struct exp_ent *e;

			sl = sizeof(sa);
			n = recvfrom(pf->dg[i], buf, sizeof(buf), MSG_DONTWAIT,
				     (struct sockaddr *)&sa, &sl);
			if (n < 0)
				break;
			pf->dg_read++;
			if (exq_empty(q)) {
				fail(pf, "port %u got an unexpected datagram of %zd bytes",
				     dg_ports[i], n);
				continue;
			}
			e = &q->e[q->head++ % EXQ_SIZE];
			if (e->len != n || e->h != fnv(FNV0, buf, n) ||
			    sa.sdemo_addr.s_addr != e->saddr ||
			    ntohs(sa.sdemo_port) != e->sport ||
			    (e->chk && !selfchk_ok(buf, n)))
				fail(pf, "port %u got garbage: %zd bytes from port %u, expected %u bytes from %u",
				     dg_ports[i], n, ntohs(sa.sdemo_port),
				     e->len, e->sport);
		}
	}
}

/* The raw AF_DEMO socket: exactly the valid packets, in order. */
static void drain_raw(struct pf *pf)
{
	uint8_t buf[65536];
	struct sockaddr_demo sa;
	socklen_t sl;
	size_t vlen;
	ssize_t n;

	for (;;) {
		struct exp_ent *e;

		sl = sizeof(sa);
		n = recvfrom(pf->draw, buf, sizeof(buf), MSG_DONTWAIT,
			     (struct sockaddr *)&sa, &sl);
		if (n < 0)
			break;
		if (validate(buf, n, sa.sdemo_addr.s_addr, pf->b, pf->proto,
			     &vlen) < F_DGRAM || vlen != (size_t)n) {
			fail(pf, "raw AF_DEMO socket got an invalid packet (%zd bytes)",
			     n);
			continue;
		}
		e = exq_empty(&pf->rawq) ? NULL :
		    &pf->rawq.e[pf->rawq.head % EXQ_SIZE];
		if (e && e->len == n && e->h == fnv(FNV0, buf, n) &&
		    e->saddr == sa.sdemo_addr.s_addr)
			pf->rawq.head++;
		else
			pf->raw_others++;	/* from a real socket */
	}
}

#define CAPV	64

/*
 * Read the capture socket until every packet of the batch has arrived at
 * the target, in order, and @until (if given) holds; what else arrives is
 * kept in pf->others. With @ms 0, read only what is queued.
 */
static int cap_sync(struct pf *pf, const struct pkt *want, int nwant,
		    bool (*until)(struct pf *), int ms)
{
	static uint8_t bufs[CAPV][MAXPKT + 64];
	long end = demo_now_ms() + ms;
	struct mmsghdr mm[CAPV];
	struct iovec iov[CAPV];
	int got = 0, n, j;

	for (;;) {
		if (ms && got >= nwant && (!until || until(pf)))
			return 0;
		if (ms && demo_now_ms() > end)
			return -1;
		memset(mm, 0, sizeof(mm));
		for (j = 0; j < CAPV; j++) {
			iov[j].iov_base = bufs[j];
			iov[j].iov_len = sizeof(bufs[j]);
			mm[j].msg_hdr.msg_iov = &iov[j];
			mm[j].msg_hdr.msg_iovlen = 1;
		}
		n = recvmmsg(pf->cap, mm, CAPV, MSG_DONTWAIT, NULL);
		if (n <= 0) {
			long left = end - demo_now_ms();

			if (!ms)
				return 0;
			if (left <= 0)
				return -1;
			drain_dgram(pf);
			drain_raw(pf);
			wait_ev(pf->cap, POLLIN, left > 20 ? 20 : (int)left);
			continue;
		}
		for (j = 0; j < n; j++) {
			const struct iphdr *ip = (const void *)bufs[j];
			size_t len = mm[j].msg_len, plen, wlen;
			const uint8_t *pl, *wb;

			if (len < sizeof(*ip) || len < (size_t)ip->ihl * 4)
				continue;
			pl = bufs[j] + ip->ihl * 4;
			plen = len - ip->ihl * 4;
			if (got < nwant) {
				wb = want[got].b;
				wlen = want[got].len;
				if (want[got].hdrincl) {
					wb += 20;
					wlen -= 20;
				}
				if (wlen == plen && !memcmp(wb, pl, plen) &&
				    ip->saddr == want[got].saddr) {
					got++;
					continue;
				}
			}
			pf->others_total++;
			if (pf->nothers < MAX_OTHERS && plen <= MAXPKT) {
				struct other *o = &pf->others[pf->nothers++];

				memcpy(o->b, pl, plen);
				o->len = plen;
				o->saddr = ip->saddr;
			}
		}
	}
}

/* Whatever the capture socket holds now, into pf->others. */
static void cap_drain(struct pf *pf)
{
	cap_sync(pf, NULL, 0, NULL, 0);
}

/* Send the batch and wait until the target has it all. */
static int flush(struct pf *pf)
{
	struct mmsghdr mm[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_in to = { .sin_family = AF_INET };
	int i, done = 0, fd;

	if (!pf->nb)
		return 0;
	to.sin_addr.s_addr = pf->b;
	memset(mm, 0, sizeof(mm));
	for (i = 0; i < pf->nb; i++) {
		iov[i].iov_base = pf->batch[i].b;
		iov[i].iov_len = pf->batch[i].len;
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
		mm[i].msg_hdr.msg_name = &to;
		mm[i].msg_hdr.msg_namelen = sizeof(to);
	}
	/* A batch is all of one kind: flood packets or the others. */
	fd = pf->batch[0].hdrincl ? pf->injh : pf->inj;
	while (done < pf->nb) {
		int n = sendmmsg(fd, mm + done, pf->nb - done, 0);

		if (n <= 0) {
			fail(pf, "sendmmsg: %s", strerror(errno));
			pf->nb = 0;
			return -1;
		}
		done += n;
	}
	if (cap_sync(pf, pf->batch, pf->nb, NULL, TMO)) {
		fail(pf, "injected packets did not all reach the target");
		pf->nb = 0;
		return -1;
	}
	pf->nb = 0;
	drain_dgram(pf);
	drain_raw(pf);
	return 0;
}

/*
 * Predict the fate of @p (DEMO header first, @len bytes, from @saddr) and
 * queue it. Valid segments to LPORT are the caller's to account.
 */
static void inject_from(struct pf *pf, const uint8_t *p, size_t len,
			uint32_t saddr, bool hdrincl)
{
	const uint8_t *d = hdrincl ? p + 20 : p;
	size_t dlen = hdrincl ? len - 20 : len, vlen;
	struct pkt *k;
	enum fate f;
	int i;

	if (pf->nb && pf->batch[0].hdrincl != hdrincl)
		flush(pf);
	f = validate(d, dlen, saddr, pf->b, pf->proto, &vlen);
	pf->p.fate[f]++;
	pf->p.sent++;
	if (f < F_DGRAM) {
		pf->p.inerr++;
		if (f == F_CSUM)
			pf->p.csum++;
	} else {
		exq_push(&pf->rawq, fnv(FNV0, d, vlen), vlen, saddr, 0);
	}
	if (f == F_DGRAM) {
		uint16_t dport = get16(d + 2);

		for (i = 0; i < NDG; i++)
			if (dg_ports[i] == dport)
				break;
		if (i < NDG) {
			struct exq *q = &pf->dgq[i];

			exq_push(q, fnv(FNV0, d + 12, vlen - 12), vlen - 12,
				 saddr, get16(d));
			q->e[(q->tail - 1) % EXQ_SIZE].chk =
				vlen >= 28 && get32(d + 12) == PF_MAGIC &&
				get32(d + 20) == vlen - 12;
		}
		else
			pf->p.noports++;
	}
	if (f == F_SEQ) {
		pf->p.valid_seq++;
		/* No seqpacket socket but the listener's: unknown pair. */
		if (get16(d + 2) != LPORT && !(get16(d + 10) & DEMO_SEQ_RST))
			pf->p.rsts++;
	}
	k = &pf->batch[pf->nb++];
	memcpy(k->b, p, len);
	k->len = len;
	k->saddr = saddr;
	k->hdrincl = hdrincl;
	if (pf->nb == BATCH)
		flush(pf);
}

static void inject(struct pf *pf, const uint8_t *p, size_t len)
{
	inject_from(pf, p, len, pf->a, false);
}

/* Checksum over the injector's address pair. */
static void csum_ab(struct pf *pf, uint8_t *p, size_t len)
{
	csum_fill(p, len, pf->a, pf->b, pf->proto);
}

/* --- phase accounting ------------------------------------------------------- */

/*
 * Packets veth_a dropped on the way to B (B's backlog full under load):
 * the transmit "drop" column of /proc/net/dev in A; -1 if unreadable.
 */
static long veth_a_drops(void)
{
	int cur = ns_save();
	char line[512];
	long v = -1, f[16];
	FILE *f_dev;

	if (cur < 0 || demo_netns_enter(NS_A)) {
		ns_restore(cur);
		return -1;
	}
	f_dev = fopen("/proc/net/dev", "re");
	while (f_dev && fgets(line, sizeof(line), f_dev)) {
		char *p = strstr(line, "veth_a:");

		if (!p)
			continue;
		if (sscanf(p + 7, "%ld %ld %ld %ld %ld %ld %ld %ld %ld %ld %ld %ld",
			   &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6],
			   &f[7], &f[8], &f[9], &f[10], &f[11]) == 12)
			v = f[11];
		break;
	}
	if (f_dev)
		fclose(f_dev);
	ns_restore(cur);
	return v;
}

static void ctr_read(struct ctr *c)
{
	int i;

	for (i = 0; ctr_b[i]; i++)
		c->b[i] = ns_stat(NS_B, ctr_b[i]);
	c->a[0] = ns_stat(NS_A, "OutSegs");
	c->a[1] = ns_stat(NS_A, "RetransSegs");
	c->a[2] = veth_a_drops();
}

static void phase_begin(struct pf *pf, struct ctr *c0)
{
	int i;

	flush(pf);
	drain_dgram(pf);
	drain_raw(pf);
	memset(&pf->p, 0, sizeof(pf->p));
	pf->dg_read = 0;
	pf->raw_others = 0;
	pf->nothers = 0;
	pf->others_total = 0;
	/*
	 * A consistent start: two reads in a row that agree, so that no
	 * segment the injector's own sockets sent (a delayed ACK, a probe)
	 * is counted by A before the start and by B after it.
	 */
	for (i = 0; i < 1000; i++) {
		struct ctr c;

		memset(c0, 0, sizeof(*c0));
		memset(&c, 0, sizeof(c));
		ctr_read(c0);
		ctr_read(&c);
		if (!memcmp(c0, &c, sizeof(c)))
			break;
	}
	pf->p.t0 = demo_now_ms();
}

static bool deliveries_done(struct pf *pf)
{
	int i;

	drain_dgram(pf);
	drain_raw(pf);
	for (i = 0; i < NDG; i++)
		if (!exq_empty(&pf->dgq[i]))
			return false;
	return exq_empty(&pf->rawq);
}

struct want {
	bool rsts, insegs_exact, rcvbuf_zero;
	long ldrops, dup, popens;	/* -1: not checked */
};

/*
 * The end of a phase: wait for every expected delivery, then for the
 * counters to reach the predictions (they are bumped in softirq, maybe on
 * the other CPU), and compare. 0 if all match.
 */
static int phase_end(struct pf *pf, const char *name, const struct ctr *c0,
		     const struct want *w)
{
	long end = demo_now_ms() + TMO, ins, ins_want;
	struct ctr c1;
	int bad, i;

	flush(pf);
	if (cap_sync(pf, NULL, 0, deliveries_done, TMO))
		fail(pf, "%s: expected deliveries missing", name);
	for (;;) {
		ctr_read(&c1);
		drain_dgram(pf);
#define D(i) (c1.b[i] - c0->b[i])
		ins = D(C_INSEGS);
		/* what A's sockets sent, less what veth_a dropped */
		ins_want = pf->p.valid_seq + (c1.a[0] - c0->a[0]) +
			   (c1.a[1] - c0->a[1]) - (c1.a[2] - c0->a[2]);
		bad = (D(C_INERR) != pf->p.inerr) << 0 |
		      (D(C_CSUM) != pf->p.csum) << 1 |
		      (D(C_NOPORTS) != pf->p.noports) << 2 |
		      (D(C_INDG) != pf->dg_read) << 3 |
		      (w->rcvbuf_zero && D(C_RCVBUF)) << 4 |
		      (w->insegs_exact && ins != ins_want) << 5 |
		      (w->rsts && D(C_OUTRSTS) != pf->p.rsts) << 6 |
		      (w->ldrops >= 0 && D(C_LDROPS) != w->ldrops) << 7 |
		      (w->dup >= 0 && D(C_DUP) != w->dup) << 8 |
		      (w->popens >= 0 && D(C_POPENS) != w->popens) << 9;
		if (!bad || demo_now_ms() > end)
			break;
		poll(NULL, 0, 10);
	}
	diag("%s: %ld ms", name, demo_now_ms() - pf->p.t0);
	diag("%s: sent %ld: invalid %ld (csum %ld), noports %ld, valid segs %ld, read %ld dgrams; captured others %ld",
	     name, pf->p.sent, pf->p.inerr, pf->p.csum, pf->p.noports,
	     pf->p.valid_seq, pf->dg_read, pf->others_total);
	for (i = 0; i < F_MAX; i++)
		if (pf->p.fate[i])
			diag("  %-12s %ld", fate_name[i], pf->p.fate[i]);
	diag("  deltas: InErrors %ld InCsumErrors %ld NoPorts %ld InDatagrams %ld RcvbufErrors %ld InSegs %ld (want %ld) OutRsts %ld (pred %ld) ListenDrops %ld InDupSegs %ld PassiveOpens %ld ListenOverflows %ld",
	     D(C_INERR), D(C_CSUM), D(C_NOPORTS), D(C_INDG), D(C_RCVBUF), ins,
	     ins_want, D(C_OUTRSTS), pf->p.rsts, D(C_LDROPS), D(C_DUP),
	     D(C_POPENS), D(C_LOVF));
#undef D
	if (bad)
		fail(pf, "%s: counters differ from the prediction (mask %#x)",
		     name, bad);
	if (run_total)
		__atomic_add_fetch(run_total, pf->p.sent, __ATOMIC_RELAXED);
	return bad;
}

/* --- normal traffic ----------------------------------------------------- */

struct lmsg {
	uint32_t magic, idx, dir, len;
	uint64_t h;
};

static size_t lmsg_fill(uint8_t *buf, uint32_t idx, uint32_t dir)
{
	struct lmsg *m = (struct lmsg *)buf;
	size_t n = sizeof(*m) + (idx * 37 + dir * 11) % 700, i;

	for (i = sizeof(*m); i < n; i++)
		buf[i] = (uint8_t)(idx + i * dir + i);
	m->magic = PF_MAGIC;
	m->idx = idx;
	m->dir = dir;
	m->len = n;
	m->h = fnv(FNV0, buf + sizeof(*m), n - sizeof(*m));
	return n;
}

/* Receive one message of the checked stream: exactly the next one. */
static int lmsg_recv(struct pf *pf, int fd, uint32_t idx, uint32_t dir,
		     int flags)
{
	uint8_t buf[4096], want[4096];
	size_t wn = lmsg_fill(want, idx, dir);
	ssize_t n;

	if (!(flags & MSG_DONTWAIT) && !(wait_ev(fd, POLLIN, TMO) & POLLIN)) {
		fail(pf, "message %u of the live stream did not arrive", idx);
		return -1;
	}
	n = recv(fd, buf, sizeof(buf), flags);
	if (n < 0)
		return -1;
	if ((size_t)n != wn || memcmp(buf, want, wn))
		fail(pf, "live connection delivered garbage (%zd bytes) in place of message %u",
		     n, idx);
	return 0;
}

/* Nothing may have arrived on the live connection since the last check. */
static void live_quiet(struct pf *pf)
{
	char c;

	if (recv(pf->lb, &c, 1, MSG_DONTWAIT | MSG_PEEK) >= 0)
		fail(pf, "the live connection received a message nobody sent");
	if (recv(pf->la, &c, 1, MSG_DONTWAIT | MSG_PEEK) >= 0)
		fail(pf, "the live connection's client received a message nobody sent");
}

/* @n messages each way on the live connection, checked. */
static int live_exchange(struct pf *pf, int n)
{
	uint8_t buf[4096];
	int i;

	live_quiet(pf);
	for (i = 0; i < n; i++) {
		size_t len = lmsg_fill(buf, pf->la_next, 0);

		if (send(pf->la, buf, len, MSG_NOSIGNAL) != (ssize_t)len) {
			fail(pf, "live send A->B: %s", strerror(errno));
			return -1;
		}
		pf->la_next++;
		len = lmsg_fill(buf, pf->lb_next, 1);
		if (send(pf->lb, buf, len, MSG_NOSIGNAL) != (ssize_t)len) {
			fail(pf, "live send B->A: %s", strerror(errno));
			return -1;
		}
		pf->lb_next++;
		if (lmsg_recv(pf, pf->lb, pf->lb_rcvd++, 0, 0) ||
		    lmsg_recv(pf, pf->la, pf->la_rcvd++, 1, 0))
			return -1;
	}
	return 0;
}

/* Wait until @fd has nothing unacknowledged. */
static int outq_empty(int fd)
{
	long end = demo_now_ms() + TMO;

	while (ioctl_int(fd, SIOCOUTQ) != 0) {
		if (demo_now_ms() > end)
			return -1;
		poll(NULL, 0, 5);
	}
	return 0;
}

static int sock_port(int fd)
{
	struct sockaddr_demo sa;

	return sock_name(fd, &sa, false) ? -1 : ntohs(sa.sdemo_port);
}

/* A client in pfz_a connected to the listener, and its accepted end. */
static int connect_pair(struct pf *pf, int *a, int *b)
{
	*a = ns_socket(NS_A, af(), SOCK_SEQPACKET, 0);
	*b = -1;
	if (*a < 0 || connect_to(*a, ADDR_B, LPORT))
		return -1;
	*b = accept_tmo(pf->lsn, TMO);
	return *b < 0 ? -1 : 0;
}

/*
 * Normal traffic still works: a datagram each way, a new connection with
 * data both ways and an orderly close, and the live connection.
 */
static int check_normal(struct pf *pf)
{
	uint8_t buf[2048], rb[2048];
	struct sockaddr_demo to;
	int a, b, ret = -1;
	size_t n;
	ssize_t r;

	/* datagrams */
	n = 200;
	selfchk_fill(buf, n, ++pf->next_id);
	exq_push(&pf->dgq[1], fnv(FNV0, buf, n), n, pf->a, sock_port(pf->da));
	demo_addr(&to, ADDR_B, dg_ports[1]);
	if (sendto(pf->da, buf, n, 0, (struct sockaddr *)&to, sizeof(to)) !=
	    (ssize_t)n) {
		fail(pf, "datagram send: %s", strerror(errno));
		return -1;
	}
	if (cap_sync(pf, NULL, 0, deliveries_done, TMO)) {
		fail(pf, "a normal datagram was not delivered");
		return -1;
	}
	demo_addr(&to, ADDR_A, sock_port(pf->da));
	if (sendto(pf->dg[1], buf, n, 0, (struct sockaddr *)&to,
		   sizeof(to)) != (ssize_t)n ||
	    !(wait_ev(pf->da, POLLIN, TMO) & POLLIN) ||
	    recv(pf->da, rb, sizeof(rb), MSG_DONTWAIT) != (ssize_t)n ||
	    memcmp(rb, buf, n)) {
		fail(pf, "datagram B->A failed");
		return -1;
	}

	/* a new connection */
	if (connect_pair(pf, &a, &b)) {
		fail(pf, "new connection failed: %s", strerror(errno));
		goto out;
	}
	n = lmsg_fill(buf, 7, 2);
	if (send(a, buf, n, 0) != (ssize_t)n || send(b, buf, n, 0) !=
	    (ssize_t)n || lmsg_recv(pf, b, 7, 2, 0) ||
	    lmsg_recv(pf, a, 7, 2, 0)) {
		fail(pf, "new connection: exchange failed");
		goto out;
	}
	if (shutdown(a, SHUT_WR) || !(wait_ev(b, POLLIN, TMO) & POLLIN) ||
	    recv(b, rb, sizeof(rb), 0) != 0 || close(b)) {
		fail(pf, "new connection: no orderly close");
		b = -1;
		goto out;
	}
	b = -1;
	if (!(wait_ev(a, POLLIN, TMO) & POLLIN) ||
	    (r = recv(a, rb, sizeof(rb), 0)) != 0) {
		fail(pf, "new connection: client saw no FIN");
		goto out;
	}
	ret = live_exchange(pf, 3);
out:
	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
	return ret;
}

/* --- fixture ---------------------------------------------------------------- */

#define ASSERT_MODULE() \
	ASSERT_LT(0, af()) TH_LOG("af_demo is not loaded (no %sfamily)", \
				  DEMO_SYSFS_PARAM)

static const char *const setup_cmds[] = {
	"ip netns add " NS_A,
	"ip netns add " NS_B,
	"ip -n " NS_A " link add veth_a address 02:df:00:00:00:0a type veth "
		"peer name veth_b address 02:df:00:00:00:0b netns " NS_B,
	"ip -n " NS_A " addr add " ADDR_A "/24 dev veth_a",
	"ip -n " NS_B " addr add " ADDR_B "/24 dev veth_b",
	"ip -n " NS_A " link set veth_a up",
	"ip -n " NS_B " link set veth_b up",
	"ip -n " NS_A " link set lo up",
	"ip -n " NS_B " link set lo up",
	"ip -n " NS_A " neigh replace " ADDR_B
		" lladdr 02:df:00:00:00:0b dev veth_a nud permanent",
	"ip -n " NS_B " neigh replace " ADDR_A
		" lladdr 02:df:00:00:00:0a dev veth_b nud permanent",
	/* answers to spoofed sources go to A, which does not forward them */
	"ip -n " NS_B " route add " SPOOF_NET " via " ADDR_A,
	"ip netns exec " NS_A " sh -c 'echo 0 > /proc/sys/net/ipv4/ip_forward'",
};

FIXTURE(pf) {
	int init_ns;
	struct pf *pf;
};

static int drop_all_input(int fd)
{
	struct sock_filter f[] = { BPF_STMT(BPF_RET | BPF_K, 0) };
	struct sock_fprog prog = { .len = 1, .filter = f };

	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
			  sizeof(prog));
}

static int big_rcvbuf(int fd)
{
	return setopt_int(fd, SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20);
}

FIXTURE_SETUP(pf)
{
	struct pf *pf;
	cpu_set_t cpu;
	int i, one = 1;

	ASSERT_MODULE();
	/*
	 * One CPU: a veth delivers on the sending CPU's backlog, so packets
	 * sent from one CPU arrive in the order they were sent, which the
	 * capture's in-order matching relies on.
	 */
	CPU_ZERO(&cpu);
	CPU_SET(0, &cpu);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(cpu), &cpu));
	self->init_ns = ns_save();
	ASSERT_LE(0, self->init_ns);
	sh("ip netns del " NS_A " 2>/dev/null; ip netns del " NS_B
	   " 2>/dev/null");
	for (i = 0; i < (int)ARRAY_SIZE(setup_cmds); i++)
		ASSERT_EQ(0, sh("%s", setup_cmds[i])) TH_LOG("%s", setup_cmds[i]);
	ASSERT_EQ(0, link_ready(NS_A, "veth_a", TMO));
	ASSERT_EQ(0, link_ready(NS_B, "veth_b", TMO));

	pf = calloc(1, sizeof(*pf));
	ASSERT_NE(NULL, pf);
	self->pf = pf;
	G = pf;
	pf->batch = calloc(BATCH, sizeof(*pf->batch));
	pf->others = calloc(MAX_OTHERS, sizeof(*pf->others));
	ASSERT_NE(NULL, pf->batch);
	ASSERT_NE(NULL, pf->others);
	for (i = 0; i < NDG; i++) {
		pf->dgq[i].e = calloc(EXQ_SIZE, sizeof(struct exp_ent));
		ASSERT_NE(NULL, pf->dgq[i].e);
	}
	pf->rawq.e = calloc(EXQ_SIZE, sizeof(struct exp_ent));
	ASSERT_NE(NULL, pf->rawq.e);
	pf->rng.s = demo_seed("demo_pktfuzz");
	pf->proto = demo_ipproto();
	ASSERT_LT(0, pf->proto);
	pf->a = inet_addr(ADDR_A);
	pf->b = inet_addr(ADDR_B);

	pf->inj = ns_socket(NS_A, AF_INET, SOCK_RAW, pf->proto);
	pf->injh = ns_socket(NS_A, AF_INET, SOCK_RAW, pf->proto);
	ASSERT_LE(0, pf->inj);
	ASSERT_LE(0, pf->injh);
	ASSERT_EQ(0, setsockopt(pf->injh, IPPROTO_IP, IP_HDRINCL, &one,
				sizeof(one)));
	ASSERT_EQ(0, drop_all_input(pf->inj));
	ASSERT_EQ(0, drop_all_input(pf->injh));
	pf->cap = ns_socket(NS_B, AF_INET, SOCK_RAW, pf->proto);
	ASSERT_LE(0, pf->cap);
	ASSERT_EQ(0, big_rcvbuf(pf->cap));
	pf->draw = ns_socket(NS_B, af(), SOCK_RAW, DEMOPROTO_ANY);
	ASSERT_LE(0, pf->draw);
	ASSERT_EQ(0, big_rcvbuf(pf->draw));
	for (i = 0; i < NDG; i++) {
		pf->dg[i] = ns_socket(NS_B, af(), SOCK_DGRAM, 0);
		ASSERT_LE(0, pf->dg[i]);
		ASSERT_EQ(0, big_rcvbuf(pf->dg[i]));
		ASSERT_EQ(0, bind_to(pf->dg[i], ADDR_B, dg_ports[i]));
	}
	pf->da = ns_socket(NS_A, af(), SOCK_DGRAM, 0);
	ASSERT_LE(0, pf->da);
	ASSERT_EQ(0, bind_to(pf->da, ADDR_A, 0));
	pf->lsn = ns_socket(NS_B, af(), SOCK_SEQPACKET, 0);
	ASSERT_LE(0, pf->lsn);
	ASSERT_EQ(0, bind_to(pf->lsn, ADDR_B, LPORT));
	ASSERT_EQ(0, listen(pf->lsn, FLOOD_BACKLOG));
	ASSERT_EQ(0, connect_pair(pf, &pf->la, &pf->lb));
	ASSERT_EQ(0, live_exchange(pf, 4)) TH_LOG("%s", pf->why);
}

FIXTURE_TEARDOWN(pf)
{
	setns(self->init_ns, CLONE_NEWNET);
	sh("ip netns del " NS_A " 2>/dev/null; ip netns del " NS_B
	   " 2>/dev/null");
}

/* --- templates ----------------------------------------------------------- */

static bool have_dgram_template(struct pf *pf)
{
	int i;

	for (i = 0; i < pf->nothers; i++)
		if (pf->others[i].len >= 12 && pf->others[i].b[5] == 1)
			return deliveries_done(pf);
	return false;
}

/* A datagram of @n self-checked bytes from A's socket, as captured. */
static int dgram_template(struct pf *pf, size_t n, struct pkt *t)
{
	uint8_t buf[MAXPKT];
	struct sockaddr_demo to;
	int i;

	selfchk_fill(buf, n, ++pf->next_id);
	pf->nothers = 0;
	exq_push(&pf->dgq[0], fnv(FNV0, buf, n), n, pf->a, sock_port(pf->da));
	demo_addr(&to, ADDR_B, DG_PORT0);
	if (sendto(pf->da, buf, n, 0, (struct sockaddr *)&to, sizeof(to)) !=
	    (ssize_t)n)
		return -1;
	if (cap_sync(pf, NULL, 0, have_dgram_template, TMO))
		return -1;
	for (i = 0; i < pf->nothers; i++) {
		if (pf->others[i].b[5] != 1)
			continue;
		memcpy(t->b, pf->others[i].b, pf->others[i].len);
		t->len = pf->others[i].len;
		return t->len == n + 12 ? 0 : -1;
	}
	return -1;
}

/* Every truncation, every header bit flip (stale and fresh checksum). */
static void mutate_basic(struct pf *pf, const struct pkt *t, size_t hdr)
{
	uint8_t b[MAXPKT];
	size_t i;

	for (i = 0; i <= t->len; i++)
		inject(pf, t->b, i);
	for (i = 0; i < hdr * 8; i++) {
		memcpy(b, t->b, t->len);
		b[i / 8] ^= 1 << (i % 8);
		inject(pf, b, t->len);
		if (i / 8 == 8 || i / 8 == 9)
			continue;	/* flipping the checksum itself */
		csum_ab(pf, b, t->len);
		inject(pf, b, t->len);
	}
}

/* Wrong lengths, versions, types, flags; valid checksums over them. */
static void mutate_fields(struct pf *pf, const struct pkt *t, bool seq)
{
	static const int lens[] = { 0, 1, 11, 12, 13, 23, 24, 25, -1, 1, 100,
				    0xffff };
	uint8_t b[MAXPKT + 128];
	size_t i, pad;
	int v;

	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		memcpy(b, t->b, t->len);
		v = lens[i];
		if (i >= 8 && i < 11)		/* relative to the packet */
			v = (int)t->len + v;
		if (v < 0 || v > 0xffff)
			continue;
		put16(b + 6, v);
		csum_ab(pf, b, t->len);
		inject(pf, b, t->len);
	}
	/* shorter than the packet: the rest is padding, trimmed */
	for (i = 0; i < 8; i++) {
		size_t keep = 12 + demo_rng_below(&pf->rng, t->len - 11);

		memcpy(b, t->b, t->len);
		if (!seq && keep >= 12 + 16)	/* a whole self-checked payload */
			selfchk_fill(b + 12, keep - 12, ++pf->next_id);
		put16(b + 6, keep);
		csum_ab(pf, b, t->len);
		inject(pf, b, t->len);
	}
	pad = 1 + demo_rng_below(&pf->rng, 64);
	memcpy(b, t->b, t->len);
	for (i = 0; i < pad; i++)
		b[t->len + i] = demo_rng_next(&pf->rng);
	inject(pf, b, t->len + pad);	/* Length unchanged: trimmed */
	for (v = 0; v < 256; v++) {
		memcpy(b, t->b, t->len);
		b[4] = v;
		csum_ab(pf, b, t->len);
		inject(pf, b, t->len);
		memcpy(b, t->b, t->len);
		b[5] = v;
		csum_ab(pf, b, t->len);
		inject(pf, b, t->len);
	}
	for (v = 0; v < 16; v++) {
		memcpy(b, t->b, t->len);
		put16(b + 10, get16(b + 10) ^ (1 << v));
		csum_ab(pf, b, t->len);
		inject(pf, b, t->len);
	}
}

/* Random bytes; random headers with a valid checksum; random flips. */
static void mutate_random(struct pf *pf, const struct pkt *t, long n,
			  size_t hdr, bool ports_fixed)
{
	uint8_t b[MAXPKT];
	size_t len, i;
	long k;

	for (k = 0; k < n; k++) {
		unsigned int kind = demo_rng_below(&pf->rng, 3);

		if (kind == 0) {		/* garbage */
			len = demo_rng_below(&pf->rng, 300);
			for (i = 0; i < len; i++)
				b[i] = demo_rng_next(&pf->rng);
			if (len >= 4 && ports_fixed)
				memcpy(b, t->b, 4);
			else if (len >= 4)
				put16(b + 2, UNK_PORT);
			inject(pf, b, len);
			continue;
		}
		memcpy(b, t->b, t->len);
		len = t->len;
		if (kind == 1) {		/* random header, valid sum */
			for (i = 4; i < 12; i++)
				b[i] = demo_rng_next(&pf->rng);
			if (demo_rng_below(&pf->rng, 2))
				b[4] = DEMO_VERSION;
			if (demo_rng_below(&pf->rng, 2))
				put16(b + 6, len);
		} else {			/* a few random bit flips */
			int flips = 1 + demo_rng_below(&pf->rng, 4);
			size_t span = len < 64 ? len : 64;

			/* the payload too only where nothing is checked */
			if (!ports_fixed)
				span = len < hdr ? len : hdr;

			while (flips--) {
				i = (ports_fixed ? 32 : 0) +
				    demo_rng_below(&pf->rng,
						   span * 8 - (ports_fixed ? 32 : 0));
				b[i / 8] ^= 1 << (i % 8);
			}
		}
		if (demo_rng_below(&pf->rng, 8))
			csum_ab(pf, b, len);
		inject(pf, b, len);
	}
}

/* --- tests ------------------------------------------------------------------- */

/*
 * Datagrams: templates captured from A's socket, mutated every which way.
 * Bit flips of the destination port land on the other bound sockets,
 * which must get exactly those payloads.
 */
TEST_F_TIMEOUT(pf, dgram_mutations, 600)
{
	static const size_t sizes[] = { 0, 16, 100, 700 };
	struct pf *pf = self->pf;
	long vol = 12000;
	struct want w = { .rsts = true, .insegs_exact = true,
			  .rcvbuf_zero = true, .ldrops = 0, .dup = 0,
			  .popens = 0 };
	struct pkt t;
	struct ctr c0;
	long total = 0;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		ASSERT_EQ(0, dgram_template(pf, sizes[i], &t))
			TH_LOG("no datagram template of %zu bytes", sizes[i]);
		phase_begin(pf, &c0);
		mutate_basic(pf, &t, 12);
		mutate_fields(pf, &t, false);
		mutate_random(pf, &t, vol / ARRAY_SIZE(sizes), 12, false);
		EXPECT_EQ(0, phase_end(pf, "dgram", &c0, &w)) TH_LOG("%s", pf->why);
		total += pf->p.sent;
		live_quiet(pf);
	}
	EXPECT_EQ(0, check_normal(pf)) TH_LOG("%s", pf->why);
	EXPECT_EQ(0, pf->garbage) TH_LOG("%s", pf->why);
	demo_figure("pktfuzz_dgram_packets", total);
}

/* Templates of a throwaway connection's segments, captured at B. */
struct seq_tpl {
	struct pkt syn, ack, data, fin, pack;
	bool have_syn, have_ack, have_data, have_fin, have_pack;
	uint16_t sport;
};

static struct seq_tpl *cur_tpl;

static bool tpl_scan(struct pf *pf)
{
	struct seq_tpl *s = cur_tpl;
	int i;

	for (i = 0; i < pf->nothers; i++) {
		struct other *o = &pf->others[i];
		uint16_t fl;
		struct pkt *dst = NULL;

		if (o->len < SEQ_HL || o->b[5] != 2 || get16(o->b) != s->sport)
			continue;
		fl = get16(o->b + 10);
		if (fl == DEMO_SEQ_SYN && !s->have_syn) {
			dst = &s->syn;
			s->have_syn = true;
		} else if (fl == (DEMO_SEQ_FIN | DEMO_SEQ_ACK) && !s->have_fin) {
			dst = &s->fin;
			s->have_fin = true;
		} else if (o->len > seg_hl(o->b) && !s->have_data) {
			dst = &s->data;
			s->have_data = true;
		} else if (fl == DEMO_SEQ_ACK && o->len == SEQ_HL) {
			if (!s->have_ack) {
				dst = &s->ack;
				s->have_ack = true;
			} else if (!s->have_pack && s->have_data) {
				dst = &s->pack;
				s->have_pack = true;
			}
		}
		if (dst) {
			memcpy(dst->b, o->b, o->len);
			dst->len = o->len;
		}
	}
	pf->nothers = 0;
	return s->have_syn && s->have_ack && s->have_data && s->have_fin &&
	       s->have_pack;
}

static int seq_templates(struct pf *pf, struct seq_tpl *s)
{
	uint8_t buf[2048];
	int a, b, ret = -1;
	size_t n;

	memset(s, 0, sizeof(*s));
	cur_tpl = s;
	pf->nothers = 0;
	if (connect_pair(pf, &a, &b))
		goto out;
	s->sport = sock_port(a);
	n = lmsg_fill(buf, 1, 3);
	if (send(a, buf, n, 0) != (ssize_t)n || lmsg_recv(pf, b, 1, 3, 0) ||
	    send(b, buf, n, 0) != (ssize_t)n || lmsg_recv(pf, a, 1, 3, 0))
		goto out;
	close(a);
	a = -1;
	if (!(wait_ev(b, POLLIN, TMO) & POLLIN) || recv(b, buf, 1, 0) != 0)
		goto out;
	close(b);
	b = -1;
	ret = cap_sync(pf, NULL, 0, tpl_scan, TMO);
out:
	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
	return ret;
}

/* Retarget a captured segment at an unknown connection. */
static void retarget(struct pf *pf, struct pkt *t, uint16_t sport)
{
	put16(t->b, sport);
	put16(t->b + 2, UNK_PORT);
	csum_ab(pf, t->b, t->len);
}

/*
 * Segments: the throwaway connection's SYN, ACKs, data and FIN, sent at a
 * port without listener (so each valid one is answered with RST), every
 * truncation and header bit flip, wrong lengths, versions, types, every
 * one of the 65536 flag words, non-zero Reserved fields.
 */
TEST_F_TIMEOUT(pf, seq_mutations, 600)
{
	struct pf *pf = self->pf;
	struct want w = { .rsts = true, .insegs_exact = true,
			  .rcvbuf_zero = true, .ldrops = 0, .dup = 0,
			  .popens = 0 };
	struct seq_tpl s;
	struct pkt *ts[5];
	uint8_t b[MAXPKT];
	struct ctr c0;
	long total = 0;
	int i, v;

	ASSERT_EQ(0, seq_templates(pf, &s)) TH_LOG("templates: syn %d ack %d data %d fin %d pack %d",
		s.have_syn, s.have_ack, s.have_data, s.have_fin, s.have_pack);
	ts[0] = &s.syn;
	ts[1] = &s.ack;
	ts[2] = &s.data;
	ts[3] = &s.fin;
	ts[4] = &s.pack;
	for (i = 0; i < 5; i++)
		retarget(pf, ts[i], 20000 + i);

	phase_begin(pf, &c0);
	for (i = 0; i < 5; i++) {
		mutate_basic(pf, ts[i], SEQ_HL);
		mutate_fields(pf, ts[i], true);
		for (v = 0; v < 64; v++) {	/* Reserved, SACK block count */
			memcpy(b, ts[i]->b, ts[i]->len);
			if (v & 1)
				b[O_NSACK] = v / 2 % 8;
			else
				b[O_RSVD] = v * 2 + 1;
			csum_ab(pf, b, ts[i]->len);
			inject(pf, b, ts[i]->len);
		}
	}
	/* every flag word, on a pure ACK and (one in 16) on data */
	for (v = 0; v < 0x10000; v++) {
		memcpy(b, s.pack.b, s.pack.len);
		put16(b + 10, v);
		csum_ab(pf, b, s.pack.len);
		inject(pf, b, s.pack.len);
		if (v & ~0x3f)
			continue;
		memcpy(b, s.data.b, s.data.len);
		put16(b + 10, v);
		csum_ab(pf, b, s.data.len);
		inject(pf, b, s.data.len);
	}
	mutate_random(pf, &s.data, 4000, SEQ_HL, false);
	EXPECT_EQ(0, phase_end(pf, "seq", &c0, &w)) TH_LOG("%s", pf->why);
	total += pf->p.sent;
	live_quiet(pf);

	/*
	 * A sacrificial connection gets truly random mutations (ports
	 * kept, so nothing else is hit); its data is not checked, only that
	 * validation counts hold and the other sockets are untouched.
	 */
	{
		struct want ws = { .insegs_exact = true, .ldrops = -1,
				   .dup = -1, .popens = 0 };
		struct seq_tpl s2 = { 0 };
		int sa, sb;
		char junk[70000];

		ASSERT_EQ(0, connect_pair(pf, &sa, &sb));
		s2.sport = sock_port(sa);
		cur_tpl = &s2;
		pf->nothers = 0;
		v = lmsg_fill(b, 2, 4);
		ASSERT_EQ(v, send(sa, b, v, 0));
		ASSERT_EQ(0, lmsg_recv(pf, sb, 2, 4, 0));
		s2.have_syn = s2.have_ack = s2.have_fin = s2.have_pack = true;
		ASSERT_EQ(0, cap_sync(pf, NULL, 0, tpl_scan, TMO));
		phase_begin(pf, &c0);
		mutate_random(pf, &s2.data, 4000, SEQ_HL, true);
		for (i = 0; i < SEQ_HL * 8; i++) {
			memcpy(b, s2.data.b, s2.data.len);
			if (i < 32)
				continue;
			b[i / 8] ^= 1 << (i % 8);
			csum_ab(pf, b, s2.data.len);
			inject(pf, b, s2.data.len);
		}
		flush(pf);
		diag("sacrificial: injected; %ld others captured so far",
		     pf->others_total);
		while (recv(sb, junk, sizeof(junk), MSG_DONTWAIT) > 0)
			;
		EXPECT_EQ(0, phase_end(pf, "sacrificial", &c0, &ws))
			TH_LOG("%s", pf->why);
		total += pf->p.sent;
		close(sb);
		close(sa);
	}
	EXPECT_EQ(0, check_normal(pf)) TH_LOG("%s", pf->why);
	EXPECT_EQ(0, pf->garbage) TH_LOG("%s", pf->why);
	demo_figure("pktfuzz_seq_packets", total);
}

/*
 * The live connection: exact duplicates of its segments, segments below
 * rcv_nxt and beyond the window, resets outside the window and SYNs; it
 * must still carry exactly its own stream, and close cleanly.
 */
TEST_F_TIMEOUT(pf, live_connection, 600)
{
	struct pf *pf = self->pf;
	struct seq_tpl s = { 0 };
	struct want w = { .rsts = true, .insegs_exact = true,
			  .rcvbuf_zero = true, .ldrops = 0, .dup = -1,
			  .popens = 0 };
	struct pkt data[8];
	int ndata = 0, i, k;
	uint32_t rcv_nxt = 0;
	bool have_nxt = false;
	uint8_t b[MAXPKT], rb[64];
	struct ctr c0;
	long dups = 0;

	/* Capture the live connection's data segments from A. */
	s.sport = sock_port(pf->la);
	pf->nothers = 0;
	ASSERT_EQ(0, live_exchange(pf, 8)) TH_LOG("%s", pf->why);
	ASSERT_EQ(0, outq_empty(pf->la));
	ASSERT_EQ(0, outq_empty(pf->lb));
	/* A's delayed ACK of B's last message: wait for it */
	for (k = 0; k < 2; k++) {
		long end = demo_now_ms() + TMO;
		bool pure = false, isdata;

		while (!pure && demo_now_ms() < end) {
			cap_drain(pf);
			for (i = 0; i < pf->nothers; i++) {
				struct other *o = &pf->others[i];

				if (o->len < SEQ_HL || get16(o->b) != s.sport)
					continue;
				isdata = o->len > seg_hl(o->b);
				if (isdata && ndata < 8) {
					data[ndata].len = o->len;
					memcpy(data[ndata++].b, o->b, o->len);
				}
				if (!have_nxt ||
				    !demo_seq_before_u(get32(o->b + O_SEQ) +
						       isdata, rcv_nxt)) {
					have_nxt = true;
					rcv_nxt = get32(o->b + O_SEQ) + isdata;
				}
				if (!isdata && k)
					pure = true;
			}
			pf->nothers = 0;
			if (!k)
				break;
			wait_ev(pf->cap, POLLIN, 20);
		}
	}
	ASSERT_LE(4, ndata);

	phase_begin(pf, &c0);
	/* exact duplicates */
	for (k = 0; k < 3000; k++) {
		const struct pkt *d = &data[demo_rng_below(&pf->rng, ndata)];

		inject(pf, d->b, d->len);
		dups++;
	}
	/* below rcv_nxt, other contents: duplicates too */
	for (k = 0; k < 1000; k++) {
		const struct pkt *d = &data[demo_rng_below(&pf->rng, ndata)];

		memcpy(b, d->b, d->len);
		put32(b + O_SEQ, rcv_nxt - 1 - demo_rng_below(&pf->rng, 100000));
		b[d->len - 1] ^= 0x5a;
		csum_ab(pf, b, d->len);
		inject(pf, b, d->len);
		dups++;
	}
	/* beyond the window's right edge (at most 65535 past rcv_nxt) */
	for (k = 0; k < 2000; k++) {
		const struct pkt *d = &data[demo_rng_below(&pf->rng, ndata)];

		memcpy(b, d->b, d->len);
		put32(b + O_SEQ, rcv_nxt + 65536 +
			      demo_rng_below(&pf->rng, 0x40000000));
		csum_ab(pf, b, d->len);
		inject(pf, b, d->len);
	}
	/* resets outside the window, and SYNs */
	for (k = 0; k < 2000; k++) {
		memcpy(b, data[0].b, SEQ_HL);
		put16(b + 6, SEQ_HL);
		b[O_NSACK] = 0;
		if (k & 1)
			put32(b + O_SEQ, rcv_nxt - 1 -
				      demo_rng_below(&pf->rng, 1 << 30));
		else
			put32(b + O_SEQ, rcv_nxt + 65536 +
				      demo_rng_below(&pf->rng, 1 << 30));
		put16(b + 10, k % 3 == 0 ? DEMO_SEQ_RST :
			      k % 3 == 1 ? DEMO_SEQ_RST | DEMO_SEQ_ACK :
					   DEMO_SEQ_SYN);
		if (k % 3 == 2)
			put32(b + O_ACK, 0);
		csum_ab(pf, b, SEQ_HL);
		inject(pf, b, SEQ_HL);
	}
	w.dup = dups;
	EXPECT_EQ(0, phase_end(pf, "live", &c0, &w)) TH_LOG("%s", pf->why);
	demo_figure("pktfuzz_live_packets", pf->p.sent);
	EXPECT_EQ(0, ns_stat(NS_B, "EstabResets") - c0.b[C_ESTRST]);
	live_quiet(pf);

	EXPECT_EQ(0, check_normal(pf)) TH_LOG("%s", pf->why);
	/* The live connection closes cleanly. */
	EXPECT_EQ(0, shutdown(pf->la, SHUT_WR));
	EXPECT_EQ(POLLIN, wait_ev(pf->lb, POLLIN, TMO) & POLLIN);
	EXPECT_EQ(0, recv(pf->lb, rb, sizeof(rb), 0));
	EXPECT_EQ(0, close(pf->lb));
	EXPECT_EQ(POLLIN, wait_ev(pf->la, POLLIN, TMO) & POLLIN);
	EXPECT_EQ(0, recv(pf->la, rb, sizeof(rb), 0));
	EXPECT_EQ(0, so_error(pf->la));
	EXPECT_EQ(0, pf->garbage) TH_LOG("%s", pf->why);
}

/* --- SYN flood ---------------------------------------------------------- */

struct flood_shared {
	int stop;		/* the flood is over */
	int a_done;		/* the client process has finished */
	int failed;		/* a client or the server failed */
	int ok, ok_during;	/* clients that completed (during the flood) */
	int served;		/* connections the server accepted */
	long worst_ms;		/* slowest client */
	char why[200];
};

/* Legitimate clients, in pfz_a, one after another until told to stop. */
static int flood_clients(struct flood_shared *fs, int deadline_ms)
{
	uint8_t buf[2048], rb[2048];
	int n = 0;

	if (demo_netns_enter(NS_A))
		return 2;
	while (!__atomic_load_n(&fs->stop, __ATOMIC_ACQUIRE) || n < 3) {
		long t0 = demo_now_ms(), dt;
		int fd = socket(af(), SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		size_t len = lmsg_fill(buf, n, 5);

		if (fd < 0 || connect_to(fd, ADDR_B, LPORT) ||
		    send(fd, buf, len, 0) != (ssize_t)len ||
		    !(wait_ev(fd, POLLIN, deadline_ms) & POLLIN) ||
		    recv(fd, rb, sizeof(rb), 0) != (ssize_t)len ||
		    memcmp(rb, buf, len) || shutdown(fd, SHUT_WR) ||
		    !(wait_ev(fd, POLLIN, deadline_ms) & POLLIN) ||
		    recv(fd, rb, sizeof(rb), 0) != 0) {
			snprintf(fs->why, sizeof(fs->why),
				 "client %d failed: %s", n, strerror(errno));
			fs->failed = 1;
			return 3;
		}
		close(fd);
		dt = demo_now_ms() - t0;
		if (dt > fs->worst_ms)
			fs->worst_ms = dt;
		if (dt > deadline_ms) {
			snprintf(fs->why, sizeof(fs->why),
				 "client %d took %ld ms", n, dt);
			fs->failed = 1;
			return 4;
		}
		n++;
		__atomic_store_n(&fs->ok, n, __ATOMIC_RELEASE);
		if (!__atomic_load_n(&fs->stop, __ATOMIC_ACQUIRE))
			fs->ok_during = n;
	}
	return 0;
}

/* The server of the legitimate clients: echo one message, then close. */
static int flood_server(struct flood_shared *fs, int lsn, int deadline_ms)
{
	uint8_t buf[2048];

	for (;;) {
		ssize_t n;
		int fd;

		if (!(wait_ev(lsn, POLLIN, 50) & POLLIN)) {
			if (__atomic_load_n(&fs->a_done, __ATOMIC_ACQUIRE))
				return 0;
			continue;
		}
		fd = accept4(lsn, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			return 5;
		fs->served++;
		if (!(wait_ev(fd, POLLIN, deadline_ms) & POLLIN) ||
		    (n = recv(fd, buf, sizeof(buf), 0)) <= 0 ||
		    send(fd, buf, n, 0) != n ||
		    !(wait_ev(fd, POLLIN, deadline_ms) & POLLIN) ||
		    recv(fd, buf, sizeof(buf), 0) != 0) {
			snprintf(fs->why, sizeof(fs->why),
				 "server: connection %d failed", fs->served);
			fs->failed = 1;
			return 6;
		}
		close(fd);
	}
}

static void flood_seg(struct pf *pf, uint32_t src, uint16_t sport,
		      uint16_t flags, uint32_t seq, uint32_t ack)
{
	uint8_t b[20 + SEQ_HL] = { 0 };
	struct iphdr *ip = (struct iphdr *)b;
	uint8_t *d = b + 20;

	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = htons(sizeof(b));
	ip->ttl = 64;
	ip->protocol = pf->proto;
	ip->saddr = src;
	ip->daddr = pf->b;
	put16(d, sport);
	put16(d + 2, LPORT);
	d[4] = DEMO_VERSION;
	d[5] = DEMOPROTO_SEQPACKET;
	put16(d + 6, SEQ_HL);
	put16(d + 10, flags);
	put32(d + O_SEQ, seq);
	put32(d + O_ACK, ack);
	put16(d + O_WND, 64);
	csum_fill(d, SEQ_HL, src, pf->b, pf->proto);
	inject_from(pf, b, sizeof(b), src, true);
}

/*
 * A SYN flood from spoofed sources and ports, and ACKs with wrong cookies,
 * at the listener, while legitimate clients connect, exchange a message
 * and close, each within a deadline.
 */
TEST_F_TIMEOUT(pf, syn_flood, 600)
{
	struct pf *pf = self->pf;
	struct want w = { .rsts = true, .insegs_exact = true,
			  .rcvbuf_zero = true, .dup = 0 };
	int deadline_ms = debug_kernel() ? 20000 : 5000;
	long syns = 0, acks = 0, end;
	struct flood_shared *fs;
	pid_t ca, cb;
	struct ctr c0;
	int st;

	fs = mmap(NULL, sizeof(*fs), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, fs);
	memset(fs, 0, sizeof(*fs));
	phase_begin(pf, &c0);
	fflush(NULL);
	cb = fork();
	ASSERT_LE(0, cb);
	if (!cb)
		_exit(flood_server(fs, pf->lsn, deadline_ms));
	ca = fork();
	ASSERT_LE(0, ca);
	if (!ca)
		_exit(flood_clients(fs, deadline_ms));

	end = demo_now_ms() + 240000;
	/* fewer on the debug kernel: the total stays above MIN_TOTAL */
	while ((syns < (debug_kernel() ? 5000 : 12000) || __atomic_load_n(&fs->ok, __ATOMIC_ACQUIRE) < 3) &&
	       demo_now_ms() < end && !pf->garbage &&
	       !__atomic_load_n(&fs->failed, __ATOMIC_ACQUIRE)) {
		uint32_t src = inet_addr(SPOOF_BASE) |
			       htonl(1 + demo_rng_below(&pf->rng, 254));
		uint16_t sport = 1024 + demo_rng_below(&pf->rng, 64000);
		uint32_t r = demo_rng_next(&pf->rng);

		/*
		 * SYNs first, twice the backlog's worth: the listener's table
		 * of handshakes overflows, and from then on it answers with
		 * cookies and believes them; before, an ACK matching no
		 * handshake would be reset, not dropped.
		 */
		if (syns < 2 * FLOOD_BACKLOG || demo_rng_below(&pf->rng, 5)) {
			flood_seg(pf, src, sport, DEMO_SEQ_SYN, r, 0);
			syns++;
		} else {
			flood_seg(pf, src, sport, DEMO_SEQ_ACK, r,
				  demo_rng_next(&pf->rng));
			pf->p.ldrops++;
			acks++;
		}
	}
	flush(pf);
	__atomic_store_n(&fs->stop, 1, __ATOMIC_RELEASE);
	EXPECT_EQ(0, waitpid(ca, &st, 0) == ca && WIFEXITED(st) ?
		  WEXITSTATUS(st) : -1) TH_LOG("%s", fs->why);
	__atomic_store_n(&fs->a_done, 1, __ATOMIC_RELEASE);
	EXPECT_EQ(0, waitpid(cb, &st, 0) == cb && WIFEXITED(st) ?
		  WEXITSTATUS(st) : -1) TH_LOG("%s", fs->why);
	EXPECT_LE(3, fs->ok_during);
	EXPECT_EQ(fs->ok, fs->served);
	w.ldrops = pf->p.ldrops;
	w.popens = fs->served;
	EXPECT_EQ(0, phase_end(pf, "syn_flood", &c0, &w)) TH_LOG("%s", pf->why);
	EXPECT_LE(syns, ns_stat(NS_B, "OutSegs") - c0.b[C_OUTSEGS]);
	EXPECT_EQ(0, ns_stat(NS_B, "ListenOverflows") - c0.b[C_LOVF]);
	diag("syn_flood: %ld SYNs, %ld bad-cookie ACKs; %d clients (%d during the flood), slowest %ld ms",
	     syns, acks, fs->ok, fs->ok_during, fs->worst_ms);
	demo_figure("pktfuzz_flood_syns", syns);
	demo_figure("pktfuzz_flood_bad_acks", acks);
	demo_figure("pktfuzz_flood_clients", fs->ok);
	demo_figure("pktfuzz_flood_client_worst_ms", fs->worst_ms);
	EXPECT_EQ(0, check_normal(pf)) TH_LOG("%s", pf->why);
	EXPECT_EQ(0, pf->garbage) TH_LOG("%s", pf->why);
}

/* The minimum volume: the tests above injected that many. */
TEST_F(pf, total)
{
	ASSERT_NE(NULL, run_total);
	demo_figure("packets_injected", *run_total);
	EXPECT_LE(MIN_TOTAL, *run_total);
}

TEST_HARNESS_MAIN
