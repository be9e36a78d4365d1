// SPDX-License-Identifier: GPL-2.0
/*
 * AF_DEMO SOCK_SEQPACKET stress and failure selftests: a 64 MiB transfer
 * through netem (delay, reordering, loss, duplication), hundreds of
 * concurrent connections, a peer that vanishes (established connections
 * and connect() time out), and a network namespace destroyed while its
 * connections are established.
 *
 * Run as root with af_demo loaded (the family number is read from sysfs);
 * needs ip(8) and tc(8) with sch_netem. The functional API tests are in
 * demo_seqpacket.c; this program only checks what needs volume or time.
 *
 * Fixture "veth" builds two named namespaces seqs_a and seqs_b joined by a
 * veth pair (198.18.0.1/24 - 198.18.0.2/24, mtu 1500, static neighbours).
 * Fixture "vns" builds a survivor namespace seqs_s (198.18.2.1 on lo) and a
 * victim namespace seqs_v (198.18.1.2 on a veth to seqs_s); a second,
 * carrier-less veth in seqs_s is the fallback route to the victim, so once
 * the victim's namespace (and with it its veth) is gone the survivor's
 * packets vanish silently instead of failing in routing.
 *
 * Env: AFDEMO_NETEM_BOUND_S, seconds netem_64mib may take (default 600);
 * AFDEMO_NETEM_SEED, seed of its message sizes and contents. For diagnosis
 * only: AFDEMO_NETEM_MIB (MiB to transfer instead of 64) and
 * AFDEMO_NETEM_QDISC (tc arguments instead of the netem ones below).
 */
#include "demo_lib.h"

#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <net/if.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "kselftest_harness.h"

#define NS_A		"seqs_a"
#define NS_B		"seqs_b"
#define NS_S		"seqs_s"	/* survivor */
#define NS_V		"seqs_v"	/* victim */
#define ADDR_A		"198.18.0.1"
#define ADDR_B		"198.18.0.2"
#define ADDR_S		"198.18.2.1"
#define ADDR_V		"198.18.1.2"
#define TMO		5000	/* ms: bound on things that happen at once */
#define SLACK_MS	1000	/* ms added to bounds derived from sysctls */
#define CONNECT_SLACK_MS 600	/* the same for connect(): see there */
#define SYSCTL		"/proc/sys/net/demo/"
#define MAX_MSG		DEMO_SEQPACKET_MAX_MSG

/* --- small helpers ------------------------------------------------------ */

/* Set /proc/sys/net/demo/@name of the current netns; 0 or -1. */
static int demo_sysctl(const char *name, long val)
{
	char path[128], buf[32];
	long back;

	snprintf(path, sizeof(path), SYSCTL "%s", name);
	snprintf(buf, sizeof(buf), "%ld", val);
	if (demo_write_file(path, buf) || demo_read_long(path, &back))
		return -1;
	return back == val ? 0 : -1;
}

/* SO_{SND,RCV}BUF of @bytes, beyond the sysctl limits where allowed. */
static int set_bufs(int fd, int bytes)
{
	if (setopt_int(fd, SOL_SOCKET, SO_SNDBUFFORCE, bytes) &&
	    setopt_int(fd, SOL_SOCKET, SO_SNDBUF, bytes))
		return -1;
	if (setopt_int(fd, SOL_SOCKET, SO_RCVBUFFORCE, bytes) &&
	    setopt_int(fd, SOL_SOCKET, SO_RCVBUF, bytes))
		return -1;
	return 0;
}

static int set_timeo(int fd, int opt, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = ms % 1000 * 1000 };

	return setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof(tv));
}

static int seqsock(int flags)
{
	return socket(af(), SOCK_SEQPACKET | SOCK_CLOEXEC | flags, 0);
}

/* A seqpacket listener on ip:0 with @backlog, or -1. */
static int listener(const char *ip, int backlog)
{
	struct sockaddr_demo sa;
	int fd = seqsock(0);

	if (fd < 0)
		return -1;
	demo_addr(&sa, ip, 0);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(fd, backlog)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* pthread_join with a deadline @ms from now; 0 or an errno. */
static int join_tmo(pthread_t t, long ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += ms % 1000 * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return pthread_timedjoin_np(t, NULL, &ts);
}

/* --- deterministic content ---------------------------------------------- */

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* @len bytes of the stream seeded by @seed. */
static void fill(void *buf, size_t len, uint64_t seed)
{
	uint8_t *p = buf;
	uint64_t v;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		v = splitmix64(&seed);
		memcpy(p + i, &v, 8);
	}
	if (i < len) {
		v = splitmix64(&seed);
		memcpy(p + i, &v, len - i);
	}
}

/* Offset of the first byte of @buf differing from fill(@seed), or -1. */
static long mismatch(const void *buf, size_t len, uint64_t seed, void *tmp)
{
	const uint8_t *p = buf, *w = tmp;
	size_t i;

	fill(tmp, len, seed);
	if (!memcmp(buf, tmp, len))
		return -1;
	for (i = 0; i < len && p[i] == w[i]; i++)
		;
	return i;
}

#define FNV_INIT	0xcbf29ce484222325ull

static uint64_t fnv1a(uint64_t h, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len--) {
		h ^= *p++;
		h *= 0x100000001b3ull;
	}
	return h;
}

/* --- /proc/net/demo and demo_stat --------------------------------------- */

#define ENTER(ns) \
	ASSERT_EQ(0, demo_netns_enter(ns)) \
		TH_LOG("enter netns %s: %s", ns, strerror(errno))

/*
 * Count the SEQPACKET lines of /proc/net/demo in netns @ns whose state is
 * @state (NULL: any state), or, with @invert, whose state is not @state.
 * -1 if the file cannot be read or a line does not parse. With @dump,
 * every SEQPACKET line is also printed as a diagnostic.
 */
static int proc_count(const char *ns, const char *state, bool invert,
		      bool dump)
{
	char line[512], st[32], type[32];
	int cur = ns_save(), n = 0;
	FILE *f = NULL;

	if (cur >= 0 && !demo_netns_enter(ns))
		f = fopen("/proc/net/demo", "re");
	ns_restore(cur);
	if (!f || !fgets(line, sizeof(line), f)) {	/* header */
		if (f)
			fclose(f);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*s %*s %*s %31s %*s %*s %*s %*s %31s",
			   st, type) != 2) {
			n = -1;
			break;
		}
		if (strcmp(type, "SEQPACKET"))
			continue;
		if (dump)
			diag("%s /proc/net/demo: %s", ns,
			     strtok(line, "\n") ?: "");
		if (!state || (strcmp(st, state) != 0) == invert)
			n++;
	}
	fclose(f);
	return n;
}

/*
 * Wait (bounded by @ms) until netns @ns has no SEQPACKET entry other than
 * TIME_WAIT (and LISTEN if @listen_ok): every connection has ended. 0 once
 * settled; -1 at the deadline, after dumping the table.
 */
static int wait_settled(const char *ns, int ms, bool listen_ok)
{
	double end = now_ms() + ms;
	int busy;

	for (;;) {
		busy = proc_count(ns, "TIME_WAIT", true, false);
		if (busy > 0 && listen_ok)
			busy -= proc_count(ns, "LISTEN", false, false);
		if (busy == 0)
			return 0;
		if (now_ms() > end)
			break;
		poll(NULL, 0, 20);
	}
	diag("%s: connections still open after %d ms:", ns, ms);
	proc_count(ns, NULL, false, true);
	return -1;
}

/* --- network namespaces ------------------------------------------------- */

/* Whether network device @dev exists in @ns. */
static bool dev_exists(const char *ns, const char *dev)
{
	int cur = ns_save();
	bool ret = true;

	if (cur >= 0 && !demo_netns_enter(ns))
		ret = if_nametoindex(dev) != 0;
	ns_restore(cur);
	return ret;
}

/* Short timers in the current netns: failures are detected in ~1 s. */
static int quick_timers(void)
{
	return demo_sysctl("seqpacket_rto_min_ms", 100) ||
	       demo_sysctl("seqpacket_rto_max_ms", 400) ||
	       demo_sysctl("seqpacket_retries", 3) ||
	       demo_sysctl("seqpacket_syn_retries", 2) ||
	       demo_sysctl("seqpacket_fin_timeout_ms", 2000) ? -1 : 0;
}

