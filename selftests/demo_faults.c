// SPDX-License-Identifier: GPL-2.0
/*
 * AF_DEMO under failing allocations and exhausted resources.
 *
 * What it proves:
 *
 * - fixture "nth" (one case per operation): every allocation an AF_DEMO
 *   system call makes in the calling task can fail without harm. For each
 *   operation (socket() of every type, bind, autobind through sendto,
 *   connect of both transports, listen, accept, send of small and large
 *   datagrams and of one-segment and multi-segment seqpacket messages,
 *   recv, setsockopt, shutdown, close) the case fails the 1st, 2nd, 3rd,
 *   ... fault site of the call through /proc/thread-self/fail-nth (failslab
 *   and fail_page_alloc, sleeping allocations included) until the call no
 *   longer reaches the nth site. Each round starts from a fresh setup and
 *   checks that the call succeeded or failed with an errno of the call's
 *   clean set, that the state is consistent (a failed bind did not take the
 *   port, a failed connect leaves a socket that connects, a failed send
 *   queued nothing and lost nothing accepted before, a failed accept left
 *   the connection queued, ...), that retrying without faults works, and
 *   that once everything is closed /proc/net/demo is empty and the module
 *   refcount is back to 0 (no socket leaked).
 *
 * - fixture "soft": receive-path and timer allocations run in softirq, not
 *   in the task: failslab and fail_page_alloc fail 10% of the allocations
 *   whose stack passes through af_demo's text (any task or softirq, up to
 *   a fixed number of faults) while seqpacket connections and a datagram
 *   flow run between two namespaces over veth. Connections either complete
 *   or fail with a clean error, every seqpacket message that arrives is
 *   intact and in order, a connection that survives delivers all of them,
 *   every datagram that arrives is intact and in order.
 *
 * - fixture "lo" (every kernel): RLIMIT_NOFILE reached at socket() and at
 *   accept() (EMFILE, no socket leaked, the connection stays queued), a
 *   tiny SO_RCVBUF (datagrams dropped and counted in RcvbufErrors; a
 *   seqpacket sender stalls on the window and loses nothing), a tiny
 *   SO_SNDBUF with MSG_DONTWAIT (EAGAIN, a message is queued whole or not
 *   at all).
 *
 * - kmemleak_begin/kmemleak_end: on a kernel with kmemleak, no leak is
 *   suspected after the fault cases (run_guest.sh scans again after rmmod).
 *
 * The fault cases SKIP on kernels without CONFIG_FAULT_INJECTION_DEBUG_FS,
 * CONFIG_FAILSLAB and CONFIG_FAIL_PAGE_ALLOC (the Debian kernels); they
 * set the failslab/fail_page_alloc debugfs knobs they need (verbose=0, so
 * that no injected fault writes a stack trace into the kernel log) and put
 * the previous values back in the teardown.
 *
 * Run as root with af_demo loaded, inside a guest (never on a build host):
 *   scripts/vm-run.sh -K <debug bzImage> -- selftests/run_guest.sh \
 *	build/selftests/demo_faults
 * One case: build/selftests/demo_faults -v nth.send_seq_max
 * The message sizes of "soft" come from demo_seed(): repeat a run with
 * AFDEMO_SEED=<the seed printed at its start>; which allocations fail
 * there is random (the kernel's PRNG), the fail-nth cases are exact.
 */
#include "demo_lib.h"

#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <linux/sockios.h>

#include "kselftest_harness.h"

#define LO		"127.0.0.1"
#define NS_A		"dflt_a"
#define NS_B		"dflt_b"
#define ADDR_A		"198.18.0.1"
#define ADDR_B		"198.18.0.2"
#define PORT_FIX	40000	/* the port of bind cases */
#define TMO		5000	/* ms: bound on things that happen at once */
#define LONG_TMO	30000	/* ms: bound on things that may need an RTO */
#define MAXMSG		DEMO_SEQPACKET_MAX_MSG
#define NTH_CAP		3000	/* fault sites tried per operation */
#define FAIL_NTH	"/proc/thread-self/fail-nth"
#define FS		"/sys/kernel/debug/failslab/"
#define FPA		"/sys/kernel/debug/fail_page_alloc/"
#define SYSCTL		"/proc/sys/net/demo/"

/* Totals over the cases, which run in separate processes. */
struct totals {
	unsigned long nth_faults;	/* fail-nth faults injected */
	unsigned long nth_failed;	/* ... of which the call failed */
	unsigned long soft_faults;	/* probability phase faults */
	bool kmemleak_cleared;
};

static struct totals *tot;

static void __attribute__((constructor)) totals_map(void)
{
	void *p = mmap(NULL, sizeof(*tot), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	tot = p == MAP_FAILED ? calloc(1, sizeof(*tot)) : p;
}

static int read_str(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static int sysctl_set(const char *name, long val)
{
	char path[128], buf[32];

	snprintf(path, sizeof(path), SYSCTL "%s", name);
	snprintf(buf, sizeof(buf), "%ld", val);
	return demo_write_file(path, buf);
}

/* Short retransmission timers: a segment lost to a fault costs < 0.2 s. */
static int quick_timers(void)
{
	return sysctl_set("seqpacket_rto_min_ms", 20) ||
	       sysctl_set("seqpacket_rto_max_ms", 200) ||
	       sysctl_set("seqpacket_retries", 30) ||
	       sysctl_set("seqpacket_syn_retries", 30) ||
	       sysctl_set("seqpacket_fin_timeout_ms", 2000) ? -1 : 0;
}

/* A private network namespace with lo up and quick timers. */
static int netns_lo(void)
{
	if (unshare(CLONE_NEWNET))
		return -1;
	if (sh("ip link set lo up"))
		return -1;
	return quick_timers();
}

/* --- fault injection knobs ---------------------------------------------- */

static const char *const knob_names[] = {
	FS "probability", FS "interval", FS "times", FS "space",
	FS "verbose", FS "task-filter", FS "ignore-gfp-wait",
	FS "require-start", FS "require-end", FS "reject-start",
	FS "reject-end", FS "stacktrace-depth",
	FPA "probability", FPA "interval", FPA "times", FPA "space",
	FPA "verbose", FPA "task-filter", FPA "ignore-gfp-wait",
	FPA "ignore-gfp-highmem", FPA "min-order",
	FPA "require-start", FPA "require-end", FPA "reject-start",
	FPA "reject-end", FPA "stacktrace-depth",
};

#define NKNOBS	ARRAY_SIZE(knob_names)

struct knobs {
	char old[NKNOBS][64];
	bool saved;
};

/* fail-nth and both debugfs directories, with the stack-trace filter. */
static bool fi_available(void)
{
	return !access(FAIL_NTH, W_OK) && !access(FS "require-start", W_OK) &&
	       !access(FPA "require-start", W_OK);
}

#define REQUIRE_FI() do { \
	if (!fi_available()) \
		SKIP(return, "no fault injection in this kernel (" \
		     "CONFIG_FAILSLAB, FAIL_PAGE_ALLOC, " \
		     "FAULT_INJECTION_DEBUG_FS)"); \
} while (0)

static int knobs_save(struct knobs *k)
{
	size_t i;

	for (i = 0; i < NKNOBS; i++)
		if (read_str(knob_names[i], k->old[i], sizeof(k->old[i])))
			return -1;
	k->saved = true;
	return 0;
}

/* probability first to 0, so nothing fails half set up; it comes last. */
static void knobs_restore(struct knobs *k)
{
	size_t i;

	if (!k->saved)
		return;
	demo_write_file(FS "probability", "0");
	demo_write_file(FPA "probability", "0");
	for (i = 0; i < NKNOBS; i++)
		if (!strstr(knob_names[i], "probability"))
			demo_write_file(knob_names[i], k->old[i]);
	demo_write_file(FS "probability", k->old[0]);
	demo_write_file(FPA "probability", k->old[12]);
	k->saved = false;
}

static int knob(const char *dir, const char *name, const char *val)
{
	char path[128];

	snprintf(path, sizeof(path), "%s%s", dir, name);
	return demo_write_file(path, val);
}

/*
 * Common settings: sleeping allocations may fail too, no stack traces in
 * the log. ignore-gfp-highmem stays Y: only user pages (page faults) are
 * __GFP_HIGHMEM, and failing them would kill the test, not test af_demo.
 */
static int knobs_common(const char *start, const char *end)
{
	static const char *const dirs[] = { FS, FPA };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(dirs); i++) {
		if (knob(dirs[i], "probability", "0") ||
		    knob(dirs[i], "verbose", "0") ||
		    knob(dirs[i], "ignore-gfp-wait", "N") ||
		    knob(dirs[i], "interval", "1") ||
		    knob(dirs[i], "space", "0") ||
		    knob(dirs[i], "times", "-1") ||
		    knob(dirs[i], "task-filter", "N") ||
		    knob(dirs[i], "stacktrace-depth", "32") ||
		    knob(dirs[i], "reject-start", "0") ||
		    knob(dirs[i], "reject-end", "0") ||
		    knob(dirs[i], "require-start", start) ||
		    knob(dirs[i], "require-end", end))
			return -1;
	}
	return knob(FPA, "ignore-gfp-highmem", "Y") ||
	       knob(FPA, "min-order", "0");
}

