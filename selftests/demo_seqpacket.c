// SPDX-License-Identifier: GPL-2.0
/*
 * AF_DEMO seqpacket selftests (DEMOPROTO_SEQPACKET, docs/SEQPACKET.md):
 * socket(), listen/accept, connect (blocking, non-blocking, refused, timed
 * out), message boundaries and sizes, MSG_TRUNC/MSG_PEEK/MSG_EOR, ioctls,
 * timeouts and flow control, shutdown, SIGPIPE, resets, the listen
 * backlog, poll/epoll, /proc/net/demo states, counters and sysctls.
 *
 * Run as root with af_demo loaded (the family number is read from sysfs).
 * Fixture "seq" runs each case in a private network namespace with lo up
 * (127.0.0.1). Fixture "veth" builds two named namespaces dseq_a and dseq_b
 * joined by a veth pair (198.18.0.1/24 - 198.18.0.2/24, mtu 1500): the
 * client side lives in dseq_a, the listener in dseq_b. It needs ip(8);
 * the lossy-link case also needs tc(8) and sch_netem.
 *
 * Nothing sleeps in place of synchronisation: every wait is a poll() or a
 * blocking call with a bound, or a bounded loop re-reading /proc.
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
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <linux/sockios.h>

#include "kselftest_harness.h"

#define LO		"127.0.0.1"
#define NS_A		"dseq_a"
#define NS_B		"dseq_b"
#define ADDR_A		"198.18.0.1"
#define ADDR_B		"198.18.0.2"
#define ADDR_GONE	"198.18.0.99"	/* on veth, answers nothing */
#define MAC_GONE	"02:de:00:00:00:99"
#define SEQ_HLEN	((int)(sizeof(struct demohdr) + sizeof(struct demo_seqhdr)))
#define VETH_MSS	(1500 - 20 - SEQ_HLEN)	/* 1456: one segment */
#define LO_MSS		(65536 - 20 - SEQ_HLEN)
#define MAXMSG		DEMO_SEQPACKET_MAX_MSG
#define TMO		3000	/* ms: bound on things that happen at once */
#define LONG_TMO	20000	/* ms: bound on things that may need an RTO */
#define SYSCTL_DIR	"/proc/sys/net/demo/"

/* --- small helpers ------------------------------------------------------ */

/* A seqpacket socket; @flags: SOCK_NONBLOCK, SOCK_CLOEXEC. */
static int sp_sock(int flags)
{
	return socket(af(), SOCK_SEQPACKET | flags, 0);
}

static bool name_is(int fd, bool peer, const char *ip, unsigned short port)
{
	struct sockaddr_demo sa;

	return !sock_name(fd, &sa, peer) && addr_is(&sa, ip, port);
}

/* revents once @want (all of its bits) is reported, or the last revents. */
static int wait_all(int fd, short events, short want, int ms)
{
	double end = now_ms() + ms;
	int ev;

	do {
		ev = wait_ev(fd, events, 10);
		if (ev >= 0 && (ev & want) == want)
			break;
	} while (now_ms() < end);
	return ev;
}

static int set_timeo(int fd, int opt, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	return setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof(tv));
}

/* Wait (bounded) until ioctl(@req) reads @want; returns the last value. */
static int wait_ioctl(int fd, unsigned long req, int want, int ms)
{
	double end = now_ms() + ms;
	int v;

	while ((v = ioctl_int(fd, req)) != want && now_ms() < end)
		wait_ev(fd, 0, 1);
	return v;
}

/* Deterministic pseudo-random payload for @seed. */
static void fill(void *buf, size_t len, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 0x9e3779b9u;
	uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = x >> 24;
	}
}

/* Offset of the first byte differing from fill(@seed), or -1 if intact. */
static long mismatch(const void *buf, size_t len, uint32_t seed)
{
	uint8_t *want = malloc(len ? len : 1);
	const uint8_t *p = buf;
	long bad = -1;
	size_t i;

	fill(want, len, seed);
	for (i = 0; i < len; i++) {
		if (p[i] != want[i]) {
			bad = i;
			break;
		}
	}
	free(want);
	return bad;
}

/*
 * Receive one message, waiting at most @ms for it (ETIMEDOUT). POLLERR and
 * POLLHUP also end the wait, so errors and end of file come through.
 * @mflags and @src may be NULL.
 */
static ssize_t recv_msg_src(int fd, void *buf, size_t len, int flags,
			    int *mflags, struct sockaddr_demo *src, int ms)
{
	struct iovec iov = { buf, len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (src) {
		memset(src, 0xa5, sizeof(*src));
		m.msg_name = src;
		m.msg_namelen = sizeof(*src);
	}
	if (wait_ev(fd, POLLIN, ms) <= 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	n = recvmsg(fd, &m, flags | MSG_DONTWAIT);
	if (mflags)
		*mflags = n < 0 ? -1 : m.msg_flags;
	if (src && n >= 0 && m.msg_namelen != sizeof(*src))
		memset(src, 0xa5, sizeof(*src));
	return n;
}

static ssize_t recv_msg(int fd, void *buf, size_t len, int flags, int *mflags,
			int ms)
{
	return recv_msg_src(fd, buf, len, flags, mflags, NULL, ms);
}

/* errno of a nonblocking recv (0 if it succeeded, -1 if it returned 0). */
static int recv_err(int fd)
{
	char c;
	ssize_t n;

	errno = 0;
	n = recv(fd, &c, 1, MSG_DONTWAIT);
	if (n > 0)
		return 0;
	return n == 0 ? -1 : errno;
}

/* errno of a one-byte send with @flags, 0 if it succeeded. */
static int send_err(int fd, int flags)
{
	errno = 0;
	return send(fd, "x", 1, flags) == 1 ? 0 : errno;
}

static long sysctl_get(const char *name)
{
	char path[128];
	long v;

	snprintf(path, sizeof(path), SYSCTL_DIR "%s", name);
	return demo_read_long(path, &v) ? LONG_MIN : v;
}

static int sysctl_set(const char *name, long val)
{
	char path[128], buf[32];

	snprintf(path, sizeof(path), SYSCTL_DIR "%s", name);
	snprintf(buf, sizeof(buf), "%ld\n", val);
	return demo_write_file(path, buf);
}

/* SIGPIPE is blocked in every case: true (and consumed) if one is pending. */
static bool sigpipe_taken(void)
{
	struct timespec zero = { 0, 0 };
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	return sigtimedwait(&set, NULL, &zero) == SIGPIPE;
}

static void block_sigpipe(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigprocmask(SIG_BLOCK, &set, NULL);
	while (sigpipe_taken())
		;
}

/* --- counters and /proc ------------------------------------------------- */

/* Wait (bounded) until demo_stat(@name) >= @want; returns the last value. */
static long stat_wait(const char *name, long want, int ms)
{
	double end = now_ms() + ms;
	long v;

	while ((v = demo_stat(name)) < want && now_ms() < end)
		poll(NULL, 0, 1);
	return v;
}

struct demo_ent {
	unsigned int laddr, lport, raddr, rport, txq, rxq, uid, drops;
	unsigned long inode;
	char state[16], type[16];
};

/*
 * Count /proc/net/demo lines of type SEQPACKET with local port @lport (any
 * if 0), remote port @rport (any if 0) and state @state (any if NULL); the
 * first one goes to @e. -1 if the file is missing or a line does not parse.
 */
static int proc_find(unsigned int lport, unsigned int rport,
		     const char *state, struct demo_ent *e)
{
	FILE *f = fopen("/proc/net/demo", "re");
	char line[512];
	int n = 0;

	if (!f || !fgets(line, sizeof(line), f)) {	/* header line */
		if (f)
			fclose(f);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		struct demo_ent t;
		unsigned int slot;

		if (sscanf(line, " %u: %x:%x %x:%x %15s %x:%x %u %lu %u %15s",
			   &slot, &t.laddr, &t.lport, &t.raddr, &t.rport,
			   t.state, &t.txq, &t.rxq, &t.uid, &t.inode, &t.drops,
			   t.type) != 12) {
			n = -1;
			break;
		}
		if (strcmp(t.type, "SEQPACKET") ||
		    (lport && t.lport != lport) ||
		    (rport && t.rport != rport) ||
		    (state && strcmp(t.state, state)))
			continue;
		if (!n++ && e)
			*e = t;
	}
	fclose(f);
	return n;
}

/* Wait (bounded) for a line matching proc_find(); true once seen. */
static bool wait_state(unsigned int lport, unsigned int rport,
		       const char *state, struct demo_ent *e, int ms)
{
	double end = now_ms() + ms;

	do {
		if (proc_find(lport, rport, state, e) > 0)
			return true;
		poll(NULL, 0, 2);
	} while (now_ms() < end);
	return false;
}

/* Wait (bounded) until no line matches; true once gone. */
static bool wait_gone(unsigned int lport, unsigned int rport,
		      const char *state, int ms)
{
	double end = now_ms() + ms;

	do {
		if (proc_find(lport, rport, state, NULL) == 0)
			return true;
		poll(NULL, 0, 2);
	} while (now_ms() < end);
	return false;
}

/* The listener's accept queue length (rx_queue), -1 if not listed. */
static int accept_queue(unsigned short lport)
{
	struct demo_ent e;

	return proc_find(lport, 0, "LISTEN", &e) == 1 ? (int)e.rxq : -1;
}

/* --- network namespaces ------------------------------------------------- */

static int if_ioctl(const char *name, unsigned long req, struct ifreq *ifr)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int ret;

	if (fd < 0)
		return -1;
	strncpy(ifr->ifr_name, name, IFNAMSIZ - 1);
	ret = ioctl(fd, req, ifr);
	close(fd);
	return ret;
}

/* Move the caller into a new network namespace with lo up. */
static int netns_fresh(void)
{
	struct ifreq ifr = {};

	if (unshare(CLONE_NEWNET))
		return -1;
	if (if_ioctl("lo", SIOCGIFFLAGS, &ifr))
		return -1;
	ifr.ifr_flags |= IFF_UP;
	return if_ioctl("lo", SIOCSIFFLAGS, &ifr);
}

#define ENTER(ns) \
	ASSERT_EQ(0, demo_netns_enter(ns)) \
		TH_LOG("enter netns %s: %s", ns, strerror(errno))

/* --- threads ------------------------------------------------------------ */

/*
 * Wait (bounded) until thread *@tidp exists and sleeps ('S') in syscall @nr.
 * Returns 0 once seen, -1 on timeout.
 */
static int wait_blocked(pid_t *tidp, long nr)
{
	double end = now_ms() + TMO;
	char path[64], buf[512], *p;
	pid_t tid;
	long cur;
	FILE *f;

	do {
		tid = __atomic_load_n(tidp, __ATOMIC_ACQUIRE);
		if (!tid)
			goto next;
		snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
		f = fopen(path, "re");
		if (!f)
			goto next;
		p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
		fclose(f);
		if (!p || p[1] != ' ' || p[2] != 'S')
			goto next;
		snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
		f = fopen(path, "re");
		if (!f)
			return 0;	/* no CONFIG_HAVE_ARCH_TRACEHOOK */
		cur = -1;
		if (fscanf(f, "%ld", &cur) != 1)
			cur = -1;
		fclose(f);
		if (cur == nr)
			return 0;
next:
		poll(NULL, 0, 1);
	} while (now_ms() < end);
	return -1;
}

/* pthread_join with a deadline of @ms. */
static int join_tmo(pthread_t t, int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return pthread_timedjoin_np(t, NULL, &ts);
}

/* --- cleanup ----------------------------------------------------------- */

/* Close every AF_DEMO socket the case left open. */
static void close_demo_socks(void)
{
	int fd;

	for (fd = 3; fd < 4096; fd++)
		if (sockopt_int(fd, SOL_SOCKET, SO_DOMAIN) == af())
			close(fd);
}

/* Seqpacket entries in /proc/net/demo other than TIME_WAIT, -1 on error. */
static int proc_live(void)
{
	int all = proc_find(0, 0, NULL, NULL);
	int tw = proc_find(0, 0, "TIME_WAIT", NULL);

	return all < 0 || tw < 0 ? -1 : all - tw;
}

/*
 * Closed sockets live on until their connection ends (and hold the
 * module): let the FIN exchanges finish while the links are still there.
 * Returns 0 once the current namespace has only TIME_WAIT entries left.
 */
static int wait_conns_ended(int ms)
{
	double end = now_ms() + ms;

	do {
		if (proc_live() <= 0)
			return 0;
		poll(NULL, 0, 5);
	} while (now_ms() < end);
	return -1;
}

/* --- fixtures ----------------------------------------------------------- */

#define ASSERT_MODULE() \
	ASSERT_LT(0, af()) TH_LOG("af_demo is not loaded (no %sfamily)", \
				  DEMO_SYSFS_PARAM)

/* Expect @call to fail with errno @err. */
#define EXPECT_ERRNO(err, call) do { \
	long __ret; \
	errno = 0; \
	__ret = (long)(call); \
	EXPECT_EQ(-1, __ret) TH_LOG("%s succeeded, wanted %s", #call, \
				    strerror(err)); \
	if (__ret == -1) \
		EXPECT_EQ(err, errno) TH_LOG("%s: wanted %s, got %s", #call, \
					     strerror(err), strerror(errno)); \
} while (0)

#define ASSERT_ERRNO(err, call) do { \
	long __ret; \
	errno = 0; \
	__ret = (long)(call); \
	ASSERT_EQ(-1, __ret) TH_LOG("%s succeeded, wanted %s", #call, \
				    strerror(err)); \
	ASSERT_EQ(err, errno) TH_LOG("%s: wanted %s, got %s", #call, \
				     strerror(err), strerror(errno)); \
} while (0)

/* Every case in a private network namespace with only lo, up. */
FIXTURE(seq) {
	int unused;
};

FIXTURE_SETUP(seq)
{
	ASSERT_MODULE();
	ASSERT_EQ(0, netns_fresh()) TH_LOG("netns: %s", strerror(errno));
	block_sigpipe();
}

FIXTURE_TEARDOWN(seq)
{
	close_demo_socks();
	if (wait_conns_ended(5000))
		TH_LOG("teardown: %d connections still open", proc_live());
}

/* A listener on ip:port (NULL = any, 0 = ephemeral), or -1. */
static int listener(const char *ip, unsigned short port, int backlog)
{
	int fd = sp_sock(0);

	if (fd >= 0 && (bind_to(fd, ip, port) || listen(fd, backlog))) {
		close(fd);
		fd = -1;
	}
	return fd;
}

struct conn {
	int lst, cli, srv;
	unsigned short lport, cport;
};

/* A connected pair over loopback, the listener kept open. */
static void lo_conn(struct __test_metadata *_metadata, struct conn *c)
{
	c->lst = listener(LO, 0, 16);
	ASSERT_LE(0, c->lst) TH_LOG("listener: %s", strerror(errno));
	c->lport = port_of(c->lst);
	c->cli = sp_sock(0);
	ASSERT_LE(0, c->cli);
	ASSERT_EQ(0, connect_to(c->cli, LO, c->lport))
		TH_LOG("connect: %s", strerror(errno));
	c->cport = port_of(c->cli);
	c->srv = accept4_tmo(c->lst, 0, TMO);
	ASSERT_LE(0, c->srv) TH_LOG("accept: %s", strerror(errno));
}

/*
 * A connected pair across the veth: the listener (ADDR_B) and the accepted
 * socket in NS_B, the client in NS_A. Leaves the caller in NS_A. @rcvbuf,
 * if not 0, is set on the listener (inherited) and on the accepted socket.
 */
static void veth_conn(struct __test_metadata *_metadata, struct conn *c,
		      int rcvbuf)
{
	ENTER(NS_B);
	c->lst = sp_sock(0);
	ASSERT_LE(0, c->lst);
	if (rcvbuf)
		ASSERT_EQ(0, setopt_int(c->lst, SOL_SOCKET, SO_RCVBUF, rcvbuf));
	ASSERT_EQ(0, bind_to(c->lst, ADDR_B, 0));
	ASSERT_EQ(0, listen(c->lst, 16));
	c->lport = port_of(c->lst);
	ENTER(NS_A);
	c->cli = sp_sock(0);
	ASSERT_LE(0, c->cli);
	ASSERT_EQ(0, connect_to(c->cli, ADDR_B, c->lport))
		TH_LOG("connect across the veth: %s", strerror(errno));
	c->cport = port_of(c->cli);
	c->srv = accept4_tmo(c->lst, 0, TMO);
	ASSERT_LE(0, c->srv) TH_LOG("accept: %s", strerror(errno));
	if (rcvbuf)
		ASSERT_EQ(0, setopt_int(c->srv, SOL_SOCKET, SO_RCVBUF, rcvbuf));
}

/* --- socket() ----------------------------------------------------------- */