#define ASSERT_MODULE() \
	ASSERT_LT(0, af()) TH_LOG("af_demo is not loaded (no %sfamily)", \
				  DEMO_SYSFS_PARAM)

static int run_all(struct __test_metadata *_metadata,
		   const char *const *cmds, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (sh("%s", cmds[i])) {
			TH_LOG("failed: %s", cmds[i]);
			return -1;
		}
	}
	return 0;
}

FIXTURE(veth) {
	int init_ns;
};

static const char *const veth_up[] = {
	"ip netns add " NS_A,
	"ip netns add " NS_B,
	"ip -n " NS_A " link add veth_a address 02:de:00:00:00:0a type veth "
		"peer name veth_b address 02:de:00:00:00:0b netns " NS_B,
	"ip -n " NS_A " addr add " ADDR_A "/24 dev veth_a",
	"ip -n " NS_B " addr add " ADDR_B "/24 dev veth_b",
	"ip -n " NS_A " link set veth_a mtu 1500 up",
	"ip -n " NS_B " link set veth_b mtu 1500 up",
	"ip -n " NS_A " link set lo up",
	"ip -n " NS_B " link set lo up",
	/* no ARP: a link going down is the only thing that stops packets */
	"ip -n " NS_A " neigh replace " ADDR_B
		" lladdr 02:de:00:00:00:0b dev veth_a nud permanent",
	"ip -n " NS_B " neigh replace " ADDR_A
		" lladdr 02:de:00:00:00:0a dev veth_b nud permanent",
};

FIXTURE_SETUP(veth)
{
	ASSERT_MODULE();
	self->init_ns = ns_save();
	ASSERT_LE(0, self->init_ns);
	sh("ip netns del " NS_A " 2>/dev/null; ip netns del " NS_B
	   " 2>/dev/null");
	ASSERT_EQ(0, run_all(_metadata, veth_up, ARRAY_SIZE(veth_up)));
	ASSERT_EQ(0, link_ready(NS_A, "veth_a", TMO));
	ASSERT_EQ(0, link_ready(NS_B, "veth_b", TMO));
}

FIXTURE_TEARDOWN(veth)
{
	setns(self->init_ns, CLONE_NEWNET);
	sh("ip netns del " NS_A " 2>/dev/null; ip netns del " NS_B
	   " 2>/dev/null");
}

/* --- many_connections --------------------------------------------------- */

#define MC_CONNS	256
#define MC_MSGS		4
#define MC_BACKLOG	512
#define MC_PHASE_MS	120000
#define MC_MAGIC	0x6d636f6e

struct mc_hdr {
	uint32_t magic, conn, idx, dir;
};

struct mc_end {
	int fd;
	int conn;		/* connection id; -1 until known (servers) */
	int sent, rcvd;		/* messages */
	bool connected, done;
};

struct mc {
	struct mc_end cl[MC_CONNS], sv[MC_CONNS];
	bool claimed[MC_CONNS];
	int ep, l, nconn, nacc, ndone;
	uint8_t buf[MAX_MSG], tmp[MAX_MSG];
	char why[256];
};

/* Length and content seed of message @idx of connection @conn, @dir. */
static size_t mc_len(uint32_t conn, uint32_t idx, uint32_t dir,
		     uint64_t *seed)
{
	uint64_t s = ((uint64_t)conn << 32) | (idx << 1) | dir;
	size_t len = sizeof(struct mc_hdr) + splitmix64(&s) % 9000;

	*seed = splitmix64(&s);
	return len;
}

static size_t mc_build(uint8_t *buf, uint32_t conn, uint32_t idx,
		       uint32_t dir)
{
	struct mc_hdr h = { MC_MAGIC, conn, idx, dir };
	uint64_t seed;
	size_t len = mc_len(conn, idx, dir, &seed);

	memcpy(buf, &h, sizeof(h));
	fill(buf + sizeof(h), len - sizeof(h), seed);
	return len;
}

/* NULL if @buf is message @idx of @conn in direction @dir, else why not. */
static const char *mc_bad(struct mc *m, ssize_t n, uint32_t conn,
			  uint32_t idx, uint32_t dir)
{
	struct mc_hdr h;
	uint64_t seed;
	size_t len;

	if (n < (ssize_t)sizeof(h))
		return "short message";
	memcpy(&h, m->buf, sizeof(h));
	if (h.magic != MC_MAGIC || h.dir != dir)
		return "bad header";
	if (h.conn != conn)
		return "message of another connection";
	if (h.idx != idx)
		return "message out of order";
	len = mc_len(conn, idx, dir, &seed);
	if ((size_t)n != len)
		return "wrong length";
	if (mismatch(m->buf + sizeof(h), len - sizeof(h), seed, m->tmp) >= 0)
		return "content differs";
	return NULL;
}

#define MC_FAIL(m, ...) do { \
	snprintf((m)->why, sizeof((m)->why), __VA_ARGS__); \
	return -1; \
} while (0)

#define EV_L		UINT32_MAX
#define EV_SV		0x10000		/* servers: EV_SV + index */

static int mc_ctl(struct mc *m, int op, int fd, uint32_t events, uint32_t id)
{
	struct epoll_event ev = { .events = events, .data.u32 = id };

	return epoll_ctl(m->ep, op, fd, &ev);
}

/* Send what @e owes; stop at EAGAIN. */
static int mc_send(struct mc *m, struct mc_end *e, uint32_t id, int owed,
		   uint32_t dir)
{
	size_t len;
	ssize_t n;

	while (e->sent < owed) {
		len = mc_build(m->buf, e->conn, e->sent, dir);
		n = send(e->fd, m->buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EAGAIN)
			break;
		if (n != (ssize_t)len)
			MC_FAIL(m, "conn %d dir %u send %d: %zd, %s", e->conn,
				dir, e->sent, n, strerror(errno));
		e->sent++;
	}
	return mc_ctl(m, EPOLL_CTL_MOD, e->fd,
		      EPOLLIN | (e->sent < owed ? EPOLLOUT : 0), id);
}

/* Receive what is queued on @e. */
static int mc_recv(struct mc *m, struct mc_end *e, uint32_t id, bool server)
{
	const char *why;
	struct mc_hdr h;
	ssize_t n;

	for (;;) {
		n = recv(e->fd, m->buf, MAX_MSG, MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0)
			MC_FAIL(m, "%s %d recv %d: %zd, %s",
				server ? "server" : "client", e->conn, e->rcvd,
				n, n ? strerror(errno) : "end of file");
		if (server && e->conn < 0) {
			if (n < (ssize_t)sizeof(h))
				MC_FAIL(m, "server %u: short first message",
					id - EV_SV);
			memcpy(&h, m->buf, sizeof(h));
			if (h.conn >= MC_CONNS ||
			    m->claimed[h.conn])
				MC_FAIL(m, "server %u: first message names connection %u",
					id - EV_SV, h.conn);
			m->claimed[h.conn] = true;
			e->conn = h.conn;
		}
		why = mc_bad(m, n, e->conn, e->rcvd, server ? 0 : 1);
		if (why)
			MC_FAIL(m, "%s %d message %d: %s",
				server ? "server" : "client", e->conn, e->rcvd,
				why);
		e->rcvd++;
		if (server) {
			if (mc_send(m, e, id, e->rcvd, 1))
				return -1;
		} else if (e->rcvd == MC_MSGS) {
			e->done = true;
			m->ndone++;
		}
	}
}

static int mc_accept(struct mc *m)
{
	int fd;

	for (;;) {
		fd = accept4(m->l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0 && errno == EAGAIN)
			return 0;
		if (fd < 0)
			MC_FAIL(m, "accept after %d: %s", m->nacc,
				strerror(errno));
		if (m->nacc == MC_CONNS)
			MC_FAIL(m, "more than %d connections accepted", MC_CONNS);
		m->sv[m->nacc].fd = fd;
		m->sv[m->nacc].conn = -1;
		if (mc_ctl(m, EPOLL_CTL_ADD, fd, EPOLLIN, EV_SV + m->nacc))
			MC_FAIL(m, "epoll_ctl: %s", strerror(errno));
		m->nacc++;
	}
}