/* Arm /proc/thread-self/fail-nth (open in @fd) for the @n-th site. */
static int nth_arm(int fd, int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%d", n);

	return pwrite(fd, buf, len, 0) == len ? 0 : -1;
}

/*
 * What is left of the armed count: 0 if the fault was injected, else the
 * count is disarmed. -1 on error.
 */
static int nth_left(int fd)
{
	char buf[16];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	int left;

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	left = atoi(buf);
	if (left && pwrite(fd, "0", 1, 0) != 1)
		return -1;
	return left;
}

/* --- messages ----------------------------------------------------------- */

static unsigned char pat(unsigned int id, size_t i)
{
	return (unsigned char)((id * 131u + i * 7u) ^ (i >> 8));
}

/* A message: its id in the first 4 bytes (if it has them), then a pattern. */
static void fill(char *buf, size_t len, unsigned int id)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = pat(id, i);
	if (len >= 4)
		memcpy(buf, &id, 4);
}

static bool intact(const char *buf, size_t len, unsigned int id)
{
	size_t i;

	if (len >= 4 && memcmp(buf, &id, 4))
		return false;
	for (i = len >= 4 ? 4 : 0; i < len; i++)
		if ((unsigned char)buf[i] != pat(id, i))
			return false;
	return true;
}

static unsigned int id_of(const char *buf, size_t len)
{
	unsigned int id = UINT_MAX;

	if (len >= 4)
		memcpy(&id, buf, 4);
	return id;
}

/* --- sockets ------------------------------------------------------------ */

static int dsock(void)
{
	return socket(af(), SOCK_DGRAM | SOCK_CLOEXEC, 0);
}

static int ssock(int flags)
{
	return socket(af(), SOCK_SEQPACKET | SOCK_CLOEXEC | flags, 0);
}

/* close_abort() of *@fd (a reset: gone at once), then set *@fd to -1. */
static void close_abort_clear(int *fd)
{
	if (*fd < 0)
		return;
	close_abort(*fd);
	*fd = -1;
}

