// SPDX-License-Identifier: GPL-2.0
/*
 * demo_bench: AF_DEMO against the kernel's own transports, with one code
 * path per workload for every transport.
 *
 *   seqN     AF_DEMO SOCK_SEQPACKET vs TCP (fixed-size records) and SCTP
 *            one-to-one (SOCK_STREAM, IPPROTO_SCTP), N-byte messages
 *   dgN      AF_DEMO SOCK_DGRAM vs UDP, N-byte datagrams (drops allowed)
 *   rr_seq   1-byte ping-pong over a connection: rate, p50/p99 latency
 *   rr_dgram the same over connected datagram sockets
 *   conn     connect + accept + close per second
 *
 * Every message carries its index in its first 8 bytes and, after them,
 * a stretch of a pseudo-random pattern chosen by the index: the receiver
 * checks every byte, the order and (seqpacket) the message boundaries.
 * Paths: loopback (127.0.0.1) and veth between two network namespaces
 * this program creates with ip(8) (198.18.0.1 and 198.18.0.2) and
 * removes at exit.
 *
 * Output: a table, "# ratio <path>_<workload> <AF_DEMO/peer>" lines,
 * "# figure: bench_<path>_<workload>_<transport>_<unit> <integer>" lines
 * and, with --json FILE, the same figures as JSON. Exit status 1 only if
 * a byte check failed or AF_DEMO, TCP or UDP could not run; never on
 * speed. Run as root (namespaces), with af_demo loaded.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "demo_lib.h"

#ifndef IPPROTO_SCTP
#define IPPROTO_SCTP	132
#endif
#ifndef SOL_SCTP
#define SOL_SCTP	132
#endif
#define BENCH_SCTP_NODELAY	3	/* SCTP_NODELAY of <linux/sctp.h> */

#define NS_A		"afdemo_bench_a"
#define NS_B		"afdemo_bench_b"
#define VETH_A		"afdb-a"
#define VETH_B		"afdb-b"
#define IP_A		"198.18.0.1"
#define IP_B		"198.18.0.2"

#define HDR_LEN		8		/* message index, little endian */
#define PAT_LEN		(256 * 1024)
#define MAX_MSG		(256 * 1024)
#define IO_TIMEOUT_S	10		/* any blocking call: longer = failure */
#define DG_DRAIN_MS	300		/* datagram receiver: end after this quiet */

enum xport { T_DEMO_SEQ, T_TCP, T_SCTP, T_DEMO_DGRAM, T_UDP, T_NR };

static const char *const xname[T_NR] = {
	"demo_seq", "tcp", "sctp", "demo_dgram", "udp",
};

enum kind { K_TPUT, K_RR, K_CONN };

struct workload {
	const char *name;
	enum kind kind;
	bool dgram;		/* AF_DEMO dgram vs UDP, else seqpacket vs TCP */
	size_t size;
	bool smoke;		/* part of --smoke */
};

/* UDP's and AF_DEMO's largest datagram is just short of 64 KiB. */
static const struct workload workloads[] = {
	{ "seq64",	K_TPUT, false, 64,	false },
	{ "seq1400",	K_TPUT, false, 1400,	true },
	{ "seq16k",	K_TPUT, false, 16384,	false },
	{ "seq64k",	K_TPUT, false, 65536,	true },
	{ "seq256k",	K_TPUT, false, 262144,	false },
	{ "dg64",	K_TPUT, true, 64,	false },
	{ "dg1400",	K_TPUT, true, 1400,	true },
	{ "dg16k",	K_TPUT, true, 16384,	false },
	{ "dg64k",	K_TPUT, true, 65000,	false },
	{ "rr_seq",	K_RR, false, 1,		true },
	{ "rr_dgram",	K_RR, true, 1,		false },
	{ "conn",	K_CONN, false, 0,	true },
};
#define NR_WL	(sizeof(workloads) / sizeof(workloads[0]))

struct result {
	bool ran;		/* a figure was measured */
	bool skipped;		/* transport not available here */
	char note[160];
	double mbps;		/* goodput, Mbit/s */
	double rate;		/* K_RR: round trips/s; K_CONN: connections/s */
	double p50_us, p99_us;
	double loss_pct;
	double cpu_ms_per_mb;	/* user+sys of the process, -1 if unknown */
	uint64_t msgs, bytes;
};

static struct {
	int seconds;
	bool smoke;
	bool sctp;
	const char *json;
	const char *paths;
	const char *only;
	bool verbose;
} opt = { .seconds = 3, .sctp = true, .paths = "lo,veth" };

static unsigned char pattern[PAT_LEN + MAX_MSG];
static int orig_ns = -1, ns_fd[2] = { -1, -1 };
static bool netns_made;
static int byte_errors;
static int must_fail;