TEST_F(seq, socket_protocols)
{
	static const int protos[] = { DEMOPROTO_ANY, DEMOPROTO_SEQPACKET };
	unsigned int i;
	int fd;

	for (i = 0; i < ARRAY_SIZE(protos); i++) {
		fd = socket(af(), SOCK_SEQPACKET, protos[i]);
		ASSERT_LE(0, fd) TH_LOG("socket(AF, SOCK_SEQPACKET, %d): %s",
					protos[i], strerror(errno));
		EXPECT_EQ(SOCK_SEQPACKET, sockopt_int(fd, SOL_SOCKET, SO_TYPE));
		EXPECT_EQ(DEMOPROTO_SEQPACKET,
			  sockopt_int(fd, SOL_SOCKET, SO_PROTOCOL));
		EXPECT_EQ(af(), sockopt_int(fd, SOL_SOCKET, SO_DOMAIN));
		EXPECT_EQ(0, so_error(fd));
		close(fd);
	}
	/* the type's entries do not take the other transport's protocol */
	EXPECT_ERRNO(EPROTONOSUPPORT,
		     socket(af(), SOCK_SEQPACKET, DEMOPROTO_DGRAM));
	EXPECT_ERRNO(EPROTONOSUPPORT,
		     socket(af(), SOCK_DGRAM, DEMOPROTO_SEQPACKET));
	EXPECT_ERRNO(EINVAL, socket(af(), SOCK_SEQPACKET, DEMOPROTO_MAX));

	fd = sp_sock(SOCK_NONBLOCK | SOCK_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_TRUE(fcntl(fd, F_GETFL) & O_NONBLOCK);
	EXPECT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
}

/* --- bind --------------------------------------------------------------- */

TEST_F(seq, bind_rules)
{
	int a = sp_sock(0), b = sp_sock(0), d = socket(af(), SOCK_DGRAM, 0);
	unsigned short p;
	struct conn c;

	ASSERT_LE(0, a);
	ASSERT_LE(0, d);
	ASSERT_EQ(0, bind_to(a, LO, 0));
	p = port_of(a);
	ASSERT_NE(0, p);
	EXPECT_ERRNO(EINVAL, bind_to(a, LO, 0));
	EXPECT_ERRNO(EADDRINUSE, bind_to(b, LO, p));
	EXPECT_ERRNO(EADDRINUSE, bind_to(b, NULL, p));
	EXPECT_ERRNO(EADDRNOTAVAIL, bind_to(b, "192.0.2.1", 0));
	/* the datagram transport has its own ports */
	EXPECT_EQ(0, bind_to(d, LO, p)) TH_LOG("dgram on seqpacket port: %s",
					       strerror(errno));
	/* a bound socket is listed as CLOSE */
	EXPECT_EQ(1, proc_find(p, 0, "CLOSE", NULL));
	close(a);
	EXPECT_EQ(0, bind_to(b, LO, p)) TH_LOG("port %u after close: %s", p,
					       strerror(errno));
	close(b);

	/* accepted sockets do not hold the port once the listener is gone */
	lo_conn(_metadata, &c);
	close(c.lst);
	a = sp_sock(0);
	EXPECT_EQ(0, bind_to(a, LO, c.lport))
		TH_LOG("listener port %u while accepted socket lives: %s",
		       c.lport, strerror(errno));
	/* and the connection carries on */
	ASSERT_EQ(2, send(c.cli, "hi", 2, 0));
	char buf[4];

	EXPECT_EQ(2, recv_msg(c.srv, buf, sizeof(buf), 0, NULL, TMO));
}

/* --- listen / accept ---------------------------------------------------- */

TEST_F(seq, listen_autobinds)
{
	int fd = sp_sock(0);
	struct sockaddr_demo sa;
	unsigned short p;
	struct demo_ent e;
	long lo, hi;
	FILE *f;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, listen(fd, 4)) TH_LOG("listen unbound: %s",
					   strerror(errno));
	ASSERT_EQ(0, sock_name(fd, &sa, false));
	p = ntohs(sa.sdemo_port);
	EXPECT_NE(0, p);
	EXPECT_TRUE(addr_is(&sa, "0.0.0.0", p));
	f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");
	ASSERT_NE(NULL, f);
	ASSERT_EQ(2, fscanf(f, "%ld %ld", &lo, &hi));
	fclose(f);
	EXPECT_LE(lo, p);
	EXPECT_GE(hi, p);

	ASSERT_EQ(1, proc_find(p, 0, NULL, &e));
	EXPECT_STREQ("LISTEN", e.state);
	EXPECT_EQ(4u, e.txq);
	EXPECT_EQ(0u, e.rxq);
	/* listen() again changes the backlog */
	ASSERT_EQ(0, listen(fd, 7));
	ASSERT_EQ(1, proc_find(p, 0, "LISTEN", &e));
	EXPECT_EQ(7u, e.txq);
	/* and the listener works */
	int c = sp_sock(0);

	ASSERT_EQ(0, connect_to(c, LO, p)) TH_LOG("%s", strerror(errno));
	EXPECT_LE(0, accept4_tmo(fd, 0, TMO));
}

TEST_F(seq, listen_connected_einval)
{
	struct conn c;

	lo_conn(_metadata, &c);
	EXPECT_ERRNO(EINVAL, listen(c.cli, 1));
	EXPECT_ERRNO(EINVAL, listen(c.srv, 1));
	/* still connected and working */
	ASSERT_EQ(1, send(c.cli, "x", 1, 0));
	char b;

	EXPECT_EQ(1, recv_msg(c.srv, &b, 1, 0, NULL, TMO));
}

TEST_F(seq, accept_not_listening)
{
	int unbound = sp_sock(0), bound = sp_sock(0), l;
	struct conn c;

	ASSERT_LE(0, unbound);
	ASSERT_EQ(0, bind_to(bound, LO, 0));
	EXPECT_ERRNO(EINVAL, accept(unbound, NULL, NULL));
	EXPECT_ERRNO(EINVAL, accept(bound, NULL, NULL));
	lo_conn(_metadata, &c);
	EXPECT_ERRNO(EINVAL, accept(c.cli, NULL, NULL));
	EXPECT_ERRNO(EINVAL, accept(c.srv, NULL, NULL));
	/* a non-blocking listener with nothing queued */
	l = listener(LO, 0, 1);
	ASSERT_LE(0, l);
	ASSERT_EQ(0, fcntl(l, F_SETFL, O_NONBLOCK));
	EXPECT_ERRNO(EAGAIN, accept(l, NULL, NULL));
	EXPECT_ERRNO(EAGAIN, accept4(l, NULL, NULL, SOCK_NONBLOCK));
}