static int listener(const char *ip, int backlog)
{
	int fd = ssock(0);

	if (fd >= 0 && (bind_to(fd, ip, 0) || listen(fd, backlog))) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* /proc/net/demo entries of the current namespace, -1 on error. */
static int proc_entries(void)
{
	char line[512];
	int n = -1;
	FILE *f = fopen("/proc/net/demo", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	return n;
}

static int wait_proc_empty(int ms)
{
	double end = now_ms() + ms;

	for (;;) {
		if (proc_entries() == 0)
			return 0;
		if (now_ms() > end)
			return -1;
		poll(NULL, 0, 2);
	}
}

/* --- the fail-nth operations -------------------------------------------- */

enum { L, C, A, R, X, Y, NFD };

struct fctx {
	int fd[NFD];
	unsigned short port;	/* of fd[L] or fd[R] */
	struct sockaddr_demo sa;	/* of the armed call, made unarmed */
	char *buf, *rbuf;	/* MAXMSG + 64 each, touched */
	char why[512];
};

#define CK(c, cond, ...) do { \
	if (!(cond)) { \
		int e_ = errno; \
		int n_ = snprintf((c)->why, sizeof((c)->why), __VA_ARGS__); \
		snprintf((c)->why + n_, sizeof((c)->why) - n_, \
			 " (line %d, errno %s)", __LINE__, strerror(e_)); \
		return -1; \
	} \
} while (0)

static void fctx_init(struct fctx *c)
{
	int i;

	for (i = 0; i < NFD; i++)
		c->fd[i] = -1;
	c->buf = malloc(MAXMSG + 64);
	c->rbuf = malloc(MAXMSG + 64);
	if (c->buf)
		memset(c->buf, 1, MAXMSG + 64);
	if (c->rbuf)
		memset(c->rbuf, 1, MAXMSG + 64);
	c->why[0] = '\0';
}

/* Close everything; 0 once nothing is left in /proc/net/demo. */
static int fctx_close(struct fctx *c)
{
	int i;

	for (i = 0; i < NFD; i++)
		close_abort_clear(&c->fd[i]);
	return wait_proc_empty(TMO);
}

/* Send message @id of @len on @fd; 0 or -1. */
static int send_id(struct fctx *c, int fd, size_t len, unsigned int id)
{
	fill(c->buf, len, id);
	return send(fd, c->buf, len, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

/* The next message on @fd must be @id of @len. */
static int expect_id(struct fctx *c, int fd, size_t len, unsigned int id)
{
	ssize_t n = recv_tmo(fd, c->rbuf, MAXMSG + 64, LONG_TMO);

	CK(c, n >= 0, "no message %u", id);
	CK(c, (size_t)n == len && intact(c->rbuf, n, id),
	   "got %zd bytes id %u, want message %u of %zu", n,
	   id_of(c->rbuf, n), id, len);
	return 0;
}

/* A seqpacket listener L, a client C connected to it, A accepted. */
static int seq_pair(struct fctx *c)
{
	c->fd[L] = listener(LO, 8);
	CK(c, c->fd[L] >= 0, "listener");
	c->port = port_of(c->fd[L]);
	c->fd[C] = ssock(0);
	CK(c, c->fd[C] >= 0, "socket");
	CK(c, !connect_to(c->fd[C], LO, c->port), "connect");
	c->fd[A] = accept_tmo(c->fd[L], TMO);
	CK(c, c->fd[A] >= 0, "accept");
	return 0;
}

/* Messages both ways on C - A. */
static int seq_exchange(struct fctx *c, unsigned int id)
{
	CK(c, !send_id(c, c->fd[C], 300, id), "send C");
	if (expect_id(c, c->fd[A], 300, id))
		return -1;
	CK(c, !send_id(c, c->fd[A], 200, id + 1), "send A");
	return expect_id(c, c->fd[C], 200, id + 1);
}

/* A datagram receiver R on LO, c->port its port. */
static int dgram_rcv(struct fctx *c)
{
	c->fd[R] = dsock();
	CK(c, c->fd[R] >= 0, "socket");
	CK(c, !bind_to(c->fd[R], LO, 0), "bind");
	c->port = port_of(c->fd[R]);
	return 0;
}

static int setup_none(struct fctx *c)
{
	(void)c;
	return 0;
}

/* socket() of each type */
static int sock_type;

static long op_socket(struct fctx *c)
{
	c->fd[X] = socket(af(), sock_type | SOCK_CLOEXEC, 0);
	return c->fd[X];
}

static int check_socket(struct fctx *c, long ret, int err)
{
	(void)err;
	if (ret >= 0) {
		CK(c, sockopt_int(ret, SOL_SOCKET, SO_DOMAIN) == af() &&
		   sockopt_int(ret, SOL_SOCKET, SO_TYPE) == sock_type,
		   "socket %ld of the wrong family or type", ret);
	}
	/* No socket left behind is checked by the refcount. */
	c->fd[Y] = socket(af(), sock_type | SOCK_CLOEXEC, 0);
	CK(c, c->fd[Y] >= 0, "socket() without a fault");
	return 0;
}

static int setup_socket_dgram(struct fctx *c)
{
	sock_type = SOCK_DGRAM;
	return setup_none(c);
}

static int setup_socket_seq(struct fctx *c)
{
	sock_type = SOCK_SEQPACKET;
	return setup_none(c);
}

static int setup_socket_raw(struct fctx *c)
{
	sock_type = SOCK_RAW;
	return setup_none(c);
}

/* bind() */
static int setup_bind_dgram(struct fctx *c)
{
	sock_type = SOCK_DGRAM;
	c->fd[X] = dsock();
	CK(c, c->fd[X] >= 0, "socket");
	demo_addr(&c->sa, LO, PORT_FIX);
	return 0;
}

static int setup_bind_seq(struct fctx *c)
{
	sock_type = SOCK_SEQPACKET;
	c->fd[X] = ssock(0);
	CK(c, c->fd[X] >= 0, "socket");
	demo_addr(&c->sa, LO, PORT_FIX);
	return 0;
}

static long op_bind(struct fctx *c)
{
	return bind(c->fd[X], (struct sockaddr *)&c->sa, sizeof(c->sa));
}

static int check_bind(struct fctx *c, long ret, int err)
{
	(void)err;
	c->fd[Y] = socket(af(), sock_type | SOCK_CLOEXEC, 0);
	CK(c, c->fd[Y] >= 0, "socket");
	if (ret == 0) {
		CK(c, port_of(c->fd[X]) == PORT_FIX, "bound to %u",
		   port_of(c->fd[X]));
		CK(c, bind_to(c->fd[Y], LO, PORT_FIX) && errno == EADDRINUSE,
		   "port of a successful bind not taken");
		return 0;
	}
	CK(c, port_of(c->fd[X]) == 0, "failed bind left port %u",
	   port_of(c->fd[X]));
	CK(c, !bind_to(c->fd[Y], LO, PORT_FIX), "failed bind took the port");
	close_abort_clear(&c->fd[Y]);
	CK(c, !bind_to(c->fd[X], LO, PORT_FIX), "bind again");
	return 0;
}

/* autobind through sendto() */
static int setup_autobind(struct fctx *c)
{
	if (dgram_rcv(c))
		return -1;
	c->fd[X] = dsock();
	CK(c, c->fd[X] >= 0, "socket");
	fill(c->buf, 200, 1);
	demo_addr(&c->sa, LO, c->port);
	return 0;
}

/*
 * Armed calls use only what the setup prepared: demo_addr() reads sysfs,
 * and the fault would hit that open() instead of the call.
 */
static long op_autobind(struct fctx *c)
{
	return sendto(c->fd[X], c->buf, 200, 0, (struct sockaddr *)&c->sa,
		      sizeof(c->sa));
}

/* The next datagram on R is @id of @len from X's port. */
static int expect_dgram(struct fctx *c, size_t len, unsigned int id)
{
	struct sockaddr_demo from;
	socklen_t fl = sizeof(from);
	ssize_t n;

	CK(c, wait_ev(c->fd[R], POLLIN, LONG_TMO) & POLLIN, "no datagram %u",
	   id);
	n = recvfrom(c->fd[R], c->rbuf, MAXMSG, MSG_DONTWAIT,
		     (struct sockaddr *)&from, &fl);
	CK(c, (size_t)n == len && intact(c->rbuf, n, id),
	   "got %zd bytes id %u, want datagram %u of %zu", n,
	   id_of(c->rbuf, n), id, len);
	CK(c, port_of(c->fd[X]) && ntohs(from.sdemo_port) == port_of(c->fd[X]),
	   "datagram from port %u, sender has %u", ntohs(from.sdemo_port),
	   port_of(c->fd[X]));
	return 0;
}

static int check_autobind(struct fctx *c, long ret, int err)
{
	struct sockaddr_demo sa;

	(void)err;
	if (ret >= 0) {
		CK(c, ret == 200, "sent %ld", ret);
		return expect_dgram(c, 200, 1);
	}
	/* Nothing went out: the retry's datagram is the first to arrive. */
	demo_addr(&sa, LO, c->port);
	fill(c->buf, 150, 2);
	CK(c, sendto(c->fd[X], c->buf, 150, 0, (struct sockaddr *)&sa,
		     sizeof(sa)) == 150, "sendto again");
	return expect_dgram(c, 150, 2);
}

/* connect() of a datagram socket */
static int dgram_rcv_x(struct fctx *c)
{
	if (dgram_rcv(c))
		return -1;
	c->fd[X] = dsock();
	CK(c, c->fd[X] >= 0, "socket");
	demo_addr(&c->sa, LO, c->port);
	return 0;
}

static long op_connect_dgram(struct fctx *c)
{
	return connect(c->fd[X], (struct sockaddr *)&c->sa, sizeof(c->sa));
}

static int check_connect_dgram(struct fctx *c, long ret, int err)
{
	struct sockaddr_demo sa;

	(void)err;
	if (ret) {
		CK(c, sock_name(c->fd[X], &sa, true) && errno == ENOTCONN,
		   "a failed connect left a peer");
		CK(c, !connect_to(c->fd[X], LO, c->port), "connect again");
	}
	CK(c, !sock_name(c->fd[X], &sa, true) && addr_is(&sa, LO, c->port),
	   "peer name");
	CK(c, !send_id(c, c->fd[X], 100, 3), "send");
	return expect_dgram(c, 100, 3);
}

/* connect() of a seqpacket socket */
static int setup_connect_seq(struct fctx *c)
{
	c->fd[L] = listener(LO, 8);
	CK(c, c->fd[L] >= 0, "listener");
	c->port = port_of(c->fd[L]);
	c->fd[C] = ssock(0);
	CK(c, c->fd[C] >= 0, "socket");
	demo_addr(&c->sa, LO, c->port);
	return 0;
}

static long op_connect_seq(struct fctx *c)
{
	return connect(c->fd[C], (struct sockaddr *)&c->sa, sizeof(c->sa));
}

static int check_connect_seq(struct fctx *c, long ret, int err)
{
	struct sockaddr_demo sa;

	(void)err;
	if (ret) {
		CK(c, sock_name(c->fd[C], &sa, true) && errno == ENOTCONN,
		   "a failed connect left a peer");
		CK(c, !(wait_ev(c->fd[L], POLLIN, 0) & POLLIN),
		   "a failed connect left a connection at the listener");
		CK(c, !connect_to(c->fd[C], LO, c->port), "connect again");
	}
	c->fd[A] = accept_tmo(c->fd[L], TMO);
	CK(c, c->fd[A] >= 0, "accept");
	return seq_exchange(c, 10);
}

/* listen() */
static int setup_listen(struct fctx *c)
{
	c->fd[L] = ssock(0);
	CK(c, c->fd[L] >= 0, "socket");
	CK(c, !bind_to(c->fd[L], LO, 0), "bind");
	c->port = port_of(c->fd[L]);
	return 0;
}

static long op_listen(struct fctx *c)
{
	return listen(c->fd[L], 4);
}

static int check_listen(struct fctx *c, long ret, int err)
{
	(void)err;
	if (ret)
		CK(c, !listen(c->fd[L], 4), "listen again");
	c->fd[C] = ssock(0);
	CK(c, c->fd[C] >= 0, "socket");
	CK(c, !connect_to(c->fd[C], LO, c->port), "connect");
	c->fd[A] = accept_tmo(c->fd[L], TMO);
	CK(c, c->fd[A] >= 0, "accept");
	return seq_exchange(c, 20);
}

/* accept() */
static int setup_accept(struct fctx *c)
{
	if (setup_connect_seq(c))
		return -1;
	CK(c, !connect_to(c->fd[C], LO, c->port), "connect");
	CK(c, !send_id(c, c->fd[C], 700, 30), "send");
	CK(c, wait_ev(c->fd[L], POLLIN, TMO) & POLLIN, "nothing to accept");
	return 0;
}

static long op_accept(struct fctx *c)
{
	c->fd[A] = accept4(c->fd[L], NULL, NULL, SOCK_CLOEXEC);
	return c->fd[A];
}

static int check_accept(struct fctx *c, long ret, int err)
{
	(void)err;
	if (ret < 0) {
		CK(c, wait_ev(c->fd[L], POLLIN, 0) & POLLIN,
		   "a failed accept lost the connection");
		c->fd[A] = accept4(c->fd[L], NULL, NULL, SOCK_CLOEXEC);
		CK(c, c->fd[A] >= 0, "accept again");
	}
	if (expect_id(c, c->fd[A], 700, 30))
		return -1;
	return seq_exchange(c, 31);
}

/* send() of datagrams: 100 bytes, and 60000 in page fragments */
static size_t send_len;

static int setup_send_dgram(struct fctx *c)
{
	if (dgram_rcv(c))
		return -1;
	c->fd[X] = dsock();
	CK(c, c->fd[X] >= 0, "socket");
	CK(c, !connect_to(c->fd[X], LO, c->port), "connect");
	fill(c->buf, send_len, 40);
	return 0;
}

static int setup_send_dgram_small(struct fctx *c)
{
	send_len = 100;
	return setup_send_dgram(c);
}

static int setup_send_dgram_large(struct fctx *c)
{
	send_len = 60000;
	return setup_send_dgram(c);
}

static long op_send(struct fctx *c)
{
	return send(c->fd[X], c->buf, send_len, MSG_NOSIGNAL);
}

static int check_send_dgram(struct fctx *c, long ret, int err)
{
	(void)err;
	if (ret >= 0) {
		CK(c, (size_t)ret == send_len, "sent %ld", ret);
		return expect_dgram(c, send_len, 40);
	}
	CK(c, !send_id(c, c->fd[X], send_len, 41), "send again");
	return expect_dgram(c, send_len, 41);
}

/* send() of seqpacket messages: one segment, and DEMO_SEQPACKET_MAX_MSG */
static int setup_send_seq(struct fctx *c)
{
	if (seq_pair(c))
		return -1;
	/* accepted before the faulty call: must arrive whatever happens */
	CK(c, !send_id(c, c->fd[C], 500, 50), "send");
	fill(c->buf, send_len, 51);
	c->fd[X] = c->fd[C];
	return 0;
}

static int setup_send_seq_small(struct fctx *c)
{
	send_len = 1000;
	return setup_send_seq(c);
}

static int setup_send_seq_max(struct fctx *c)
{
	send_len = MAXMSG;
	return setup_send_seq(c);
}

static int check_send_seq(struct fctx *c, long ret, int err)
{
	c->fd[X] = -1;	/* an alias of C */
	if (ret >= 0)
		CK(c, (size_t)ret == send_len, "sent %ld of %zu", ret,
		   send_len);
	else
		CK(c, so_error(c->fd[C]) == 0, "error %d pending after %s",
		   so_error(c->fd[C]), strerror(err));
	if (expect_id(c, c->fd[A], 500, 50))
		return -1;
	if (ret >= 0 && expect_id(c, c->fd[A], send_len, 51))
		return -1;
	/* a failed message was queued not at all: the next one is next */
	CK(c, !send_id(c, c->fd[C], send_len, 52), "send again");
	if (expect_id(c, c->fd[A], send_len, 52))
		return -1;
	return seq_exchange(c, 53);
}

/* recv() */
static int setup_recv_seq(struct fctx *c)
{
	if (seq_pair(c))
		return -1;
	CK(c, !send_id(c, c->fd[C], 3000, 60), "send");
	CK(c, wait_ev(c->fd[A], POLLIN, LONG_TMO) & POLLIN, "nothing queued");
	c->fd[X] = c->fd[A];
	return 0;
}

static long op_recv(struct fctx *c)
{
	return recv(c->fd[X], c->rbuf, MAXMSG, MSG_DONTWAIT);
}

static int check_recv_seq(struct fctx *c, long ret, int err)
{
	(void)err;
	c->fd[X] = -1;	/* an alias of A */
	if (ret < 0)
		return expect_id(c, c->fd[A], 3000, 60) ?:
		       seq_exchange(c, 61);
	CK(c, ret == 3000 && intact(c->rbuf, ret, 60), "received %ld bytes",
	   ret);
	CK(c, !(wait_ev(c->fd[A], POLLIN, 0) & POLLIN), "message left");
	return seq_exchange(c, 61);
}

static int setup_recv_dgram(struct fctx *c)
{
	if (dgram_rcv(c))
		return -1;
	c->fd[Y] = dsock();
	CK(c, c->fd[Y] >= 0, "socket");
	CK(c, !connect_to(c->fd[Y], LO, c->port), "connect");
	CK(c, !send_id(c, c->fd[Y], 2000, 70), "send");
	CK(c, wait_ev(c->fd[R], POLLIN, LONG_TMO) & POLLIN, "nothing queued");
	c->fd[X] = c->fd[R];
	return 0;
}

static int check_recv_dgram(struct fctx *c, long ret, int err)
{
	(void)err;
	c->fd[X] = -1;	/* an alias of R */
	if (ret < 0) {
		c->fd[X] = c->fd[Y];
		if (expect_dgram(c, 2000, 70))
			return -1;
	} else {
		CK(c, ret == 2000 && intact(c->rbuf, ret, 70),
		   "received %ld bytes", ret);
	}
	c->fd[X] = c->fd[Y];
	CK(c, !send_id(c, c->fd[Y], 10, 71), "send");
	if (expect_dgram(c, 10, 71))
		return -1;
	c->fd[X] = -1;	/* an alias of Y */
	return 0;
}

/* setsockopt() */
static int setup_setsockopt(struct fctx *c)
{
	c->fd[X] = ssock(0);
	CK(c, c->fd[X] >= 0, "socket");
	return 0;
}

static long op_setsockopt(struct fctx *c)
{
	return setopt_int(c->fd[X], SOL_DEMO, DEMO_TTL, 7);
}

static int check_setsockopt(struct fctx *c, long ret, int err)
{
	(void)err;
	if (ret)
		CK(c, sockopt_int(c->fd[X], SOL_DEMO, DEMO_TTL) != 7,
		   "a failed setsockopt took effect");
	CK(c, !setopt_int(c->fd[X], SOL_DEMO, DEMO_TTL, 9) &&
	   sockopt_int(c->fd[X], SOL_DEMO, DEMO_TTL) == 9, "setsockopt again");
	return 0;
}

/* shutdown(SHUT_WR) and close(): the FIN may have no memory */
static int setup_fin(struct fctx *c)
{
	if (seq_pair(c))
		return -1;
	return seq_exchange(c, 80);
}

static long op_shutdown(struct fctx *c)
{
	return shutdown(c->fd[C], SHUT_WR);
}

/* A's next recv: end of stream, or a reset when the FIN had no memory. */
static int expect_end(struct fctx *c)
{
	ssize_t n = recv_tmo(c->fd[A], c->rbuf, MAXMSG, LONG_TMO);

	CK(c, n == 0 || (n < 0 && errno == ECONNRESET),
	   "peer sees %zd instead of the end", n);
	return 0;
}

static int check_shutdown(struct fctx *c, long ret, int err)
{
	(void)err;
	CK(c, ret == 0, "shutdown failed");
	if (expect_end(c))
		return -1;
	CK(c, send(c->fd[C], "x", 1, MSG_NOSIGNAL) < 0 &&
	   (errno == EPIPE || errno == ENOMEM), "send after shutdown");
	return 0;
}

static long op_close(struct fctx *c)
{
	int fd = c->fd[C];

	c->fd[C] = -1;
	return close(fd);
}

static int check_close(struct fctx *c, long ret, int err)
{
	(void)err;
	CK(c, ret == 0, "close failed");
	return expect_end(c);
}

static const int errs_sock[] = { ENOMEM, ENOBUFS, ENFILE, 0 };
static const int errs_mem[] = { ENOMEM, ENOBUFS, 0 };
static const int errs_send[] = { ENOMEM, ENOBUFS, EAGAIN, 0 };
static const int errs_none[] = { 0 };

struct fop {
	int (*setup)(struct fctx *c);
	long (*op)(struct fctx *c);
	int (*check)(struct fctx *c, long ret, int err);
	const int *errs;
};

static bool errno_ok(const int *errs, int err)
{
	for (; *errs; errs++)
		if (*errs == err)
			return true;
	return false;
}

/* First case: forget what came before, so that kmemleak_end sees ours. */
TEST(kmemleak_begin)
{
	if (!demo_kmemleak_available())
		SKIP(return, "kernel without kmemleak");
	ASSERT_EQ(0, demo_kmemleak_clear());
	tot->kmemleak_cleared = true;
}

FIXTURE(nth) {
	struct fctx c;
	struct knobs k;
	int nth;
};

FIXTURE_VARIANT(nth) {
	struct fop op;
};

#define NTH_OP(name, s, o, ck, e) \
	FIXTURE_VARIANT_ADD(nth, name) { \
		.op = { .setup = s, .op = o, .check = ck, .errs = e }, \
	}

NTH_OP(socket_dgram, setup_socket_dgram, op_socket, check_socket, errs_sock);
NTH_OP(socket_seq, setup_socket_seq, op_socket, check_socket, errs_sock);
NTH_OP(socket_raw, setup_socket_raw, op_socket, check_socket, errs_sock);
NTH_OP(bind_dgram, setup_bind_dgram, op_bind, check_bind, errs_mem);
NTH_OP(bind_seq, setup_bind_seq, op_bind, check_bind, errs_mem);
NTH_OP(autobind_sendto, setup_autobind, op_autobind, check_autobind,
	errs_send);
NTH_OP(connect_dgram, dgram_rcv_x, op_connect_dgram, check_connect_dgram,
	errs_mem);
NTH_OP(connect_seq, setup_connect_seq, op_connect_seq, check_connect_seq,
	errs_mem);
NTH_OP(listen, setup_listen, op_listen, check_listen, errs_mem);
NTH_OP(accept, setup_accept, op_accept, check_accept, errs_sock);
NTH_OP(send_dgram_small, setup_send_dgram_small, op_send, check_send_dgram,
	errs_send);
NTH_OP(send_dgram_large, setup_send_dgram_large, op_send, check_send_dgram,
	errs_send);
NTH_OP(send_seq_small, setup_send_seq_small, op_send, check_send_seq,
	errs_send);
NTH_OP(send_seq_max, setup_send_seq_max, op_send, check_send_seq,
	errs_send);
NTH_OP(recv_seq, setup_recv_seq, op_recv, check_recv_seq, errs_mem);
NTH_OP(recv_dgram, setup_recv_dgram, op_recv, check_recv_dgram, errs_mem);
NTH_OP(setsockopt, setup_setsockopt, op_setsockopt, check_setsockopt,
	errs_mem);
NTH_OP(shutdown, setup_fin, op_shutdown, check_shutdown, errs_none);
NTH_OP(close, setup_fin, op_close, check_close, errs_none);

#define ASSERT_MODULE() \
	ASSERT_LT(0, af()) TH_LOG("af_demo is not loaded (no %sfamily)", \
				  DEMO_SYSFS_PARAM)

FIXTURE_SETUP(nth)
{
	ASSERT_MODULE();
	fctx_init(&self->c);
	ASSERT_TRUE(self->c.buf && self->c.rbuf);
	self->nth = -1;
	self->k.saved = false;
	ASSERT_EQ(0, netns_lo());
	if (!fi_available())
		return;		/* the case skips */
	ASSERT_EQ(0, knobs_save(&self->k));
	ASSERT_EQ(0, knobs_common("0", "18446744073709551615"));
	self->nth = open(FAIL_NTH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->nth);
}

FIXTURE_TEARDOWN(nth)
{
	if (self->nth >= 0)
		nth_left(self->nth);
	fctx_close(&self->c);
	knobs_restore(&self->k);
}

TEST_F_TIMEOUT(nth, fail_each_site, 600)
{
	const struct fop *op = &variant->op;
	struct fctx *c = &self->c;
	int n, left = 0, err, injected = 0, failed = 0;
	double t0 = now_ms();
	long ret;

	REQUIRE_FI();
	for (n = 1; n <= NTH_CAP; n++) {
		ASSERT_EQ(0, op->setup(c)) TH_LOG("setup: %s", c->why);
		ASSERT_EQ(0, nth_arm(self->nth, n));
		errno = 0;
		ret = op->op(c);
		err = errno;
		left = nth_left(self->nth);
		ASSERT_LE(0, left);
		if (left)	/* the call did not reach site n: no fault */
			ASSERT_LE(0, ret) TH_LOG("fails without a fault: %s",
						 strerror(err));
		if (ret < 0)
			ASSERT_TRUE(errno_ok(op->errs, err))
				TH_LOG("fault %d: unclean error %d (%s)", n,
				       err, strerror(err));
		ASSERT_EQ(0, op->check(c, ret, err))
			TH_LOG("fault %d (call returned %ld, %s): %s", n, ret,
			       ret < 0 ? strerror(err) : "ok", c->why);
		ASSERT_EQ(0, fctx_close(c))
			TH_LOG("fault %d: /proc/net/demo not empty", n);
		ASSERT_EQ(0, demo_mod_wait_idle("af_demo"))
			TH_LOG("fault %d: a socket leaked (af_demo refcnt)", n);
		if (left)
			break;
		injected++;
		failed += ret < 0;
	}
	ASSERT_NE(0, left) TH_LOG("still reaching new sites after %d", NTH_CAP);
	fprintf(stderr, "# %s: %d fault sites, %d calls failed, %.1f s\n",
		_metadata->name, injected, failed,
		(now_ms() - t0) / 1e3);
	tot->nth_faults += injected;
	tot->nth_failed += failed;
}

/* --- faults in softirq: probability and the stack-trace filter ---------- */

/* [start, end) of af_demo's text, from /proc/kallsyms; 0 on success. */
static int module_text(unsigned long *start, unsigned long *end)
{
	char line[512], type, name[256], mod[64];
	unsigned long addr, lo = ULONG_MAX, hi = 0;
	FILE *f = fopen("/proc/kallsyms", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx %c %255s %63s", &addr, &type, name,
			   mod) != 4 || strcmp(mod, "[af_demo]") ||
		    (type != 't' && type != 'T') || !addr)
			continue;
		if (addr < lo)
			lo = addr;
		if (addr > hi)
			hi = addr;
	}
	fclose(f);
	if (lo == ULONG_MAX)
		return -1;
	/* Module text is page-granular: the rest of its last page is ours. */
	*start = lo;
	*end = (hi | 4095) + 1;
	return 0;
}

FIXTURE(soft) {
	int init_ns;
	struct knobs k;
	struct fctx c;
};

static const char *const veth_up[] = {
	"ip netns add " NS_A,
	"ip netns add " NS_B,
	"ip -n " NS_A " link add veth_a address 02:de:00:00:01:0a type veth "
		"peer name veth_b address 02:de:00:00:01:0b netns " NS_B,
	"ip -n " NS_A " addr add " ADDR_A "/24 dev veth_a",
	"ip -n " NS_B " addr add " ADDR_B "/24 dev veth_b",
	"ip -n " NS_A " link set veth_a mtu 1500 up",
	"ip -n " NS_B " link set veth_b mtu 1500 up",
	"ip -n " NS_A " link set lo up",
	"ip -n " NS_B " link set lo up",
	"ip -n " NS_A " neigh replace " ADDR_B
		" lladdr 02:de:00:00:01:0b dev veth_a nud permanent",
	"ip -n " NS_B " neigh replace " ADDR_A
		" lladdr 02:de:00:00:01:0a dev veth_b nud permanent",
};

FIXTURE_SETUP(soft)
{
	size_t i;

	ASSERT_MODULE();
	fctx_init(&self->c);
	ASSERT_TRUE(self->c.buf && self->c.rbuf);
	self->k.saved = false;
	self->init_ns = ns_save();
	ASSERT_LE(0, self->init_ns);
	if (!fi_available())
		return;
	sh("ip netns del " NS_A " 2>/dev/null; ip netns del " NS_B
	   " 2>/dev/null");
	for (i = 0; i < ARRAY_SIZE(veth_up); i++)
		ASSERT_EQ(0, sh("%s", veth_up[i])) TH_LOG("%s", veth_up[i]);
	ASSERT_EQ(0, link_ready(NS_A, "veth_a", TMO));
	ASSERT_EQ(0, link_ready(NS_B, "veth_b", TMO));
	ASSERT_EQ(0, demo_netns_enter(NS_B));
	ASSERT_EQ(0, quick_timers());
	ASSERT_EQ(0, demo_netns_enter(NS_A));
	ASSERT_EQ(0, quick_timers());
	ASSERT_EQ(0, knobs_save(&self->k));
}

FIXTURE_TEARDOWN(soft)
{
	knobs_restore(&self->k);
	fctx_close(&self->c);
	setns(self->init_ns, CLONE_NEWNET);
	sh("ip netns del " NS_A " 2>/dev/null; ip netns del " NS_B
	   " 2>/dev/null");
}

#define SOFT_CONNS	4
#define SOFT_MSGS	40
#define SOFT_MAXLEN	6000
#define SOFT_DGRAMS	120
#define SOFT_SLAB	400	/* failslab faults at most */
#define SOFT_PAGE	100	/* fail_page_alloc faults at most */
#define STR_(x)		#x
#define STR(x)		STR_(x)
#define DGRAM_END	0x7fff0000u

static unsigned long long soft_seed;

static size_t soft_len(unsigned int id)
{
	struct demo_rng r = { soft_seed ^ (id * 0x9e3779b1ull) };

	return 4 + demo_rng_below(&r, SOFT_MAXLEN - 4);	/* room for the id */
}

static bool conn_err_ok(int e)
{
	return e == ENOMEM || e == ENOBUFS || e == ECONNREFUSED ||
	       e == ETIMEDOUT || e == ECONNRESET || e == EPIPE;
}

/* A connected pair from NS_A to @l in NS_B, retrying clean failures. */
static int soft_connect(struct fctx *c, int l, unsigned short port,
			int *cs, int *as, int *fails)
{
	int tries, s, a;

	for (tries = 0; tries < 50; tries++) {
		s = ssock(0);
		if (s < 0) {
			CK(c, errno == ENOMEM || errno == ENOBUFS ||
			   errno == ENFILE, "socket");
			++*fails;
			continue;
		}
		if (connect_to(s, ADDR_B, port)) {
			CK(c, conn_err_ok(errno), "connect");
			close_abort_clear(&s);
			++*fails;
			continue;
		}
		a = accept_tmo(l, LONG_TMO);
		if (a < 0) {
			/* no child at the listener: the client must hear */
			CK(c, errno == ETIMEDOUT || errno == ENOMEM ||
			   errno == ENOBUFS || errno == ENFILE, "accept");
			close_abort_clear(&s);
			++*fails;
			continue;
		}
		*cs = s;
		*as = a;
		return 0;
	}
	CK(c, 0, "no connection in %d attempts", tries);
}

/* The datagram flow of "soft", one datagram per round of the stream. */
struct soft_dgrams {
	int fd;
	unsigned int sent;
	int send_fails;
};

static int soft_dgram(struct fctx *c, struct soft_dgrams *d)
{
	size_t len;

	if (d->sent == SOFT_DGRAMS)
		return 0;
	len = soft_len(d->sent);
	fill(c->buf, len, d->sent);
	if (send(d->fd, c->buf, len, MSG_DONTWAIT) < 0) {
		CK(c, errno == ENOMEM || errno == ENOBUFS || errno == EAGAIN,
		   "datagram send");
		d->send_fails++;
	}
	d->sent++;
	return 0;
}

/* Stream SOFT_MSGS messages on each pair; a pair may die cleanly. */
static int soft_stream(struct fctx *c, int *cs, int *as, int *dead,
		       struct soft_dgrams *d)
{
	unsigned int sent[SOFT_CONNS] = { 0 }, got[SOFT_CONNS] = { 0 };
	double end = now_ms() + 4 * LONG_TMO;
	struct pollfd p[2 * SOFT_CONNS];
	unsigned int id;
	bool busy;
	ssize_t n;
	int i;

	for (;;) {
		busy = false;
		for (i = 0; i < SOFT_CONNS; i++) {
			p[2 * i].fd = -1;
			p[2 * i + 1].fd = -1;
			if (dead[i] || got[i] == SOFT_MSGS)
				continue;
			busy = true;
			while (sent[i] < SOFT_MSGS) {
				id = i * 1000 + sent[i];
				fill(c->buf, soft_len(id), id);
				n = send(cs[i], c->buf, soft_len(id),
					 MSG_DONTWAIT | MSG_NOSIGNAL);
				if (n >= 0) {
					CK(c, (size_t)n == soft_len(id),
					   "short send");
					sent[i]++;
					continue;
				}
				if (errno == EAGAIN || errno == ENOMEM ||
				    errno == ENOBUFS)
					break;
				CK(c, conn_err_ok(errno), "send on pair %d", i);
				dead[i] = errno;
				break;
			}
			while (!dead[i] && got[i] < sent[i]) {
				n = recv(as[i], c->rbuf, MAXMSG, MSG_DONTWAIT);
				if (n < 0 && errno == EAGAIN)
					break;
				if (n <= 0) {
					CK(c, n < 0 && conn_err_ok(errno),
					   "recv %zd on pair %d", n, i);
					dead[i] = errno;
					break;
				}
				id = i * 1000 + got[i];
				CK(c, (size_t)n == soft_len(id) &&
				   intact(c->rbuf, n, id),
				   "pair %d: got %zd bytes id %u, want %u", i, n,
				   id_of(c->rbuf, n), id);
				got[i]++;
			}
			p[2 * i].fd = cs[i];
			p[2 * i].events = sent[i] < SOFT_MSGS ? POLLOUT : 0;
			p[2 * i + 1].fd = as[i];
			p[2 * i + 1].events = POLLIN;
			if (dead[i] || got[i] == SOFT_MSGS) {
				p[2 * i].fd = -1;
				p[2 * i + 1].fd = -1;
			}
		}
		for (i = 0; i < 4; i++)	/* a few datagrams per round */
			if (soft_dgram(c, d))
				return -1;
		if (!busy && d->sent == SOFT_DGRAMS)
			return 0;
		CK(c, now_ms() < end, "stream stalled");
		poll(p, 2 * SOFT_CONNS, 20);
	}
}

TEST_F_TIMEOUT(soft, softirq_faults, 600)
{
	int cs[SOFT_CONNS], as[SOFT_CONNS], dead[SOFT_CONNS] = { 0 };
	unsigned long start, end;
	unsigned int next = 0, sent = 0, got = 0, tries;
	int i, l, ds, dr, fails = 0, dead_n = 0, send_fails = 0;
	long slab_left, page_left, in0;
	struct fctx *c = &self->c;
	char s0[32], s1[32];
	struct soft_dgrams d = { 0 };
	double t0 = now_ms();
	bool marked = false;
	ssize_t n;

	REQUIRE_FI();
	soft_seed = demo_seed("demo_faults");
	ASSERT_EQ(0, module_text(&start, &end));
	snprintf(s0, sizeof(s0), "%lu", start);
	snprintf(s1, sizeof(s1), "%lu", end);

	ASSERT_EQ(0, demo_netns_enter(NS_B));
	c->fd[L] = listener(ADDR_B, 16);
	l = c->fd[L];
	ASSERT_LE(0, l);
	c->fd[R] = dsock();
	dr = c->fd[R];
	ASSERT_LE(0, dr);
	ASSERT_EQ(0, bind_to(dr, ADDR_B, 0));
	setopt_int(dr, SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20);
	in0 = demo_stat("InDatagrams");
	ASSERT_EQ(0, demo_netns_enter(NS_A));
	c->fd[X] = dsock();
	ds = c->fd[X];
	ASSERT_LE(0, ds);
	ASSERT_EQ(0, connect_to(ds, ADDR_B, port_of(dr)));

	/* 10% of the allocations with af_demo on the stack, any context */
	ASSERT_EQ(0, knobs_common(s0, s1));
	ASSERT_EQ(0, knob(FS, "times", STR(SOFT_SLAB)));
	ASSERT_EQ(0, knob(FPA, "times", STR(SOFT_PAGE)));
	ASSERT_EQ(0, knob(FS, "probability", "10"));
	ASSERT_EQ(0, knob(FPA, "probability", "10"));

	for (i = 0; i < SOFT_CONNS; i++) {
		cs[i] = -1;
		as[i] = -1;
		ASSERT_EQ(0, soft_connect(c, l, port_of(l), &cs[i], &as[i],
					  &fails)) TH_LOG("%s", c->why);
	}
	d.fd = ds;
	ASSERT_EQ(0, soft_stream(c, cs, as, dead, &d)) TH_LOG("%s", c->why);
	sent = d.sent;
	send_fails = d.send_fails;

	ASSERT_EQ(0, knob(FS, "probability", "0"));
	ASSERT_EQ(0, knob(FPA, "probability", "0"));
	ASSERT_EQ(0, demo_read_long(FS "times", &slab_left));
	ASSERT_EQ(0, demo_read_long(FPA "times", &page_left));

	/* Datagrams: what arrived is intact and in order; a marker ends it. */
	for (tries = 0; !marked && tries < 100; tries++) {
		ASSERT_EQ(0, send_id(c, ds, 8, DGRAM_END + tries));
		while (wait_ev(dr, POLLIN, 200) & POLLIN) {
			n = recv(dr, c->rbuf, MAXMSG, MSG_DONTWAIT);
			ASSERT_LE(0, n);
			if (n == 8 && id_of(c->rbuf, n) >= DGRAM_END) {
				marked = true;
				break;
			}
			ASSERT_TRUE(id_of(c->rbuf, n) >= next &&
				    id_of(c->rbuf, n) < SOFT_DGRAMS &&
				    (size_t)n == soft_len(id_of(c->rbuf, n)) &&
				    intact(c->rbuf, n, id_of(c->rbuf, n)))
				TH_LOG("datagram of %zd bytes id %u after %u",
				       n, id_of(c->rbuf, n), next);
			next = id_of(c->rbuf, n) + 1;
			got++;
		}
	}
	ASSERT_TRUE(marked);
	ASSERT_LE(got, sent - send_fails);
	ASSERT_LE((long)got, ns_stat(NS_B, "InDatagrams") - in0);

	for (i = 0; i < SOFT_CONNS; i++) {
		dead_n += !!dead[i];
		close_abort_clear(&cs[i]);
		close_abort_clear(&as[i]);
	}
	ASSERT_EQ(0, fctx_close(c));
	ASSERT_EQ(0, demo_netns_enter(NS_B));
	ASSERT_EQ(0, wait_proc_empty(LONG_TMO));
	ASSERT_EQ(0, demo_mod_wait_idle("af_demo"));

	fprintf(stderr, "# softirq: %ld slab + %ld page faults injected, "
		"%d connection attempts failed, %d of %d connections reset, "
		"%u of %u datagrams arrived (%d sends failed), %.1f s\n",
		SOFT_SLAB - slab_left, SOFT_PAGE - page_left, fails, dead_n,
		SOFT_CONNS, got, sent, send_fails, (now_ms() - t0) / 1e3);
	tot->soft_faults += SOFT_SLAB - slab_left + SOFT_PAGE - page_left;
	/* the filter must have matched something, or this proved nothing */
	ASSERT_LT(0, SOFT_SLAB - slab_left + SOFT_PAGE - page_left);
}

/* --- resource exhaustion (every kernel) --------------------------------- */

FIXTURE(lo) {
	struct fctx c;
	struct rlimit nofile;
};

FIXTURE_SETUP(lo)
{
	ASSERT_MODULE();
	fctx_init(&self->c);
	ASSERT_TRUE(self->c.buf && self->c.rbuf);
	ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &self->nofile));
	ASSERT_EQ(0, netns_lo());
}