/* ---- helpers ---------------------------------------------------------- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return -1;
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static void pattern_init(void)
{
	uint64_t s = 0x5eed;
	size_t i;

	for (i = 0; i < sizeof(pattern); i += 8) {
		s = mix64(s);
		memcpy(pattern + i, &s, 8);
	}
}

static const unsigned char *pat_of(uint64_t idx)
{
	return pattern + mix64(idx) % PAT_LEN;
}

/* Message @idx of @len bytes (len >= HDR_LEN). */
static void msg_fill(unsigned char *buf, uint64_t idx, size_t len)
{
	memcpy(buf, &idx, HDR_LEN);
	memcpy(buf + HDR_LEN, pat_of(idx), len - HDR_LEN);
}

static uint64_t msg_idx(const unsigned char *buf)
{
	uint64_t idx;

	memcpy(&idx, buf, HDR_LEN);
	return idx;
}

static bool msg_ok(const unsigned char *buf, uint64_t idx, size_t len)
{
	return msg_idx(buf) == idx &&
	       !memcmp(buf + HDR_LEN, pat_of(idx), len - HDR_LEN);
}

static int run_cmd(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int ret;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	ret = system(cmd);
	if (opt.verbose || ret)
		fprintf(stderr, "demo_bench: %s: %d\n", cmd, ret);
	return ret;
}

static void netns_cleanup(void)
{
	if (!netns_made)
		return;
	netns_made = false;
	if (orig_ns >= 0)
		setns(orig_ns, CLONE_NEWNET);
	run_cmd("ip netns del " NS_A " 2>/dev/null; ip netns del " NS_B
		" 2>/dev/null; true");
}

static void on_signal(int sig)
{
	(void)sig;
	exit(2);	/* atexit: the namespaces go */
}

static int netns_setup(void)
{
	if (ns_fd[0] >= 0)
		return 0;
	run_cmd("ip netns del " NS_A " 2>/dev/null; ip netns del " NS_B
		" 2>/dev/null; true");
	netns_made = true;
	if (run_cmd("ip netns add " NS_A " && ip netns add " NS_B " && "
		    "ip link add " VETH_A " netns " NS_A " type veth peer name "
		    VETH_B " netns " NS_B " && "
		    "ip -n " NS_A " addr add " IP_A "/24 dev " VETH_A " && "
		    "ip -n " NS_B " addr add " IP_B "/24 dev " VETH_B " && "
		    "ip -n " NS_A " link set lo up && ip -n " NS_B " link set lo up && "
		    "ip -n " NS_A " link set " VETH_A " up && "
		    "ip -n " NS_B " link set " VETH_B " up"))
		return -1;
	ns_fd[0] = open("/run/netns/" NS_A, O_RDONLY | O_CLOEXEC);
	ns_fd[1] = open("/run/netns/" NS_B, O_RDONLY | O_CLOEXEC);
	if (ns_fd[0] < 0 || ns_fd[1] < 0)
		return -1;
	/* Let the links come up (carrier, no DAD for IPv4). */
	usleep(300 * 1000);
	return 0;
}

/* The path: loopback, or veth from the client's netns A to B. */
struct path {
	const char *name;
	bool veth;
	const char *cli_ip, *srv_ip;
};

enum side { CLI, SRV, ORIG };

static int to_side(const struct path *p, enum side s)
{
	if (!p->veth)
		return 0;
	return setns(s == ORIG ? orig_ns : ns_fd[s == SRV], CLONE_NEWNET);
}

static bool is_demo(enum xport t)
{
	return t == T_DEMO_SEQ || t == T_DEMO_DGRAM;
}

static bool is_stream(enum xport t)
{
	return t == T_TCP || t == T_SCTP;
}

static bool is_dgram(enum xport t)
{
	return t == T_DEMO_DGRAM || t == T_UDP;
}

static int mk_sock(enum xport t)
{
	switch (t) {
	case T_DEMO_SEQ:
		return socket(af(), SOCK_SEQPACKET | SOCK_CLOEXEC,
			      DEMOPROTO_SEQPACKET);
	case T_DEMO_DGRAM:
		return socket(af(), SOCK_DGRAM | SOCK_CLOEXEC, DEMOPROTO_DGRAM);
	case T_TCP:
		return socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	case T_SCTP:
		return socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_SCTP);
	case T_UDP:
		return socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
	default:
		errno = EINVAL;
		return -1;
	}
}

/* struct sockaddr_demo is laid out as struct sockaddr_in. */
static void mk_addr(struct sockaddr_in *sin, enum xport t, const char *ip,
		    unsigned short port)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = is_demo(t) ? af() : AF_INET;
	sin->sin_port = htons(port);
	sin->sin_addr.s_addr = inet_addr(ip);
}

static int bind_ip(int fd, enum xport t, const char *ip, unsigned short port)
{
	struct sockaddr_in sin;

	mk_addr(&sin, t, ip, port);
	return bind(fd, (struct sockaddr *)&sin, sizeof(sin));
}