/* Phase 1: every client connected, every connection accepted. */
static int mc_connect_all(struct mc *m)
{
	double end = now_ms() + MC_PHASE_MS;
	struct epoll_event ev[64];
	struct mc_end *e;
	int n, i, err;

	while (m->nconn < MC_CONNS || m->nacc < MC_CONNS) {
		if (now_ms() > end)
			MC_FAIL(m, "after %d ms: %d connected, %d accepted",
				MC_PHASE_MS, m->nconn, m->nacc);
		n = epoll_wait(m->ep, ev, 64, 1000);
		if (n < 0)
			MC_FAIL(m, "epoll_wait: %s", strerror(errno));
		for (i = 0; i < n; i++) {
			if (ev[i].data.u32 == EV_L) {
				if (mc_accept(m))
					return -1;
				continue;
			}
			if (ev[i].data.u32 >= EV_SV)
				MC_FAIL(m, "server %u: events %#x before any message",
					ev[i].data.u32 - EV_SV, ev[i].events);
			e = &m->cl[ev[i].data.u32];
			if (e->connected)
				continue;
			err = so_error(e->fd);
			if (err || (ev[i].events & (EPOLLERR | EPOLLHUP)))
				MC_FAIL(m, "client %d: connect: events %#x, %s",
					e->conn, ev[i].events,
					strerror(err));
			e->connected = true;
			m->nconn++;
			if (mc_ctl(m, EPOLL_CTL_MOD, e->fd, EPOLLIN, e->conn))
				MC_FAIL(m, "epoll_ctl: %s", strerror(errno));
		}
	}
	return 0;
}

/* Phase 2: MC_MSGS messages each way on every connection. */
static int mc_exchange(struct mc *m)
{
	double end = now_ms() + MC_PHASE_MS;
	struct epoll_event ev[64];
	struct mc_end *e;
	int n, i, done;
	uint32_t id;

	for (i = 0; i < MC_CONNS; i++)
		if (mc_send(m, &m->cl[i], i, MC_MSGS, 0))
			return -1;
	for (;;) {
		done = m->ndone == MC_CONNS;
		for (i = 0; done && i < MC_CONNS; i++)
			done = m->sv[i].rcvd == MC_MSGS &&
			       m->sv[i].sent == MC_MSGS;
		if (done)
			return 0;
		if (now_ms() > end)
			MC_FAIL(m, "after %d ms only %d clients have all replies",
				MC_PHASE_MS, m->ndone);
		n = epoll_wait(m->ep, ev, 64, 1000);
		if (n < 0)
			MC_FAIL(m, "epoll_wait: %s", strerror(errno));
		for (i = 0; i < n; i++) {
			id = ev[i].data.u32;
			if (id == EV_L)
				MC_FAIL(m, "listener readable: an extra connection");
			e = id >= EV_SV ? &m->sv[id - EV_SV] : &m->cl[id];
			if (ev[i].events & (EPOLLERR | EPOLLHUP))
				MC_FAIL(m, "%s %d: events %#x, %s",
					id >= EV_SV ? "server" : "client",
					e->conn, ev[i].events,
					strerror(so_error(e->fd)));
			if ((ev[i].events & EPOLLIN) &&
			    mc_recv(m, e, id, id >= EV_SV))
				return -1;
			if ((ev[i].events & EPOLLOUT) &&
			    mc_send(m, e, id, id >= EV_SV ? e->rcvd : MC_MSGS,
				    id >= EV_SV))
				return -1;
		}
	}
}

/* Phase 3: clients close; each server reads end of file and closes. */
static int mc_close_all(struct mc *m)
{
	double end = now_ms() + MC_PHASE_MS;
	struct epoll_event ev[64];
	int n, i, eofs = 0;
	struct mc_end *e;
	ssize_t r;

	for (i = 0; i < MC_CONNS; i++) {
		close(m->cl[i].fd);
		m->cl[i].fd = -1;
	}
	while (eofs < MC_CONNS) {
		if (now_ms() > end)
			MC_FAIL(m, "after %d ms only %d servers saw end of file",
				MC_PHASE_MS, eofs);
		n = epoll_wait(m->ep, ev, 64, 1000);
		if (n < 0)
			MC_FAIL(m, "epoll_wait: %s", strerror(errno));
		for (i = 0; i < n; i++) {
			if (ev[i].data.u32 < EV_SV || ev[i].data.u32 == EV_L)
				MC_FAIL(m, "event %#x on id %u", ev[i].events,
					ev[i].data.u32);
			e = &m->sv[ev[i].data.u32 - EV_SV];
			r = recv(e->fd, m->buf, MAX_MSG, MSG_DONTWAIT);
			if (r < 0 && errno == EAGAIN)
				continue;
			if (r != 0)
				MC_FAIL(m, "server %d after the client's close: %zd, %s",
					e->conn, r, r < 0 ? strerror(errno) : "data");
			close(e->fd);
			e->fd = -1;
			eofs++;
		}
	}
	return 0;
}

TEST_F_TIMEOUT(veth, many_connections, 600)
{
	struct rlimit rl = { 4096, 4096 };
	long act, pas, rst_a, rst_b, fails;
	struct mc *m = calloc(1, sizeof(*m));
	double t0;
	int i, ret;

	ASSERT_NE(NULL, m);
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &rl));
	act = ns_stat(NS_A, "ActiveOpens");
	fails = ns_stat(NS_A, "AttemptFails");
	rst_a = ns_stat(NS_A, "EstabResets");
	pas = ns_stat(NS_B, "PassiveOpens");
	rst_b = ns_stat(NS_B, "EstabResets");
	m->ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, m->ep);
	ENTER(NS_B);
	m->l = socket(af(), SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, m->l);
	{
		struct sockaddr_demo sa;

		demo_addr(&sa, ADDR_B, 0);
		ASSERT_EQ(0, bind(m->l, (struct sockaddr *)&sa, sizeof(sa)));
	}
	ASSERT_EQ(0, listen(m->l, MC_BACKLOG));
	ASSERT_EQ(0, mc_ctl(m, EPOLL_CTL_ADD, m->l, EPOLLIN, EV_L));

	t0 = now_ms();
	ENTER(NS_A);
	for (i = 0; i < MC_CONNS; i++) {
		struct mc_end *e = &m->cl[i];

		e->conn = i;
		e->fd = seqsock(SOCK_NONBLOCK);
		ASSERT_LE(0, e->fd) TH_LOG("socket %d: %s", i, strerror(errno));
		ret = connect_to(e->fd, ADDR_B, port_of(m->l));
		ASSERT_TRUE(ret == 0 || errno == EINPROGRESS)
			TH_LOG("connect %d: %s", i, strerror(errno));
		ASSERT_EQ(0, mc_ctl(m, EPOLL_CTL_ADD, e->fd, EPOLLOUT, i));
	}
	ret = mc_connect_all(m);
	ASSERT_EQ(0, ret) TH_LOG("%s", m->why);
	diag("many_connections: %d connections up in %.0f ms", MC_CONNS,
	     now_ms() - t0);
	/* all of them at the same time */
	EXPECT_EQ(MC_CONNS, proc_count(NS_A, "ESTABLISHED", false, false));
	EXPECT_EQ(MC_CONNS, proc_count(NS_B, "ESTABLISHED", false, false));
	EXPECT_EQ(1, proc_count(NS_B, "LISTEN", false, false));
	EXPECT_EQ(act + MC_CONNS, ns_stat(NS_A, "ActiveOpens"));
	EXPECT_EQ(pas + MC_CONNS, ns_stat(NS_B, "PassiveOpens"));

	t0 = now_ms();
	ret = mc_exchange(m);
	ASSERT_EQ(0, ret) TH_LOG("%s", m->why);
	diag("many_connections: %d messages each way in %.0f ms",
	     MC_CONNS * MC_MSGS, now_ms() - t0);

	t0 = now_ms();
	ret = mc_close_all(m);
	ASSERT_EQ(0, ret) TH_LOG("%s", m->why);
	close(m->l);
	EXPECT_EQ(0, wait_settled(NS_A, 30000, false));
	EXPECT_EQ(0, wait_settled(NS_B, 30000, false));
	diag("many_connections: all closed in %.0f ms", now_ms() - t0);
	EXPECT_EQ(0, proc_count(NS_A, "ESTABLISHED", false, false));
	EXPECT_EQ(0, proc_count(NS_B, "ESTABLISHED", false, false));
	EXPECT_EQ(fails, ns_stat(NS_A, "AttemptFails"));
	EXPECT_EQ(rst_a, ns_stat(NS_A, "EstabResets"));
	EXPECT_EQ(rst_b, ns_stat(NS_B, "EstabResets"));
	close(m->ep);
	free(m);
}