FIXTURE_TEARDOWN(lo)
{
	setrlimit(RLIMIT_NOFILE, &self->nofile);
	fctx_close(&self->c);
}

/* RLIMIT_NOFILE down to the descriptors in use: the next one is EMFILE. */
static int nofile_exhaust(const struct rlimit *old)
{
	struct rlimit lim = *old;
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	close(fd);
	lim.rlim_cur = fd;	/* the lowest free descriptor */
	return setrlimit(RLIMIT_NOFILE, &lim);
}

TEST_F(lo, emfile_socket)
{
	static const int types[] = { SOCK_DGRAM, SOCK_SEQPACKET, SOCK_RAW };
	size_t i;
	int fd;

	ASSERT_EQ(0, demo_mod_wait_idle("af_demo"));
	ASSERT_EQ(0, nofile_exhaust(&self->nofile));
	for (i = 0; i < ARRAY_SIZE(types); i++) {
		fd = socket(af(), types[i] | SOCK_CLOEXEC, 0);
		ASSERT_EQ(-1, fd);
		ASSERT_EQ(EMFILE, errno);
	}
	/* (sysfs and /proc need a descriptor too) */
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &self->nofile));
	/* no socket left behind: nothing holds the module */
	ASSERT_EQ(0, demo_mod_wait_idle("af_demo"));
	ASSERT_EQ(0, proc_entries());
	self->c.fd[X] = ssock(0);
	ASSERT_LE(0, self->c.fd[X]);
}