static int connect_ip(int fd, enum xport t, const char *ip,
		      unsigned short port)
{
	struct sockaddr_in sin;

	mk_addr(&sin, t, ip, port);
	return connect(fd, (struct sockaddr *)&sin, sizeof(sin));
}

static unsigned short local_port(int fd)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	if (getsockname(fd, (struct sockaddr *)&sin, &len))
		return 0;
	return ntohs(sin.sin_port);
}

static void set_timeout(int fd, int opt_name, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = ms % 1000 * 1000 };

	setsockopt(fd, SOL_SOCKET, opt_name, &tv, sizeof(tv));
}

/*
 * SCTP refuses a message larger than its send buffer (EMSGSIZE), and the
 * default, wmem_default, is below 256 KiB: room for two of the largest.
 */
static void set_sctp_sndbuf(int fd, enum xport t)
{
	int sz = 2 * MAX_MSG;

	if (t == T_SCTP)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
}

static void set_timeouts(int fd)
{
	set_timeout(fd, SO_RCVTIMEO, IO_TIMEOUT_S * 1000);
	set_timeout(fd, SO_SNDTIMEO, IO_TIMEOUT_S * 1000);
}

static void set_nodelay(int fd, enum xport t)
{
	int one = 1;

	if (t == T_TCP)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	else if (t == T_SCTP)
		setsockopt(fd, SOL_SCTP, BENCH_SCTP_NODELAY, &one, sizeof(one));
}

static bool unsupported(int err)
{
	return err == EPROTONOSUPPORT || err == ESOCKTNOSUPPORT ||
	       err == EAFNOSUPPORT;
}

/*
 * A listening socket on the server's side, port in *port; -1 with
 * r->note set on failure (r->skipped if the transport is missing).
 */
static int mk_listener(const struct path *p, enum xport t,
		       unsigned short *port, struct result *r)
{
	int one = 1, l;

	to_side(p, SRV);
	l = mk_sock(t);
	if (l < 0) {
		r->skipped = unsupported(errno);
		snprintf(r->note, sizeof(r->note), "socket: %s", strerror(errno));
		goto out;
	}
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind_ip(l, t, p->srv_ip, 0) || listen(l, 128)) {
		snprintf(r->note, sizeof(r->note), "bind/listen: %s",
			 strerror(errno));
		close(l);
		l = -1;
		goto out;
	}
	*port = local_port(l);
out:
	to_side(p, ORIG);
	return l;
}

/* A connected pair: *c on the client's side, *s on the server's. */
static int mk_pair(const struct path *p, enum xport t, int *c, int *s,
		   struct result *r)
{
	unsigned short port = 0, cport;
	int l;

	*c = *s = -1;
	if (is_dgram(t)) {
		to_side(p, SRV);
		*s = mk_sock(t);
		if (*s < 0) {
			r->skipped = unsupported(errno);
			goto fail;
		}
		if (bind_ip(*s, t, p->srv_ip, 0))
			goto fail;
		port = local_port(*s);
		to_side(p, CLI);
		*c = mk_sock(t);
		if (*c < 0 || bind_ip(*c, t, p->cli_ip, 0) ||
		    connect_ip(*c, t, p->srv_ip, port))
			goto fail;
		cport = local_port(*c);
		if (connect_ip(*s, t, p->cli_ip, cport))
			goto fail;
		to_side(p, ORIG);
		set_timeouts(*c);
		set_timeouts(*s);
		return 0;
	}
	l = mk_listener(p, t, &port, r);
	if (l < 0)
		return -1;
	to_side(p, CLI);
	*c = mk_sock(t);
	set_timeouts(*c);
	set_sctp_sndbuf(*c, t);
	if (*c < 0 || connect_ip(*c, t, p->srv_ip, port)) {
		close(l);
		goto fail;
	}
	to_side(p, ORIG);
	set_timeouts(l);
	*s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	close(l);
	if (*s < 0)
		goto fail;
	set_timeouts(*s);
	return 0;
fail:
	if (!r->note[0])
		snprintf(r->note, sizeof(r->note), "setup: %s", strerror(errno));
	to_side(p, ORIG);
	if (*c >= 0)
		close(*c);
	if (*s >= 0)
		close(*s);
	*c = *s = -1;
	return -1;
}

static int writen(int fd, const unsigned char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= n;
	}
	return 0;
}

/* 1: a whole record; 0: end of stream before it; -1: error. */
static int readn(int fd, unsigned char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(fd, buf + got, len - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			if (!got)
				return 0;
			errno = EPROTO;	/* a torn record */
			return -1;
		}
		got += n;
	}
	return 1;
}

/* ---- throughput ------------------------------------------------------- */

struct xfer {
	enum xport t;
	int fd;
	size_t size;
	volatile bool stop;
	uint64_t msgs, bytes;
	double t_last;
	int err;		/* errno of a failure */
	bool bad;		/* a byte, order or boundary check failed */
	char what[128];
};