/* --- peer_vanishes ------------------------------------------------------ */

enum { V_RECV, V_SEND, V_POLL, V_N };
static const char *const v_name[V_N] = { "recv", "send", "poll" };

#define V_BACKSTOP_MS	60000	/* SO_{SND,RCV}TIMEO, poll(): not a hang */

struct vanish {
	int fd, mode;
	double t0, t1;
	int err;		/* the errno it failed with; 0 if none */
	int revents;
	long sends;
	char why[160];
};

static void *vanish_thread(void *arg)
{
	struct vanish *v = arg;
	char buf[1000] = "vanish";
	struct pollfd p;
	ssize_t n;

	v->t0 = now_ms();
	switch (v->mode) {
	case V_RECV:	/* data in flight, blocked in recv() */
	case V_POLL:	/* data in flight, blocked in poll() */
		if (send(v->fd, buf, 100, MSG_NOSIGNAL) != 100) {
			snprintf(v->why, sizeof(v->why), "send: %s",
				 strerror(errno));
			break;
		}
		if (v->mode == V_RECV) {
			n = recv(v->fd, buf, sizeof(buf), 0);
			v->t1 = now_ms();
			if (n >= 0)
				snprintf(v->why, sizeof(v->why),
					 "recv returned %zd", n);
			else
				v->err = errno;
			break;
		}
		p.fd = v->fd;
		p.events = POLLIN;
		p.revents = 0;
		n = poll(&p, 1, V_BACKSTOP_MS);
		v->t1 = now_ms();
		v->revents = p.revents;
		v->err = so_error(v->fd);
		if (n != 1)
			snprintf(v->why, sizeof(v->why), "poll returned %zd",
				 n);
		break;
	case V_SEND:	/* the send buffer fills up, blocked in send() */
		while (v->sends < 100000) {
			n = send(v->fd, buf, sizeof(buf), MSG_NOSIGNAL);
			if (n < 0) {
				v->err = errno;
				break;
			}
			v->sends++;
		}
		v->t1 = now_ms();
		break;
	}
	return NULL;
}

/* Read back the values quick_timers() set (as the bound needs them). */
static long sysctl_ms(const char *name)
{
	char path[128];
	long v;

	snprintf(path, sizeof(path), SYSCTL "%s", name);
	return demo_read_long(path, &v) ? -1 : v;
}

TEST_F_TIMEOUT(veth, peer_vanishes, 180)
{
	struct vanish v[V_N] = {};
	long rto_min, rto_max, retries, bound, tmo0;
	int l, c[V_N], a[V_N], i;
	pthread_t t[V_N];
	char buf[64];

	ENTER(NS_A);
	ASSERT_EQ(0, quick_timers()) TH_LOG("cannot set " SYSCTL "*");
	rto_min = sysctl_ms("seqpacket_rto_min_ms");
	rto_max = sysctl_ms("seqpacket_rto_max_ms");
	retries = sysctl_ms("seqpacket_retries");
	bound = retries * rto_max + SLACK_MS;

	ENTER(NS_B);
	l = listener(ADDR_B, 8);
	ASSERT_LE(0, l);
	ENTER(NS_A);
	for (i = 0; i < V_N; i++) {
		c[i] = seqsock(0);
		ASSERT_LE(0, c[i]);
		ASSERT_EQ(0, connect_to(c[i], ADDR_B, port_of(l)))
			TH_LOG("connect: %s", strerror(errno));
		a[i] = accept_tmo(l, TMO);
		ASSERT_LE(0, a[i]) TH_LOG("accept: %s", strerror(errno));
		/* a round trip each way: the RTO follows the RTT estimate */
		ASSERT_EQ(4, send(c[i], "ping", 4, 0));
		ASSERT_EQ(4, recv_tmo(a[i], buf, sizeof(buf), TMO));
		ASSERT_EQ(4, send(a[i], "pong", 4, 0));
		ASSERT_EQ(4, recv_tmo(c[i], buf, sizeof(buf), TMO));
		ASSERT_EQ(0, set_timeo(c[i], SO_SNDTIMEO, V_BACKSTOP_MS));
		ASSERT_EQ(0, set_timeo(c[i], SO_RCVTIMEO, V_BACKSTOP_MS));
		v[i].fd = c[i];
		v[i].mode = i;
	}
	ASSERT_EQ(0, setopt_int(c[V_SEND], SOL_SOCKET, SO_SNDBUF, 4096));
	tmo0 = ns_stat(NS_A, "Timeouts");
	ASSERT_LE(0, tmo0);

	/* the peer's host goes away: nothing it is sent arrives */
	ASSERT_EQ(0, sh("ip -n " NS_B " link set veth_b down"));
	for (i = 0; i < V_N; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, vanish_thread, &v[i]));
	for (i = 0; i < V_N; i++)
		ASSERT_EQ(0, join_tmo(t[i], V_BACKSTOP_MS + 10000))
			TH_LOG("%s thread stuck", v_name[i]);

	diag("peer_vanishes: rto_min %ld, rto_max %ld ms, retries %ld: bound %ld ms",
	     rto_min, rto_max, retries, bound);
	for (i = 0; i < V_N; i++) {
		diag("peer_vanishes: blocked %s failed after %.0f ms: %s",
		     v_name[i], v[i].t1 - v[i].t0, strerror(v[i].err));
		EXPECT_STREQ("", v[i].why) TH_LOG("%s", v_name[i]);
		EXPECT_EQ(ETIMEDOUT, v[i].err)
			TH_LOG("%s: %s", v_name[i], strerror(v[i].err));
		EXPECT_GE(bound, v[i].t1 - v[i].t0) TH_LOG("%s", v_name[i]);
		EXPECT_LE(retries * rto_min, v[i].t1 - v[i].t0)
			TH_LOG("%s: failed too early", v_name[i]);
	}
	EXPECT_LT(0, v[V_SEND].sends) TH_LOG("the first send blocked");
	EXPECT_GT(100000, v[V_SEND].sends) TH_LOG("send never blocked");
	EXPECT_TRUE(v[V_POLL].revents & POLLERR)
		TH_LOG("revents %#x", v[V_POLL].revents);
	EXPECT_TRUE(v[V_POLL].revents & POLLHUP)
		TH_LOG("revents %#x", v[V_POLL].revents);
	/* the error is reported once; then the connection is just closed */
	errno = 0;
	EXPECT_EQ(-1, send(c[V_SEND], buf, 1, MSG_NOSIGNAL | MSG_DONTWAIT));
	EXPECT_EQ(EPIPE, errno) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(tmo0 + V_N, ns_stat(NS_A, "Timeouts"));
	EXPECT_EQ(0, proc_count(NS_A, "ESTABLISHED", false, false));

	for (i = 0; i < V_N; i++) {
		close(c[i]);
		close_abort(a[i]);	/* nobody to say goodbye to */
	}
	close(l);
	EXPECT_EQ(0, wait_settled(NS_A, TMO, false));
	EXPECT_EQ(0, wait_settled(NS_B, TMO, false));
}