TEST_F(lo, emfile_accept)
{
	struct fctx *c = &self->c;

	c->fd[L] = listener(LO, 4);
	ASSERT_LE(0, c->fd[L]);
	c->port = port_of(c->fd[L]);
	c->fd[C] = ssock(0);
	ASSERT_LE(0, c->fd[C]);
	ASSERT_EQ(0, connect_to(c->fd[C], LO, c->port));
	ASSERT_EQ(0, send_id(c, c->fd[C], 900, 90));
	ASSERT_TRUE(wait_ev(c->fd[L], POLLIN, TMO) & POLLIN);

	ASSERT_EQ(0, nofile_exhaust(&self->nofile));
	ASSERT_EQ(-1, accept4(c->fd[L], NULL, NULL, SOCK_CLOEXEC));
	ASSERT_EQ(EMFILE, errno);
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &self->nofile));

	/* still queued, data and all */
	ASSERT_TRUE(wait_ev(c->fd[L], POLLIN, 0) & POLLIN);
	c->fd[A] = accept4(c->fd[L], NULL, NULL, SOCK_CLOEXEC);
	ASSERT_LE(0, c->fd[A]);
	ASSERT_EQ(0, expect_id(c, c->fd[A], 900, 90)) TH_LOG("%s", c->why);
	ASSERT_EQ(0, seq_exchange(c, 91)) TH_LOG("%s", c->why);
}