TEST_F(seq, accept4_flags_and_names)
{
	int l = listener(LO, 0, 4), c1 = sp_sock(0), c2 = sp_sock(0), s;
	struct sockaddr_demo sa;
	unsigned short lp = port_of(l);
	socklen_t len;

	ASSERT_LE(0, l);
	ASSERT_EQ(0, connect_to(c1, LO, lp));
	ASSERT_EQ(0, connect_to(c2, LO, lp));

	ASSERT_TRUE(wait_ev(l, POLLIN, TMO) & POLLIN);
	len = sizeof(sa);
	memset(&sa, 0xa5, sizeof(sa));
	s = accept4(l, (struct sockaddr *)&sa, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
	ASSERT_LE(0, s) TH_LOG("accept4: %s", strerror(errno));
	EXPECT_EQ(sizeof(sa), len);
	EXPECT_TRUE(fcntl(s, F_GETFL) & O_NONBLOCK);
	EXPECT_TRUE(fcntl(s, F_GETFD) & FD_CLOEXEC);
	/* the returned address is the peer's */
	EXPECT_TRUE(addr_is(&sa, LO, ntohs(sa.sdemo_port)));
	EXPECT_TRUE(ntohs(sa.sdemo_port) == port_of(c1) ||
		    ntohs(sa.sdemo_port) == port_of(c2));
	EXPECT_TRUE(name_is(s, true, LO, ntohs(sa.sdemo_port)));
	EXPECT_TRUE(name_is(s, false, LO, lp));
	/* O_NONBLOCK is real */
	EXPECT_ERRNO(EAGAIN, recv(s, &len, 1, 0));
	close(s);

	s = accept4_tmo(l, 0, TMO);
	ASSERT_LE(0, s);
	EXPECT_FALSE(fcntl(s, F_GETFL) & O_NONBLOCK);
	EXPECT_FALSE(fcntl(s, F_GETFD) & FD_CLOEXEC);
	close(s);
}

TEST_F(seq, names)
{
	int l = listener(NULL, 0, 4), c = sp_sock(0), s, u = sp_sock(0);
	unsigned short lp = port_of(l), cp;
	struct sockaddr_demo sa;

	ASSERT_LE(0, l);
	ASSERT_LE(0, u);
	EXPECT_ERRNO(ENOTCONN, sock_name(u, &sa, true));
	EXPECT_ERRNO(ENOTCONN, sock_name(l, &sa, true));
	EXPECT_ERRNO(ENOTCONN, sock_name(c, &sa, true));
	/* an unbound socket has port 0 */
	ASSERT_EQ(0, sock_name(u, &sa, false));
	EXPECT_EQ(0, sa.sdemo_port);

	ASSERT_EQ(0, connect_to(c, LO, lp));
	cp = port_of(c);
	EXPECT_NE(0, cp);
	EXPECT_NE(lp, cp);
	s = accept4_tmo(l, 0, TMO);
	ASSERT_LE(0, s);
	/* connecting side: route source and an ephemeral port */
	EXPECT_TRUE(name_is(c, false, LO, cp));
	EXPECT_TRUE(name_is(c, true, LO, lp));
	/* accepted side: the real local address, not the wildcard */
	EXPECT_TRUE(name_is(s, false, LO, lp));
	EXPECT_TRUE(name_is(s, true, LO, cp));
	/* the listener keeps the wildcard */
	EXPECT_TRUE(name_is(l, false, "0.0.0.0", lp));
}

/* --- connect ------------------------------------------------------------ */

TEST_F(seq, connect_refused)
{
	int s = sp_sock(0), c = sp_sock(0), d = socket(af(), SOCK_DGRAM, 0);
	long fails = demo_stat("AttemptFails"), act = demo_stat("ActiveOpens");
	unsigned short p;

	ASSERT_LE(0, fails);
	/* a bound socket that does not listen */
	ASSERT_EQ(0, bind_to(s, LO, 0));
	p = port_of(s);
	ASSERT_ERRNO(ECONNREFUSED, connect_to(c, LO, p));
	EXPECT_EQ(fails + 1, demo_stat("AttemptFails"));
	EXPECT_EQ(act + 1, demo_stat("ActiveOpens"));
	EXPECT_EQ(0, so_error(c));
	EXPECT_FALSE(name_is(c, true, LO, p));
	close(s);
	/* a datagram socket on the port is not a listener */
	ASSERT_EQ(0, bind_to(d, LO, p));
	c = sp_sock(0);
	EXPECT_ERRNO(ECONNREFUSED, connect_to(c, LO, p));
	EXPECT_EQ(fails + 2, demo_stat("AttemptFails"));
}

TEST_F(seq, connect_isconn)
{
	struct conn c;

	lo_conn(_metadata, &c);
	EXPECT_ERRNO(EISCONN, connect_to(c.cli, LO, c.lport));
	EXPECT_ERRNO(EISCONN, connect_to(c.srv, LO, c.cport));
	EXPECT_ERRNO(EISCONN, connect_to(c.lst, LO, c.lport));
	/* the connection is unharmed */
	ASSERT_EQ(2, send(c.srv, "ok", 2, 0));
	char b[4];

	EXPECT_EQ(2, recv_msg(c.cli, b, sizeof(b), 0, NULL, TMO));
}

TEST_F(seq, connect_nonblocking)
{
	int l = listener(LO, 0, 4), c = sp_sock(SOCK_NONBLOCK), s, ev, ret;
	char b[4];

	ASSERT_LE(0, l);
	ASSERT_ERRNO(EINPROGRESS, connect_to(c, LO, port_of(l)));
	ev = wait_ev(c, POLLOUT, TMO);
	EXPECT_TRUE(ev & POLLOUT) TH_LOG("revents %#x", ev);
	EXPECT_FALSE(ev & (POLLERR | POLLHUP)) TH_LOG("revents %#x", ev);
	EXPECT_EQ(0, so_error(c));
	/* the first connect() after success may return 0, then EISCONN */
	errno = 0;
	ret = connect_to(c, LO, port_of(l));
	EXPECT_TRUE(ret == 0 || errno == EISCONN) TH_LOG("%s", strerror(errno));
	EXPECT_ERRNO(EISCONN, connect_to(c, LO, port_of(l)));
	s = accept4_tmo(l, 0, TMO);
	ASSERT_LE(0, s);
	ASSERT_EQ(3, send(c, "abc", 3, 0));
	EXPECT_EQ(3, recv_msg(s, b, sizeof(b), 0, NULL, TMO));
	EXPECT_EQ(0, memcmp(b, "abc", 3));
}

TEST_F(seq, connect_nonblocking_refused)
{
	int c = sp_sock(SOCK_NONBLOCK), s = sp_sock(0), ev;
	long fails = demo_stat("AttemptFails");

	ASSERT_EQ(0, bind_to(s, LO, 0));
	ASSERT_ERRNO(EINPROGRESS, connect_to(c, LO, port_of(s)));
	ev = wait_all(c, POLLOUT, POLLERR, TMO);
	EXPECT_EQ(POLLOUT | POLLERR | POLLHUP,
		  ev & (POLLOUT | POLLERR | POLLHUP)) TH_LOG("revents %#x", ev);
	EXPECT_EQ(ECONNREFUSED, so_error(c));
	/* read once */
	EXPECT_EQ(0, so_error(c));
	EXPECT_EQ(fails + 1, demo_stat("AttemptFails"));
	/* never connected, or closed: the contract allows either */
	ev = send_err(c, MSG_NOSIGNAL);
	EXPECT_TRUE(ev == ENOTCONN || ev == EPIPE) TH_LOG("%s", strerror(ev));
}

/* --- send / recv errors and flags --------------------------------------- */

TEST_F(seq, send_recv_errors)
{
	int u = sp_sock(0), l = listener(LO, 0, 1);
	struct sockaddr_demo sa;
	struct conn c;
	char b[8];

	ASSERT_LE(0, u);
	ASSERT_LE(0, l);
	demo_addr(&sa, LO, port_of(l));
	EXPECT_ERRNO(ENOTCONN, send(u, "x", 1, MSG_NOSIGNAL));
	EXPECT_ERRNO(ENOTCONN, recv(u, b, 1, MSG_DONTWAIT));
	EXPECT_ERRNO(ENOTCONN, send(l, "x", 1, MSG_NOSIGNAL));
	EXPECT_ERRNO(ENOTCONN, recv(l, b, 1, MSG_DONTWAIT));
	EXPECT_ERRNO(EOPNOTSUPP, sendto(u, "x", 1, MSG_NOSIGNAL,
					(struct sockaddr *)&sa, sizeof(sa)));
	EXPECT_FALSE(sigpipe_taken());

	lo_conn(_metadata, &c);
	EXPECT_ERRNO(EISCONN, sendto(c.cli, "x", 1, 0, (struct sockaddr *)&sa,
				     sizeof(sa)));
	EXPECT_ERRNO(EOPNOTSUPP, send(c.cli, "x", 1, MSG_OOB));
	EXPECT_ERRNO(EOPNOTSUPP, send(c.cli, "x", 1, MSG_MORE));
	EXPECT_ERRNO(EOPNOTSUPP, recv(c.srv, b, 1, MSG_OOB | MSG_DONTWAIT));
	{
		char *big = calloc(1, 2 * MAXMSG);

		ASSERT_NE(NULL, big);
		EXPECT_ERRNO(EMSGSIZE, send(c.cli, big, MAXMSG + 1, 0));
		EXPECT_ERRNO(EMSGSIZE, send(c.cli, big, 2 * MAXMSG, 0));
		free(big);
	}
	/* nothing of the refused sends was queued */
	EXPECT_EQ(EAGAIN, recv_err(c.srv));
	/* accepted flags */
	EXPECT_EQ(3, send(c.cli, "f1!", 3, MSG_EOR | MSG_DONTROUTE |
			  MSG_CONFIRM | MSG_NOSIGNAL | MSG_DONTWAIT));
	EXPECT_EQ(3, recv_msg(c.srv, b, sizeof(b), 0, NULL, TMO));
	EXPECT_EQ(0, memcmp(b, "f1!", 3));
	/* MSG_WAITALL changes nothing: one message, shorter than the buffer */
	ASSERT_EQ(2, send(c.cli, "w2", 2, 0));
	ASSERT_TRUE(wait_ev(c.srv, POLLIN, TMO) & POLLIN);
	EXPECT_EQ(2, recv(c.srv, b, sizeof(b), MSG_WAITALL));
	EXPECT_EQ(EAGAIN, recv_err(c.srv));
}

/* --- message boundaries ------------------------------------------------- */

/* Send each size one way and back, checking length, flags and content. */
static void exchange_sizes(struct __test_metadata *_metadata, int a, int b,
			   const int *sizes, int n)
{
	char *out = calloc(1, MAXMSG + 1), *in = malloc(MAXMSG + 64);
	int i, dir, mf;
	ssize_t got;

	ASSERT_NE(NULL, out);
	ASSERT_NE(NULL, in);
	for (i = 0; i < n; i++) {
		for (dir = 0; dir < 2; dir++) {
			int s = dir ? b : a, r = dir ? a : b;

			fill(out, sizes[i], 1000 + i * 2 + dir);
			ASSERT_EQ(sizes[i], send(s, out, sizes[i], 0))
				TH_LOG("send %d bytes: %s", sizes[i],
				       strerror(errno));
			memset(in, 0, sizes[i] + 1);
			got = recv_msg(r, in, MAXMSG + 64, 0, &mf, LONG_TMO);
			ASSERT_EQ(sizes[i], got)
				TH_LOG("size %d dir %d: %s", sizes[i], dir,
				       got < 0 ? strerror(errno) : "short");
			EXPECT_TRUE(mf & MSG_EOR) TH_LOG("size %d", sizes[i]);
			EXPECT_FALSE(mf & MSG_TRUNC) TH_LOG("size %d",
							    sizes[i]);
			EXPECT_EQ(-1, mismatch(in, got, 1000 + i * 2 + dir))
				TH_LOG("size %d dir %d corrupt", sizes[i], dir);
		}
	}
	/* too big: refused whole, nothing sent, the next message is next */
	EXPECT_ERRNO(EMSGSIZE, send(a, out, MAXMSG + 1, 0));
	EXPECT_ERRNO(EMSGSIZE, send(a, out, MAXMSG + 1, MSG_DONTWAIT));
	ASSERT_EQ(3, send(a, "end", 3, 0));
	EXPECT_EQ(3, recv_msg(b, in, MAXMSG + 64, 0, NULL, LONG_TMO));
	EXPECT_EQ(0, memcmp(in, "end", 3));
	free(out);
	free(in);
}

TEST_F_TIMEOUT(seq, message_sizes_lo, 120)
{
	static const int sizes[] = {
		0, 1, 2, 100, VETH_MSS, 4096, 65535, LO_MSS - 1, LO_MSS,
		LO_MSS + 1, 65536, 65537, 2 * LO_MSS + 1, MAXMSG - 1, MAXMSG,
	};
	struct conn c;

	lo_conn(_metadata, &c);
	exchange_sizes(_metadata, c.cli, c.srv, sizes, ARRAY_SIZE(sizes));
}

TEST_F(seq, messages_back_to_back)
{
	enum { N = 64 };
	char *buf = malloc(4096);
	struct conn c;
	int i, mf;

	lo_conn(_metadata, &c);
	for (i = 0; i < N; i++) {
		int len = (i * 977) % 3001;

		fill(buf, len, i);
		ASSERT_EQ(len, send(c.cli, buf, len, 0)) TH_LOG("msg %d", i);
	}
	for (i = 0; i < N; i++) {
		int len = (i * 977) % 3001;

		ASSERT_EQ(len, recv_msg(c.srv, buf, 4096, 0, &mf, TMO))
			TH_LOG("msg %d: %s", i, strerror(errno));
		EXPECT_EQ(MSG_EOR, mf & (MSG_EOR | MSG_TRUNC));
		EXPECT_EQ(-1, mismatch(buf, len, i)) TH_LOG("msg %d", i);
	}
	EXPECT_EQ(EAGAIN, recv_err(c.srv));
	free(buf);
}

/* --- MSG_TRUNC, MSG_PEEK, MSG_EOR, ioctls -------------------------------- */

TEST_F(seq, recv_trunc)
{
	struct conn c;
	char b[16];
	int mf;

	lo_conn(_metadata, &c);
	ASSERT_EQ(10, send(c.cli, "0123456789", 10, 0));
	ASSERT_EQ(4, send(c.cli, "next", 4, 0));
	ASSERT_EQ(6, send(c.cli, "abcdef", 6, 0));
	ASSERT_EQ(0, send(c.cli, "", 0, 0));

	memset(b, 0, sizeof(b));
	ASSERT_EQ(4, recv_msg(c.srv, b, 4, 0, &mf, TMO));
	EXPECT_EQ(0, memcmp(b, "0123", 4));
	EXPECT_EQ(0, b[4]);
	EXPECT_TRUE(mf & MSG_TRUNC);
	EXPECT_TRUE(mf & MSG_EOR);
	/* the rest of the first message is gone */
	memset(b, 0, sizeof(b));
	ASSERT_EQ(4, recv_msg(c.srv, b, sizeof(b), 0, &mf, TMO));
	EXPECT_EQ(0, memcmp(b, "next", 4));
	EXPECT_FALSE(mf & MSG_TRUNC);
	EXPECT_TRUE(mf & MSG_EOR);
	/* MSG_TRUNC in the flags: the full length, only 2 bytes copied */
	memset(b, 0, sizeof(b));
	ASSERT_EQ(6, recv_msg(c.srv, b, 2, MSG_TRUNC, &mf, TMO));
	EXPECT_EQ(0, memcmp(b, "ab", 2));
	EXPECT_EQ(0, b[2]);
	EXPECT_TRUE(mf & MSG_TRUNC);
	/* a zero-length message into a zero-length buffer is not truncated */
	ASSERT_EQ(0, recv_msg(c.srv, b, 0, 0, &mf, TMO));
	EXPECT_FALSE(mf & MSG_TRUNC);
	EXPECT_TRUE(mf & MSG_EOR);
	EXPECT_EQ(EAGAIN, recv_err(c.srv));
	/* recv() into a zero-length buffer discards a message */
	ASSERT_EQ(3, send(c.cli, "xyz", 3, 0));
	ASSERT_EQ(3, send(c.cli, "uvw", 3, 0));
	ASSERT_EQ(0, recv_msg(c.srv, b, 0, 0, &mf, TMO));
	EXPECT_TRUE(mf & MSG_TRUNC);
	ASSERT_EQ(3, recv_msg(c.srv, b, sizeof(b), 0, NULL, TMO));
	EXPECT_EQ(0, memcmp(b, "uvw", 3));
}

TEST_F(seq, recv_peek)
{
	struct conn c;
	char b[16];
	int mf;

	lo_conn(_metadata, &c);
	ASSERT_EQ(5, send(c.cli, "first", 5, 0));
	ASSERT_EQ(6, send(c.cli, "second", 6, 0));
	memset(b, 0, sizeof(b));
	ASSERT_EQ(5, recv_msg(c.srv, b, sizeof(b), MSG_PEEK, &mf, TMO));
	EXPECT_EQ(0, memcmp(b, "first", 5));
	EXPECT_TRUE(mf & MSG_EOR);
	/* peek again, truncated: still there */
	memset(b, 0, sizeof(b));
	ASSERT_EQ(2, recv_msg(c.srv, b, 2, MSG_PEEK, &mf, TMO));
	EXPECT_EQ(0, memcmp(b, "fi", 2));
	EXPECT_TRUE(mf & MSG_TRUNC);
	ASSERT_EQ(5, recv_msg(c.srv, b, 2, MSG_PEEK | MSG_TRUNC, &mf, TMO));
	EXPECT_EQ(5, ioctl_int(c.srv, SIOCINQ));
	memset(b, 0, sizeof(b));
	ASSERT_EQ(5, recv_msg(c.srv, b, sizeof(b), 0, &mf, TMO));
	EXPECT_EQ(0, memcmp(b, "first", 5));
	memset(b, 0, sizeof(b));
	ASSERT_EQ(6, recv_msg(c.srv, b, sizeof(b), 0, &mf, TMO));
	EXPECT_EQ(0, memcmp(b, "second", 6));
	EXPECT_EQ(EAGAIN, recv_err(c.srv));
}

TEST_F(seq, recv_dontwait_rcvtimeo)
{
	struct conn c;
	double t0, dt;
	char b[4];

	lo_conn(_metadata, &c);
	EXPECT_ERRNO(EAGAIN, recv(c.srv, b, sizeof(b), MSG_DONTWAIT));
	ASSERT_EQ(0, set_timeo(c.srv, SO_RCVTIMEO, 300));
	t0 = now_ms();
	EXPECT_ERRNO(EAGAIN, recv(c.srv, b, sizeof(b), 0));
	dt = now_ms() - t0;
	EXPECT_LE(250, (int)dt) TH_LOG("SO_RCVTIMEO 300 ms waited %.0f ms", dt);
	EXPECT_GE(300 + TMO, (int)dt);
	/* O_NONBLOCK */
	ASSERT_EQ(0, fcntl(c.srv, F_SETFL, O_NONBLOCK));
	EXPECT_ERRNO(EAGAIN, recv(c.srv, b, sizeof(b), 0));
	ASSERT_EQ(0, fcntl(c.srv, F_SETFL, 0));
	/* a message ends the wait long before the timeout */
	ASSERT_EQ(0, set_timeo(c.srv, SO_RCVTIMEO, 10000));
	ASSERT_EQ(1, send(c.cli, "m", 1, 0));
	t0 = now_ms();
	EXPECT_EQ(1, recv(c.srv, b, sizeof(b), 0));
	EXPECT_GT(5000, (int)(now_ms() - t0));
}

TEST_F(seq, recv_name_eor_rcvlowat)
{
	struct sockaddr_demo src;
	struct conn c;
	char b[8];
	int mf;

	lo_conn(_metadata, &c);
	/* SO_RCVLOWAT is accepted and ignored */
	ASSERT_EQ(0, setopt_int(c.srv, SOL_SOCKET, SO_RCVLOWAT, 100));
	ASSERT_EQ(1, send(c.cli, "1", 1, 0));
	EXPECT_TRUE(wait_ev(c.srv, POLLIN, TMO) & POLLIN);
	ASSERT_EQ(1, recv_msg_src(c.srv, b, sizeof(b), 0, &mf, &src, TMO));
	EXPECT_TRUE(mf & MSG_EOR);
	EXPECT_TRUE(addr_is(&src, LO, c.cport));
	ASSERT_EQ(2, send(c.srv, "22", 2, 0));
	ASSERT_EQ(2, recv_msg_src(c.cli, b, sizeof(b), 0, &mf, &src, TMO));
	EXPECT_TRUE(mf & MSG_EOR);
	EXPECT_TRUE(addr_is(&src, LO, c.lport));
}

TEST_F(seq, ioctl_inq_outq)
{
	struct conn c;
	char b[512];

	lo_conn(_metadata, &c);
	EXPECT_EQ(0, ioctl_int(c.srv, SIOCINQ));
	EXPECT_EQ(0, ioctl_int(c.cli, SIOCOUTQ));
	memset(b, 'q', sizeof(b));
	ASSERT_EQ(100, send(c.cli, b, 100, 0));
	ASSERT_EQ(200, send(c.cli, b, 200, 0));
	ASSERT_EQ(0, send(c.cli, b, 0, 0));
	ASSERT_EQ(7, send(c.cli, b, 7, 0));
	ASSERT_TRUE(wait_ev(c.srv, POLLIN, TMO) & POLLIN);
	EXPECT_EQ(100, ioctl_int(c.srv, SIOCINQ));
	EXPECT_EQ(100, ioctl_int(c.srv, FIONREAD));
	ASSERT_EQ(100, recv_msg(c.srv, b, sizeof(b), 0, NULL, TMO));
	ASSERT_TRUE(wait_ev(c.srv, POLLIN, TMO) & POLLIN);
	EXPECT_EQ(200, ioctl_int(c.srv, SIOCINQ));
	ASSERT_EQ(200, recv_msg(c.srv, b, sizeof(b), 0, NULL, TMO));
	/* a zero-length message: readable, SIOCINQ 0 */
	ASSERT_TRUE(wait_ev(c.srv, POLLIN, TMO) & POLLIN);
	EXPECT_EQ(0, ioctl_int(c.srv, SIOCINQ));
	ASSERT_EQ(0, recv_msg(c.srv, b, sizeof(b), 0, NULL, TMO));
	ASSERT_TRUE(wait_ev(c.srv, POLLIN, TMO) & POLLIN);
	EXPECT_EQ(7, ioctl_int(c.srv, SIOCINQ));
	ASSERT_EQ(7, recv_msg(c.srv, b, sizeof(b), 0, NULL, TMO));
	EXPECT_EQ(0, ioctl_int(c.srv, SIOCINQ));
	/* everything acknowledged */
	EXPECT_EQ(0, wait_ioctl(c.cli, SIOCOUTQ, 0, LONG_TMO));
	EXPECT_EQ(0, ioctl_int(c.srv, SIOCOUTQ));
}

/* --- shutdown ----------------------------------------------------------- */

TEST_F(seq, shutdown_wr)
{
	struct conn c;
	char b[16];
	int ev, i;

	lo_conn(_metadata, &c);
	ASSERT_EQ(1, send(c.cli, "1", 1, 0));
	ASSERT_EQ(2, send(c.cli, "22", 2, 0));
	ASSERT_EQ(3, send(c.cli, "333", 3, 0));
	ASSERT_EQ(0, shutdown(c.cli, SHUT_WR));
	ev = wait_all(c.srv, POLLIN | POLLRDHUP, POLLIN | POLLRDHUP, TMO);
	EXPECT_EQ(POLLIN | POLLRDHUP, ev & (POLLIN | POLLRDHUP | POLLHUP |
					    POLLERR)) TH_LOG("revents %#x", ev);
	for (i = 1; i <= 3; i++) {
		ssize_t n = recv_msg(c.srv, b, sizeof(b), 0, NULL, TMO);

		ASSERT_EQ(i, n) TH_LOG("message %d: %s", i, strerror(errno));
		EXPECT_EQ('0' + i, b[0]);
	}
	EXPECT_EQ(0, recv_msg(c.srv, b, sizeof(b), 0, NULL, TMO));
	EXPECT_EQ(0, recv(c.srv, b, sizeof(b), 0));	/* does not block */
	ev = wait_ev(c.srv, POLLIN | POLLRDHUP | POLLOUT, 0);
	EXPECT_EQ(POLLIN | POLLRDHUP | POLLOUT, ev & (POLLIN | POLLRDHUP |
		  POLLOUT | POLLHUP)) TH_LOG("revents %#x", ev);
	/* states: the closing side waits for the peer's FIN */
	EXPECT_TRUE(wait_state(c.cport, c.lport, "FIN_WAIT2", NULL, TMO));
	EXPECT_TRUE(wait_state(c.lport, c.cport, "CLOSE_WAIT", NULL, TMO));

	/* own SHUT_WR: EPIPE */
	EXPECT_ERRNO(EPIPE, send(c.cli, "x", 1, MSG_NOSIGNAL));
	EXPECT_FALSE(sigpipe_taken());
	/* half-closed: the other direction still works */
	ASSERT_EQ(5, send(c.srv, "reply", 5, 0));
	EXPECT_EQ(5, recv_msg(c.cli, b, sizeof(b), 0, NULL, TMO));
	EXPECT_FALSE(wait_ev(c.cli, POLLIN, 0) & (POLLHUP | POLLRDHUP));
	/* both directions shut: POLLHUP on both ends */
	ASSERT_EQ(0, shutdown(c.srv, SHUT_WR));
	EXPECT_EQ(0, recv_msg(c.cli, b, sizeof(b), 0, NULL, TMO));
	ev = wait_all(c.cli, POLLIN | POLLRDHUP, POLLHUP, TMO);
	EXPECT_TRUE(ev & POLLHUP) TH_LOG("revents %#x", ev);
	EXPECT_TRUE(ev & POLLRDHUP) TH_LOG("revents %#x", ev);
	ev = wait_all(c.srv, POLLIN, POLLHUP, TMO);
	EXPECT_TRUE(ev & POLLHUP) TH_LOG("revents %#x", ev);
	EXPECT_ERRNO(EPIPE, send(c.srv, "x", 1, MSG_NOSIGNAL));
}

struct blocked_recv {
	int fd;
	pid_t tid;
	ssize_t ret;
	int err;
};

static void *recv_thread(void *arg)
{
	struct blocked_recv *br = arg;
	char b[16];

	__atomic_store_n(&br->tid, (pid_t)syscall(SYS_gettid),
			 __ATOMIC_RELEASE);
	br->ret = recv(br->fd, b, sizeof(b), 0);
	br->err = errno;
	return NULL;
}

TEST_F(seq, shutdown_rd)
{
	enum { N = 200, LEN = 4000 };
	struct blocked_recv br = { .ret = -2 };
	char *buf = malloc(LEN);
	struct conn c;
	pthread_t t;
	int i;

	lo_conn(_metadata, &c);
	/* a recv blocked in another thread returns 0 */
	br.fd = c.srv;
	ASSERT_EQ(0, pthread_create(&t, NULL, recv_thread, &br));
	ASSERT_EQ(0, wait_blocked(&br.tid, SYS_recvfrom))
		TH_LOG("the thread never blocked in recv");
	ASSERT_EQ(0, shutdown(c.srv, SHUT_RD));
	ASSERT_EQ(0, join_tmo(t, TMO)) TH_LOG("recv did not wake up");
	EXPECT_EQ(0, br.ret) TH_LOG("recv: %s", strerror(br.err));
	EXPECT_EQ(0, recv(c.srv, buf, LEN, 0));

	/* arriving messages are acknowledged and discarded: never blocks */
	ASSERT_EQ(0, set_timeo(c.cli, SO_SNDTIMEO, LONG_TMO));
	for (i = 0; i < N; i++) {
		fill(buf, LEN, i);
		ASSERT_EQ(LEN, send(c.cli, buf, LEN, 0))
			TH_LOG("message %d of %d: %s", i, N, strerror(errno));
	}
	EXPECT_EQ(0, wait_ioctl(c.cli, SIOCOUTQ, 0, LONG_TMO));
	EXPECT_EQ(0, recv(c.srv, buf, LEN, 0));
	EXPECT_EQ(0, ioctl_int(c.srv, SIOCINQ));
	/* the other direction still works */
	ASSERT_EQ(4, send(c.srv, "back", 4, 0));
	EXPECT_EQ(4, recv_msg(c.cli, buf, LEN, 0, NULL, TMO));
	free(buf);
}

TEST_F(seq, sigpipe_after_shutdown_wr)
{
	struct iovec iov = { "m", 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct conn c;

	lo_conn(_metadata, &c);
	ASSERT_FALSE(sigpipe_taken());
	ASSERT_EQ(0, shutdown(c.cli, SHUT_WR));
	EXPECT_ERRNO(EPIPE, send(c.cli, "x", 1, 0));
	EXPECT_TRUE(sigpipe_taken()) TH_LOG("no SIGPIPE with send()");
	EXPECT_ERRNO(EPIPE, write(c.cli, "x", 1));
	EXPECT_TRUE(sigpipe_taken()) TH_LOG("no SIGPIPE with write()");
	EXPECT_ERRNO(EPIPE, sendmsg(c.cli, &m, 0));
	EXPECT_TRUE(sigpipe_taken()) TH_LOG("no SIGPIPE with sendmsg()");
	EXPECT_ERRNO(EPIPE, send(c.cli, "x", 1, MSG_NOSIGNAL));
	EXPECT_ERRNO(EPIPE, sendmsg(c.cli, &m, MSG_NOSIGNAL));
	EXPECT_FALSE(sigpipe_taken()) TH_LOG("SIGPIPE despite MSG_NOSIGNAL");
}

/* --- resets and closes -------------------------------------------------- */

TEST_F(seq, listener_close_resets_queued)
{
	int l = listener(LO, 0, 4), c = sp_sock(0), n, ev;
	unsigned short p = port_of(l);
	char b;

	ASSERT_LE(0, l);
	ASSERT_EQ(0, connect_to(c, LO, p));
	ASSERT_TRUE(wait_ev(l, POLLIN, TMO) & POLLIN);
	close(l);
	ev = wait_all(c, POLLIN, POLLERR | POLLHUP, TMO);
	EXPECT_EQ(POLLERR | POLLHUP, ev & (POLLERR | POLLHUP))
		TH_LOG("revents %#x", ev);
	EXPECT_ERRNO(ECONNRESET, recv(c, &b, 1, MSG_DONTWAIT));
	EXPECT_EQ(0, recv(c, &b, 1, MSG_DONTWAIT));
	EXPECT_ERRNO(EPIPE, send(c, "x", 1, MSG_NOSIGNAL));
	/* the port is free again */
	n = sp_sock(0);
	EXPECT_EQ(0, bind_to(n, LO, p)) TH_LOG("%s", strerror(errno));
}

TEST_F(seq, peer_close_orderly_then_send)
{
	struct conn c;
	int i, err = 0, sent = 0;
	char b[4];

	lo_conn(_metadata, &c);
	ASSERT_EQ(4, send(c.srv, "last", 4, 0));
	close(c.srv);
	/* queued messages are still delivered, then end of file */
	EXPECT_EQ(4, recv_msg(c.cli, b, sizeof(b), 0, NULL, TMO));
	EXPECT_EQ(0, recv_msg(c.cli, b, sizeof(b), 0, NULL, TMO));
	EXPECT_EQ(0, recv_msg(c.cli, b, sizeof(b), 0, NULL, TMO));
	/*
	 * As TCP: the first message to the closed peer is accepted here and
	 * answered with RST there; the sends after it fail with EPIPE.
	 */
	for (i = 0; i < 10; i++) {
		err = send_err(c.cli, MSG_NOSIGNAL);
		if (err)
			break;
		sent++;
		wait_all(c.cli, POLLIN, POLLERR, 1000);
	}
	ASSERT_EQ(EPIPE, err) TH_LOG("after %d sends: %s", sent, strerror(err));
	EXPECT_EQ(1, sent);
	EXPECT_FALSE(sigpipe_taken()) TH_LOG("SIGPIPE despite MSG_NOSIGNAL");
	EXPECT_EQ(EPIPE, send_err(c.cli, 0));
	EXPECT_TRUE(sigpipe_taken()) TH_LOG("no SIGPIPE");
	EXPECT_EQ(EPIPE, send_err(c.cli, 0));
	EXPECT_TRUE(sigpipe_taken()) TH_LOG("no SIGPIPE the second time");
	EXPECT_EQ(-1, recv_err(c.cli));	/* end of file */
	EXPECT_TRUE(wait_ev(c.cli, POLLIN, 0) & POLLHUP);
}

/* --- the listener ------------------------------------------------------- */

TEST_F(seq, listener_poll)
{
	int l = listener(LO, 0, 4), c = sp_sock(0), s, ep;
	struct epoll_event e = { .events = EPOLLIN | EPOLLOUT };

	ASSERT_LE(0, l);
	EXPECT_EQ(0, wait_ev(l, POLLIN | POLLOUT, 0));
	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, l, &e));
	EXPECT_EQ(0, epoll_wait(ep, &e, 1, 0));
	ASSERT_EQ(0, connect_to(c, LO, port_of(l)));
	EXPECT_EQ(POLLIN, wait_ev(l, POLLIN | POLLOUT, TMO));
	ASSERT_EQ(1, epoll_wait(ep, &e, 1, TMO));
	EXPECT_EQ((unsigned int)EPOLLIN, e.events);
	EXPECT_EQ(1, accept_queue(port_of(l)));
	s = accept4_tmo(l, 0, TMO);
	ASSERT_LE(0, s);
	EXPECT_EQ(0, wait_ev(l, POLLIN | POLLOUT, 0));
	EXPECT_EQ(0, epoll_wait(ep, &e, 1, 0));
	EXPECT_EQ(0, accept_queue(port_of(l)));
}