static void *tput_send(void *arg)
{
	struct xfer *x = arg;
	unsigned char *buf = malloc(x->size);
	uint64_t i = 0;

	if (!buf) {
		x->err = ENOMEM;
		return NULL;
	}
	while (!x->stop) {
		ssize_t n;

		msg_fill(buf, i, x->size);
		if (is_stream(x->t)) {
			if (writen(x->fd, buf, x->size)) {
				x->err = errno;
				snprintf(x->what, sizeof(x->what), "send: %s",
					 strerror(errno));
				break;
			}
		} else {
			n = send(x->fd, buf, x->size, MSG_NOSIGNAL);
			if (n < 0 && (errno == EINTR || errno == ENOBUFS ||
				      errno == EAGAIN || errno == ECONNREFUSED) &&
			    is_dgram(x->t))
				continue;
			if (n != (ssize_t)x->size) {
				x->err = n < 0 ? errno : EMSGSIZE;
				snprintf(x->what, sizeof(x->what),
					 "send %zd of %zu: %s", n, x->size,
					 strerror(x->err));
				break;
			}
		}
		i++;
	}
	x->msgs = i;
	if (!is_dgram(x->t))
		shutdown(x->fd, SHUT_WR);
	free(buf);
	return NULL;
}

static void *tput_recv(void *arg)
{
	struct xfer *x = arg;
	unsigned char *buf = malloc(x->size + 1);
	uint64_t expect = 0;

	if (!buf) {
		x->err = ENOMEM;
		return NULL;
	}
	if (is_dgram(x->t))
		set_timeout(x->fd, SO_RCVTIMEO, DG_DRAIN_MS);
	for (;;) {
		struct iovec iov = { .iov_base = buf, .iov_len = x->size + 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		uint64_t idx;
		ssize_t n;
		int ret;

		if (is_stream(x->t)) {
			ret = readn(x->fd, buf, x->size);
			if (ret < 0) {
				x->err = errno;
				snprintf(x->what, sizeof(x->what), "recv: %s",
					 strerror(errno));
				break;
			}
			if (!ret)
				break;
			n = x->size;
		} else {
			n = recvmsg(x->fd, &mh, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && is_dgram(x->t) &&
			    (errno == EAGAIN || errno == ECONNREFUSED)) {
				if (x->stop)
					break;
				continue;
			}
			if (n < 0) {
				x->err = errno;
				snprintf(x->what, sizeof(x->what), "recv: %s",
					 strerror(errno));
				break;
			}
			if (n == 0 && !is_dgram(x->t))
				break;
		}
		if (n != (ssize_t)x->size || (mh.msg_flags & MSG_TRUNC)) {
			x->bad = true;
			snprintf(x->what, sizeof(x->what),
				 "message %llu: %zd bytes, expected %zu%s",
				 (unsigned long long)expect, n, x->size,
				 mh.msg_flags & MSG_TRUNC ? " (MSG_TRUNC)" : "");
			break;
		}
		idx = msg_idx(buf);
		/* Datagrams may be lost, never reordered on these paths. */
		if (is_dgram(x->t) && idx > expect && idx < expect + (1ULL << 40))
			expect = idx;
		if (!msg_ok(buf, expect, x->size)) {
			x->bad = true;
			snprintf(x->what, sizeof(x->what),
				 "message %llu: bad bytes (index %llu)",
				 (unsigned long long)expect,
				 (unsigned long long)idx);
			break;
		}
		expect++;
		x->msgs++;
		x->bytes += n;
		x->t_last = now_s();
	}
	free(buf);
	return NULL;
}

static void run_tput(const struct path *p, const struct workload *w,
		     enum xport t, struct result *r)
{
	struct xfer snd = { .t = t, .size = w->size };
	struct xfer rcv = { .t = t, .size = w->size };
	pthread_t ts, tr;
	double t0, c0, c1;
	int c, s;

	if (mk_pair(p, t, &c, &s, r))
		return;
	snd.fd = c;
	rcv.fd = s;
	c0 = cpu_s();
	t0 = now_s();
	rcv.t_last = t0;
	pthread_create(&tr, NULL, tput_recv, &rcv);
	pthread_create(&ts, NULL, tput_send, &snd);
	while (now_s() - t0 < opt.seconds && !snd.err && !rcv.err && !rcv.bad)
		usleep(20 * 1000);
	snd.stop = true;
	if (rcv.err || rcv.bad)	/* unblock a sender stuck on a full pipe */
		shutdown(c, SHUT_RDWR);
	pthread_join(ts, NULL);
	rcv.stop = true;
	if (snd.err)
		shutdown(s, SHUT_RDWR);
	pthread_join(tr, NULL);
	c1 = cpu_s();
	close(c);
	close(s);

	if (rcv.bad) {
		byte_errors++;
		snprintf(r->note, sizeof(r->note), "BYTE CHECK: %s", rcv.what);
		return;
	}
	if (snd.err || rcv.err) {
		snprintf(r->note, sizeof(r->note), "%s",
			 snd.err ? snd.what : rcv.what);
		return;
	}
	if (!is_dgram(t) && rcv.msgs != snd.msgs) {
		byte_errors++;
		snprintf(r->note, sizeof(r->note),
			 "BYTE CHECK: %llu messages sent, %llu received",
			 (unsigned long long)snd.msgs,
			 (unsigned long long)rcv.msgs);
		return;
	}
	r->ran = true;
	r->msgs = rcv.msgs;
	r->bytes = rcv.bytes;
	r->mbps = rcv.bytes * 8 / 1e6 / (rcv.t_last - t0 > 0 ? rcv.t_last - t0 : 1e-9);
	r->loss_pct = snd.msgs ? 100.0 * (snd.msgs - rcv.msgs) / snd.msgs : 0;
	r->cpu_ms_per_mb = c0 >= 0 && rcv.bytes ?
		(c1 - c0) * 1e3 / (rcv.bytes / 1e6) : -1;
}

/* ---- request/response ------------------------------------------------- */

struct echo {
	enum xport t;
	int fd;
	volatile bool stop;
	int err;
};

static void *rr_server(void *arg)
{
	struct echo *e = arg;
	unsigned char b;

	if (is_dgram(e->t))
		set_timeout(e->fd, SO_RCVTIMEO, 200);
	while (!e->stop) {
		ssize_t n = recv(e->fd, &b, 1, 0);

		if (n < 0 && (errno == EINTR || errno == EAGAIN ||
			      errno == ECONNREFUSED))
			continue;
		if (n <= 0) {
			if (n < 0)
				e->err = errno;
			break;
		}
		if (send(e->fd, &b, 1, MSG_NOSIGNAL) != 1 && !is_dgram(e->t)) {
			e->err = errno;
			break;
		}
	}
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void run_rr(const struct path *p, enum xport t, struct result *r)
{
	struct echo e = { .t = t };
	size_t cap = 1 << 16, nlat = 0;
	double *lat = malloc(cap * sizeof(*lat));
	uint64_t i, lost = 0;
	double t0, t1, c0;
	pthread_t th;
	int c, s;

	if (!lat || mk_pair(p, t, &c, &s, r)) {
		free(lat);
		return;
	}
	set_nodelay(c, t);
	set_nodelay(s, t);
	if (is_dgram(t))
		set_timeout(c, SO_RCVTIMEO, 200);
	e.fd = s;
	pthread_create(&th, NULL, rr_server, &e);
	c0 = cpu_s();
	t0 = now_s();
	for (i = 0; now_s() - t0 < opt.seconds; i++) {
		unsigned char b = i & 0xff, back;
		double a = now_s();
		ssize_t n;

		if (send(c, &b, 1, MSG_NOSIGNAL) != 1) {
			if (is_dgram(t) && (errno == ENOBUFS ||
					    errno == ECONNREFUSED))
				continue;
			snprintf(r->note, sizeof(r->note), "send: %s",
				 strerror(errno));
			break;
		}
		do {
			n = recv(c, &back, 1, 0);
		} while ((n < 0 && errno == EINTR) ||
			 (n == 1 && is_dgram(t) && lost && back != b));
		if (n < 0 && is_dgram(t) && errno == EAGAIN) {
			lost++;
			continue;
		}
		if (n != 1) {
			snprintf(r->note, sizeof(r->note), "recv: %s",
				 n ? strerror(errno) : "end of stream");
			break;
		}
		if (back != b) {
			byte_errors++;
			snprintf(r->note, sizeof(r->note),
				 "BYTE CHECK: echo %u of %u at %llu",
				 back, b, (unsigned long long)i);
			break;
		}
		if (nlat == cap) {
			double *nl = realloc(lat, 2 * cap * sizeof(*lat));

			if (!nl)
				break;
			lat = nl;
			cap *= 2;
		}
		lat[nlat++] = (now_s() - a) * 1e6;
	}
	t1 = now_s();
	e.stop = true;
	shutdown(c, SHUT_WR);
	pthread_join(th, NULL);
	close(c);
	close(s);
	if (!r->note[0] && e.err)
		snprintf(r->note, sizeof(r->note), "echo: %s", strerror(e.err));
	if (!r->note[0] && nlat) {
		qsort(lat, nlat, sizeof(*lat), cmp_double);
		r->ran = true;
		r->msgs = nlat;
		r->rate = nlat / (t1 - t0);
		r->p50_us = lat[nlat / 2];
		r->p99_us = lat[nlat * 99 / 100];
		r->loss_pct = 100.0 * lost / (nlat + lost);
		r->cpu_ms_per_mb = -1;
		(void)c0;
	}
	free(lat);
}

/* ---- connection rate -------------------------------------------------- */

struct acceptor {
	const struct path *p;
	int l;
	volatile bool stop;
	uint64_t n;
	int err;
};

static void *conn_server(void *arg)
{
	struct acceptor *a = arg;

	while (!a->stop) {
		int fd;

		if (wait_ev(a->l, POLLIN, 100) <= 0)
			continue;
		fd = accept4(a->l, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == EAGAIN ||
			    errno == ECONNABORTED)
				continue;
			a->err = errno;
			break;
		}
		a->n++;
		close(fd);
	}
	return NULL;
}

static void run_conn(const struct path *p, enum xport t, struct result *r)
{
	struct acceptor a = { .p = p };
	unsigned short port;
	uint64_t n = 0;
	double t0, t1;
	pthread_t th;

	a.l = mk_listener(p, t, &port, r);
	if (a.l < 0)
		return;
	pthread_create(&th, NULL, conn_server, &a);
	to_side(p, CLI);
	t0 = now_s();
	while (now_s() - t0 < opt.seconds) {
		unsigned char b;
		int c = mk_sock(t);

		if (c < 0) {
			snprintf(r->note, sizeof(r->note), "socket: %s",
				 strerror(errno));
			break;
		}
		set_timeouts(c);
		if (connect_ip(c, t, p->srv_ip, port)) {
			int err = errno;

			close(c);
			/* Out of ports (TIME_WAIT): the figure stands. */
			if (err == EADDRNOTAVAIL || err == EADDRINUSE) {
				snprintf(r->note, sizeof(r->note),
					 "stopped after %llu: %s",
					 (unsigned long long)n, strerror(err));
				r->ran = true;
				break;
			}
			snprintf(r->note, sizeof(r->note), "connect: %s",
				 strerror(err));
			break;
		}
		/* The server's close: the whole cycle is done. */
		while (recv(c, &b, 1, 0) < 0 && errno == EINTR)
			;
		close(c);
		n++;
	}
	t1 = now_s();
	to_side(p, ORIG);
	a.stop = true;
	pthread_join(th, NULL);
	close(a.l);
	if (!r->note[0] && a.err)
		snprintf(r->note, sizeof(r->note), "accept: %s",
			 strerror(a.err));
	if (!r->note[0])
		r->ran = true;
	if (r->ran) {
		r->msgs = n;
		r->rate = n / (t1 - t0);
		r->cpu_ms_per_mb = -1;
	}
}

/* ---- driver and output ------------------------------------------------ */

struct row {
	const struct path *p;
	const struct workload *w;
	enum xport t[3];	/* AF_DEMO, peer, second peer (or T_NR) */
	struct result r[3];
};

static struct row rows[2 * NR_WL];
static int nrows;

static bool selected(const char *list, const char *name)
{
	size_t len = strlen(name);
	const char *s = list;

	while (s && *s) {
		if (!strncmp(s, name, len) && (s[len] == ',' || !s[len]))
			return true;
		s = strchr(s, ',');
		if (s)
			s++;
	}
	return false;
}

static double figure(const struct row *rw, int k)
{
	const struct result *r = &rw->r[k];

	return rw->w->kind == K_TPUT ? r->mbps : r->rate;
}

static const char *unit(const struct workload *w)
{
	return w->kind == K_TPUT ? "Mbit/s" : w->kind == K_RR ? "rt/s" : "conn/s";
}

static void run_point(struct row *rw, int k)
{
	enum xport t = rw->t[k];
	struct result *r = &rw->r[k];

	if (t == T_SCTP && !opt.sctp) {
		r->skipped = true;
		snprintf(r->note, sizeof(r->note), "not run (--no-sctp)");
		return;
	}
	switch (rw->w->kind) {
	case K_TPUT:
		run_tput(rw->p, rw->w, t, r);
		break;
	case K_RR:
		run_rr(rw->p, t, r);
		break;
	case K_CONN:
		run_conn(rw->p, t, r);
		break;
	}
	if (r->skipped)
		printf("# %s %s %s: skipped, %s\n", rw->p->name, rw->w->name,
		       xname[t], r->note);
	else if (!r->ran) {
		printf("# %s %s %s: FAILED: %s\n", rw->p->name, rw->w->name,
		       xname[t], r->note);
		if (t != T_SCTP && !strstr(r->note, "BYTE CHECK"))
			must_fail++;
	} else {
		printf("# %s %s %s: %.1f %s%s%s\n", rw->p->name, rw->w->name,
		       xname[t], figure(rw, k), unit(rw->w),
		       r->note[0] ? ", " : "", r->note);
	}
	fflush(stdout);
}

static void fmt_fig(char *buf, size_t len, const struct row *rw, int k)
{
	const struct result *r = &rw->r[k];

	if (rw->t[k] == T_NR)
		snprintf(buf, len, "-");
	else if (r->skipped)
		snprintf(buf, len, "skip");
	else if (!r->ran)
		snprintf(buf, len, "FAIL");
	else
		snprintf(buf, len, "%.1f", figure(rw, k));
}

static void print_table(void)
{
	int i, k;

	printf("\n%-5s %-9s %-7s %11s %11s %7s %11s %9s %9s %8s %8s\n",
	       "path", "workload", "unit", "AF_DEMO", "peer", "ratio",
	       "sctp", "cpu_demo", "cpu_peer", "loss_d%", "loss_p%");
	for (i = 0; i < nrows; i++) {
		const struct row *rw = &rows[i];
		char f[3][32], ratio[16] = "-", cpu[2][16];

		for (k = 0; k < 3; k++)
			fmt_fig(f[k], sizeof(f[k]), rw, k);
		if (rw->r[0].ran && rw->r[1].ran && figure(rw, 1) > 0)
			snprintf(ratio, sizeof(ratio), "%.2f",
				 figure(rw, 0) / figure(rw, 1));
		for (k = 0; k < 2; k++) {
			if (rw->r[k].ran && rw->r[k].cpu_ms_per_mb >= 0)
				snprintf(cpu[k], sizeof(cpu[k]), "%.1f",
					 rw->r[k].cpu_ms_per_mb);
			else
				snprintf(cpu[k], sizeof(cpu[k]), "-");
		}
		printf("%-5s %-9s %-7s %11s %11s %7s %11s %9s %9s %8.2f %8.2f\n",
		       rw->p->name, rw->w->name, unit(rw->w), f[0], f[1],
		       ratio, f[2], cpu[0], cpu[1], rw->r[0].loss_pct,
		       rw->r[1].loss_pct);
		if (rw->w->kind == K_RR) {
			for (k = 0; k < 3; k++) {
				if (!rw->r[k].ran)
					snprintf(f[k], sizeof(f[k]), "-");
				else
					snprintf(f[k], sizeof(f[k]),
						 "%.0f/%.0f", rw->r[k].p50_us,
						 rw->r[k].p99_us);
			}
			printf("%-5s %-9s %-7s %11s %11s %7s %11s\n",
			       rw->p->name, rw->w->name, "p50/p99",
			       f[0], f[1], "", f[2]);
		}
	}
	printf("(cpu: ms of user+sys CPU of the process per MB received; "
	       "rt/s: 1-byte round trips; ratio: AF_DEMO/peer)\n\n");

	for (i = 0; i < nrows; i++) {
		const struct row *rw = &rows[i];

		if (rw->r[0].ran && rw->r[1].ran && figure(rw, 1) > 0)
			printf("# ratio %s_%s %.3f\n", rw->p->name, rw->w->name,
			       figure(rw, 0) / figure(rw, 1));
	}
	for (i = 0; i < nrows; i++) {
		const struct row *rw = &rows[i];

		for (k = 0; k < 3; k++) {
			const struct result *r = &rw->r[k];
			const char *pre = "# figure: bench";

			if (rw->t[k] == T_NR || !r->ran)
				continue;
			if (rw->w->kind == K_TPUT) {
				printf("%s_%s_%s_%s_kbps %.0f\n", pre,
				       rw->p->name, rw->w->name, xname[rw->t[k]],
				       r->mbps * 1000);
				continue;
			}
			printf("%s_%s_%s_%s_per_s %.0f\n", pre, rw->p->name,
			       rw->w->name, xname[rw->t[k]], r->rate);
			if (rw->w->kind == K_RR) {
				printf("%s_%s_%s_%s_p50_us %.0f\n", pre,
				       rw->p->name, rw->w->name,
				       xname[rw->t[k]], r->p50_us);
				printf("%s_%s_%s_%s_p99_us %.0f\n", pre,
				       rw->p->name, rw->w->name,
				       xname[rw->t[k]], r->p99_us);
			}
		}
	}
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		if ((unsigned char)*s >= 0x20)
			fputc(*s, f);
	}
	fputc('"', f);
}