#define RB_DGRAMS	64

TEST_F(lo, rcvbuf_dgram)
{
	struct fctx *c = &self->c;
	long drops = 0, before;
	unsigned int i, got = 0, next = 0;
	double end;
	ssize_t n;

	ASSERT_EQ(0, dgram_rcv(c)) TH_LOG("%s", c->why);
	ASSERT_EQ(0, setopt_int(c->fd[R], SOL_SOCKET, SO_RCVBUF, 1));
	c->fd[X] = dsock();
	ASSERT_LE(0, c->fd[X]);
	ASSERT_EQ(0, connect_to(c->fd[X], LO, c->port));
	before = demo_stat("RcvbufErrors");
	ASSERT_LE(0, before);
	for (i = 0; i < RB_DGRAMS; i++)
		ASSERT_EQ(0, send_id(c, c->fd[X], 1000, i));
	/* every datagram is either received or counted as dropped */
	end = now_ms() + TMO;
	for (;;) {
		while ((n = recv(c->fd[R], c->rbuf, MAXMSG,
				 MSG_DONTWAIT)) >= 0) {
			ASSERT_TRUE(n == 1000 && id_of(c->rbuf, n) >= next &&
				    intact(c->rbuf, n, id_of(c->rbuf, n)));
			next = id_of(c->rbuf, n) + 1;
			got++;
		}
		ASSERT_EQ(EAGAIN, errno);
		drops = demo_stat("RcvbufErrors") - before;
		if (got + drops >= RB_DGRAMS)
			break;
		ASSERT_LT(now_ms(), end) TH_LOG("%u received, %ld dropped",
						got, drops);
		wait_ev(c->fd[R], POLLIN, 20);
	}
	ASSERT_EQ(RB_DGRAMS, got + drops);
	ASSERT_LT(0, drops);
	ASSERT_LT(0, got);
	demo_figure("rcvbuf_dgram_dropped", drops);
}