/* Connect clients to @lport until one is refused; returns the attempts. */
static int fill_backlog(struct __test_metadata *_metadata, int *cl, int max,
			unsigned short lport, int *queued)
{
	int i, ret;

	*queued = 0;
	for (i = 0; i < max; i++) {
		cl[i] = sp_sock(0);
		if (cl[i] < 0)
			return -1;
		ret = connect_tmo(cl[i], LO, lport, TMO);
		if (ret) {
			EXPECT_EQ(ECONNREFUSED, errno)
				TH_LOG("attempt %d: %s", i + 1,
				       strerror(errno));
			close(cl[i]);
			cl[i] = -1;
			return i + 1;
		}
		++*queued;
		/* the listener has counted it before the next attempt */
		{
			double end = now_ms() + TMO;

			while (accept_queue(lport) < *queued && now_ms() < end)
				poll(NULL, 0, 1);
		}
		EXPECT_EQ(*queued, accept_queue(lport));
	}
	return max + 1;
}

TEST_F(seq, backlog_overflow)
{
	enum { BACKLOG = 2, MAX = 16 };
	long ovf = demo_stat("ListenOverflows"), fails;
	int l = listener(LO, 0, BACKLOG), cl[MAX + 8], n, queued, i, s;
	unsigned short lp = port_of(l);
	struct demo_ent e;
	char b[4];

	ASSERT_LE(0, l);
	ASSERT_LE(0, ovf);
	fails = demo_stat("AttemptFails");
	ASSERT_EQ(1, proc_find(lp, 0, "LISTEN", &e));
	EXPECT_EQ((unsigned int)BACKLOG, e.txq);
	n = fill_backlog(_metadata, cl, MAX, lp, &queued);
	ASSERT_GE(BACKLOG + 2, n) TH_LOG("no refusal after %d connects", n - 1);
	EXPECT_EQ(BACKLOG + 1, queued) TH_LOG("up to n + 1 connections wait");
	EXPECT_EQ(ovf + 1, demo_stat("ListenOverflows"));
	EXPECT_EQ(fails + 1, demo_stat("AttemptFails"));
	EXPECT_EQ(queued, accept_queue(lp));

	/* every queued connection is accepted and works */
	for (i = 0; i < queued; i++) {
		s = accept4_tmo(l, 0, TMO);
		ASSERT_LE(0, s) TH_LOG("accept %d: %s", i, strerror(errno));
		ASSERT_EQ(2, send(s, "hi", 2, 0));
		close(s);
	}
	for (i = 0; i < queued; i++)
		EXPECT_EQ(2, recv_msg(cl[i], b, sizeof(b), 0, NULL, TMO));
	EXPECT_EQ(0, accept_queue(lp));
	/* room again */
	cl[0] = sp_sock(0);
	ASSERT_EQ(0, connect_tmo(cl[0], LO, lp, TMO))
		TH_LOG("connect after accepting: %s", strerror(errno));
	s = accept4_tmo(l, 0, TMO);
	ASSERT_LE(0, s);
	close(s);

	/* listen() again raises the backlog */
	ASSERT_EQ(0, listen(l, 5));
	ASSERT_EQ(1, proc_find(lp, 0, "LISTEN", &e));
	EXPECT_EQ(5u, e.txq);
	ovf = demo_stat("ListenOverflows");
	n = fill_backlog(_metadata, cl, MAX, lp, &queued);
	EXPECT_EQ(6, queued);
	EXPECT_EQ(ovf + 1, demo_stat("ListenOverflows"));
}

TEST_F(seq, backlog_capped_at_somaxconn)
{
	int l, cl[8], n, queued;
	struct demo_ent e;

	ASSERT_EQ(0, demo_write_file("/proc/sys/net/core/somaxconn", "1"));
	l = listener(LO, 0, 100);
	ASSERT_LE(0, l);
	ASSERT_EQ(1, proc_find(port_of(l), 0, "LISTEN", &e));
	EXPECT_EQ(1u, e.txq);
	n = fill_backlog(_metadata, cl, 6, port_of(l), &queued);
	EXPECT_EQ(2, queued);
	EXPECT_EQ(3, n);
}

/* --- /proc/net/demo and counters ---------------------------------------- */

TEST_F(seq, proc_states_and_opens)
{
	long act = demo_stat("ActiveOpens"), pas = demo_stat("PassiveOpens");
	struct demo_ent e;
	struct conn c;
	struct stat st;
	char b[4];

	ASSERT_LE(0, act);
	ASSERT_LE(0, pas);
	lo_conn(_metadata, &c);
	EXPECT_EQ(act + 1, demo_stat("ActiveOpens"));
	EXPECT_EQ(pas + 1, demo_stat("PassiveOpens"));

	ASSERT_EQ(1, proc_find(c.lport, 0, "LISTEN", &e));
	ASSERT_EQ(0, fstat(c.lst, &st));
	EXPECT_EQ(st.st_ino, e.inode);
	EXPECT_EQ(inet_addr(LO), e.laddr);
	EXPECT_EQ(0u, e.raddr);
	EXPECT_EQ(0u, e.rport);
	EXPECT_EQ(0u, e.uid);
	/* listener and accepted socket share the port */
	EXPECT_EQ(2, proc_find(c.lport, 0, NULL, NULL));
	ASSERT_EQ(1, proc_find(c.lport, c.cport, "ESTABLISHED", &e));
	ASSERT_EQ(0, fstat(c.srv, &st));
	EXPECT_EQ(st.st_ino, e.inode);
	EXPECT_EQ(inet_addr(LO), e.raddr);
	ASSERT_EQ(1, proc_find(c.cport, c.lport, "ESTABLISHED", &e));
	ASSERT_EQ(0, fstat(c.cli, &st));
	EXPECT_EQ(st.st_ino, e.inode);
	EXPECT_EQ(inet_addr(LO), e.laddr);
	EXPECT_EQ(inet_addr(LO), e.raddr);

	/* a queued message shows in rx_queue */
	ASSERT_EQ(3, send(c.cli, "abc", 3, 0));
	ASSERT_TRUE(wait_ev(c.srv, POLLIN, TMO) & POLLIN);
	ASSERT_EQ(1, proc_find(c.lport, c.cport, "ESTABLISHED", &e));
	EXPECT_LT(0u, e.rxq);
	ASSERT_EQ(3, recv(c.srv, b, sizeof(b), 0));
	EXPECT_TRUE(wait_state(c.cport, c.lport, "ESTABLISHED", &e, TMO));

	/* orderly close by the client: the active side ends in TIME_WAIT */
	close(c.cli);
	EXPECT_TRUE(wait_state(c.cport, c.lport, "FIN_WAIT2", NULL, TMO));
	EXPECT_TRUE(wait_state(c.lport, c.cport, "CLOSE_WAIT", NULL, TMO));
	EXPECT_EQ(0, recv_msg(c.srv, b, sizeof(b), 0, NULL, TMO));
	close(c.srv);
	ASSERT_TRUE(wait_state(c.cport, c.lport, "TIME_WAIT", &e, TMO));
	EXPECT_EQ(0u, e.uid);
	EXPECT_EQ(0ul, e.inode);
	EXPECT_EQ(inet_addr(LO), e.laddr);
	EXPECT_EQ(inet_addr(LO), e.raddr);
	EXPECT_EQ(1, proc_find(c.cport, 0, NULL, NULL));
	/* the passive side is gone once its FIN was acknowledged */
	EXPECT_TRUE(wait_gone(c.lport, c.cport, NULL, TMO));
	EXPECT_EQ(1, proc_find(c.lport, 0, NULL, NULL));
}

/* The Internet checksum of @len bytes. */
static uint16_t inet_csum(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons(~sum & 0xffff);
}

/*
 * Inject a DEMO seqpacket segment 127.0.0.1:@sport -> 127.0.0.1:@dport
 * carrying the @len bytes at @data through @raw (an AF_INET raw socket of
 * the DEMO protocol), valid but for what the sender may not know, then
 * wait until @raw sees it arrive. The caller runs on one CPU, so loopback
 * delivery (softirq on that CPU, the raw copy first, then the DEMO
 * handler) is over by then. 0 or -1.
 */
static int forge_msg(int raw, unsigned short sport, unsigned short dport,
		     uint16_t flags, uint32_t seq, uint32_t ack,
		     const void *data, size_t len)
{
	struct sockaddr_in lo = { .sin_family = AF_INET };
	struct {
		uint32_t saddr, daddr;
		uint8_t zero, proto;
		uint16_t len;
		struct demohdr dh;
		struct demo_seqhdr sh;
		uint8_t data[64];
	} __attribute__((packed)) p;
	size_t n = SEQ_HLEN + len;
	uint8_t buf[256];
	double end = now_ms() + TMO;
	ssize_t got;

	if (len > sizeof(p.data))
		return -1;
	memset(&p, 0, sizeof(p));
	lo.sin_addr.s_addr = inet_addr(LO);
	p.saddr = p.daddr = lo.sin_addr.s_addr;
	p.proto = demo_ipproto();
	p.len = htons(n);
	p.dh.source = htons(sport);
	p.dh.dest = htons(dport);
	p.dh.version = DEMO_VERSION;
	p.dh.type = DEMOPROTO_SEQPACKET;
	p.dh.len = htons(n);
	p.dh.flags = htons(flags);
	p.sh.seq = htonl(seq);
	p.sh.ack = htonl(ack);
	if (len)
		memcpy(p.data, data, len);
	p.dh.check = inet_csum(&p, 12 + n);
	if (sendto(raw, &p.dh, n, 0, (struct sockaddr *)&lo,
		   sizeof(lo)) != (ssize_t)n)
		return -1;
	while (now_ms() < end) {
		if (wait_ev(raw, POLLIN, TMO) <= 0)
			return -1;
		got = recv(raw, buf, sizeof(buf), MSG_DONTWAIT);
		if (got == (ssize_t)(20 + n) && !memcmp(buf + 20, &p.dh, n))
			return 0;
	}
	return -1;
}

static int forge_seg(int raw, unsigned short sport, unsigned short dport,
		     uint16_t flags, uint32_t seq, uint32_t ack)
{
	return forge_msg(raw, sport, dport, flags, seq, ack, NULL, 0);
}

/* The sequence number of the first FIN @raw sees from @sport to @dport. */
static int64_t seen_fin(int raw, unsigned short sport, unsigned short dport)
{
	const struct demo_seqhdr *sh;
	const struct demohdr *dh;
	uint8_t buf[256];
	ssize_t n;

	while ((n = recv(raw, buf, sizeof(buf), MSG_DONTWAIT)) >= 0) {
		dh = (const struct demohdr *)(buf + 20);
		sh = (const struct demo_seqhdr *)(dh + 1);
		if (n >= 20 + SEQ_HLEN && ntohs(dh->source) == sport &&
		    ntohs(dh->dest) == dport &&
		    (ntohs(dh->flags) & DEMO_SEQ_FIN))
			return ntohl(sh->seq);
	}
	return -1;
}

/*
 * TIME_WAIT believes only the peer's own FIN and a RST at the next
 * sequence number: forged ones, off by any amount, neither end it early
 * nor make it send (and restart its wait).
 */
TEST_F(seq, time_wait_ignores_forged_fin_and_rst)
{
	const uint16_t fa = DEMO_SEQ_FIN | DEMO_SEQ_ACK;
	cpu_set_t cpu;
	struct conn c;
	int64_t fin;
	long out, lrst;
	char b[4];
	int raw;

	CPU_ZERO(&cpu);
	CPU_SET(0, &cpu);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(cpu), &cpu));
	raw = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, demo_ipproto());
	ASSERT_LE(0, raw);
	lo_conn(_metadata, &c);
	close(c.cli);
	EXPECT_EQ(0, recv_msg(c.srv, b, sizeof(b), 0, NULL, TMO));
	close(c.srv);
	ASSERT_TRUE(wait_state(c.cport, c.lport, "TIME_WAIT", NULL, TMO));
	fin = seen_fin(raw, c.lport, c.cport);
	ASSERT_LE(0, fin) TH_LOG("the server's FIN was not seen");

	out = demo_stat("OutSegs");
	lrst = demo_stat("ListenRsts");
	ASSERT_EQ(0, forge_seg(raw, c.lport, c.cport, DEMO_SEQ_RST, fin, 0));
	ASSERT_EQ(0, forge_seg(raw, c.lport, c.cport, DEMO_SEQ_RST, fin + 2, 0));
	ASSERT_EQ(0, forge_seg(raw, c.lport, c.cport, DEMO_SEQ_RST,
			       fin + 0x10000, 0));
	ASSERT_EQ(0, forge_seg(raw, c.lport, c.cport, fa, fin + 1, 0));
	ASSERT_EQ(0, forge_seg(raw, c.lport, c.cport, fa, fin - 1, 0));
	EXPECT_EQ(1, proc_find(c.cport, c.lport, "TIME_WAIT", NULL));
	EXPECT_EQ(out, demo_stat("OutSegs"));

	/* the peer's FIN again: acknowledged again, the wait restarted */
	ASSERT_EQ(0, forge_seg(raw, c.lport, c.cport, fa, fin, 0));
	EXPECT_LE(out + 1, demo_stat("OutSegs"));

	/*
	 * That ACK reached the listener, for which the pair's connection is
	 * over: it answered with a reset at the ACK's number, the next one
	 * of the TIME_WAIT entry, which ends it (as TCP's would).
	 */
	EXPECT_EQ(lrst + 1, demo_stat("ListenRsts"));
	EXPECT_EQ(0, proc_find(c.cport, c.lport, "TIME_WAIT", NULL));
	close(raw);
}

TEST_F(seq, time_wait_expires)
{
	struct conn c;
	char b[4];

	ASSERT_EQ(0, sysctl_set("seqpacket_time_wait_ms", 300));
	lo_conn(_metadata, &c);
	close(c.cli);
	EXPECT_EQ(0, recv_msg(c.srv, b, sizeof(b), 0, NULL, TMO));
	close(c.srv);
	ASSERT_TRUE(wait_state(c.cport, c.lport, "TIME_WAIT", NULL, TMO));
	/* 300 ms, not the default 10 s */
	EXPECT_TRUE(wait_gone(c.cport, 0, NULL, 5000));
	/* the address pair can connect again */
	c.cli = sp_sock(0);
	ASSERT_EQ(0, bind_to(c.cli, LO, c.cport));
	EXPECT_EQ(0, connect_to(c.cli, LO, c.lport)) TH_LOG("%s",
							    strerror(errno));
}

/* --- hostile peers (issue #11) ------------------------------------------- */

/*
 * Segments from @sport to @dport that @raw holds (a raw socket sees each
 * packet on lo once): *@next becomes the sequence number after the newest
 * one, *@ack its acknowledgment number. Returns how many there were.
 */
static int seg_track(int raw, unsigned short sport, unsigned short dport,
		     uint32_t *next, uint32_t *ack)
{
	const struct demo_seqhdr *sh;
	const struct demohdr *dh;
	uint8_t buf[256];
	uint32_t s;
	uint16_t fl;
	int cnt = 0;
	ssize_t n;

	while ((n = recv(raw, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC)) >= 0) {
		if (n < 20 + SEQ_HLEN)
			continue;
		dh = (const struct demohdr *)(buf + 20);
		sh = (const struct demo_seqhdr *)(dh + 1);
		if (ntohs(dh->source) != sport || ntohs(dh->dest) != dport)
			continue;
		fl = ntohs(dh->flags);
		s = ntohl(sh->seq);
		if (n > 20 + SEQ_HLEN ||
		    (fl & (DEMO_SEQ_SYN | DEMO_SEQ_FIN | DEMO_SEQ_EOR)))
			s++;
		if (!cnt || (int32_t)(s - *next) >= 0)
			*next = s;
		if (fl & DEMO_SEQ_ACK)
			*ack = ntohl(sh->ack);
		cnt++;
	}
	return cnt;
}

static void pin_cpu0(struct __test_metadata *_metadata)
{
	cpu_set_t cpu;

	CPU_ZERO(&cpu);
	CPU_SET(0, &cpu);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(cpu), &cpu));
}