TEST_F_TIMEOUT(veth, peer_vanishes_connect, 120)
{
	long rto_min, rto_max, syn, bound, act, fails;
	int l, c, ret, err, rev;
	double t0, ms;

	/*
	 * rto_max far below the 1 s initial RTO, which it must clamp: an
	 * unclamped first timeout (1000 + 3 * 100 ms) is well over the bound
	 * (4 * 100 + 600 ms), a correct one well under it.
	 */
	ENTER(NS_A);
	ASSERT_EQ(0, quick_timers()) TH_LOG("cannot set " SYSCTL "*");
	ASSERT_EQ(0, demo_sysctl("seqpacket_rto_max_ms", 100));
	ASSERT_EQ(0, demo_sysctl("seqpacket_syn_retries", 3));
	rto_min = sysctl_ms("seqpacket_rto_min_ms");
	rto_max = sysctl_ms("seqpacket_rto_max_ms");
	syn = sysctl_ms("seqpacket_syn_retries");
	bound = (syn + 1) * rto_max + CONNECT_SLACK_MS;
	diag("peer_vanishes_connect: rto_min %ld, rto_max %ld ms, syn_retries %ld: bound %ld ms",
	     rto_min, rto_max, syn, bound);

	/* someone listens there, but the host is gone */
	ENTER(NS_B);
	l = listener(ADDR_B, 8);
	ASSERT_LE(0, l);
	ASSERT_EQ(0, sh("ip -n " NS_B " link set veth_b down"));
	ENTER(NS_A);
	act = demo_stat("ActiveOpens");
	fails = demo_stat("AttemptFails");

	/* blocking */
	c = seqsock(0);
	ASSERT_LE(0, c);
	t0 = now_ms();
	ret = connect_to(c, ADDR_B, port_of(l));
	err = errno;
	ms = now_ms() - t0;
	diag("peer_vanishes_connect: blocking connect failed after %.0f ms: %s",
	     ms, ret ? strerror(err) : "no error");
	EXPECT_EQ(-1, ret);
	EXPECT_EQ(ETIMEDOUT, err) TH_LOG("%s", strerror(err));
	EXPECT_GE(bound, ms);
	EXPECT_LE(syn * rto_min, ms) TH_LOG("failed too early");
	close(c);

	/* non-blocking: POLLOUT|POLLERR|POLLHUP and SO_ERROR */
	c = seqsock(SOCK_NONBLOCK);
	ASSERT_LE(0, c);
	t0 = now_ms();
	ret = connect_to(c, ADDR_B, port_of(l));
	ASSERT_EQ(-1, ret);
	ASSERT_EQ(EINPROGRESS, errno) TH_LOG("%s", strerror(errno));
	rev = wait_ev(c, POLLOUT, bound + 10000);
	ms = now_ms() - t0;
	err = so_error(c);
	diag("peer_vanishes_connect: non-blocking connect: revents %#x after %.0f ms, SO_ERROR %s",
	     rev, ms, strerror(err));
	EXPECT_EQ(POLLOUT | POLLERR | POLLHUP,
		  rev & (POLLOUT | POLLERR | POLLHUP));
	EXPECT_EQ(ETIMEDOUT, err) TH_LOG("%s", strerror(err));
	EXPECT_GE(bound, ms);
	EXPECT_LE(syn * rto_min, ms) TH_LOG("failed too early");
	close(c);

	EXPECT_EQ(act + 2, demo_stat("ActiveOpens"));
	EXPECT_EQ(fails + 2, demo_stat("AttemptFails"));
	EXPECT_EQ(0, proc_count(NS_A, "SYN_SENT", false, false));
	close(l);
}

/* --- namespace_destroyed_with_connections ------------------------------- */

#define VNS_K		8	/* connections each way */
#define VNS_N		(2 * VNS_K)
#define VNS_BOUND_MS	30000	/* for the survivor to see every error */
#define VNS_GONE_MS	60000	/* for the namespace (its veth) to go */

FIXTURE(vns) {
	int init_ns;
	pid_t child;
};

static const char *const vns_up[] = {
	"ip netns add " NS_S,
	"ip netns add " NS_V,
	"ip -n " NS_S " link set lo up",
	"ip -n " NS_V " link set lo up",
	"ip -n " NS_S " addr add " ADDR_S "/32 dev lo",
	"ip -n " NS_S " link add veth_s address 02:de:00:00:01:0a type veth "
		"peer name veth_v address 02:de:00:00:01:0b netns " NS_V,
	"ip -n " NS_V " addr add " ADDR_V "/24 dev veth_v",
	"ip -n " NS_S " link set veth_s up",
	"ip -n " NS_V " link set veth_v up",
	"ip -n " NS_S " route add " ADDR_V "/32 dev veth_s src " ADDR_S,
	"ip -n " NS_V " route add " ADDR_S "/32 dev veth_v src " ADDR_V,
	"ip -n " NS_S " neigh replace " ADDR_V
		" lladdr 02:de:00:00:01:0b dev veth_s nud permanent",
	"ip -n " NS_V " neigh replace " ADDR_S
		" lladdr 02:de:00:00:01:0a dev veth_v nud permanent",
	/* the fallback: a veth whose peer stays down drops what it is sent */
	"ip -n " NS_S " link add sink0 type veth peer name sink1",
	"ip -n " NS_S " link set sink0 up",
	"ip -n " NS_S " route add 198.18.1.0/24 dev sink0 src " ADDR_S
		" metric 1000",
	"ip -n " NS_S " neigh replace " ADDR_V
		" lladdr 02:de:00:00:01:0c dev sink0 nud permanent",
};

FIXTURE_SETUP(vns)
{
	ASSERT_MODULE();
	self->child = -1;
	self->init_ns = ns_save();
	ASSERT_LE(0, self->init_ns);
	sh("ip netns del " NS_S " 2>/dev/null; ip netns del " NS_V
	   " 2>/dev/null");
	ASSERT_EQ(0, run_all(_metadata, vns_up, ARRAY_SIZE(vns_up)));
	ASSERT_EQ(0, link_ready(NS_S, "veth_s", TMO));
	ASSERT_EQ(0, link_ready(NS_V, "veth_v", TMO));
	ENTER(NS_S);
	ASSERT_EQ(0, quick_timers()) TH_LOG("cannot set " SYSCTL "*");
	ENTER(NS_V);
	ASSERT_EQ(0, quick_timers());
	ASSERT_EQ(0, setns(self->init_ns, CLONE_NEWNET));
}

FIXTURE_TEARDOWN(vns)
{
	if (self->child > 0) {
		kill(self->child, SIGKILL);
		waitpid(self->child, NULL, 0);
	}
	setns(self->init_ns, CLONE_NEWNET);
	sh("ip netns del " NS_S " 2>/dev/null; ip netns del " NS_V
	   " 2>/dev/null");
}

struct vns_msg {
	uint32_t magic, conn, dir, extra;
	char pad[200];
};

#define VNS_MAGIC	0x766e7321

static void vns_fill(struct vns_msg *m, uint32_t conn, uint32_t dir,
		     uint32_t extra)
{
	memset(m, 0, sizeof(*m));
	m->magic = VNS_MAGIC;
	m->conn = conn;
	m->dir = dir;
	m->extra = extra;
	fill(m->pad, sizeof(m->pad), conn * 4 + dir * 2 + extra);
}

static bool vns_ok(const struct vns_msg *m, ssize_t n, uint32_t dir,
		   uint32_t extra)
{
	struct vns_msg want;

	if (n != sizeof(*m) || m->magic != VNS_MAGIC || m->conn >= VNS_N)
		return false;
	vns_fill(&want, m->conn, dir, extra);
	return !memcmp(m, &want, sizeof(want));
}

/* Connections that get a message the victim never reads: reset on close. */
static bool vns_unread(uint32_t conn)
{
	return conn & 1;
}

/*
 * The victim, in its own process: in NS_V, connect VNS_K times to the
 * survivor's listener, accept VNS_K connections, one message each way on
 * each, and wait until the extra message of every vns_unread() connection
 * is queued. Reports 'R' when ready, a letter naming the failed step
 * otherwise; then waits to be killed. No ASSERTs here.
 */