static int write_json(const char *file)
{
	bool first = true;
	FILE *f = fopen(file, "w");
	int i, k;

	if (!f) {
		perror(file);
		return -1;
	}
	fprintf(f, "{\n  \"seconds\": %d,\n  \"smoke\": %s,\n  \"points\": [",
		opt.seconds, opt.smoke ? "true" : "false");
	for (i = 0; i < nrows; i++) {
		const struct row *rw = &rows[i];

		for (k = 0; k < 3; k++) {
			const struct result *r = &rw->r[k];

			if (rw->t[k] == T_NR)
				continue;
			fprintf(f, "%s\n    {\"path\": \"%s\", \"workload\": \"%s\", "
				"\"transport\": \"%s\", \"size\": %zu, "
				"\"status\": \"%s\", \"msgs\": %llu, "
				"\"bytes\": %llu, \"mbps\": %.3f, "
				"\"rate\": %.3f, \"p50_us\": %.1f, "
				"\"p99_us\": %.1f, \"loss_pct\": %.3f, "
				"\"cpu_ms_per_mb\": %.3f, \"note\": ",
				first ? "" : ",", rw->p->name, rw->w->name,
				xname[rw->t[k]], rw->w->size,
				r->ran ? "ok" : r->skipped ? "skipped" : "failed",
				(unsigned long long)r->msgs,
				(unsigned long long)r->bytes, r->mbps, r->rate,
				r->p50_us, r->p99_us, r->loss_pct,
				r->cpu_ms_per_mb);
			json_str(f, r->note);
			fputc('}', f);
			first = false;
		}
	}
	fprintf(f, "\n  ],\n  \"ratios\": {");
	first = true;
	for (i = 0; i < nrows; i++) {
		const struct row *rw = &rows[i];

		if (!rw->r[0].ran || !rw->r[1].ran || figure(rw, 1) <= 0)
			continue;
		fprintf(f, "%s\n    \"%s_%s\": %.4f", first ? "" : ",",
			rw->p->name, rw->w->name,
			figure(rw, 0) / figure(rw, 1));
		first = false;
	}
	fprintf(f, "\n  },\n  \"byte_errors\": %d,\n  \"failures\": %d\n}\n",
		byte_errors, must_fail);
	return fclose(f);
}