/*
 * A connection over lo with a raw socket watching it, after one message
 * from the client: *@cnext is the server's rcv_nxt, *@suna the client's
 * (so the server's snd_una once everything is acknowledged).
 */
static int lo_conn_raw(struct __test_metadata *_metadata, struct conn *c,
		       uint32_t *cnext, uint32_t *sack)
{
	char b[4];
	int raw;

	pin_cpu0(_metadata);
	raw = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, demo_ipproto());
	if (raw < 0)
		return -1;
	lo_conn(_metadata, c);
	if (send(c->cli, "a", 1, 0) != 1 ||
	    recv_msg(c->srv, b, sizeof(b), 0, NULL, TMO) != 1 ||
	    seg_track(raw, c->cport, c->lport, cnext, sack) < 1) {
		close(raw);
		return -1;
	}
	return raw;
}

/*
 * An orphan whose peer's window stays closed ends within the retry limit,
 * (seqpacket_retries + 1) * seqpacket_rto_max_ms: the peer answering each
 * zero-window probe with a zero window does not keep it alive (it looped,
 * probing at the speed of the round trip, for ever).
 */
TEST_F_TIMEOUT(seq, orphan_zero_window_times_out, 90)
{
	enum { RETRIES = 3, RTO_MAX = 500, SLACK = 2000 };
	long zwp, tmo;
	double t0, dt;
	struct conn c;
	char *buf = calloc(1, MAXMSG);
	int n;

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, sysctl_set("seqpacket_retries", RETRIES));
	ASSERT_EQ(0, sysctl_set("seqpacket_rto_max_ms", RTO_MAX));
	lo_conn(_metadata, &c);
	ASSERT_EQ(0, setopt_int(c.cli, SOL_SOCKET, SO_RCVBUF, 4096));
	zwp = demo_stat("ZeroWindowProbes");
	tmo = demo_stat("Timeouts");
	ASSERT_LE(0, zwp);
	/* the client never reads: its window closes after one message */
	ASSERT_EQ(MAXMSG, send(c.srv, buf, MAXMSG, 0));
	ASSERT_TRUE(wait_ev(c.cli, POLLIN, TMO) & POLLIN);
	for (n = 0; n < 16; n++)
		if (send(c.srv, buf, MAXMSG, MSG_DONTWAIT) != MAXMSG)
			break;
	ASSERT_LT(0, n);
	/* the server probes the closed window */
	ASSERT_LT(zwp, stat_wait("ZeroWindowProbes", zwp + 1, LONG_TMO));
	ASSERT_EQ(1, proc_find(c.lport, c.cport, "ESTABLISHED", NULL));
	close(c.srv);
	zwp = demo_stat("ZeroWindowProbes");
	t0 = now_ms();
	EXPECT_TRUE(wait_state(c.lport, c.cport, "FIN_WAIT1", NULL, TMO));
	EXPECT_TRUE(wait_gone(c.lport, c.cport, NULL,
			      (RETRIES + 1) * RTO_MAX + SLACK))
		TH_LOG("the orphan lives on: %ld probes in %.0f ms",
		       demo_stat("ZeroWindowProbes") - zwp, now_ms() - t0);
	dt = now_ms() - t0;
	EXPECT_GE(2 * (RETRIES + 2), demo_stat("ZeroWindowProbes") - zwp)
		TH_LOG("%ld probes in %.0f ms",
		       demo_stat("ZeroWindowProbes") - zwp, dt);
	EXPECT_EQ(tmo + 1, demo_stat("Timeouts"));
	free(buf);
}

/*
 * An empty message and the end of the stream both make recvmsg() return
 * 0; MSG_EOR in msg_flags tells them apart (docs/SEQPACKET.md).
 */
TEST_F(seq, empty_message_vs_eof)
{
	struct conn c;
	char b[8];
	int mf;

	lo_conn(_metadata, &c);
	ASSERT_EQ(1, send(c.cli, "a", 1, 0));
	ASSERT_EQ(0, send(c.cli, "", 0, 0));
	ASSERT_EQ(0, send(c.cli, "", 0, 0));
	ASSERT_EQ(0, shutdown(c.cli, SHUT_WR));
	ASSERT_EQ(1, recv_msg(c.srv, b, sizeof(b), 0, &mf, TMO));
	EXPECT_EQ(MSG_EOR, mf & (MSG_EOR | MSG_TRUNC));
	ASSERT_EQ(0, recv_msg(c.srv, b, sizeof(b), MSG_PEEK, &mf, TMO));
	EXPECT_EQ(MSG_EOR, mf & (MSG_EOR | MSG_TRUNC));
	ASSERT_EQ(0, recv_msg(c.srv, b, sizeof(b), 0, &mf, TMO));
	EXPECT_EQ(MSG_EOR, mf & (MSG_EOR | MSG_TRUNC));
	ASSERT_EQ(0, recv_msg(c.srv, b, sizeof(b), 0, &mf, TMO));
	EXPECT_EQ(MSG_EOR, mf & (MSG_EOR | MSG_TRUNC));
	/* the end: 0 without MSG_EOR, every time */
	ASSERT_EQ(0, recv_msg(c.srv, b, sizeof(b), 0, &mf, TMO));
	EXPECT_EQ(0, mf & (MSG_EOR | MSG_TRUNC));
	ASSERT_EQ(0, recv_msg(c.srv, b, sizeof(b), 0, &mf, TMO));
	EXPECT_EQ(0, mf & (MSG_EOR | MSG_TRUNC));
}

/*
 * RFC 5961 3.2: a reset is believed only at exactly rcv_nxt; elsewhere in
 * the window it is answered with a challenge ACK, and the connection
 * lives on.
 */
TEST_F(seq, rst_in_window_challenged)
{
	uint32_t nxt = 0, ack = 0;
	long chal, rsts;
	struct conn c;
	char b[8];
	int raw, ev;

	raw = lo_conn_raw(_metadata, &c, &nxt, &ack);
	ASSERT_LE(0, raw);
	chal = demo_stat("ChallengeAcks");
	rsts = demo_stat("InRsts");
	ASSERT_EQ(0, forge_seg(raw, c.cport, c.lport, DEMO_SEQ_RST, nxt + 1, 0));
	ASSERT_EQ(0, forge_seg(raw, c.cport, c.lport,
			       DEMO_SEQ_RST | DEMO_SEQ_ACK, nxt + 2, ack));
	EXPECT_EQ(0, so_error(c.srv));
	EXPECT_EQ(rsts, demo_stat("InRsts"));
	EXPECT_EQ(chal + 1, demo_stat("ChallengeAcks"))
		TH_LOG("one challenge ACK (per connection, per 500 ms)");
	EXPECT_EQ(1, proc_find(c.lport, c.cport, "ESTABLISHED", NULL));
	ASSERT_EQ(2, send(c.cli, "ok", 2, 0));
	ASSERT_EQ(2, recv_msg(c.srv, b, sizeof(b), 0, NULL, TMO));
	/* exactly at rcv_nxt (the message took one number): believed */
	ASSERT_EQ(0, forge_seg(raw, c.cport, c.lport, DEMO_SEQ_RST, nxt + 1, 0));
	ev = wait_all(c.srv, POLLIN, POLLERR, TMO);
	EXPECT_TRUE(ev & POLLERR) TH_LOG("revents %#x", ev);
	EXPECT_EQ(ECONNRESET, so_error(c.srv));
	EXPECT_EQ(rsts + 1, demo_stat("InRsts"));
	close(raw);
}

/*
 * RFC 5961 4: a SYN on a synchronized connection gets a challenge ACK,
 * at most one per connection per 500 ms and seqpacket_challenge_ack_limit
 * per namespace per second; the connection lives on.
 */
TEST_F(seq, syn_on_established_challenged)
{
	enum { NSYN = 10, NCONN = 4 };
	uint32_t nxt = 0, ack = 0;
	long chal, skip, out;
	struct conn c, more[NCONN];
	double t0, dt;
	char b[8];
	int raw, i;

	/* the namespace's budget (a fresh namespace): one a second */
	EXPECT_EQ(0, sysctl_set("seqpacket_challenge_ack_limit", 1));
	raw = lo_conn_raw(_metadata, &c, &nxt, &ack);
	ASSERT_LE(0, raw);
	chal = demo_stat("ChallengeAcks");
	skip = demo_stat("ChallengeAcksSkipped");
	out = demo_stat("OutSegs");
	t0 = now_ms();
	for (i = 0; i < NSYN; i++)
		ASSERT_EQ(0, forge_seg(raw, c.cport, c.lport, DEMO_SEQ_SYN,
				       nxt + 1000 * i, 0));
	dt = now_ms() - t0;
	EXPECT_LE(1, demo_stat("ChallengeAcks") - chal);
	EXPECT_GE(1 + (long)dt / 500, demo_stat("ChallengeAcks") - chal)
		TH_LOG("%ld challenge ACKs in %.0f ms",
		       demo_stat("ChallengeAcks") - chal, dt);
	EXPECT_GE(1 + (long)dt / 500, demo_stat("OutSegs") - out)
		TH_LOG("%ld segments sent for %d SYNs in %.0f ms",
		       demo_stat("OutSegs") - out, NSYN, dt);
	EXPECT_EQ(NSYN, demo_stat("ChallengeAcks") - chal +
			demo_stat("ChallengeAcksSkipped") - skip);
	EXPECT_EQ(0, so_error(c.srv));
	EXPECT_EQ(0, so_error(c.cli));
	ASSERT_EQ(2, send(c.cli, "ok", 2, 0));
	ASSERT_EQ(2, recv_msg(c.srv, b, sizeof(b), 0, NULL, TMO));
	ASSERT_EQ(2, send(c.srv, "ko", 2, 0));
	ASSERT_EQ(2, recv_msg(c.cli, b, sizeof(b), 0, NULL, TMO));

	/* other connections share the budget */
	for (i = 0; i < NCONN; i++) {
		more[i].lst = c.lst;
		more[i].lport = c.lport;
		more[i].cli = sp_sock(0);
		ASSERT_LE(0, more[i].cli);
		ASSERT_EQ(0, connect_to(more[i].cli, LO, c.lport));
		more[i].cport = port_of(more[i].cli);
		more[i].srv = accept4_tmo(c.lst, 0, TMO);
		ASSERT_LE(0, more[i].srv);
	}
	chal = demo_stat("ChallengeAcks");
	skip = demo_stat("ChallengeAcksSkipped");
	t0 = now_ms();
	for (i = 0; i < NCONN; i++)
		ASSERT_EQ(0, forge_seg(raw, more[i].cport, c.lport,
				       DEMO_SEQ_SYN, 12345, 0));
	dt = now_ms() - t0;
	EXPECT_GE(2 + (long)dt / 1000, demo_stat("ChallengeAcks") - chal)
		TH_LOG("%ld challenge ACKs in %.0f ms",
		       demo_stat("ChallengeAcks") - chal, dt);
	EXPECT_EQ(NCONN, demo_stat("ChallengeAcks") - chal +
			 demo_stat("ChallengeAcksSkipped") - skip);
	for (i = 0; i < NCONN; i++)
		EXPECT_EQ(0, so_error(more[i].srv));
	close(raw);
}

/*
 * RFC 5961 5: an acknowledgment older than snd_una less the largest window
 * the peer offered is not believed: the segment is dropped (its message
 * is not delivered) and answered with a challenge ACK.
 */
TEST_F(seq, old_ack_dropped)
{
	uint32_t nxt = 0, una = 0;
	struct conn c;
	long chal;
	char b[16];
	int raw;

	raw = lo_conn_raw(_metadata, &c, &nxt, &una);
	ASSERT_LE(0, raw);
	chal = demo_stat("ChallengeAcks");
	ASSERT_EQ(0, forge_msg(raw, c.cport, c.lport,
			       DEMO_SEQ_ACK | DEMO_SEQ_EOR, nxt, una - 100000,
			       "forged", 6));
	EXPECT_EQ(EAGAIN, recv_err(c.srv));
	EXPECT_EQ(chal + 1, demo_stat("ChallengeAcks"));
	/* the client's own next message is the next one */
	ASSERT_EQ(4, send(c.cli, "real", 4, 0));
	ASSERT_EQ(4, recv_msg(c.srv, b, sizeof(b), 0, NULL, TMO));
	EXPECT_EQ(0, memcmp(b, "real", 4));
	/* one acknowledging snd_una again is fine */
	ASSERT_EQ(0, forge_msg(raw, c.cport, c.lport,
			       DEMO_SEQ_ACK | DEMO_SEQ_EOR, nxt + 1, una,
			       "again", 5));
	ASSERT_EQ(5, recv_msg(c.srv, b, sizeof(b), 0, NULL, TMO));
	EXPECT_EQ(0, memcmp(b, "again", 5));
	/* the two ends disagree now (the client's next number is taken) */
	ASSERT_EQ(0, setsockopt(c.srv, SOL_SOCKET, SO_LINGER,
				&(struct linger){ 1, 0 },
				sizeof(struct linger)));
	close(c.srv);
	close(raw);
}

/*
 * A SYN for a pair in TIME_WAIT opens a new connection only if its
 * sequence number is after the old connection's: an old duplicate (or a
 * forgery) leaves the TIME_WAIT entry alone.
 */
TEST_F(seq, time_wait_old_syn)
{
	long reuse, opens;
	struct conn c;
	int64_t fin;
	char b[4];
	int raw;

	pin_cpu0(_metadata);
	raw = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, demo_ipproto());
	ASSERT_LE(0, raw);
	lo_conn(_metadata, &c);
	/* the server closes first: its end keeps the TIME_WAIT entry */
	close(c.srv);
	EXPECT_EQ(0, recv_msg(c.cli, b, sizeof(b), 0, NULL, TMO));
	close(c.cli);
	ASSERT_TRUE(wait_state(c.lport, c.cport, "TIME_WAIT", NULL, TMO));
	fin = seen_fin(raw, c.cport, c.lport);
	ASSERT_LE(0, fin) TH_LOG("the client's FIN was not seen");
	reuse = demo_stat("TimeWaitReuse");
	opens = demo_stat("PassiveOpens");

	/* rcv_nxt is fin + 1: not after it, an old SYN */
	ASSERT_EQ(0, forge_seg(raw, c.cport, c.lport, DEMO_SEQ_SYN, fin + 1, 0));
	ASSERT_EQ(0, forge_seg(raw, c.cport, c.lport, DEMO_SEQ_SYN, fin - 7, 0));
	ASSERT_EQ(0, forge_seg(raw, c.cport, c.lport, DEMO_SEQ_SYN,
			       fin - 0x10000, 0));
	EXPECT_EQ(1, proc_find(c.lport, c.cport, "TIME_WAIT", NULL));
	EXPECT_EQ(reuse, demo_stat("TimeWaitReuse"));

	/* after it: a new incarnation, TIME_WAIT ends */
	ASSERT_EQ(0, forge_seg(raw, c.cport, c.lport, DEMO_SEQ_SYN, fin + 2, 0));
	EXPECT_EQ(0, proc_find(c.lport, c.cport, "TIME_WAIT", NULL));
	EXPECT_EQ(reuse + 1, demo_stat("TimeWaitReuse"));
	EXPECT_EQ(opens, demo_stat("PassiveOpens"));
	close(raw);
}

/* --- poll / epoll ------------------------------------------------------- */

#define PMASK (POLLIN | POLLOUT | POLLERR | POLLHUP | POLLRDHUP)

TEST_F(seq, poll_events)
{
	int u = sp_sock(0), ev;
	struct conn c;

	ASSERT_LE(0, u);
	/* never connected: POLLHUP, nothing to read, no error */
	ev = wait_ev(u, PMASK, 0);
	EXPECT_EQ(POLLHUP, ev & (POLLIN | POLLHUP | POLLERR | POLLRDHUP))
		TH_LOG("revents %#x", ev);
	lo_conn(_metadata, &c);
	EXPECT_EQ(POLLOUT, wait_ev(c.cli, PMASK, 0) & PMASK);
	EXPECT_EQ(POLLOUT, wait_ev(c.srv, PMASK, 0) & PMASK);
	/* poll() wakes up on a message */
	ASSERT_EQ(1, send(c.cli, "a", 1, 0));
	ev = wait_ev(c.srv, POLLIN, TMO);
	EXPECT_EQ(POLLIN, ev & PMASK);
	EXPECT_EQ(POLLIN | POLLOUT, wait_ev(c.srv, PMASK, 0) & PMASK);
	ASSERT_EQ(1, recv(c.srv, &ev, 1, 0));
	EXPECT_EQ(POLLOUT, wait_ev(c.srv, PMASK, 0) & PMASK);
	/* peer shut down writing */
	ASSERT_EQ(0, shutdown(c.cli, SHUT_WR));
	ev = wait_all(c.srv, PMASK, POLLRDHUP, TMO);
	EXPECT_EQ(POLLIN | POLLOUT | POLLRDHUP, ev & PMASK);
	/* own SHUT_WR as well: POLLHUP */
	ASSERT_EQ(0, shutdown(c.srv, SHUT_WR));
	ev = wait_ev(c.srv, PMASK, 0);
	EXPECT_TRUE(ev & POLLHUP) TH_LOG("revents %#x", ev);
	EXPECT_FALSE(ev & POLLERR) TH_LOG("revents %#x", ev);
}

/*
 * "POLLOUT: connected and the send buffer has room": not on a socket that
 * never connected, nor after a reset (SEQPACKET.md, poll row).
 */
/*
 * As tcp_poll() and AF_UNIX: a socket that cannot send at all says
 * POLLOUT, with POLLHUP, so a writer wakes and send() tells it why.
 */