static __noreturn void vns_victim(int lfd, unsigned short sport, int wfd)
{
	int fds[VNS_N], vl, i;
	unsigned short vport;
	struct vns_msg m;
	char st = 'R';
	ssize_t n;

	close(lfd);
	if (demo_netns_enter(NS_V) || quick_timers())
		_exit(1);
	vl = listener(ADDR_V, VNS_K);
	vport = port_of(vl);
	if (vl < 0 || write(wfd, &vport, sizeof(vport)) != sizeof(vport))
		_exit(1);
	for (i = 0; i < VNS_K; i++) {
		fds[i] = seqsock(0);
		if (fds[i] < 0 || connect_to(fds[i], ADDR_S, sport)) {
			st = 'c';
			goto out;
		}
	}
	for (i = VNS_K; i < VNS_N; i++) {
		fds[i] = accept_tmo(vl, 30000);
		if (fds[i] < 0) {
			st = 'a';
			goto out;
		}
	}
	for (i = 0; i < VNS_N; i++) {
		vns_fill(&m, i, 0, 0);
		if (send(fds[i], &m, sizeof(m), MSG_NOSIGNAL) != sizeof(m)) {
			st = 's';
			goto out;
		}
	}
	for (i = 0; i < VNS_N; i++) {
		n = recv_tmo(fds[i], &m, sizeof(m), 30000);
		if (!vns_ok(&m, n, 1, 0) || m.conn != (uint32_t)i) {
			st = 'r';
			goto out;
		}
		/* leave the extra message queued, unread */
		if (vns_unread(i) &&
		    !(wait_ev(fds[i], POLLIN, 30000) & POLLIN)) {
			st = 'u';
			goto out;
		}
	}
out:
	if (write(wfd, &st, 1) != 1)
		_exit(1);
	for (;;)
		pause();
}

struct vns_end {
	int fd, conn, err;
	bool eof, done;
	int probes, send_err;	/* probes sent; errno of the last refused */
	double t, next_probe;
};

#define VNS_PROBE_MS	300

/*
 * Look at a survivor's socket: note the first error; after end of file,
 * keep sending a probe every VNS_PROBE_MS, as a program still talking
 * would: each is answered by a reset, or, with the victim's namespace
 * gone, by nothing until the retransmissions give up. Returns true once
 * the connection has failed.
 */
static bool vns_event(struct vns_end *e, short revents, double t0)
{
	struct vns_msg m;
	ssize_t n;

	if (revents & POLLERR) {
		e->err = so_error(e->fd);
		goto failed;
	}
	if (!e->eof && (revents & POLLIN)) {
		n = recv(e->fd, &m, sizeof(m), MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN)
			return false;
		if (n < 0) {
			e->err = errno;
			goto failed;
		}
		if (n > 0) {
			e->err = -1;	/* data nobody sent */
			goto failed;
		}
		e->eof = true;
	}
	if (revents & POLLHUP) {
		e->err = so_error(e->fd);
		goto failed;
	}
	if (e->eof && now_ms() >= e->next_probe) {
		e->next_probe = now_ms() + VNS_PROBE_MS;
		vns_fill(&m, e->conn, 1, 1);
		n = send(e->fd, &m, sizeof(m), MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno != EAGAIN) {
			e->err = errno;
			goto failed;
		}
		if (n < 0)
			e->send_err = errno;
		e->probes += n > 0;
	}
	return false;
failed:
	e->t = now_ms() - t0;
	e->done = true;
	return true;
}

static const char *const vns_stats[] = {
	"InSegs", "OutSegs", "RetransSegs", "InRsts", "Timeouts", "EstabResets",
};
#define VNS_NSTAT	((int)ARRAY_SIZE(vns_stats))

TEST_F_TIMEOUT(vns, namespace_destroyed_with_connections, 300)
{
	struct vns_end ends[VNS_N] = {};
	struct pollfd pfd[VNS_N];
	int pipefd[2], l, fds[VNS_N], i, n, left, status;
	int nrst = 0, ntmo = 0, neof = 0;
	bool seen[VNS_N] = {};
	long stat0[VNS_NSTAT];
	double t_gone = 0;
	unsigned short vport;
	struct vns_msg m;
	double t0, end;
	pid_t w;
	char st;

	ENTER(NS_S);
	l = listener(ADDR_S, VNS_N);
	ASSERT_LE(0, l);
	ASSERT_EQ(0, pipe2(pipefd, O_CLOEXEC));
	self->child = fork();
	ASSERT_LE(0, self->child);
	if (self->child == 0) {
		close(pipefd[0]);
		vns_victim(l, port_of(l), pipefd[1]);
	}
	close(pipefd[1]);
	ASSERT_TRUE(wait_ev(pipefd[0], POLLIN, 30000) & POLLIN);
	ASSERT_EQ(sizeof(vport), read(pipefd[0], &vport, sizeof(vport)))
		TH_LOG("the victim failed to start");
	/* the victim's process now holds the only reference to NS_V */
	ASSERT_EQ(0, sh("ip netns del " NS_V));

	/* VNS_K from the victim, VNS_K to it */
	for (i = 0; i < VNS_K; i++) {
		fds[i] = accept_tmo(l, 30000);
		ASSERT_LE(0, fds[i]) TH_LOG("accept %d: %s", i, strerror(errno));
	}
	for (i = VNS_K; i < VNS_N; i++) {
		fds[i] = seqsock(0);
		ASSERT_LE(0, fds[i]);
		ASSERT_EQ(0, connect_to(fds[i], ADDR_V, vport))
			TH_LOG("connect %d: %s", i, strerror(errno));
	}
	for (i = 0; i < VNS_N; i++) {
		n = recv_tmo(fds[i], &m, sizeof(m), 30000);
		ASSERT_TRUE(vns_ok(&m, n, 0, 0))
			TH_LOG("message %d from the victim: %d, %s", i, n,
			       strerror(errno));
		ASSERT_FALSE(seen[m.conn]) TH_LOG("two connections %u", m.conn);
		seen[m.conn] = true;
		ends[i].fd = fds[i];
		ends[i].conn = m.conn;
		vns_fill(&m, ends[i].conn, 1, 0);
		ASSERT_EQ(sizeof(m), send(fds[i], &m, sizeof(m), 0));
		if (vns_unread(ends[i].conn)) {
			vns_fill(&m, ends[i].conn, 1, 1);
			ASSERT_EQ(sizeof(m), send(fds[i], &m, sizeof(m), 0));
		}
	}
	ASSERT_TRUE(wait_ev(pipefd[0], POLLIN, 60000) & POLLIN);
	ASSERT_EQ(1, read(pipefd[0], &st, 1));
	ASSERT_EQ('R', st) TH_LOG("the victim failed at step '%c'", st);
	EXPECT_EQ(VNS_N, proc_count(NS_S, "ESTABLISHED", false, false));

	/* the victim's process exits: its sockets close, its netns goes */
	t0 = now_ms();
	ASSERT_EQ(0, kill(self->child, SIGKILL));
	end = now_ms() + VNS_BOUND_MS;
	while ((w = waitpid(self->child, &status, WNOHANG)) == 0 &&
	       now_ms() < end)
		poll(NULL, 0, 10);
	ASSERT_EQ(self->child, w) TH_LOG("the victim's process does not exit");
	self->child = -1;
	diag("namespace_destroyed: victim gone after %.0f ms", now_ms() - t0);

	/* every survivor sees its connection fail */
	for (i = 0; i < VNS_NSTAT; i++)
		stat0[i] = ns_stat(NS_S, vns_stats[i]);
	left = VNS_N;
	while (left && now_ms() < t0 + VNS_BOUND_MS) {
		if (!t_gone && !dev_exists(NS_S, "veth_s"))
			t_gone = now_ms() - t0;
		for (i = n = 0; i < VNS_N; i++) {
			if (ends[i].done)
				continue;
			pfd[n].fd = ends[i].fd;
			pfd[n].events = ends[i].eof ? 0 : POLLIN;
			pfd[n].revents = 0;
			n++;
		}
		if (poll(pfd, n, VNS_PROBE_MS / 3) < 0)
			break;
		for (i = n = 0; i < VNS_N; i++) {
			if (ends[i].done)
				continue;
			if (vns_event(&ends[i], pfd[n].revents, t0))
				left--;
			n++;
		}
	}
	for (i = 0; i < VNS_N; i++) {
		struct vns_end *e = &ends[i];

		if (e->err == ECONNRESET || e->err == EPIPE)
			nrst++;
		if (e->err == ETIMEDOUT)
			ntmo++;
		if (e->eof)
			neof++;
		/* a reset in CLOSE_WAIT is EPIPE, as for TCP */
		EXPECT_TRUE(e->done && (e->err == ECONNRESET || e->err == ETIMEDOUT ||
					(e->eof && e->err == EPIPE)))
			TH_LOG("conn %d (%s, %s): %s after %.0f ms; %s, %d probes sent, last refused: %s",
			       e->conn,
			       e->conn < VNS_K ? "victim connected" : "victim accepted",
			       vns_unread(e->conn) ? "unread data" : "clean close",
			       !e->done ? "no error" : e->err < 0 ? "unexpected data" :
			       strerror(e->err), e->t,
			       e->eof ? "end of file" : "no end of file",
			       e->probes, e->send_err ? strerror(e->send_err) : "-");
		/* unread data at close: a reset, sent before the netns went */
		if (vns_unread(e->conn))
			EXPECT_EQ(ECONNRESET, e->err) TH_LOG("conn %d", e->conn);
	}
	diag("namespace_destroyed: %d connections: %d reset (ECONNRESET/EPIPE), %d timed out, %d end of file first",
	     VNS_N, nrst, ntmo, neof);
	if (left)
		proc_count(NS_S, NULL, false, true);
	for (i = 0; i < VNS_NSTAT; i++)
		diag("namespace_destroyed: %s %s +%ld", NS_S, vns_stats[i],
		     ns_stat(NS_S, vns_stats[i]) - stat0[i]);
	if (t_gone)
		diag("namespace_destroyed: veth_s gone %.0f ms after the kill",
		     t_gone);
	for (i = 0; i < VNS_N; i++)
		if (ends[i].done)
			diag("namespace_destroyed: conn %2d: %s after %.0f ms (%s, %d probes)",
			     ends[i].conn, ends[i].err > 0 ?
			     strerror(ends[i].err) : "?", ends[i].t,
			     ends[i].eof ? "end of file first" : "no end of file",
			     ends[i].probes);

	/* the namespace is destroyed for good: its veth pair goes with it */
	end = now_ms() + VNS_GONE_MS;
	while (dev_exists(NS_S, "veth_s") && now_ms() < end)
		poll(NULL, 0, 50);
	EXPECT_FALSE(dev_exists(NS_S, "veth_s"))
		TH_LOG("the victim's namespace still exists after %d ms",
		       VNS_GONE_MS);
	diag("namespace_destroyed: netns gone after %.0f ms", now_ms() - t0);

	for (i = 0; i < VNS_N; i++)
		close(fds[i]);
	close(l);
	EXPECT_EQ(0, wait_settled(NS_S, TMO, false));
	EXPECT_EQ(0, proc_count(NS_S, "ESTABLISHED", false, false));
}