static void usage(int status)
{
	fprintf(status ? stderr : stdout,
		"usage: demo_bench [--smoke] [--seconds N] [--path lo,veth]\n"
		"                  [--workloads W,...] [--no-sctp] [--json FILE] [-v]\n"
		"workloads:");
	for (size_t i = 0; i < NR_WL; i++)
		fprintf(status ? stderr : stdout, " %s%s", workloads[i].name,
			workloads[i].smoke ? "*" : "");
	fprintf(status ? stderr : stdout,
		"\n(* = in --smoke, which also means 1 s points and no SCTP)\n");
	exit(status);
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "smoke", no_argument, NULL, 's' },
		{ "seconds", required_argument, NULL, 't' },
		{ "path", required_argument, NULL, 'p' },
		{ "workloads", required_argument, NULL, 'w' },
		{ "no-sctp", no_argument, NULL, 'n' },
		{ "sctp", no_argument, NULL, 'S' },
		{ "json", required_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	static const struct path paths[] = {
		{ "lo", false, "127.0.0.1", "127.0.0.1" },
		{ "veth", true, IP_A, IP_B },
	};
	int seconds = 0, sctp = -1, c;
	size_t pi, wi;

	while ((c = getopt_long(argc, argv, "st:p:w:j:vh", lopts, NULL)) != -1) {
		switch (c) {
		case 's':
			opt.smoke = true;
			break;
		case 't':
			seconds = atoi(optarg);
			if (seconds <= 0)
				usage(2);
			break;
		case 'p':
			opt.paths = optarg;
			break;
		case 'w':
			opt.only = optarg;
			break;
		case 'n':
			sctp = 0;
			break;
		case 'S':
			sctp = 1;
			break;
		case 'j':
			opt.json = optarg;
			break;
		case 'v':
			opt.verbose = true;
			break;
		case 'h':
			usage(0);
			break;
		default:
			usage(2);
		}
	}
	opt.seconds = seconds ? seconds : opt.smoke ? 1 : 3;
	opt.sctp = sctp >= 0 ? sctp : !opt.smoke;

	if (af() <= 0) {
		fprintf(stderr, "demo_bench: af_demo is not loaded (%s)\n",
			DEMO_SYSFS_PARAM "family");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	atexit(netns_cleanup);
	orig_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	pattern_init();
	printf("# demo_bench: AF_DEMO family %d, %d s per point%s%s\n", af(),
	       opt.seconds, opt.smoke ? ", smoke" : "",
	       opt.sctp ? "" : ", no SCTP");

	for (pi = 0; pi < sizeof(paths) / sizeof(paths[0]); pi++) {
		const struct path *p = &paths[pi];

		if (!selected(opt.paths, p->name))
			continue;
		if (p->veth && netns_setup()) {
			fprintf(stderr, "demo_bench: cannot set up the veth "
				"namespaces (ip, veth module?)\n");
			must_fail++;
			continue;
		}
		for (wi = 0; wi < NR_WL; wi++) {
			const struct workload *w = &workloads[wi];
			struct row *rw;
			int k;

			if (opt.only ? !selected(opt.only, w->name) :
				       opt.smoke && !w->smoke)
				continue;
			rw = &rows[nrows++];
			rw->p = p;
			rw->w = w;
			rw->t[0] = w->dgram ? T_DEMO_DGRAM : T_DEMO_SEQ;
			rw->t[1] = w->dgram ? T_UDP : T_TCP;
			rw->t[2] = w->dgram ? T_NR : T_SCTP;
			for (k = 0; k < 3; k++)
				if (rw->t[k] != T_NR)
					run_point(rw, k);
		}
	}
	print_table();
	if (opt.json && write_json(opt.json))
		must_fail++;
	if (byte_errors)
		printf("# demo_bench: %d byte check failures\n", byte_errors);
	if (must_fail)
		printf("# demo_bench: %d AF_DEMO/TCP/UDP points did not run\n",
		       must_fail);
	return byte_errors || must_fail ? 1 : 0;
}