TEST_F(seq, poll_unconnected_and_reset)
{
	int u = sp_sock(0), ev;
	struct conn c;

	ASSERT_LE(0, u);
	ev = wait_ev(u, PMASK, 0);
	EXPECT_EQ(POLLOUT | POLLHUP, ev & (POLLIN | POLLOUT | POLLHUP | POLLERR))
		TH_LOG("never connected: revents %#x", ev);
	EXPECT_EQ(-1, send(u, "x", 1, MSG_NOSIGNAL));
	EXPECT_EQ(ENOTCONN, errno);
	close(u);

	lo_conn(_metadata, &c);
	ASSERT_EQ(0, setsockopt(c.srv, SOL_SOCKET, SO_LINGER,
				&(struct linger){ 1, 0 },
				sizeof(struct linger)));
	close(c.srv);
	ASSERT_TRUE(wait_all(c.cli, POLLIN, POLLERR, TMO) & POLLERR);
	EXPECT_EQ(ECONNRESET, so_error(c.cli));
	ev = wait_ev(c.cli, PMASK, 0);
	EXPECT_TRUE(ev & POLLHUP) TH_LOG("after a reset: revents %#x", ev);
	EXPECT_TRUE(ev & POLLOUT) TH_LOG("after a reset: revents %#x", ev);
	EXPECT_FALSE(ev & POLLERR) TH_LOG("error read already: %#x", ev);
	EXPECT_EQ(-1, send(c.cli, "x", 1, MSG_NOSIGNAL));
	EXPECT_EQ(EPIPE, errno);
}

TEST_F(seq, epoll_edges)
{
	struct epoll_event e = {
		.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
	};
	struct epoll_event got[2];
	struct conn c;
	char b[4];
	int ep;

	lo_conn(_metadata, &c);
	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	e.data.fd = c.srv;
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, c.srv, &e));
	/* writable at once, reported once (edge-triggered) */
	ASSERT_EQ(1, epoll_wait(ep, got, 2, TMO));
	EXPECT_EQ((unsigned int)EPOLLOUT, got[0].events);
	EXPECT_EQ(0, epoll_wait(ep, got, 2, 0));
	/* a message: EPOLLIN, then nothing until the next one */
	ASSERT_EQ(1, send(c.cli, "1", 1, 0));
	ASSERT_EQ(1, epoll_wait(ep, got, 2, TMO));
	EXPECT_TRUE(got[0].events & EPOLLIN);
	EXPECT_FALSE(got[0].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR));
	ASSERT_EQ(1, send(c.cli, "2", 1, 0));
	ASSERT_EQ(1, epoll_wait(ep, got, 2, TMO));
	EXPECT_TRUE(got[0].events & EPOLLIN);
	ASSERT_EQ(1, recv(c.srv, b, sizeof(b), 0));
	ASSERT_EQ(1, recv(c.srv, b, sizeof(b), 0));
	/* the peer's FIN: EPOLLIN | EPOLLRDHUP */
	ASSERT_EQ(0, shutdown(c.cli, SHUT_WR));
	ASSERT_EQ(1, epoll_wait(ep, got, 2, TMO));
	EXPECT_EQ((unsigned int)(EPOLLIN | EPOLLRDHUP),
		  got[0].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR));
	/* level-triggered: reported while it lasts */
	e.events = EPOLLIN | EPOLLRDHUP;
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_MOD, c.srv, &e));
	ASSERT_EQ(1, epoll_wait(ep, got, 2, 0));
	ASSERT_EQ(1, epoll_wait(ep, got, 2, 0));
	EXPECT_TRUE(got[0].events & EPOLLRDHUP);
	EXPECT_EQ(0, recv(c.srv, b, sizeof(b), 0));

	/* a reset: EPOLLERR | EPOLLHUP on the client */
	e.events = EPOLLIN | EPOLLET;
	e.data.fd = c.cli;
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_DEL, c.srv, NULL));
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, c.cli, &e));
	EXPECT_EQ(0, epoll_wait(ep, got, 2, 0));
	ASSERT_EQ(0, setsockopt(c.srv, SOL_SOCKET, SO_LINGER,
				&(struct linger){ 1, 0 },
				sizeof(struct linger)));
	close(c.srv);
	ASSERT_EQ(1, epoll_wait(ep, got, 2, TMO));
	EXPECT_EQ((unsigned int)(EPOLLERR | EPOLLHUP),
		  got[0].events & (EPOLLERR | EPOLLHUP));
}

/* --- sysctls ------------------------------------------------------------ */

static const struct {
	const char *name;
	long def, max;
} knobs[] = {
	{ "seqpacket_rto_min_ms", 200, 60000 },
	{ "seqpacket_rto_max_ms", 10000, 120000 },
	{ "seqpacket_retries", 8, 100 },
	{ "seqpacket_syn_retries", 5, 100 },
	{ "seqpacket_time_wait_ms", 10000, 600000 },
	{ "seqpacket_fin_timeout_ms", 30000, 600000 },
	{ "seqpacket_challenge_ack_limit", 1000, 1000000 },
	{ "seqpacket_keepalive_time_ms", 7200000, 32767000 },
	{ "seqpacket_keepalive_intvl_ms", 75000, 32767000 },
	{ "seqpacket_keepalive_probes", 9, 127 },
	{ "seqpacket_rmem_max", 8 << 20, 256 << 20 },
	{ "seqpacket_wmem_max", 8 << 20, 256 << 20 },
};

TEST_F(seq, sysctls)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(knobs); i++) {
		const char *n = knobs[i].name;

		EXPECT_EQ(knobs[i].def, sysctl_get(n)) TH_LOG("%s", n);
		EXPECT_ERRNO(EINVAL, sysctl_set(n, 0));
		EXPECT_ERRNO(EINVAL, sysctl_set(n, -1));
		EXPECT_ERRNO(EINVAL, sysctl_set(n, knobs[i].max + 1));
		EXPECT_EQ(knobs[i].def, sysctl_get(n)) TH_LOG("%s", n);
		EXPECT_EQ(0, sysctl_set(n, knobs[i].max)) TH_LOG("%s: %s", n,
							       strerror(errno));
		EXPECT_EQ(knobs[i].max, sysctl_get(n)) TH_LOG("%s", n);
		EXPECT_EQ(0, sysctl_set(n, 1)) TH_LOG("%s: %s", n,
						      strerror(errno));
		EXPECT_EQ(1, sysctl_get(n)) TH_LOG("%s", n);
	}
	/* per network namespace: a new one starts from the defaults */
	ASSERT_EQ(0, netns_fresh());
	for (i = 0; i < ARRAY_SIZE(knobs); i++) {
		const char *n = knobs[i].name;

		EXPECT_EQ(knobs[i].def, sysctl_get(n))
			TH_LOG("%s in a new netns", n);
	}
}

/* --- two namespaces over veth ------------------------------------------- */

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
	/* no ARP: nothing waits in neighbour queues */
	"ip -n " NS_A " neigh replace " ADDR_B
		" lladdr 02:de:00:00:00:0b dev veth_a nud permanent",
	"ip -n " NS_B " neigh replace " ADDR_A
		" lladdr 02:de:00:00:00:0a dev veth_b nud permanent",
	/* a host that never answers: frames the peer drops (not for it) */
	"ip -n " NS_A " neigh replace " ADDR_GONE
		" lladdr " MAC_GONE " dev veth_a nud permanent",
};

/* Until linkwatch activates the qdisc, a new veth drops what it is sent. */
static int veth_wait_ready(void)
{
	double end = now_ms() + 5000;

	do {
		if (!sh("ip -n " NS_A " link show veth_a | "
			"grep -q 'qdisc noqueue state UP' && "
			"ip -n " NS_B " link show veth_b | "
			"grep -q 'qdisc noqueue state UP'"))
			return 0;
		poll(NULL, 0, 10);
	} while (now_ms() < end);
	return -1;
}

FIXTURE_SETUP(veth)
{
	unsigned int i;

	ASSERT_MODULE();
	block_sigpipe();
	self->init_ns = ns_save();
	ASSERT_LE(0, self->init_ns);
	sh("ip netns del " NS_A " 2>/dev/null; ip netns del " NS_B
	   " 2>/dev/null");
	for (i = 0; i < ARRAY_SIZE(veth_up); i++) {
		const char *cmd = veth_up[i];

		ASSERT_EQ(0, sh("%s", cmd)) TH_LOG("failed: %s", cmd);
	}
	ASSERT_EQ(0, veth_wait_ready()) TH_LOG("veth pair never came up");
}

FIXTURE_TEARDOWN(veth)
{
	static const char *const ns[] = { NS_A, NS_B };
	unsigned int i;

	/* links as set up, then let every connection end */
	close_demo_socks();
	sh("ip -n " NS_A " neigh replace " ADDR_B
	   " lladdr 02:de:00:00:00:0b dev veth_a nud permanent; "
	   "tc -n " NS_A " qdisc del dev veth_a root 2>/dev/null; "
	   "tc -n " NS_B " qdisc del dev veth_b root 2>/dev/null");
	for (i = 0; i < ARRAY_SIZE(ns); i++) {
		if (demo_netns_enter(ns[i]))
			continue;
		if (wait_conns_ended(10000))
			TH_LOG("teardown: %d connections still open in %s",
			       proc_live(), ns[i]);
	}
	setns(self->init_ns, CLONE_NEWNET);
	sh("ip netns del " NS_A "; ip netns del " NS_B);
}

TEST_F_TIMEOUT(veth, connect_accept_cross_ns, 60)
{
	long act_a, pas_b, act_b, pas_a;
	struct sockaddr_demo src;
	struct demo_ent e;
	struct conn c;
	char b[8];

	act_a = ns_stat(NS_A, "ActiveOpens");
	pas_a = ns_stat(NS_A, "PassiveOpens");
	act_b = ns_stat(NS_B, "ActiveOpens");
	pas_b = ns_stat(NS_B, "PassiveOpens");
	ASSERT_LE(0, act_a);
	veth_conn(_metadata, &c, 0);
	/* the route picked veth_a's address */
	EXPECT_TRUE(name_is(c.cli, false, ADDR_A, c.cport));
	EXPECT_TRUE(name_is(c.cli, true, ADDR_B, c.lport));
	EXPECT_TRUE(name_is(c.srv, false, ADDR_B, c.lport));
	EXPECT_TRUE(name_is(c.srv, true, ADDR_A, c.cport));

	ASSERT_EQ(4, send(c.cli, "ping", 4, 0));
	ASSERT_EQ(4, recv_msg_src(c.srv, b, sizeof(b), 0, NULL, &src, TMO));
	EXPECT_EQ(0, memcmp(b, "ping", 4));
	EXPECT_TRUE(addr_is(&src, ADDR_A, c.cport));
	ASSERT_EQ(4, send(c.srv, "pong", 4, 0));
	ASSERT_EQ(4, recv_msg(c.cli, b, sizeof(b), 0, NULL, TMO));
	EXPECT_EQ(0, memcmp(b, "pong", 4));

	EXPECT_EQ(act_a + 1, ns_stat(NS_A, "ActiveOpens"));
	EXPECT_EQ(pas_a, ns_stat(NS_A, "PassiveOpens"));
	EXPECT_EQ(act_b, ns_stat(NS_B, "ActiveOpens"));
	EXPECT_EQ(pas_b + 1, ns_stat(NS_B, "PassiveOpens"));
	/* each namespace lists only its own end */
	ENTER(NS_A);
	ASSERT_EQ(1, proc_find(c.cport, c.lport, "ESTABLISHED", &e));
	EXPECT_EQ(inet_addr(ADDR_A), e.laddr);
	EXPECT_EQ(inet_addr(ADDR_B), e.raddr);
	EXPECT_EQ(0, proc_find(c.lport, 0, "LISTEN", NULL));
	ENTER(NS_B);
	ASSERT_EQ(1, proc_find(c.lport, c.cport, "ESTABLISHED", &e));
	EXPECT_EQ(inet_addr(ADDR_B), e.laddr);
	EXPECT_EQ(inet_addr(ADDR_A), e.raddr);
	EXPECT_EQ(1, proc_find(c.lport, 0, "LISTEN", NULL));
}

TEST_F_TIMEOUT(veth, connect_refused_cross_ns, 60)
{
	long fails_a, ovf_b;
	unsigned short p;
	int s, c, nb, ev;

	ENTER(NS_B);
	s = sp_sock(0);
	ASSERT_EQ(0, bind_to(s, ADDR_B, 0));
	p = port_of(s);
	ovf_b = demo_stat("ListenOverflows");
	ENTER(NS_A);
	fails_a = demo_stat("AttemptFails");
	c = sp_sock(0);
	EXPECT_ERRNO(ECONNREFUSED, connect_to(c, ADDR_B, p));
	/* non-blocking */
	nb = sp_sock(SOCK_NONBLOCK);
	ASSERT_ERRNO(EINPROGRESS, connect_to(nb, ADDR_B, p));
	ev = wait_all(nb, POLLOUT, POLLERR, TMO);
	EXPECT_EQ(POLLOUT | POLLERR | POLLHUP,
		  ev & (POLLOUT | POLLERR | POLLHUP)) TH_LOG("revents %#x", ev);
	EXPECT_EQ(ECONNREFUSED, so_error(nb));
	EXPECT_EQ(fails_a + 2, demo_stat("AttemptFails"));
	/* a missing listener is no backlog overflow */
	EXPECT_EQ(ovf_b, ns_stat(NS_B, "ListenOverflows"));
}

TEST_F_TIMEOUT(veth, connect_nonblocking_cross_ns, 60)
{
	int l, c, s, ev, ret;
	unsigned short p;
	char b[4];

	ENTER(NS_B);
	l = listener(ADDR_B, 0, 4);
	ASSERT_LE(0, l);
	p = port_of(l);
	ENTER(NS_A);
	c = sp_sock(SOCK_NONBLOCK);
	ASSERT_ERRNO(EINPROGRESS, connect_to(c, ADDR_B, p));
	ev = wait_ev(c, POLLOUT, TMO);
	EXPECT_EQ(POLLOUT, ev & (POLLOUT | POLLERR | POLLHUP))
		TH_LOG("revents %#x", ev);
	EXPECT_EQ(0, so_error(c));
	errno = 0;
	ret = connect_to(c, ADDR_B, p);
	EXPECT_TRUE(ret == 0 || errno == EISCONN) TH_LOG("%s", strerror(errno));
	EXPECT_ERRNO(EISCONN, connect_to(c, ADDR_B, p));
	s = accept4_tmo(l, 0, TMO);
	ASSERT_LE(0, s);
	EXPECT_TRUE(name_is(s, true, ADDR_A, port_of(c)));
	ASSERT_EQ(2, send(c, "nb", 2, 0));
	EXPECT_EQ(2, recv_msg(s, b, sizeof(b), 0, NULL, TMO));
}

TEST_F_TIMEOUT(veth, connect_ealready_and_syn_timeout, 90)
{
	long fails, rtx;
	double t0, dt;
	int c, ev;

	ENTER(NS_A);
	ASSERT_EQ(0, sysctl_set("seqpacket_syn_retries", 2));
	ASSERT_EQ(0, sysctl_set("seqpacket_rto_min_ms", 50));
	ASSERT_EQ(0, sysctl_set("seqpacket_rto_max_ms", 100));
	fails = demo_stat("AttemptFails");
	rtx = demo_stat("RetransSegs");

	/* non-blocking: in progress, EALREADY, SYN_SENT, then ETIMEDOUT */
	c = sp_sock(SOCK_NONBLOCK);
	ASSERT_ERRNO(EINPROGRESS, connect_to(c, ADDR_GONE, 7));
	EXPECT_ERRNO(EALREADY, connect_to(c, ADDR_GONE, 7));
	EXPECT_EQ(1, proc_find(port_of(c), 7, "SYN_SENT", NULL));
	EXPECT_EQ(0, wait_ev(c, POLLIN | POLLOUT, 0));
	ev = wait_all(c, POLLOUT, POLLERR, 10000);
	EXPECT_EQ(POLLOUT | POLLERR | POLLHUP,
		  ev & (POLLOUT | POLLERR | POLLHUP)) TH_LOG("revents %#x", ev);
	EXPECT_EQ(ETIMEDOUT, so_error(c));
	EXPECT_EQ(fails + 1, demo_stat("AttemptFails"));
	EXPECT_LE(rtx + 2, demo_stat("RetransSegs"));

	/* blocking: within (2 + 1) timeouts of 100 ms */
	c = sp_sock(0);
	t0 = now_ms();
	EXPECT_ERRNO(ETIMEDOUT, connect_to(c, ADDR_GONE, 7));
	dt = now_ms() - t0;
	EXPECT_LE(150, (int)dt) TH_LOG("connect gave up after %.0f ms", dt);
	EXPECT_GE(2000, (int)dt) TH_LOG("connect gave up after %.0f ms", dt);
	EXPECT_EQ(fails + 2, demo_stat("AttemptFails"));
	EXPECT_EQ(0, proc_find(port_of(c), 7, "SYN_SENT", NULL));
}

/*
 * The first SYN from port @sport that @cap (an AF_INET raw socket of the
 * DEMO protocol) sees arrive: its IPv4 header and DEMO headers in @quote
 * (IPv4 header 20 bytes long). 0, or -1 if none shows up within TMO.
 */
static int capture_syn(int cap, unsigned short sport, uint8_t *quote)
{
	uint8_t buf[2048];
	double end = now_ms() + TMO;
	const struct demohdr *dh;
	const struct iphdr *iph;
	ssize_t n;

	while (now_ms() < end) {
		if (wait_ev(cap, POLLIN, TMO) <= 0)
			return -1;
		n = recv(cap, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 20 + SEQ_HLEN)
			continue;
		iph = (const struct iphdr *)buf;
		dh = (const struct demohdr *)(buf + 20);
		if (iph->version != 4 || iph->ihl != 5 ||
		    iph->protocol != demo_ipproto() ||
		    ntohs(dh->source) != sport ||
		    !(ntohs(dh->flags) & DEMO_SEQ_SYN))
			continue;
		memcpy(quote, buf, 20 + SEQ_HLEN);
		return 0;
	}
	return -1;
}

/*
 * Send ICMP port unreachable to @dst quoting @qlen bytes of @quote, the
 * quoted sequence number replaced by @seq; wait until IP has taken it in.
 * The caller runs on one CPU, so loopback delivery (softirq on that CPU)
 * is over once the counter shows it.
 */
static int send_unreach(int icmp, const char *dst, const uint8_t *quote,
			size_t qlen, uint32_t seq)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	uint8_t buf[8 + 20 + 64] = { 0 };
	struct demo_seqhdr *sh;
	struct icmphdr *ih = (struct icmphdr *)buf;
	long before = snmp_get("Icmp", "InDestUnreachs");
	double end = now_ms() + TMO;

	ih->type = ICMP_DEST_UNREACH;
	ih->code = ICMP_PORT_UNREACH;
	memcpy(buf + 8, quote, qlen);
	if (qlen >= 20 + SEQ_HLEN) {
		sh = (struct demo_seqhdr *)(buf + 8 + 20 + sizeof(struct demohdr));
		sh->seq = htonl(seq);
	}
	ih->checksum = inet_csum(buf, 8 + qlen);
	sin.sin_addr.s_addr = inet_addr(dst);
	if (sendto(icmp, buf, 8 + qlen, 0, (struct sockaddr *)&sin,
		   sizeof(sin)) != (ssize_t)(8 + qlen))
		return -1;
	while (snmp_get("Icmp", "InDestUnreachs") == before) {
		if (now_ms() > end)
			return -1;
		poll(NULL, 0, 1);
	}
	return 0;
}