/* --- netem_64mib -------------------------------------------------------- */

#define NETEM_MIB	64
#define NETEM_BUF	(4 << 20)
#define NETEM_STALL_MS	120000	/* SO_{SND,RCV}TIMEO: longest legal stall */
#define NETEM_TIMEOUT_S	1200	/* harness timeout of the case */
#define NETEM_TICK_MS	30000	/* progress report interval */
#define NETEM_QDISC	"root netem delay 1ms reorder 25% 50% loss 10% duplicate 5%"

static long long netem_total = NETEM_MIB << 20;

struct xfer {
	int fd;
	uint64_t seed;
	double t_last;		/* when the last message went or came */
	long long bytes;
	long msgs;
	uint64_t sum;
	double t_end;
	char why[256];
};

#define XFER_FAIL(x, ...) do { \
	snprintf((x)->why, sizeof((x)->why), __VA_ARGS__); \
	goto out; \
} while (0)

/*
 * The message schedule both ends derive from the seed: a quarter of the
 * messages 1..64 bytes, the rest 1..65536; the last one cut to fit 64 MiB.
 */
static size_t netem_next(uint64_t *s, long long done, uint64_t *seed)
{
	uint64_t r = splitmix64(s);
	size_t len;

	len = (r & 3) ? 1 + (r >> 8) % 65536 : 1 + (r >> 8) % 64;
	if ((long long)len > netem_total - done)
		len = netem_total - done;
	*seed = splitmix64(s);
	return len;
}

static void *netem_sender(void *arg)
{
	struct xfer *x = arg;
	uint8_t *buf = malloc(MAX_MSG);
	uint64_t s = x->seed, seed;
	size_t len;
	ssize_t n;

	if (!buf)
		XFER_FAIL(x, "out of memory");
	x->sum = FNV_INIT;
	while (x->bytes < netem_total) {
		len = netem_next(&s, x->bytes, &seed);
		fill(buf, len, seed);
		x->sum = fnv1a(x->sum, buf, len);
		n = send(x->fd, buf, len, MSG_NOSIGNAL);
		if (n != (ssize_t)len)
			XFER_FAIL(x, "send of message %ld (%zu bytes) after %lld bytes: %zd, %s",
				  x->msgs, len, x->bytes, n, strerror(errno));
		x->bytes += len;
		x->msgs++;
		x->t_last = now_ms();
	}
	if (shutdown(x->fd, SHUT_WR))
		XFER_FAIL(x, "shutdown(SHUT_WR): %s", strerror(errno));
	/* the receiver shuts down once it has seen everything */
	n = recv(x->fd, buf, MAX_MSG, 0);
	if (n)
		XFER_FAIL(x, "waiting for the receiver's end of file: %zd, %s",
			  n, n < 0 ? strerror(errno) : "data");
out:
	x->t_end = now_ms();
	free(buf);
	return NULL;
}

static void *netem_receiver(void *arg)
{
	struct xfer *x = arg;
	uint8_t *buf = malloc(MAX_MSG + 1), *tmp = malloc(MAX_MSG);
	uint64_t s = x->seed, seed;
	struct iovec iov;
	struct msghdr mh;
	long bad;
	size_t len;
	ssize_t n;

	if (!buf || !tmp)
		XFER_FAIL(x, "out of memory");
	x->sum = FNV_INIT;
	for (;;) {
		iov.iov_base = buf;
		iov.iov_len = MAX_MSG + 1;
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		n = recvmsg(x->fd, &mh, 0);
		if (n < 0)
			XFER_FAIL(x, "recv of message %ld after %lld bytes: %s",
				  x->msgs, x->bytes, strerror(errno));
		if (n == 0 && x->bytes == netem_total)
			break;		/* end of file, all there */
		if (x->bytes == netem_total)
			XFER_FAIL(x, "extra message of %zd bytes after the last one", n);
		len = netem_next(&s, x->bytes, &seed);
		if (n != (ssize_t)len)
			XFER_FAIL(x, "message %ld after %lld bytes has %zd bytes, want %zu",
				  x->msgs, x->bytes, n, len);
		if (mh.msg_flags & MSG_TRUNC)
			XFER_FAIL(x, "message %ld: MSG_TRUNC", x->msgs);
		if (!(mh.msg_flags & MSG_EOR))
			XFER_FAIL(x, "message %ld: no MSG_EOR", x->msgs);
		bad = mismatch(buf, len, seed, tmp);
		if (bad >= 0)
			XFER_FAIL(x, "message %ld (%zu bytes): byte %ld differs",
				  x->msgs, len, bad);
		x->sum = fnv1a(x->sum, buf, len);
		x->bytes += len;
		x->msgs++;
		x->t_last = now_ms();
	}
	if (shutdown(x->fd, SHUT_WR))
		XFER_FAIL(x, "shutdown(SHUT_WR): %s", strerror(errno));
out:
	x->t_end = now_ms();
	free(buf);
	free(tmp);
	return NULL;
}

static long env_long(const char *name, long def)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (!v || !*v)
		return def;
	n = strtol(v, &end, 0);
	return *end || n <= 0 ? def : n;
}