/*
 * Send messages [*next, end) on C without blocking (EAGAIN waits for
 * room) and receive them on A from *rnext, in order and intact.
 */
static int pump(struct fctx *c, unsigned int *next, unsigned int *rnext,
		unsigned int end, size_t (*len)(unsigned int), int ms)
{
	double until = now_ms() + ms;
	struct pollfd p[2];
	ssize_t n;

	for (;;) {
		while (*next < end) {
			fill(c->buf, len(*next), *next);
			n = send(c->fd[C], c->buf, len(*next),
				 MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n < 0) {
				CK(c, errno == EAGAIN || errno == ENOBUFS,
				   "send %u", *next);
				break;
			}
			CK(c, (size_t)n == len(*next), "short send");
			++*next;
		}
		while (*rnext < *next) {
			n = recv(c->fd[A], c->rbuf, MAXMSG, MSG_DONTWAIT);
			if (n < 0 && errno == EAGAIN)
				break;
			CK(c, n >= 0 && (size_t)n == len(*rnext) &&
			   intact(c->rbuf, n, *rnext),
			   "got %zd bytes id %u, want %u", n,
			   id_of(c->rbuf, n), *rnext);
			++*rnext;
		}
		if (*rnext == end)
			return 0;
		CK(c, now_ms() < until, "stalled at %u sent, %u received",
		   *next, *rnext);
		p[0] = (struct pollfd){ .fd = c->fd[C], .events = POLLOUT };
		p[1] = (struct pollfd){ .fd = c->fd[A], .events = POLLIN };
		poll(p, 2, 50);
	}
}