/*
 * An ICMP error refuses a connection attempt only if it quotes the SYN:
 * a quote too short to carry the sequence header, or one naming another
 * sequence number (a blind forgery), leaves the attempt alone.
 */
TEST_F_TIMEOUT(veth, icmp_unreachable_needs_syn_seq, 60)
{
	uint8_t quote[20 + SEQ_HLEN];
	const struct demo_seqhdr *shdr;
	cpu_set_t cpu;
	int cap, icmp, c, ev;
	unsigned short port;
	long fails;
	uint32_t seq;

	CPU_ZERO(&cpu);
	CPU_SET(0, &cpu);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(cpu), &cpu));
	/*
	 * B sees the SYNs (an AF_INET raw socket of the DEMO protocol gets a
	 * copy of each) but its answers are lost: the attempt stays pending.
	 */
	ENTER(NS_B);
	cap = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, demo_ipproto());
	ASSERT_LE(0, cap);
	ASSERT_EQ(0, sh("tc -n " NS_B " qdisc add dev veth_b root netem loss 100%%"));
	ENTER(NS_A);
	fails = demo_stat("AttemptFails");
	icmp = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
	ASSERT_LE(0, icmp);

	c = sp_sock(SOCK_NONBLOCK);
	ASSERT_ERRNO(EINPROGRESS, connect_to(c, ADDR_B, 7));
	port = port_of(c);
	ASSERT_EQ(0, capture_syn(cap, port, quote));
	shdr = (const struct demo_seqhdr *)(quote + 20 + sizeof(struct demohdr));
	seq = ntohl(shdr->seq);

	/* the 8 bytes IP guarantees only: no sequence number, ignored */
	ASSERT_EQ(0, send_unreach(icmp, ADDR_A, quote, 20 + 8, seq));
	/* the whole headers, another sequence number: forged, ignored */
	ASSERT_EQ(0, send_unreach(icmp, ADDR_A, quote, sizeof(quote), seq + 1));
	ASSERT_EQ(0, send_unreach(icmp, ADDR_A, quote, sizeof(quote), seq - 1));
	EXPECT_EQ(0, wait_ev(c, POLLOUT | POLLIN, 0));
	EXPECT_EQ(0, so_error(c));
	EXPECT_EQ(1, proc_find(port, 7, "SYN_SENT", NULL));
	EXPECT_EQ(fails, demo_stat("AttemptFails"));

	/* the SYN itself quoted: refused */
	ASSERT_EQ(0, send_unreach(icmp, ADDR_A, quote, sizeof(quote), seq));
	ev = wait_all(c, POLLOUT, POLLERR, TMO);
	EXPECT_EQ(POLLOUT | POLLERR | POLLHUP,
		  ev & (POLLOUT | POLLERR | POLLHUP)) TH_LOG("revents %#x", ev);
	EXPECT_EQ(ECONNREFUSED, so_error(c));
	EXPECT_EQ(fails + 1, demo_stat("AttemptFails"));
	EXPECT_EQ(0, proc_find(port, 7, "SYN_SENT", NULL));
	close(icmp);
	close(cap);
}

TEST_F_TIMEOUT(veth, message_sizes_cross_ns, 240)
{
	static const int sizes[] = {
		0, 1, VETH_MSS - 1, VETH_MSS, VETH_MSS + 1, 1499, 1500, 1501,
		2 * VETH_MSS, 2 * VETH_MSS + 1, 65535, 65536, MAXMSG - 1,
		MAXMSG,
	};
	long frag_a, frag_b;
	struct conn c;

	veth_conn(_metadata, &c, 0);
	/* segments fit the MTU: IP never fragments them */
	frag_a = snmp_ip("FragCreates");
	ENTER(NS_B);
	frag_b = snmp_ip("FragCreates");
	ENTER(NS_A);
	ASSERT_LE(0, frag_a);
	ASSERT_LE(0, frag_b);
	exchange_sizes(_metadata, c.cli, c.srv, sizes, ARRAY_SIZE(sizes));
	EXPECT_EQ(frag_a, snmp_ip("FragCreates")) TH_LOG(NS_A " fragmented");
	ENTER(NS_B);
	EXPECT_EQ(frag_b, snmp_ip("FragCreates")) TH_LOG(NS_B " fragmented");
}

struct bulk {
	int fd, n;
	int sent, err;
};

static int bulk_len(int i)
{
	uint32_t x = (i + 1) * 2654435761u;

	if (i % 50 == 7)
		return 30000 + x % 40000;
	return x % 9000;
}

static void *bulk_sender(void *arg)
{
	struct bulk *b = arg;
	char *buf = malloc(MAXMSG);
	int i, len;

	for (i = 0; i < b->n; i++) {
		len = bulk_len(i);
		fill(buf, len, i);
		if (send(b->fd, buf, len, 0) != len) {
			b->err = errno;
			break;
		}
		b->sent++;
	}
	free(buf);
	return NULL;
}

TEST_F_TIMEOUT(veth, bulk_transfer, 240)
{
	struct bulk bk = { .n = 600 };
	char *buf = malloc(MAXMSG);
	struct conn c;
	pthread_t t;
	int i, mf;
	ssize_t n;

	veth_conn(_metadata, &c, 0);
	bk.fd = c.cli;
	ASSERT_EQ(0, set_timeo(c.cli, SO_SNDTIMEO, LONG_TMO));
	ASSERT_EQ(0, pthread_create(&t, NULL, bulk_sender, &bk));
	for (i = 0; i < bk.n; i++) {
		n = recv_msg(c.srv, buf, MAXMSG, 0, &mf, LONG_TMO);
		if (n != bulk_len(i))
			break;
		if (mismatch(buf, n, i) >= 0 || !(mf & MSG_EOR) ||
		    (mf & MSG_TRUNC))
			break;
	}
	EXPECT_EQ(0, join_tmo(t, LONG_TMO));
	EXPECT_EQ(bk.n, i) TH_LOG("message %d: got %zd (%s), wanted %d", i, n,
				  n < 0 ? strerror(errno) : "length/content",
				  i < bk.n ? bulk_len(i) : 0);
	EXPECT_EQ(bk.n, bk.sent) TH_LOG("send: %s", strerror(bk.err));
	EXPECT_EQ(EAGAIN, recv_err(c.srv));
	EXPECT_EQ(0, wait_ioctl(c.cli, SIOCOUTQ, 0, LONG_TMO));
	free(buf);
}

TEST_F_TIMEOUT(veth, flow_control_sndtimeo, 180)
{
	enum { LEN = 1000, MAX = 20000 };
	long zwp;
	char buf[LEN + 1];
	double t0, dt = 0;
	int n, i, ev, mode;
	struct conn c;
	ssize_t ret;

	veth_conn(_metadata, &c, 4096);	/* small receive buffer in B */
	ASSERT_EQ(0, setopt_int(c.cli, SOL_SOCKET, SO_SNDBUF, 4096));
	ASSERT_EQ(0, set_timeo(c.cli, SO_SNDTIMEO, 300));
	zwp = demo_stat("ZeroWindowProbes");
	ASSERT_LE(0, zwp);

	/*
	 * The peer never reads: queue messages until the send buffer is full
	 * and stays so (no POLLOUT for 2 s: the window closed).
	 */
	for (n = 0; n < MAX; n++) {
		fill(buf, LEN, n);
		ret = send(c.cli, buf, LEN, MSG_DONTWAIT);
		if (ret < 0) {
			ASSERT_EQ(EAGAIN, errno) TH_LOG("send %d: %s", n,
							strerror(errno));
			if (!(wait_ev(c.cli, POLLOUT, 2000) & POLLOUT))
				break;
			ret = send(c.cli, buf, LEN, MSG_DONTWAIT);
		}
		ASSERT_EQ(LEN, ret) TH_LOG("send %d: %s", n, strerror(errno));
	}
	ASSERT_GT(MAX, n) TH_LOG("the send buffer never filled up");
	/* no room (EAGAIN just now): not writable */
	ev = wait_ev(c.cli, POLLOUT, 0);
	EXPECT_FALSE(ev & POLLOUT) TH_LOG("revents %#x after EAGAIN", ev);

	/*
	 * A probe the receiver still takes frees a message's worth now and
	 * then: a send that succeeds just adds to what must arrive. Each
	 * mode below must end in EAGAIN within a few attempts.
	 */
	for (mode = 0; mode < 3; mode++) {
		ASSERT_EQ(0, fcntl(c.cli, F_SETFL, mode == 2 ? O_NONBLOCK : 0));
		for (i = 0; i < 20; i++) {
			fill(buf, LEN, n);
			t0 = now_ms();
			ret = send(c.cli, buf, LEN, mode == 1 ? MSG_DONTWAIT : 0);
			dt = now_ms() - t0;
			if (ret < 0)
				break;
			ASSERT_EQ(LEN, ret);
			n++;
		}
		ASSERT_EQ(-1, ret) TH_LOG("mode %d: never EAGAIN", mode);
		ASSERT_EQ(EAGAIN, errno) TH_LOG("mode %d: %s", mode,
						strerror(errno));
		if (mode == 0) {
			/* a blocking send times out after SO_SNDTIMEO */
			EXPECT_LE(250, (int)dt)
				TH_LOG("SO_SNDTIMEO 300 ms, waited %.0f", dt);
			EXPECT_GE(300 + TMO, (int)dt);
		} else {
			EXPECT_GT(200, (int)dt) TH_LOG("mode %d waited", mode);
		}
	}
	ASSERT_EQ(0, fcntl(c.cli, F_SETFL, 0));
	EXPECT_LT(0, ioctl_int(c.cli, SIOCOUTQ));
	/* the window is closed: the sender probes it */
	EXPECT_LT(zwp, stat_wait("ZeroWindowProbes", zwp + 1, LONG_TMO))
		TH_LOG("no zero-window probe");
	EXPECT_EQ(0, so_error(c.cli));

	/* the peer reads everything: all of it arrives, intact, in order */
	for (i = 0; i < n; i++) {
		int mf;

		ret = recv_msg(c.srv, buf, sizeof(buf), 0, &mf, LONG_TMO);
		ASSERT_EQ(LEN, ret) TH_LOG("message %d of %d: %s", i, n,
					   strerror(errno));
		EXPECT_EQ(MSG_EOR, mf & (MSG_EOR | MSG_TRUNC));
		ASSERT_EQ(-1, mismatch(buf, LEN, i)) TH_LOG("message %d", i);
	}
	ev = wait_ev(c.cli, POLLOUT, LONG_TMO);
	EXPECT_TRUE(ev & POLLOUT) TH_LOG("POLLOUT never came back");
	EXPECT_EQ(0, wait_ioctl(c.cli, SIOCOUTQ, 0, LONG_TMO));
	/* the refused sends queued nothing: the next message is next */
	ASSERT_EQ(3, send(c.cli, "end", 3, 0));
	ASSERT_EQ(3, recv_msg(c.srv, buf, sizeof(buf), 0, NULL, LONG_TMO));
	EXPECT_EQ(0, memcmp(buf, "end", 3));
	EXPECT_EQ(0, so_error(c.cli));
}

TEST_F_TIMEOUT(veth, reset_linger_zero, 60)
{
	long in_a, er_a, out_b, er_b, out_a, in_b;
	struct conn c;
	char b[4];
	int ev;

	veth_conn(_metadata, &c, 0);
	in_a = ns_stat(NS_A, "InRsts");
	out_a = ns_stat(NS_A, "OutRsts");
	er_a = ns_stat(NS_A, "EstabResets");
	in_b = ns_stat(NS_B, "InRsts");
	out_b = ns_stat(NS_B, "OutRsts");
	er_b = ns_stat(NS_B, "EstabResets");
	ASSERT_LE(0, in_a);
	ASSERT_LE(0, er_b);

	ASSERT_EQ(0, setsockopt(c.srv, SOL_SOCKET, SO_LINGER,
				&(struct linger){ 1, 0 },
				sizeof(struct linger)));
	close(c.srv);
	ev = wait_all(c.cli, POLLIN, POLLERR | POLLHUP, TMO);
	EXPECT_EQ(POLLERR | POLLHUP, ev & (POLLERR | POLLHUP))
		TH_LOG("revents %#x", ev);
	EXPECT_ERRNO(ECONNRESET, recv(c.cli, b, sizeof(b), 0));
	EXPECT_EQ(0, recv(c.cli, b, sizeof(b), 0));
	EXPECT_EQ(0, recv(c.cli, b, sizeof(b), 0));
	EXPECT_EQ(EPIPE, send_err(c.cli, MSG_NOSIGNAL));
	EXPECT_FALSE(sigpipe_taken());
	/* still hung up, the error gone */
	ev = wait_ev(c.cli, POLLIN | POLLOUT, 0);
	EXPECT_TRUE(ev & POLLHUP) TH_LOG("revents %#x", ev);
	EXPECT_FALSE(ev & POLLERR) TH_LOG("revents %#x", ev);

	EXPECT_EQ(in_a + 1, ns_stat(NS_A, "InRsts"));
	EXPECT_EQ(out_a, ns_stat(NS_A, "OutRsts"));
	EXPECT_EQ(er_a + 1, ns_stat(NS_A, "EstabResets"));
	EXPECT_EQ(in_b, ns_stat(NS_B, "InRsts"));
	EXPECT_EQ(out_b + 1, ns_stat(NS_B, "OutRsts"));
	EXPECT_EQ(er_b + 1, ns_stat(NS_B, "EstabResets"));
	/* an aborted connection leaves no TIME_WAIT behind */
	ENTER(NS_B);
	EXPECT_EQ(0, proc_find(c.lport, c.cport, NULL, NULL));
	ENTER(NS_A);
	EXPECT_EQ(0, proc_find(c.cport, c.lport, "ESTABLISHED", NULL));
	EXPECT_EQ(0, proc_find(c.cport, c.lport, "TIME_WAIT", NULL));
}

TEST_F_TIMEOUT(veth, reset_close_with_unread, 60)
{
	long out_b, in_a, er_a;
	struct conn c;
	char b[8];
	int ev;

	veth_conn(_metadata, &c, 0);
	out_b = ns_stat(NS_B, "OutRsts");
	in_a = ns_stat(NS_A, "InRsts");
	er_a = ns_stat(NS_A, "EstabResets");
	ASSERT_EQ(6, send(c.cli, "unread", 6, 0));
	ASSERT_TRUE(wait_ev(c.srv, POLLIN, TMO) & POLLIN);
	close(c.srv);
	ev = wait_all(c.cli, POLLIN | POLLOUT, POLLERR | POLLHUP, TMO);
	EXPECT_EQ(POLLERR | POLLHUP, ev & (POLLERR | POLLHUP))
		TH_LOG("revents %#x", ev);
	/* the pending error, reported once */
	EXPECT_EQ(ECONNRESET, so_error(c.cli));
	EXPECT_EQ(0, so_error(c.cli));
	ev = wait_ev(c.cli, POLLIN | POLLOUT, 0);
	EXPECT_TRUE(ev & POLLHUP) TH_LOG("revents %#x", ev);
	EXPECT_FALSE(ev & POLLERR) TH_LOG("revents %#x", ev);
	EXPECT_EQ(0, recv(c.cli, b, sizeof(b), 0));
	EXPECT_EQ(EPIPE, send_err(c.cli, MSG_NOSIGNAL));
	EXPECT_EQ(out_b + 1, ns_stat(NS_B, "OutRsts"));
	EXPECT_EQ(in_a + 1, ns_stat(NS_A, "InRsts"));
	EXPECT_EQ(er_a + 1, ns_stat(NS_A, "EstabResets"));
}

TEST_F_TIMEOUT(veth, reset_then_send_econnreset_once, 60)
{
	struct conn c;
	int ev;

	veth_conn(_metadata, &c, 0);
	ASSERT_EQ(0, setsockopt(c.srv, SOL_SOCKET, SO_LINGER,
				&(struct linger){ 1, 0 },
				sizeof(struct linger)));
	close(c.srv);
	ev = wait_all(c.cli, POLLOUT, POLLERR, TMO);
	ASSERT_TRUE(ev & POLLERR) TH_LOG("revents %#x", ev);
	EXPECT_EQ(ECONNRESET, send_err(c.cli, 0));
	EXPECT_FALSE(sigpipe_taken()) TH_LOG("SIGPIPE with ECONNRESET");
	EXPECT_EQ(EPIPE, send_err(c.cli, 0));
	EXPECT_TRUE(sigpipe_taken()) TH_LOG("no SIGPIPE with EPIPE");
	EXPECT_EQ(-1, recv_err(c.cli));
}

TEST_F_TIMEOUT(veth, peer_vanishes_etimedout, 90)
{
	long tmo_a, rtx_a;
	struct conn c;
	double t0;
	int ev;

	ENTER(NS_A);
	ASSERT_EQ(0, sysctl_set("seqpacket_retries", 2));
	ASSERT_EQ(0, sysctl_set("seqpacket_rto_min_ms", 50));
	ASSERT_EQ(0, sysctl_set("seqpacket_rto_max_ms", 100));
	veth_conn(_metadata, &c, 0);
	tmo_a = demo_stat("Timeouts");
	rtx_a = demo_stat("RetransSegs");
	ASSERT_LE(0, tmo_a);
	/* B disappears from the link */
	ASSERT_EQ(0, sh("ip -n " NS_A " neigh replace " ADDR_B " lladdr "
			MAC_GONE " dev veth_a nud permanent"));
	ASSERT_EQ(4, send(c.cli, "lost", 4, 0));
	t0 = now_ms();
	ev = wait_all(c.cli, POLLIN | POLLOUT, POLLERR, 10000);
	EXPECT_EQ(POLLERR | POLLHUP, ev & (POLLERR | POLLHUP))
		TH_LOG("revents %#x after %.0f ms", ev, now_ms() - t0);
	EXPECT_EQ(ETIMEDOUT, send_err(c.cli, MSG_NOSIGNAL));
	EXPECT_EQ(EPIPE, send_err(c.cli, MSG_NOSIGNAL));
	EXPECT_EQ(-1, recv_err(c.cli));
	EXPECT_EQ(tmo_a + 1, demo_stat("Timeouts"));
	EXPECT_LE(rtx_a + 2, demo_stat("RetransSegs"));
}