TEST_F_TIMEOUT(veth, netem_64mib, NETEM_TIMEOUT_S)
{
	long bound_s = env_long("AFDEMO_NETEM_BOUND_S", 600);
	const char *qdisc = getenv("AFDEMO_NETEM_QDISC") ?: NETEM_QDISC;
	struct xfer snd = {}, rcv = {};
	long st[2][2], wait_ms;
	pthread_t ts, tr;
	double t0, secs;
	int l, c, a, err;

	if (bound_s > NETEM_TIMEOUT_S - 120) {
		diag("AFDEMO_NETEM_BOUND_S=%ld beyond the case's timeout; using %d",
		     bound_s, NETEM_TIMEOUT_S - 120);
		bound_s = NETEM_TIMEOUT_S - 120;
	}
	snd.seed = rcv.seed = env_long("AFDEMO_NETEM_SEED", 0x5eed64);
	netem_total = env_long("AFDEMO_NETEM_MIB", NETEM_MIB) << 20;
	if (netem_total != NETEM_MIB << 20 || strcmp(qdisc, NETEM_QDISC))
		diag("netem_64mib: diagnostic run: %lld MiB, qdisc %s",
		     netem_total >> 20, qdisc);
	sh("modprobe -q sch_netem 2>/dev/null");
	/* (NETEM_QDISC has '%' signs: an argument, not in the format) */
	ASSERT_EQ(0, sh("tc -n %s qdisc add dev veth_a %s", NS_A, qdisc))
		TH_LOG("netem unavailable");
	ASSERT_EQ(0, sh("tc -n %s qdisc add dev veth_b %s", NS_B, qdisc));
	ASSERT_EQ(0, sh("tc -n %s qdisc show dev veth_a | grep -q netem", NS_A));

	ENTER(NS_B);
	l = listener(ADDR_B, 1);
	ASSERT_LE(0, l) TH_LOG("listener: %s", strerror(errno));
	ASSERT_EQ(0, set_bufs(l, NETEM_BUF));
	ENTER(NS_A);
	c = seqsock(0);
	ASSERT_LE(0, c);
	ASSERT_EQ(0, set_bufs(c, NETEM_BUF));
	ASSERT_EQ(0, connect_to(c, ADDR_B, port_of(l)))
		TH_LOG("connect through netem: %s", strerror(errno));
	a = accept_tmo(l, TMO);
	ASSERT_LE(0, a) TH_LOG("accept: %s", strerror(errno));
	close(l);
	/* accepted sockets inherit the listener's buffers; make sure */
	ASSERT_EQ(0, set_bufs(a, NETEM_BUF));
	ASSERT_EQ(0, set_timeo(c, SO_SNDTIMEO, NETEM_STALL_MS));
	ASSERT_EQ(0, set_timeo(c, SO_RCVTIMEO, NETEM_STALL_MS));
	ASSERT_EQ(0, set_timeo(a, SO_SNDTIMEO, NETEM_STALL_MS));
	ASSERT_EQ(0, set_timeo(a, SO_RCVTIMEO, NETEM_STALL_MS));
	st[0][0] = ns_stat(NS_A, "RetransSegs");
	st[0][1] = ns_stat(NS_A, "InDupSegs");
	st[1][0] = ns_stat(NS_B, "RetransSegs");
	st[1][1] = ns_stat(NS_B, "InDupSegs");
	ASSERT_LE(0, st[0][0]) TH_LOG("no RetransSegs in /proc/net/demo_stat");
	ASSERT_LE(0, st[1][1]) TH_LOG("no InDupSegs in /proc/net/demo_stat");

	snd.fd = c;
	rcv.fd = a;
	t0 = now_ms();
	ASSERT_EQ(0, pthread_create(&tr, NULL, netem_receiver, &rcv));
	ASSERT_EQ(0, pthread_create(&ts, NULL, netem_sender, &snd));

	/* progress every NETEM_TICK_MS, until done or out of time */
	do {
		wait_ms = bound_s * 1000 - (long)(now_ms() - t0);
		err = join_tmo(tr, wait_ms < NETEM_TICK_MS ? wait_ms : NETEM_TICK_MS);
		if (err == ETIMEDOUT && wait_ms > NETEM_TICK_MS)
			diag("netem_64mib: %.0f s: %lld bytes in %ld messages received; RetransSegs +%ld",
			     (now_ms() - t0) / 1e3,
			     __atomic_load_n(&rcv.bytes, __ATOMIC_RELAXED),
			     __atomic_load_n(&rcv.msgs, __ATOMIC_RELAXED),
			     ns_stat(NS_A, "RetransSegs") - st[0][0]);
	} while (err == ETIMEDOUT && wait_ms > NETEM_TICK_MS);
	if (err) {
		diag("netem_64mib: %lld of %lld bytes received after %ld s, stopping",
		     __atomic_load_n(&rcv.bytes, __ATOMIC_RELAXED), netem_total,
		     bound_s);
		shutdown(a, SHUT_RDWR);
		shutdown(c, SHUT_RDWR);
		wait_ms = NETEM_STALL_MS + 10000;
		ASSERT_EQ(0, join_tmo(tr, wait_ms))
			TH_LOG("receiver stuck after shutdown()");
	} else if (rcv.why[0]) {
		/* nobody reads any more: wake the sender */
		shutdown(c, SHUT_RDWR);
	}
	ASSERT_EQ(0, join_tmo(ts, NETEM_STALL_MS + 10000))
		TH_LOG("sender stuck");
	secs = (rcv.t_end - t0) / 1e3;
	if (snd.why[0] || rcv.why[0])
		diag("netem_64mib: sender: last message sent at %.1f s, stopped at %.1f s; receiver: last message at %.1f s, stopped at %.1f s",
		     (snd.t_last - t0) / 1e3, (snd.t_end - t0) / 1e3,
		     (rcv.t_last - t0) / 1e3, (rcv.t_end - t0) / 1e3);

	diag("netem_64mib: seed %#llx, %ld messages, %lld bytes in %.1f s, %.3f MiB/s (bound %ld s)",
	     (unsigned long long)snd.seed, rcv.msgs, rcv.bytes, secs,
	     rcv.bytes / 1048576.0 / (secs > 0 ? secs : 1), bound_s);
	diag("netem_64mib: " NS_A " (sender) RetransSegs +%ld InDupSegs +%ld; "
	     NS_B " (receiver) RetransSegs +%ld InDupSegs +%ld",
	     ns_stat(NS_A, "RetransSegs") - st[0][0],
	     ns_stat(NS_A, "InDupSegs") - st[0][1],
	     ns_stat(NS_B, "RetransSegs") - st[1][0],
	     ns_stat(NS_B, "InDupSegs") - st[1][1]);

	/* what netem did (its drops include queue overflows) */
	sh("for ns in %s %s; do tc -n $ns -s qdisc show | "
	   "sed -n \"s/^/# netem_64mib: $ns: /p\"; done", NS_A, NS_B);
	EXPECT_EQ(0, err) TH_LOG("not done within AFDEMO_NETEM_BOUND_S=%ld s",
				 bound_s);
	EXPECT_STREQ("", rcv.why);
	EXPECT_STREQ("", snd.why);
	EXPECT_EQ(netem_total, snd.bytes);
	EXPECT_EQ(netem_total, rcv.bytes);
	EXPECT_EQ(snd.msgs, rcv.msgs);
	EXPECT_EQ(snd.sum, rcv.sum) TH_LOG("FNV-1a: sent %016llx, received %016llx",
					   (unsigned long long)snd.sum,
					   (unsigned long long)rcv.sum);
	EXPECT_GE(bound_s * 1000.0, rcv.t_end - t0);
	/* loss and duplication did happen, and were repaired */
	EXPECT_LT(st[0][0], ns_stat(NS_A, "RetransSegs"));
	EXPECT_LT(st[1][1], ns_stat(NS_B, "InDupSegs"));

	if (err || rcv.why[0] || snd.why[0]) {
		/* already failed: leave nothing retransmitting behind */
		close_abort(c);
		close_abort(a);
		return;
	}
	close(c);
	close(a);
	/* both ends finish their FIN exchange (through netem) */
	EXPECT_EQ(0, wait_settled(NS_A, 60000, false));
	EXPECT_EQ(0, wait_settled(NS_B, 60000, false));
}

TEST_HARNESS_MAIN