static size_t len_2000(unsigned int id)
{
	(void)id;
	return 2000;
}

#define RB_MSGS		1000	/* 2 MB: more than window and SO_SNDBUF */

TEST_F_TIMEOUT(lo, rcvbuf_seq, 120)
{
	struct fctx *c = &self->c;
	unsigned int next = 0, rnext = 0;

	ASSERT_EQ(0, seq_pair(c)) TH_LOG("%s", c->why);
	ASSERT_EQ(0, setopt_int(c->fd[A], SOL_SOCKET, SO_RCVBUF, 1));
	/* nobody reads: the window closes and the sender stalls */
	for (; next < RB_MSGS; next++) {
		fill(c->buf, 2000, next);
		if (send(c->fd[C], c->buf, 2000,
			 MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
			break;
	}
	ASSERT_LT(next, RB_MSGS) TH_LOG("the sender never stalled");
	ASSERT_EQ(EAGAIN, errno);
	ASSERT_LT(0, ioctl_int(c->fd[C], SIOCOUTQ));
	demo_figure("rcvbuf_seq_stalled_after", next);
	ASSERT_EQ(0, pump(c, &next, &rnext, RB_MSGS, len_2000, 60000))
		TH_LOG("%s", c->why);
}

static unsigned int big_id;

static size_t len_sndbuf(unsigned int id)
{
	return id == big_id ? 100000 : 3000;
}

#define SB_MSGS		1000

TEST_F_TIMEOUT(lo, sndbuf_seq, 120)
{
	struct fctx *c = &self->c;
	unsigned int next = 0, rnext = 0;
	int outq;

	ASSERT_EQ(0, seq_pair(c)) TH_LOG("%s", c->why);
	ASSERT_EQ(0, setopt_int(c->fd[C], SOL_SOCKET, SO_SNDBUF, 1));
	ASSERT_EQ(0, setopt_int(c->fd[A], SOL_SOCKET, SO_RCVBUF, 1));
	/* the receiver does not read: the window closes, the buffer fills */
	for (; next < SB_MSGS; next++) {
		fill(c->buf, 3000, next);
		if (send(c->fd[C], c->buf, 3000,
			 MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
			break;
	}
	ASSERT_LT(next, SB_MSGS) TH_LOG("the sender never stalled");
	ASSERT_TRUE(errno == EAGAIN || errno == ENOBUFS);
	/* a large message does not fit: nothing of it is queued */
	big_id = next;
	outq = ioctl_int(c->fd[C], SIOCOUTQ);
	fill(c->buf, 100000, big_id);
	ASSERT_EQ(-1, send(c->fd[C], c->buf, 100000,
			   MSG_DONTWAIT | MSG_NOSIGNAL));
	ASSERT_TRUE(errno == EAGAIN || errno == ENOBUFS);
	ASSERT_GE(outq, ioctl_int(c->fd[C], SIOCOUTQ));
	demo_figure("sndbuf_seq_queued_before_eagain", next);
	/* the accepted ones, then the large one and more, each once */
	ASSERT_EQ(0, pump(c, &next, &rnext, big_id + 20, len_sndbuf, 60000))
		TH_LOG("%s", c->why);
}

/* Last case (fixtures run in order): the figures, and no leak. */
FIXTURE(zz) {
	int unused;
};

FIXTURE_SETUP(zz)
{
	self->unused = 0;
}

FIXTURE_TEARDOWN(zz)
{
}

TEST_F_TIMEOUT(zz, kmemleak_end, 300)	/* a scan takes ~30 s with KASAN */
{
	int leaks;

	demo_figure("faults_injected", tot->nth_faults + tot->soft_faults);
	demo_figure("faults_injected_nth", tot->nth_faults);
	demo_figure("faults_nth_calls_failed", tot->nth_failed);
	demo_figure("faults_injected_softirq", tot->soft_faults);
	if (!demo_kmemleak_available())
		SKIP(return, "kernel without kmemleak");
	ASSERT_TRUE(tot->kmemleak_cleared);
	ASSERT_EQ(0, demo_mod_wait_idle("af_demo"));
	leaks = demo_kmemleak_scan();
	ASSERT_EQ(0, leaks);
	demo_figure("kmemleak_suspects", leaks);
}

TEST_HARNESS_MAIN