TEST_F_TIMEOUT(veth, lossy_link_reliable, 240)
{
	struct bulk bk = { .n = 200 };
	long rtx_a, dup_b;
	char *buf = malloc(MAXMSG);
	struct conn c;
	pthread_t t;
	int i, mf;
	ssize_t n = 0;

	for (i = 0; i < 2; i++) {
		ENTER(i ? NS_B : NS_A);
		ASSERT_EQ(0, sysctl_set("seqpacket_rto_min_ms", 20));
		ASSERT_EQ(0, sysctl_set("seqpacket_rto_max_ms", 500));
		ASSERT_EQ(0, sysctl_set("seqpacket_retries", 30));
	}
	/* connected first: the data transfer is what is under test */
	veth_conn(_metadata, &c, 0);
	sh("modprobe -q sch_netem 2>/dev/null");
	if (sh("tc -n " NS_A " qdisc add dev veth_a root netem loss 15%% "
	       "duplicate 10%% 2>/dev/null"))
		SKIP(return, "netem unavailable");
	ASSERT_EQ(0, sh("tc -n " NS_B " qdisc add dev veth_b root netem "
			"loss 15%% duplicate 10%%"));
	rtx_a = demo_stat("RetransSegs");
	dup_b = ns_stat(NS_B, "InDupSegs");
	bk.fd = c.cli;
	ASSERT_EQ(0, set_timeo(c.cli, SO_SNDTIMEO, 60000));
	ASSERT_EQ(0, pthread_create(&t, NULL, bulk_sender, &bk));
	for (i = 0; i < bk.n; i++) {
		n = recv_msg(c.srv, buf, MAXMSG, 0, &mf, 60000);
		if (n != bulk_len(i) || mismatch(buf, n, i) >= 0 ||
		    !(mf & MSG_EOR))
			break;
	}
	EXPECT_EQ(0, join_tmo(t, 60000));
	EXPECT_EQ(bk.n, i) TH_LOG("message %d: got %zd (%s)", i, n,
				  n < 0 ? strerror(errno) : "length/content");
	EXPECT_EQ(bk.n, bk.sent) TH_LOG("send: %s", strerror(bk.err));
	EXPECT_LT(rtx_a, demo_stat("RetransSegs"));
	EXPECT_LT(dup_b, ns_stat(NS_B, "InDupSegs"));
	EXPECT_EQ(EAGAIN, recv_err(c.srv));
	free(buf);
}

/* --- hostile peers across the veth (issue #11) --------------------------- */

/*
 * The first packet from port @sport with a payload that @cap (an AF_INET
 * raw socket of the DEMO protocol) sees: the whole IPv4 packet in @pkt.
 * Its length, or -1 if none shows up within TMO.
 */
static ssize_t capture_data(int cap, unsigned short sport, uint8_t *pkt,
			    size_t size)
{
	double end = now_ms() + TMO;
	const struct demohdr *dh;
	ssize_t n;

	while (now_ms() < end) {
		if (wait_ev(cap, POLLIN, TMO) <= 0)
			return -1;
		n = recv(cap, pkt, size, MSG_DONTWAIT);
		dh = (const struct demohdr *)(pkt + 20);
		if (n > 20 + SEQ_HLEN && ntohs(dh->source) == sport)
			return n;
	}
	return -1;
}

/* Wait until @cap sees the packet @pkt (IPv4 header excluded) again. */
static int capture_again(int cap, const uint8_t *pkt, size_t len)
{
	double end = now_ms() + TMO;
	uint8_t buf[2048];
	ssize_t n;

	while (now_ms() < end) {
		if (wait_ev(cap, POLLIN, TMO) <= 0)
			return -1;
		n = recv(cap, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == (ssize_t)len && !memcmp(buf + 20, pkt + 20, len - 20))
			return 0;
	}
	return -1;
}

/* An AF_INET raw socket of the DEMO protocol that writes IPv4 headers. */
static int raw_hdrincl(void)
{
	int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, demo_ipproto());
	int one = 1;

	if (fd >= 0 && setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one,
				  sizeof(one))) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Send the IPv4 packet @pkt through @raw (IP_HDRINCL). 0 or -1. */
static int send_hdrincl(int raw, const uint8_t *pkt, size_t len)
{
	struct sockaddr_in to = { .sin_family = AF_INET };

	to.sin_addr.s_addr = ((const struct iphdr *)pkt)->daddr;
	return sendto(raw, pkt, len, 0, (struct sockaddr *)&to,
		      sizeof(to)) == (ssize_t)len ? 0 : -1;
}

/* A header-only segment @saddr:@sport -> @daddr:@dport with its IPv4 header. */
static size_t build_seg(uint8_t *pkt, const char *saddr, const char *daddr,
			unsigned short sport, unsigned short dport,
			uint16_t flags, uint32_t seq, uint32_t ack)
{
	struct {
		uint32_t saddr, daddr;
		uint8_t zero, proto;
		uint16_t len;
		struct demohdr dh;
		struct demo_seqhdr sh;
	} __attribute__((packed)) p;
	struct iphdr *ip = (struct iphdr *)pkt;

	memset(&p, 0, sizeof(p));
	p.saddr = inet_addr(saddr);
	p.daddr = inet_addr(daddr);
	p.proto = demo_ipproto();
	p.len = htons(SEQ_HLEN);
	p.dh.source = htons(sport);
	p.dh.dest = htons(dport);
	p.dh.version = DEMO_VERSION;
	p.dh.type = DEMOPROTO_SEQPACKET;
	p.dh.len = htons(SEQ_HLEN);
	p.dh.flags = htons(flags);
	p.sh.seq = htonl(seq);
	p.sh.ack = htonl(ack);
	p.dh.check = inet_csum(&p, sizeof(p));
	memset(ip, 0, sizeof(*ip));
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->tot_len = htons(20 + SEQ_HLEN);
	ip->protocol = demo_ipproto();
	ip->saddr = p.saddr;
	ip->daddr = p.daddr;
	memcpy(pkt + 20, &p.dh, SEQ_HLEN);
	return 20 + SEQ_HLEN;
}

/* Wait (bounded) until demo_stat(@name) in @ns >= @want; the last value. */
static long ns_stat_wait(const char *ns, const char *name, long want, int ms)
{
	double end = now_ms() + ms;
	long v;

	while ((v = ns_stat(ns, name)) < want && now_ms() < end)
		poll(NULL, 0, 1);
	return v;
}

/*
 * A listener keeps its pending handshakes and forgets each once it
 * completes: the client's first data segment, captured and replayed after
 * both ends closed, creates no connection and delivers nothing (a cookie,
 * valid for a minute or two, accepted it and the message came again).
 */
TEST_F_TIMEOUT(veth, replayed_first_segment_refused, 60)
{
	uint8_t pkt[2048];
	long opens, lrst;
	struct conn c;
	int cap, inj;
	ssize_t plen;
	char b[8];

	pin_cpu0(_metadata);
	ENTER(NS_B);
	cap = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, demo_ipproto());
	ASSERT_LE(0, cap);
	veth_conn(_metadata, &c, 0);
	inj = raw_hdrincl();
	ASSERT_LE(0, inj);
	ASSERT_EQ(4, send(c.cli, "once", 4, 0));
	plen = capture_data(cap, c.cport, pkt, sizeof(pkt));
	ASSERT_EQ(20 + SEQ_HLEN + 4, plen);
	ASSERT_EQ(4, recv_msg(c.srv, b, sizeof(b), 0, NULL, TMO));
	EXPECT_EQ(0, memcmp(b, "once", 4));
	close(c.cli);
	ASSERT_EQ(0, recv_msg(c.srv, b, sizeof(b), 0, NULL, TMO));
	close(c.srv);
	ENTER(NS_B);
	ASSERT_TRUE(wait_gone(c.lport, c.cport, NULL, TMO));
	opens = demo_stat("PassiveOpens");
	lrst = demo_stat("ListenRsts");

	ENTER(NS_A);
	ASSERT_EQ(0, send_hdrincl(inj, pkt, plen));
	ASSERT_EQ(0, capture_again(cap, pkt, plen));
	ENTER(NS_B);
	EXPECT_EQ(lrst + 1, stat_wait("ListenRsts", lrst + 1, TMO))
		TH_LOG("the replay was not answered with a reset");
	EXPECT_EQ(opens, demo_stat("PassiveOpens"));
	EXPECT_EQ(0, proc_find(c.lport, c.cport, NULL, NULL));
	EXPECT_EQ(0, wait_ev(c.lst, POLLIN, 0));
	ASSERT_EQ(0, fcntl(c.lst, F_SETFL, O_NONBLOCK));
	EXPECT_ERRNO(EAGAIN, accept4(c.lst, NULL, NULL, 0));
	close(inj);
	close(cap);
}

/*
 * Once the table of pending handshakes overflowed (SYNs from a host that
 * never answers), the listener answers with SYN cookies, and a client
 * connects with one.
 */
TEST_F_TIMEOUT(veth, syn_cookies_after_overflow, 60)
{
	enum { BACKLOG = 2 };
	long sent, recvd;
	uint8_t pkt[64];
	unsigned short lport;
	int l, inj, i, s, cl;
	size_t len;
	char b[8];

	pin_cpu0(_metadata);
	ENTER(NS_B);
	l = listener(ADDR_B, 0, BACKLOG);
	ASSERT_LE(0, l);
	lport = port_of(l);
	sent = demo_stat("SyncookiesSent");
	recvd = demo_stat("SyncookiesRecv");
	ASSERT_LE(0, sent);
	ENTER(NS_A);
	inj = raw_hdrincl();
	ASSERT_LE(0, inj);
	for (i = 0; i < BACKLOG + 1; i++) {
		len = build_seg(pkt, ADDR_GONE, ADDR_B, 40000 + i, lport,
				DEMO_SEQ_SYN, 1000 * i, 0);
		ASSERT_EQ(0, send_hdrincl(inj, pkt, len));
	}
	EXPECT_EQ(sent + 1, ns_stat_wait(NS_B, "SyncookiesSent", sent + 1, TMO));
	cl = sp_sock(0);
	ASSERT_EQ(0, connect_tmo(cl, ADDR_B, lport, LONG_TMO))
		TH_LOG("connect: %s", strerror(errno));
	s = accept4_tmo(l, 0, TMO);
	ASSERT_LE(0, s) TH_LOG("accept: %s", strerror(errno));
	ASSERT_EQ(2, send(cl, "hi", 2, 0));
	ASSERT_EQ(2, recv_msg(s, b, sizeof(b), 0, NULL, TMO));
	EXPECT_EQ(sent + 2, ns_stat(NS_B, "SyncookiesSent"));
	EXPECT_EQ(recvd + 1, ns_stat(NS_B, "SyncookiesRecv"));
	close(inj);
}

/*
 * A reset sent after a zero-window probe is at the peer's rcv_nxt (the
 * window's right edge, as TCP's tcp_acceptable_seq()), so the peer,
 * which believes a reset only there, takes it.
 */
TEST_F_TIMEOUT(veth, rst_after_zero_window_probe, 120)
{
	enum { LEN = 1000, MAX = 20000 };
	char buf[LEN];
	struct conn c;
	long zwp;
	int n, ev;

	veth_conn(_metadata, &c, 4096);
	ASSERT_EQ(0, setopt_int(c.cli, SOL_SOCKET, SO_SNDBUF, 4096));
	zwp = demo_stat("ZeroWindowProbes");
	ASSERT_LE(0, zwp);
	memset(buf, 'z', LEN);
	for (n = 0; n < MAX; n++) {
		if (send(c.cli, buf, LEN, MSG_DONTWAIT) == LEN)
			continue;
		ASSERT_EQ(EAGAIN, errno);
		if (!(wait_ev(c.cli, POLLOUT, 2000) & POLLOUT))
			break;
	}
	ASSERT_GT(MAX, n) TH_LOG("the send buffer never filled up");
	ASSERT_LT(zwp, stat_wait("ZeroWindowProbes", zwp + 1, LONG_TMO));
	ASSERT_EQ(0, setsockopt(c.cli, SOL_SOCKET, SO_LINGER,
				&(struct linger){ 1, 0 },
				sizeof(struct linger)));
	close(c.cli);
	ev = wait_all(c.srv, POLLIN, POLLERR, TMO);
	EXPECT_TRUE(ev & POLLERR) TH_LOG("revents %#x: the reset was ignored",
					 ev);
	EXPECT_EQ(ECONNRESET, so_error(c.srv));
}

/*
 * A reset in the peer's window but not at its rcv_nxt (a segment before
 * it was lost) draws a challenge ACK; the closed end answers that with a
 * reset at the acknowledged number, which ends the connection at once.
 */
TEST_F_TIMEOUT(veth, rst_challenge_ack_dance, 60)
{
	long chal_b, rsts_b;
	struct conn c;
	int ev;

	ENTER(NS_A);
	/* no retransmission of the lost message while the test runs */
	ASSERT_EQ(0, sysctl_set("seqpacket_rto_min_ms", 10000));
	ASSERT_EQ(0, sysctl_set("seqpacket_rto_max_ms", 20000));
	veth_conn(_metadata, &c, 0);
	chal_b = ns_stat(NS_B, "ChallengeAcks");
	rsts_b = ns_stat(NS_B, "InRsts");
	ASSERT_EQ(0, sh("ip -n " NS_A " neigh replace " ADDR_B " lladdr "
			MAC_GONE " dev veth_a nud permanent"));
	ASSERT_EQ(4, send(c.cli, "lost", 4, 0));
	ASSERT_EQ(0, sh("ip -n " NS_A " neigh replace " ADDR_B
			" lladdr 02:de:00:00:00:0b dev veth_a nud permanent"));
	ASSERT_EQ(0, setsockopt(c.cli, SOL_SOCKET, SO_LINGER,
				&(struct linger){ 1, 0 },
				sizeof(struct linger)));
	close(c.cli);
	ev = wait_all(c.srv, POLLIN, POLLERR, TMO);
	EXPECT_TRUE(ev & POLLERR) TH_LOG("revents %#x", ev);
	EXPECT_EQ(ECONNRESET, so_error(c.srv));
	EXPECT_EQ(chal_b + 1, ns_stat(NS_B, "ChallengeAcks"));
	EXPECT_EQ(rsts_b + 1, ns_stat(NS_B, "InRsts"));
}

static void keepalive_sysctls(struct __test_metadata *_metadata)
{
	ENTER(NS_A);
	EXPECT_EQ(0, sysctl_set("seqpacket_keepalive_time_ms", 1000));
	EXPECT_EQ(0, sysctl_set("seqpacket_keepalive_intvl_ms", 300));
	EXPECT_EQ(0, sysctl_set("seqpacket_keepalive_probes", 3));
}

/* SO_KEEPALIVE: a peer that vanished while idle is found out: ETIMEDOUT. */
TEST_F_TIMEOUT(veth, keepalive_peer_vanishes, 60)
{
	long ka, tmo;
	struct conn c;
	double t0, dt;
	char b[4];
	int ev;

	keepalive_sysctls(_metadata);
	veth_conn(_metadata, &c, 0);
	ASSERT_EQ(0, setopt_int(c.cli, SOL_SOCKET, SO_KEEPALIVE, 1));
	EXPECT_EQ(1, sockopt_int(c.cli, SOL_SOCKET, SO_KEEPALIVE));
	ASSERT_EQ(2, send(c.srv, "hi", 2, 0));
	ASSERT_EQ(2, recv_msg(c.cli, b, sizeof(b), 0, NULL, TMO));
	/* the last segment from B: the bounds below count from it */
	t0 = now_ms();
	ka = demo_stat("KeepAlives");
	tmo = demo_stat("Timeouts");
	ASSERT_LE(0, tmo);
	/* B disappears from the link */
	ASSERT_EQ(0, sh("ip -n " NS_A " neigh replace " ADDR_B " lladdr "
			MAC_GONE " dev veth_a nud permanent"));
	ev = wait_all(c.cli, POLLIN, POLLERR, 15000);
	dt = now_ms() - t0;
	EXPECT_TRUE(ev & POLLERR) TH_LOG("revents %#x after %.0f ms", ev, dt);
	EXPECT_EQ(ETIMEDOUT, so_error(c.cli));
	/* time + probes * intvl after the last segment from B */
	EXPECT_LE(1000, (int)dt);
	EXPECT_GE(1000 + 3 * 300 + 3000, (int)dt);
	EXPECT_EQ(ka + 3, demo_stat("KeepAlives"));
	EXPECT_EQ(tmo + 1, demo_stat("Timeouts"));
}

/* SO_KEEPALIVE: an idle peer that is there answers the probes. */
TEST_F_TIMEOUT(veth, keepalive_idle_peer_answers, 60)
{
	long ka, tmo;
	struct conn c;
	char b[4];

	keepalive_sysctls(_metadata);
	veth_conn(_metadata, &c, 0);
	ASSERT_EQ(0, setopt_int(c.cli, SOL_SOCKET, SO_KEEPALIVE, 1));
	ka = demo_stat("KeepAlives");
	tmo = demo_stat("Timeouts");
	ASSERT_LE(0, ka);
	/* more probes than an unanswered connection would live through */
	EXPECT_LE(ka + 5, stat_wait("KeepAlives", ka + 5, 20000));
	EXPECT_EQ(0, so_error(c.cli));
	EXPECT_EQ(tmo, demo_stat("Timeouts"));
	EXPECT_EQ(1, proc_find(c.cport, c.lport, "ESTABLISHED", NULL));
	ASSERT_EQ(2, send(c.cli, "hi", 2, 0));
	ASSERT_EQ(2, recv_msg(c.srv, b, sizeof(b), 0, NULL, TMO));
	/* off again: no more probes (a pending one may still go) */
	ASSERT_EQ(0, setopt_int(c.cli, SOL_SOCKET, SO_KEEPALIVE, 0));
	ka = demo_stat("KeepAlives");
	EXPECT_GE(ka + 1, stat_wait("KeepAlives", ka + 2, 3000));
}

TEST_HARNESS_MAIN
