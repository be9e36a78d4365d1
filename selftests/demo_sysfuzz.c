// SPDX-License-Identifier: GPL-2.0
/*
 * AF_DEMO syscall fuzzer: several threads issue random sequences of
 * socket, bind, connect, listen, accept4, send/sendto/sendmsg/sendmmsg,
 * recv/recvfrom/recvmsg/recvmmsg, setsockopt, getsockopt, ioctl,
 * poll/ppoll, shutdown, close, fcntl and getsockname/getpeername on a
 * shared table of AF_DEMO sockets of every type, with random flags,
 * lengths, option values, malformed addresses and invalid pointers (a
 * PROT_NONE page, a buffer running into it, unmapped and kernel
 * addresses), for a bounded time.
 *
 * What it proves: nothing crashes, hangs, leaks or warns (vm-run.sh scans
 * the guest's kernel log, run_guest.sh runs kmemleak after rmmod); no call
 * blocks past the short SO_RCVTIMEO/SO_SNDTIMEO/SO_LINGER every socket
 * carries (a watchdog fails the test when a worker makes no progress for
 * AFDEMO_FUZZ_HANG_S seconds, default 60, naming the call); every errno is
 * one the call may return (EFAULT only when a pointer was invalid, never
 * ENOSYS, EIO, ENOTSUPP or ENOIOCTLCMD leaking to userspace); afterwards
 * every connection ends (only TIME_WAIT left in /proc/net/demo), normal
 * datagram and seqpacket traffic still works, and once the namespaces are
 * gone the module's refcount is back to its value at the start: no socket
 * leaked.
 *
 * Layout: two named namespaces sfz_a and sfz_b joined by a veth pair
 * (198.18.7.1/24 - 198.18.7.2/24), lo up in both, short seqpacket timers.
 * Half the workers create their sockets in sfz_a, half in sfz_b, so
 * traffic goes over lo and across namespaces; every socket is shared by
 * all workers. Slot i of the table is always fd SLOT_BASE + i: a new or
 * accepted socket is dup3()ed onto it, so a racing call on a stale slot
 * only ever reaches another of our sockets or gets EBADF, never one of the
 * harness's descriptors. The fuzzing runs in a forked child, which reports
 * through shared memory; a crash or hang of the child fails the test
 * instead of killing the harness.
 *
 * The sequence of calls of each worker is a function of the seed (the
 * interleaving between workers is not). Repeat a run with the seed it
 * printed: AFDEMO_SEED=N build/selftests/demo_sysfuzz. AFDEMO_FUZZ_SECONDS
 * overrides the fuzzing time (default 60 s, 100 s on the debug kernel),
 * AFDEMO_FUZZ_THREADS the number of workers (default 6),
 * AFDEMO_FUZZ_HANG_S the watchdog's limit. AFDEMO_FUZZ_SELFCHECK_HANG=1
 * makes one worker block in a recv() without a timeout, to see the
 * watchdog fail the test.
 *
 * Run as root with af_demo loaded, in a guest:
 *   scripts/vm-run.sh -k 6.12.117+deb12-amd64 -t 900 -o /tmp/sysfuzz -- \
 *	selftests/run_guest.sh build/selftests/demo_sysfuzz
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
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <linux/filter.h>
#include <linux/sockios.h>

#include "kselftest_harness.h"

#define NS_A		"sfz_a"
#define NS_B		"sfz_b"
#define ADDR_A		"198.18.7.1"
#define ADDR_B		"198.18.7.2"
#define ADDR_GONE	"198.18.7.99"	/* on the link, answers nothing */
#define ADDR_BCAST	"198.18.7.255"
#define ADDR_NOROUTE	"198.19.200.1"
#define SYSCTL		"/proc/sys/net/demo/"

#define NSLOTS		32
#define HOT_SLOTS	6
#define SLOT_BASE	512
#define MAX_THREADS	16
#define PORT_BASE	7000
#define NPORTS		8
#define BIGBUF		(300 * 1024)
#define NIOV		1100		/* > UIO_MAXIOV (1024) */
#define OPTBUF		8192
#define ERR_OTHER	200		/* errno bucket for >= ERR_OTHER */
#define NEXAMPLES	24
#define SETTLE_MS	15000
#define IDLE_MS		20000

/* --- shared state between the fuzzing child and the test --------------- */

enum op {
	OP_SOCKET, OP_BIND, OP_CONNECT, OP_LISTEN, OP_ACCEPT, OP_SEND,
	OP_RECV, OP_SENDMMSG, OP_RECVMMSG, OP_SETSOCKOPT, OP_GETSOCKOPT,
	OP_IOCTL, OP_POLL, OP_SHUTDOWN, OP_CLOSE, OP_FCNTL, OP_GETNAME,
	OP_NR
};

static const char *const op_name[OP_NR] = {
	"socket", "bind", "connect", "listen", "accept", "send", "recv",
	"sendmmsg", "recvmmsg", "setsockopt", "getsockopt", "ioctl", "poll",
	"shutdown", "close", "fcntl", "getname",
};

struct progress {
	long ops;		/* calls finished */
	long start_ms;		/* start of the call in progress, 0 if none */
	char what[160];		/* the call in progress */
};

struct shared {
	unsigned long calls[OP_NR];
	unsigned long ok[OP_NR];
	/* errno histogram; [1]: some pointer or length was invalid */
	unsigned long err[OP_NR][ERR_OTHER + 1][2];
	long max_ms[OP_NR];
	unsigned long conns;		/* connections made by mkconn */
	struct progress prog[MAX_THREADS];
	int hang;
	char hang_msg[256];
	int nex;
	char ex[NEXAMPLES][400];
	int done;
	long slow_ms;			/* limit for one call, see rec() */
	int nslow;
	char slow[4][256];
};

static struct shared *sh_mem;

/* --- small helpers ------------------------------------------------------ */

static int ns_sysctl(const char *ns, const char *name, long val)
{
	char path[128], buf[32];
	int cur = ns_save(), ret = -1;

	snprintf(path, sizeof(path), SYSCTL "%s", name);
	snprintf(buf, sizeof(buf), "%ld", val);
	if (cur >= 0 && !demo_netns_enter(ns))
		ret = demo_write_file(path, buf);
	ns_restore(cur);
	return ret;
}

static long env_long(const char *name, long def)
{
	const char *v = getenv(name);

	return v && *v ? strtol(v, NULL, 0) : def;
}

static bool debug_kernel(void)
{
	struct utsname u;
	size_t n;

	if (uname(&u))
		return false;
	n = strlen(u.release);
	return n >= 13 && !strcmp(u.release + n - 13, "-afdemo-debug");
}

static int set_timeo(int fd, int opt, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = ms % 1000 * 1000 };

	return setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof(tv));
}

/* --- errno rules -------------------------------------------------------- */

/* errnos any call on a slot may see: the slot was closed, or memory. */
static bool err_common(int e)
{
	return e == EBADF || e == ENOMEM || e == ENOBUFS;
}

static bool err_in(int e, const int *set)
{
	for (; *set; set++)
		if (*set == e)
			return true;
	return false;
}

/* The errnos each call may legitimately return, besides err_common(). */
static const int ok_socket[] = { EINVAL, ESOCKTNOSUPPORT, EPROTONOSUPPORT,
	EMFILE, 0 };
static const int ok_bind[] = { EINVAL, EAFNOSUPPORT, EADDRNOTAVAIL,
	EADDRINUSE, EACCES, EOPNOTSUPP, 0 };
/*
 * connect/send ENODEV: SO_BINDTOIFINDEX takes any ifindex >= 0 without
 * looking it up (sock_bindtoindex_locked()), so the route lookup fails
 * later, as it does for TCP and UDP.
 */
static const int ok_connect[] = { EINVAL, EAFNOSUPPORT, ECONNREFUSED, ENODEV,
	EINPROGRESS, EALREADY, EISCONN, ETIMEDOUT, ENETUNREACH, EHOSTUNREACH,
	EADDRNOTAVAIL, EADDRINUSE, EAGAIN, ECONNRESET, ECONNABORTED,
	EOPNOTSUPP, EACCES, EPROTO, EPIPE, 0 };
static const int ok_listen[] = { EINVAL, EOPNOTSUPP, EADDRINUSE,
	EADDRNOTAVAIL, EAGAIN, 0 };
static const int ok_accept[] = { EINVAL, EOPNOTSUPP, EAGAIN, ECONNABORTED,
	EMFILE, 0 };
static const int ok_send[] = { EINVAL, EAFNOSUPPORT, EOPNOTSUPP, EMSGSIZE,
	EAGAIN, EPIPE, ECONNRESET, ECONNREFUSED, ETIMEDOUT, ENOTCONN,
	EDESTADDRREQ, EISCONN, EACCES, ENETUNREACH, EHOSTUNREACH, EPROTO,
	ENODEV, ENXIO, EPERM, 0 };
/* EPIPE: a reset in CLOSE_WAIT leaves it pending, as tcp_reset() does */
static const int ok_recv[] = { EAGAIN, EINVAL, EOPNOTSUPP, ENOTCONN, EPIPE,
	ECONNRESET, ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH, ENETUNREACH,
	EPROTO, EMSGSIZE, 0 };
static const int ok_setsockopt[] = { EINVAL, ENOPROTOOPT, EOPNOTSUPP, EDOM,
	ENODEV, EPERM, ENOENT, EEXIST, EACCES, ERANGE, EBUSY, 0 };
static const int ok_getsockopt[] = { EINVAL, ENOPROTOOPT, EOPNOTSUPP,
	ENOTCONN, ERANGE, ENODATA, ENOENT, 0 };
/*
 * ESRCH: FIOSETOWN/SIOCSPGRP naming no process (a pid read through a
 * pointer the fuzzer took for bad): the socket layer's, not af_demo's.
 */
static const int ok_ioctl[] = { ENOTTY, EINVAL, EOPNOTSUPP, ENOENT, ENODEV,
	EPERM, ESRCH, 0 };
static const int ok_poll[] = { EINVAL, 0 };
static const int ok_shutdown[] = { EINVAL, ENOTCONN, 0 };
static const int ok_none[] = { 0 };
static const int ok_getname[] = { ENOTCONN, EINVAL, 0 };

static const int *const ok_set[OP_NR] = {
	[OP_SOCKET] = ok_socket, [OP_BIND] = ok_bind,
	[OP_CONNECT] = ok_connect, [OP_LISTEN] = ok_listen,
	[OP_ACCEPT] = ok_accept, [OP_SEND] = ok_send, [OP_RECV] = ok_recv,
	[OP_SENDMMSG] = ok_send, [OP_RECVMMSG] = ok_recv,
	[OP_SETSOCKOPT] = ok_setsockopt, [OP_GETSOCKOPT] = ok_getsockopt,
	[OP_IOCTL] = ok_ioctl, [OP_POLL] = ok_poll,
	[OP_SHUTDOWN] = ok_shutdown, [OP_CLOSE] = ok_none,
	[OP_FCNTL] = ok_none, [OP_GETNAME] = ok_getname,
};

static bool err_allowed(int op, int e, bool bad)
{
	if (e == EFAULT)
		return bad;
	if (err_common(e))
		return true;
	/* an invalid length or pointer may also be refused as EINVAL */
	if (bad && (e == EINVAL || e == EMSGSIZE))
		return true;
	return err_in(e, ok_set[op]);
}

/* --- the fuzzing workers ------------------------------------------------ */

struct worker {
	int idx;
	int ns_fd[2];		/* sfz_a, sfz_b */
	int home;		/* index of the namespace it creates sockets in */
	struct demo_rng seq;	/* draws the op and the seed of its rng */
	struct demo_rng rng;	/* the op's own draws */
	pthread_t tid;
	char *buf;		/* BIGBUF bytes */
	char *opt;		/* OPTBUF bytes */
	struct iovec *iov;	/* NIOV */
	char what[160];
	int fd;			/* the slot of the call in progress */
};

static int stop_fuzz;
static int fam;
static char *bad_page;		/* PROT_NONE */
static char *edge;		/* end of a RW page followed by bad_page */

static unsigned int rnd(struct worker *w, unsigned int n)
{
	return demo_rng_below(&w->rng, n);
}

static bool chance(struct worker *w, unsigned int pct)
{
	return rnd(w, 100) < pct;
}

static int slot_fd(struct worker *w)
{
	unsigned int r = rnd(w, 100);

	if (r == 0)
		return w->fd = -1;
	if (r == 1)
		return w->fd = SLOT_BASE + NSLOTS + 7;	/* never open */
	/* half the calls go to a few hot slots, so that calls race */
	if (r < 50)
		return w->fd = SLOT_BASE + rnd(w, HOT_SLOTS);
	return w->fd = SLOT_BASE + rnd(w, NSLOTS);
}

/* What the socket on @fd is, for reports: type, protocol, device, netns. */
static void describe(int fd, char *buf, size_t len)
{
	int type = sockopt_int(fd, SOL_SOCKET, SO_TYPE);
	int proto = sockopt_int(fd, SOL_SOCKET, SO_PROTOCOL);
	int st = -1;
	char dev[IFNAMSIZ] = "";
	socklen_t dl = sizeof(dev);
	unsigned long long ck = 0;
	socklen_t cl = sizeof(ck);
	struct sockaddr_demo me, peer;
	char a[20] = "-", b[20] = "-";

	getsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, dev, &dl);
	getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &ck, &cl);
	if (!sock_name(fd, &me, false))
		snprintf(a, sizeof(a), "%s:%u", inet_ntoa(me.sdemo_addr),
			 ntohs(me.sdemo_port));
	if (!sock_name(fd, &peer, true))
		snprintf(b, sizeof(b), "%s:%u", inet_ntoa(peer.sdemo_addr),
			 ntohs(peer.sdemo_port));
	st = sockopt_int(fd, SOL_SOCKET, SO_ACCEPTCONN);
	snprintf(buf, len, "type %d proto %d dev '%s' netns %llu %s->%s%s",
		 type, proto, dev, ck, a, b, st == 1 ? " listening" : "");
}

static void begin(struct worker *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void begin(struct worker *w, const char *fmt, ...)
{
	struct progress *p = &sh_mem->prog[w->idx];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->what, sizeof(w->what), fmt, ap);
	va_end(ap);
	memcpy(p->what, w->what, sizeof(p->what));
	__atomic_store_n(&p->start_ms, demo_now_ms(), __ATOMIC_RELEASE);
}

/* Account one finished call; @ret < 0 means failure with errno @e. */
static void rec(struct worker *w, int op, long ret, int e, bool bad)
{
	struct progress *p = &sh_mem->prog[w->idx];
	long ms = demo_now_ms() - p->start_ms;
	int idx;

	__atomic_store_n(&p->start_ms, 0, __ATOMIC_RELEASE);
	__atomic_fetch_add(&p->ops, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&sh_mem->calls[op], 1, __ATOMIC_RELAXED);
	if (ms > __atomic_load_n(&sh_mem->max_ms[op], __ATOMIC_RELAXED))
		__atomic_store_n(&sh_mem->max_ms[op], ms, __ATOMIC_RELAXED);
	/*
	 * Every socket's timeouts are below 0.1 s, SO_LINGER at most 1 s, poll
	 * waits at most 1 s: a call taking far longer ignored its timeout.
	 * socket() and ioctl() may wait for request_module() (unknown
	 * protocols and devices), which can take seconds on a guest.
	 */
	if (ms > sh_mem->slow_ms && op != OP_SOCKET && op != OP_IOCTL) {
		int n = __atomic_fetch_add(&sh_mem->nslow, 1, __ATOMIC_RELAXED);

		if (n < 4)
			snprintf(sh_mem->slow[n], sizeof(sh_mem->slow[n]),
				 "%s took %ld ms", w->what, ms);
	}
	if (ret >= 0) {
		__atomic_fetch_add(&sh_mem->ok[op], 1, __ATOMIC_RELAXED);
		return;
	}
	idx = e > 0 && e < ERR_OTHER ? e : ERR_OTHER;
	__atomic_fetch_add(&sh_mem->err[op][idx][bad], 1, __ATOMIC_RELAXED);
	if (!err_allowed(op, e, bad)) {
		int n = __atomic_fetch_add(&sh_mem->nex, 1, __ATOMIC_RELAXED);

		char d[160] = "";

		if (n < NEXAMPLES) {
			if (w->fd >= SLOT_BASE)
				describe(w->fd, d, sizeof(d));
			snprintf(sh_mem->ex[n], sizeof(sh_mem->ex[n]),
				 "%s -> errno %d (%s)%s; now %s", w->what, e,
				 strerror(e), bad ? " [bad args]" : "", d);
		}
	}
}

#define CALL(w, op, bad, expr) do {				\
	long __r = (long)(expr);				\
	rec(w, op, __r, __r < 0 ? errno : 0, bad);		\
} while (0)

/*
 * A pointer for @len bytes of user memory: usually @good, sometimes an
 * invalid one (and then *bad is set).
 */
static void *pick_ptr(struct worker *w, void *good, size_t len, int pct,
		      bool *bad)
{
	if (!chance(w, pct))
		return good;
	switch (rnd(w, 5)) {
	case 0:
		if (len)
			*bad = true;
		return NULL;
	case 1:
		if (len)
			*bad = true;
		return bad_page;
	case 2: {		/* runs into the PROT_NONE page */
		size_t k = len ? rnd(w, len < 4096 ? len : 4096) : 0;

		if (len > k)
			*bad = true;
		return edge - k;
	}
	case 3:		/* kernel: fails access_ok() even for 0 bytes */
		*bad = true;
		return (void *)0xffff888000001000UL;
	default:
		if (len)
			*bad = true;
		return (void *)(uintptr_t)(0x1000 + rnd(w, 0x1000));
	}
}

static const char *const addrs_any[] = {
	"127.0.0.1", ADDR_A, ADDR_B, "0.0.0.0", ADDR_GONE, ADDR_NOROUTE,
	ADDR_BCAST, "224.0.0.1", "127.0.0.2", "255.255.255.255",
};

static unsigned short pick_port(struct worker *w)
{
	unsigned int r = rnd(w, 100);

	if (r < 75)
		return PORT_BASE + rnd(w, NPORTS);
	if (r < 88)
		return 0;
	return rnd(w, 65536);
}

/*
 * A socket address in @sa (OPTBUF bytes) for bind/connect/sendto: mostly
 * valid AF_DEMO addresses on a small pool of ports, so that they collide,
 * sometimes malformed. Returns the pointer to pass and sets *len.
 */
static void *pick_addr(struct worker *w, char *sa, socklen_t *len, bool *bad)
{
	struct sockaddr_demo *d = (struct sockaddr_demo *)sa;
	unsigned int r;

	memset(sa, 0, 256);
	d->sdemo_family = fam;
	d->sdemo_port = htons(pick_port(w));
	d->sdemo_addr.s_addr = inet_addr(addrs_any[rnd(w, 6) < 4 ?
		rnd(w, 4) : rnd(w, ARRAY_SIZE(addrs_any))]);
	*len = sizeof(*d);

	r = rnd(w, 100);
	if (r < 4) {
		d->sdemo_family = AF_UNSPEC;
	} else if (r < 8) {
		static const int fams[] = { AF_INET, AF_INET6, AF_UNIX, 0xffff,
					    AF_PACKET };

		d->sdemo_family = fams[rnd(w, ARRAY_SIZE(fams))];
	} else if (r < 12) {
		d->sdemo_zero[rnd(w, 8)] = 1 + rnd(w, 255);
	} else if (r < 22) {
		static const int lens[] = { 0, 1, 2, 3, 8, 15, 17, 28, 110,
					    128, 129, 255, -1 };

		*len = lens[rnd(w, ARRAY_SIZE(lens))];
		if (*len > 256)
			*bad = true;	/* beyond our buffer */
	}
	return pick_ptr(w, sa, *len, 4, bad);
}

static const int sock_types[] = {
	SOCK_DGRAM, SOCK_DGRAM, SOCK_SEQPACKET, SOCK_SEQPACKET,
	SOCK_SEQPACKET, SOCK_RAW, SOCK_STREAM, SOCK_RDM, 0, 11,
};

/* New socket onto slot @s, in namespace @ns; its fd or -1. */
static int new_socket(struct worker *w, int s, int type, int proto)
{
	int fd;

	w->fd = -1;
	begin(w, "socket(%d, %#x, %d)", fam, type, proto);
	fd = socket(fam, type, proto);
	rec(w, OP_SOCKET, fd, errno, false);
	if (fd < 0)
		return -1;
	begin(w, "setsockopt(timeouts) on new socket");
	CALL(w, OP_SETSOCKOPT, false,
	     set_timeo(fd, SO_RCVTIMEO, 1 + rnd(w, 30)) |
	     set_timeo(fd, SO_SNDTIMEO, 1 + rnd(w, 30)));
	if (dup3(fd, SLOT_BASE + s, O_CLOEXEC) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	return SLOT_BASE + s;
}

static void op_socket(struct worker *w)
{
	int type = sock_types[rnd(w, ARRAY_SIZE(sock_types))];
	static const int protos[] = { 0, 0, 0, DEMOPROTO_DGRAM,
		DEMOPROTO_SEQPACKET, -1, INT_MIN };
	/* these go through request_module(): seconds each on the guest */
	static const int slow_protos[] = { 3, 255, INT_MAX };
	int proto = protos[rnd(w, ARRAY_SIZE(protos))];

	if (chance(w, 2))
		proto = slow_protos[rnd(w, ARRAY_SIZE(slow_protos))];

	if (chance(w, 5))
		type = rnd(w, 16);
	/*
	 * A type with entries but not for this protocol costs a
	 * request_module(), seconds each on the guest: keep those rare.
	 */
	if (((type == SOCK_DGRAM && proto == DEMOPROTO_SEQPACKET) ||
	     (type == SOCK_SEQPACKET && proto == DEMOPROTO_DGRAM)) &&
	    !chance(w, 10))
		proto = 0;
	if (chance(w, 20))
		type |= SOCK_NONBLOCK;
	if (chance(w, 3))
		type |= 1 << (20 + rnd(w, 12));	/* bogus flag bit */
	new_socket(w, rnd(w, NSLOTS), type | SOCK_CLOEXEC, proto);
}

static void op_bind(struct worker *w)
{
	int fd = slot_fd(w);
	bool bad = false;
	socklen_t len;
	void *sa = pick_addr(w, w->opt, &len, &bad);

	begin(w, "bind(%d, %s:%u fam %d, %d)", fd,
	      inet_ntoa(((struct sockaddr_demo *)w->opt)->sdemo_addr),
	      ntohs(((struct sockaddr_demo *)w->opt)->sdemo_port),
	      ((struct sockaddr_demo *)w->opt)->sdemo_family, (int)len);
	CALL(w, OP_BIND, bad, bind(fd, sa, len));
}

static void op_connect(struct worker *w)
{
	int fd = slot_fd(w);
	bool bad = false;
	socklen_t len;
	void *sa = pick_addr(w, w->opt, &len, &bad);

	begin(w, "connect(%d, %s:%u fam %d, %d)", fd,
	      inet_ntoa(((struct sockaddr_demo *)w->opt)->sdemo_addr),
	      ntohs(((struct sockaddr_demo *)w->opt)->sdemo_port),
	      ((struct sockaddr_demo *)w->opt)->sdemo_family, (int)len);
	CALL(w, OP_CONNECT, bad, connect(fd, sa, len));
}

static void op_listen(struct worker *w)
{
	static const int backlogs[] = { 0, 1, 2, 4, 16, -1, INT_MAX, INT_MIN,
					4096, 100000 };
	int fd = slot_fd(w), b = backlogs[rnd(w, ARRAY_SIZE(backlogs))];

	begin(w, "listen(%d, %d)", fd, b);
	CALL(w, OP_LISTEN, false, listen(fd, b));
}

static void op_accept(struct worker *w)
{
	static const int flagsets[] = { 0, SOCK_NONBLOCK, SOCK_CLOEXEC,
		SOCK_NONBLOCK | SOCK_CLOEXEC, 1, O_APPEND };
	int fd = slot_fd(w), flags, nfd;
	socklen_t *lenp = (socklen_t *)(w->opt + 512);
	static const int lens[] = { 16, 16, 0, 4, 15, 17, 128, -1 };
	bool bad = false;
	void *addr = NULL;

	flags = flagsets[rnd(w, ARRAY_SIZE(flagsets))];
	if (chance(w, 60)) {
		*lenp = lens[rnd(w, ARRAY_SIZE(lens))];
		addr = pick_ptr(w, w->opt, 256, 10, &bad);
		lenp = pick_ptr(w, lenp, sizeof(*lenp), 10, &bad);
	} else {
		lenp = NULL;
	}
	begin(w, "accept4(%d, %p, %p, %#x)", fd, addr, (void *)lenp, flags);
	nfd = accept4(fd, addr, lenp, flags | SOCK_CLOEXEC);
	rec(w, OP_ACCEPT, nfd, errno, bad);
	if (nfd >= 0) {
		dup3(nfd, SLOT_BASE + rnd(w, NSLOTS), O_CLOEXEC);
		close(nfd);
	}
}

static const int send_flag_bits[] = {
	MSG_OOB, MSG_PEEK, MSG_DONTROUTE, MSG_CTRUNC, MSG_PROXY, MSG_TRUNC,
	MSG_EOR, MSG_WAITALL, MSG_FIN, MSG_SYN, MSG_CONFIRM, MSG_RST,
	MSG_ERRQUEUE, MSG_MORE, MSG_WAITFORONE, MSG_BATCH, MSG_ZEROCOPY,
	MSG_FASTOPEN, MSG_CMSG_CLOEXEC, 0x8000000 /* MSG_SPLICE_PAGES */,
	0x10000000, 0x100000, 0x200000,
};

static int pick_flags(struct worker *w)
{
	int f = 0, n;

	if (chance(w, 60))
		f |= MSG_DONTWAIT;
	if (chance(w, 70))
		f |= MSG_NOSIGNAL;
	for (n = rnd(w, 100) < 60 ? 0 : 1 + rnd(w, 3); n; n--)
		f |= send_flag_bits[rnd(w, ARRAY_SIZE(send_flag_bits))];
	if (chance(w, 2))
		f = (int)demo_rng_next(&w->rng);
	return f;
}

static size_t pick_size(struct worker *w)
{
	static const size_t edges[] = { 0, 1, 1456, 1457, 1480, 65503, 65504,
		65507, 65536, DEMO_SEQPACKET_MAX_MSG, DEMO_SEQPACKET_MAX_MSG + 1,
		BIGBUF };
	unsigned int r = rnd(w, 100);

	if (r < 10)
		return edges[rnd(w, ARRAY_SIZE(edges))];
	if (r < 55)
		return rnd(w, 128);
	if (r < 85)
		return rnd(w, 3000);
	if (r < 96)
		return rnd(w, 65536);
	return rnd(w, BIGBUF + 1);
}

/* Split @len bytes of w->buf over iovecs; returns the count. */
static int fill_iov(struct worker *w, size_t len, bool *bad)
{
	int n, i;
	size_t off = 0, part;

	switch (rnd(w, 10)) {
	case 0:
		n = 2 + rnd(w, 62);
		break;
	case 1:
		n = chance(w, 50) ? 1024 : 1025;
		break;
	case 2:
		n = 2 + rnd(w, 6);
		break;
	default:
		n = 1;
	}
	for (i = 0; i < n; i++) {
		part = i == n - 1 ? len - off : (len - off) / (n - i) +
			(chance(w, 10) ? rnd(w, 16) : 0);
		if (off + part > len)
			part = len - off;
		w->iov[i].iov_base = w->buf + off;
		w->iov[i].iov_len = part;
		if (chance(w, 2))
			w->iov[i].iov_base = pick_ptr(w, w->buf + off, part,
						       100, bad);
		off += part;
	}
	if (chance(w, 1)) {	/* a length that overflows ssize_t */
		w->iov[0].iov_len = SIZE_MAX / 2 + 1;
		*bad = true;
	}
	return n;
}

/* msg_control: none, garbage or a well-formed header of random type. */
static void pick_control(struct worker *w, struct msghdr *m, char *cbuf,
			 bool *bad)
{
	unsigned int r = rnd(w, 100);
	struct cmsghdr *c = (struct cmsghdr *)cbuf;

	m->msg_control = NULL;
	m->msg_controllen = 0;
	if (r < 85)
		return;
	m->msg_control = cbuf;
	if (r < 92) {
		size_t i;

		m->msg_controllen = rnd(w, 256);
		for (i = 0; i < m->msg_controllen; i++)
			cbuf[i] = (char)rnd(w, 256);
	} else {
		static const int levels[] = { SOL_SOCKET, SOL_IP, SOL_DEMO,
					      17, 253 };

		c->cmsg_len = CMSG_LEN(rnd(w, 3) * 4);
		c->cmsg_level = levels[rnd(w, ARRAY_SIZE(levels))];
		c->cmsg_type = rnd(w, 40);
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			c->cmsg_type = SO_MARK;	/* no fd passing */
		memset(CMSG_DATA(c), 0x41, 8);
		m->msg_controllen = CMSG_SPACE(8);
	}
	m->msg_control = pick_ptr(w, cbuf, m->msg_controllen, 3, bad);
}

static void op_send(struct worker *w)
{
	int fd = slot_fd(w), flags = pick_flags(w);
	size_t len = pick_size(w);
	struct msghdr m = {};
	char cbuf[320];
	bool bad = false;
	socklen_t alen = 0;
	void *sa = NULL;
	ssize_t ret;

	/* at times a plausible DEMO header, for raw sockets */
	if (chance(w, 20) && len >= sizeof(struct demohdr)) {
		struct demohdr *h = (struct demohdr *)w->buf;

		h->version = DEMO_VERSION;
		h->type = 1 + rnd(w, 2);
		h->len = htons(len);
		h->flags = 0;
	}
	if (chance(w, 40))
		sa = pick_addr(w, w->opt, &alen, &bad);
	switch (rnd(w, 3)) {
	case 0:
		begin(w, "send(%d, %zu, %#x)", fd, len, flags);
		ret = send(fd, pick_ptr(w, w->buf, len, 3, &bad), len, flags);
		break;
	case 1:
		begin(w, "sendto(%d, %zu, %#x, alen %u)", fd, len, flags,
		      alen);
		ret = sendto(fd, pick_ptr(w, w->buf, len, 3, &bad), len,
			     flags, sa, alen);
		break;
	default:
		m.msg_iov = w->iov;
		m.msg_iovlen = fill_iov(w, len, &bad);
		m.msg_name = sa;
		m.msg_namelen = alen;
		pick_control(w, &m, cbuf, &bad);
		if (chance(w, 2))
			m.msg_iov = pick_ptr(w, w->iov, 16, 100, &bad);
		begin(w, "sendmsg(%d, %zu in %zu iov, %#x, alen %u, ctl %zu)",
		      fd, len, (size_t)m.msg_iovlen, flags, alen,
		      (size_t)m.msg_controllen);
		ret = sendmsg(fd, &m, flags);
	}
	rec(w, OP_SEND, ret, errno, bad);
}

static void op_recv(struct worker *w)
{
	static const int bits[] = { MSG_PEEK, MSG_TRUNC, MSG_WAITALL,
		MSG_ERRQUEUE, MSG_OOB, MSG_CMSG_CLOEXEC, MSG_CTRUNC, MSG_EOR,
		MSG_WAITFORONE, MSG_NOSIGNAL, 0x100000 };
	int fd = slot_fd(w), flags = 0, n;
	size_t len = pick_size(w);
	struct msghdr m = {};
	char cbuf[320];
	bool bad = false;
	socklen_t *alen = (socklen_t *)(w->opt + 512);
	ssize_t ret;

	if (chance(w, 60))
		flags |= MSG_DONTWAIT;
	for (n = rnd(w, 100) < 50 ? 0 : 1 + rnd(w, 2); n; n--)
		flags |= bits[rnd(w, ARRAY_SIZE(bits))];
	if (chance(w, 2))
		flags = (int)demo_rng_next(&w->rng) & ~MSG_DONTWAIT;
	*alen = chance(w, 80) ? 16 : rnd(w, 200);
	switch (rnd(w, 3)) {
	case 0:
		begin(w, "recv(%d, %zu, %#x)", fd, len, flags);
		ret = recv(fd, pick_ptr(w, w->buf, len, 4, &bad), len, flags);
		break;
	case 1:
		begin(w, "recvfrom(%d, %zu, %#x, alen %u)", fd, len, flags,
		      *alen);
		ret = recvfrom(fd, pick_ptr(w, w->buf, len, 4, &bad), len,
			       flags, pick_ptr(w, w->opt, *alen, 4, &bad),
			       pick_ptr(w, alen, 4, 4, &bad));
		break;
	default:
		m.msg_iov = w->iov;
		m.msg_iovlen = fill_iov(w, len, &bad);
		if (chance(w, 50)) {
			m.msg_name = pick_ptr(w, w->opt, *alen, 4, &bad);
			m.msg_namelen = *alen;
		}
		if (chance(w, 20)) {
			m.msg_control = pick_ptr(w, cbuf, sizeof(cbuf), 5,
						 &bad);
			m.msg_controllen = rnd(w, sizeof(cbuf));
		}
		begin(w, "recvmsg(%d, %zu in %zu iov, %#x, nlen %u, ctl %zu)",
		      fd, len, (size_t)m.msg_iovlen, flags, m.msg_namelen,
		      (size_t)m.msg_controllen);
		ret = recvmsg(fd, &m, flags);
	}
	rec(w, OP_RECV, ret, errno, bad);
}

static void op_sendmmsg(struct worker *w)
{
	struct mmsghdr mm[8] = {};
	unsigned int vlen = 1 + rnd(w, 8), i;
	int fd = slot_fd(w), flags = pick_flags(w);
	bool bad = false;
	socklen_t alen;
	size_t off = 0;

	for (i = 0; i < vlen; i++) {
		size_t len = rnd(w, 100) < 90 ? rnd(w, 2000) : pick_size(w);

		if (off + len > BIGBUF)
			len = 0;
		w->iov[i].iov_base = w->buf + off;
		w->iov[i].iov_len = len;
		off += len;
		mm[i].msg_hdr.msg_iov = &w->iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
		if (chance(w, 30)) {
			/* each its own address: sa in opt + 1024 + 256 * i */
			mm[i].msg_hdr.msg_name = pick_addr(w, w->opt + 1024 +
							   256 * i, &alen,
							   &bad);
			mm[i].msg_hdr.msg_namelen = alen;
		}
	}
	begin(w, "sendmmsg(%d, vlen %u, %#x)", fd, vlen, flags);
	CALL(w, OP_SENDMMSG, bad,
	     sendmmsg(fd, pick_ptr(w, mm, sizeof(mm[0]) * vlen, 3, &bad),
		      vlen, flags));
}

static void op_recvmmsg(struct worker *w)
{
	struct mmsghdr mm[8] = {};
	unsigned int vlen = 1 + rnd(w, 8), i;
	int fd = slot_fd(w), flags = 0;
	struct timespec ts = { 0, 0 }, *tsp = NULL;
	bool bad = false;

	if (chance(w, 60))
		flags |= MSG_DONTWAIT;
	if (chance(w, 30))
		flags |= MSG_WAITFORONE;
	if (chance(w, 10))
		flags |= MSG_PEEK;
	if (chance(w, 5))
		flags |= MSG_TRUNC;
	for (i = 0; i < vlen; i++) {
		w->iov[i].iov_base = w->buf + i * 32768;
		w->iov[i].iov_len = rnd(w, 100) < 70 ? 32768 : rnd(w, 64);
		mm[i].msg_hdr.msg_iov = &w->iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
		if (chance(w, 50)) {
			mm[i].msg_hdr.msg_name = w->opt + 1024 + 256 * i;
			mm[i].msg_hdr.msg_namelen = chance(w, 80) ? 16 :
						    rnd(w, 128);
		}
	}
	switch (rnd(w, 5)) {
	case 0:
		tsp = &ts;
		ts.tv_nsec = rnd(w, 50) * 1000000L;
		break;
	case 1:
		tsp = &ts;
		ts.tv_nsec = chance(w, 50) ? 1000000000L : -1;
		break;
	case 2:
		if (chance(w, 20))
			tsp = pick_ptr(w, &ts, sizeof(ts), 100, &bad);
		break;
	}
	if (chance(w, 2))
		vlen = chance(w, 50) ? 0 : 2000;	/* capped by UIO_MAXIOV */
	begin(w, "recvmmsg(%d, vlen %u, %#x, ts %p)", fd, vlen, flags,
	      (void *)tsp);
	CALL(w, OP_RECVMMSG, bad,
	     syscall(SYS_recvmmsg, fd, pick_ptr(w, mm, sizeof(mm), 3, &bad),
		     vlen > 8 ? 8 : vlen, flags, tsp));
}

static int pick_level(struct worker *w)
{
	static const int levels[] = { SOL_IP, 6, 17, SOL_RAW,
		253, SOL_PACKET, -1, INT_MAX, SOL_DEMO + 1 };
	unsigned int r = rnd(w, 100);

	if (r < 55)
		return SOL_SOCKET;
	if (r < 80)
		return SOL_DEMO;
	return levels[rnd(w, ARRAY_SIZE(levels))];
}

static int pick_name(struct worker *w, int level)
{
	if (level == SOL_DEMO)
		return chance(w, 85) ? 1 + (int)rnd(w, 2) : (int)rnd(w, 8) - 2;
	if (level == SOL_SOCKET && chance(w, 25)) {
		static const int hot[] = { SO_RCVBUF, SO_SNDBUF, SO_LINGER,
			SO_RCVLOWAT, SO_PEEK_OFF, SO_BINDTODEVICE, SO_MARK,
			SO_PRIORITY, SO_RCVTIMEO_OLD, SO_SNDTIMEO_NEW,
			SO_ATTACH_FILTER, SO_DETACH_FILTER, SO_BROADCAST,
			SO_ERROR, SO_TYPE, SO_PROTOCOL, SO_DOMAIN,
			SO_ACCEPTCONN, SO_PEERNAME, SO_TIMESTAMP_OLD,
			SO_SNDBUFFORCE, SO_RCVBUFFORCE };

		return hot[rnd(w, ARRAY_SIZE(hot))];
	}
	return chance(w, 97) ? (int)rnd(w, 80) : (int)demo_rng_next(&w->rng);
}

/* A value for setsockopt(@level, @name) in w->opt; returns optlen. */
static int opt_value(struct worker *w, int level, int name, bool *bad)
{
	static const int ints[] = { 0, 1, -1, 2, 255, 256, 4096, 65536,
				    INT_MAX, INT_MIN, 212992, 1 << 20 };
	int *v = (int *)w->opt;
	size_t i;

	if (level == SOL_SOCKET && (name == SO_RCVTIMEO_OLD ||
	    name == SO_SNDTIMEO_OLD || name == SO_RCVTIMEO_NEW ||
	    name == SO_SNDTIMEO_NEW)) {
		/* never {0, 0} (forever) nor long */
		struct timeval *tv = (struct timeval *)w->opt;

		tv->tv_sec = 0;
		tv->tv_usec = 1 + rnd(w, 50000);
		if (chance(w, 10))
			tv->tv_usec = chance(w, 50) ? 1000000 : -1;	/* EDOM */
		if (chance(w, 3)) {
			tv->tv_sec = -1;	/* negative: no wait at all */
			tv->tv_usec = 0;
		}
		return chance(w, 90) ? (int)sizeof(*tv) : (int)rnd(w, 16);
	}
	if (level == SOL_SOCKET && name == SO_LINGER) {
		struct linger *lg = (struct linger *)w->opt;

		lg->l_onoff = rnd(w, 3);
		lg->l_linger = rnd(w, 2);
		return chance(w, 90) ? (int)sizeof(*lg) : (int)rnd(w, 8);
	}
	if (level == SOL_SOCKET && (name == SO_SNDBUFFORCE ||
	    name == SO_RCVBUFFORCE || name == SO_RESERVE_MEM)) {
		static const int bufs[] = { 0, 1, -1, 2048, 4096, 65536,
					    1 << 20, 4 << 20, INT_MIN };

		*v = bufs[rnd(w, ARRAY_SIZE(bufs))];
		return chance(w, 90) ? 4 : (int)rnd(w, 8);
	}
	if (level == SOL_SOCKET && (name == SO_ATTACH_FILTER ||
	    name == SO_ATTACH_REUSEPORT_CBPF)) {
		struct sock_fprog *p = (struct sock_fprog *)w->opt;
		struct sock_filter *f = (struct sock_filter *)(w->opt + 64);
		unsigned int n = rnd(w, 6);

		for (i = 0; i < n; i++) {
			f[i].code = rnd(w, 0x100);
			f[i].jt = rnd(w, 4);
			f[i].jf = rnd(w, 4);
			f[i].k = chance(w, 50) ? rnd(w, 64) :
				 (unsigned int)demo_rng_next(&w->rng);
		}
		if (n && chance(w, 50)) {	/* a valid last instruction */
			f[n - 1].code = BPF_RET | BPF_K;
			f[n - 1].k = chance(w, 50) ? 0 : 0xffff;
		}
		p->len = chance(w, 90) ? n : (chance(w, 50) ? 4097 : 65535);
		p->filter = pick_ptr(w, f, n * sizeof(*f), 10, bad);
		if (p->len > n)
			*bad = true;	/* reads past what we filled: garbage */
		return chance(w, 90) ? (int)sizeof(*p) : (int)rnd(w, 16);
	}
	if (level == SOL_SOCKET && name == SO_BINDTODEVICE) {
		static const char *const devs[] = { "", "lo", "veth_a",
			"veth_b", "nosuchdev", "0123456789abcdefXYZ" };
		const char *d = devs[rnd(w, ARRAY_SIZE(devs))];

		memset(w->opt, 0, 64);
		memcpy(w->opt, d, strlen(d));
		return chance(w, 80) ? (int)strlen(d) + 1 : (int)rnd(w, 40);
	}
	/* an int, or a few random bytes */
	for (i = 0; i < 64; i++)
		w->opt[i] = (char)rnd(w, 256);
	if (chance(w, 80))
		*v = ints[rnd(w, ARRAY_SIZE(ints))];
	switch (rnd(w, 10)) {
	case 0:
		return rnd(w, 4);
	case 1:
		return 8 << rnd(w, 4);
	case 2:
		return chance(w, 50) ? -1 : 1 << 20;
	default:
		return 4;
	}
}

static void op_setsockopt(struct worker *w)
{
	int fd = slot_fd(w), level = pick_level(w), name, len;
	bool bad = false;
	void *p;

	name = pick_name(w, level);
	len = opt_value(w, level, name, &bad);
	if (len < 0 || len > OPTBUF - 64)
		bad = true;
	p = pick_ptr(w, w->opt, len, 4, &bad);
	begin(w, "setsockopt(%d, %d, %d, %p, %d) val %d", fd, level, name, p,
	      len, *(int *)w->opt);
	CALL(w, OP_SETSOCKOPT, bad, setsockopt(fd, level, name, p, len));
}

static void op_getsockopt(struct worker *w)
{
	static const int lens[] = { 4, 4, 4, 0, 1, 3, 8, 16, 64, 256, 4096,
				    -1 };
	int fd = slot_fd(w), level = pick_level(w), name;
	socklen_t *lenp = (socklen_t *)(w->opt + OPTBUF - 16);
	bool bad = false;
	void *p;

	name = pick_name(w, level);
	*lenp = lens[rnd(w, ARRAY_SIZE(lens))];
	if ((int)*lenp > 4096)
		bad = true;
	p = pick_ptr(w, w->opt, *lenp, 4, &bad);
	begin(w, "getsockopt(%d, %d, %d, %p, %d)", fd, level, name, p,
	      (int)*lenp);
	CALL(w, OP_GETSOCKOPT, bad,
	     getsockopt(fd, level, name, p, pick_ptr(w, lenp, 4, 4, &bad)));
}

static void op_ioctl(struct worker *w)
{
	static const unsigned long cmds[] = { SIOCINQ, SIOCOUTQ, SIOCOUTQNSD,
		FIONBIO, SIOCGSTAMP, SIOCGSTAMPNS, SIOCATMARK, FIOGETOWN,
		SIOCGPGRP, FIOSETOWN, SIOCSPGRP, SIOCGIFFLAGS, SIOCGIFINDEX,
		SIOCGIFNAME, SIOCGIFMTU, SIOCGIFADDR, SIOCGIFCONF,
		SIOCPROTOPRIVATE, SIOCPROTOPRIVATE + 15, FIOCLEX, FIONCLEX,
		TIOCOUTQ, TCGETS };
	static const char *const ifs[] = { "lo", "veth_a", "veth_b" };
	/* an unknown name costs a request_module("netdev-%s"): seldom */
	static const char *const unknown_ifs[] = { "", "nosuch" };
	unsigned long cmd = cmds[rnd(w, ARRAY_SIZE(cmds))];
	int fd = slot_fd(w);
	bool bad = false;
	void *arg;

	if (chance(w, 15)) {
		/* random, avoiding device (0x89xx) and freeze ('X') ioctls */
		cmd = (unsigned int)demo_rng_next(&w->rng);
		if ((cmd >> 8 & 0xff) == 0x89 || (cmd >> 8 & 0xff) == 'X')
			cmd ^= 0x1000;
	}
	memset(w->opt, 0, 64);
	if (cmd == FIONBIO || cmd == FIOSETOWN || cmd == SIOCSPGRP)
		*(int *)w->opt = chance(w, 50) ? 0 : (cmd == FIONBIO ? 1 :
								getpid());
	else if (cmd == SIOCGIFNAME)
		*(int *)(w->opt + IFNAMSIZ) = rnd(w, 5);
	else if (cmd == SIOCGIFCONF)
		((struct ifconf *)w->opt)->ifc_len = 0;	/* count only */
	else
		snprintf(w->opt, IFNAMSIZ, "%s", chance(w, 2) ?
			 unknown_ifs[rnd(w, ARRAY_SIZE(unknown_ifs))] :
			 ifs[rnd(w, ARRAY_SIZE(ifs))]);
	arg = pick_ptr(w, w->opt, 40, 8, &bad);
	begin(w, "ioctl(%d, %#lx, %p)", fd, cmd, arg);
	CALL(w, OP_IOCTL, bad, ioctl(fd, cmd, arg));
}

static void op_poll(struct worker *w)
{
	struct pollfd pfd[9];
	unsigned int n = 1 + rnd(w, 8), i;
	bool bad = false;
	void *p;

	for (i = 0; i < n; i++) {
		pfd[i].fd = slot_fd(w);
		pfd[i].events = chance(w, 70) ? POLLIN | POLLOUT | POLLRDHUP :
				(short)rnd(w, 0x10000);
	}
	p = pick_ptr(w, pfd, n * sizeof(pfd[0]), 3, &bad);
	if (chance(w, 30)) {
		struct timespec ts = { 0, rnd(w, 20) * 1000000L };

		if (chance(w, 5))
			ts.tv_nsec = 1000000000L;	/* EINVAL */
		begin(w, "ppoll(%u fds, %ld ns)", n, ts.tv_nsec);
		CALL(w, OP_POLL, bad, ppoll(p, n, &ts, NULL));
	} else {
		if (chance(w, 2))
			n = 1 << 20;	/* > RLIMIT_NOFILE: EINVAL */
		begin(w, "poll(%u fds)", n);
		CALL(w, OP_POLL, bad || n > 9, poll(p, n, rnd(w, 20)));
	}
}

static void op_shutdown(struct worker *w)
{
	static const int hows[] = { SHUT_RD, SHUT_WR, SHUT_RDWR, SHUT_RDWR, 3,
				    -1, INT_MAX };
	int fd = slot_fd(w), how = hows[rnd(w, ARRAY_SIZE(hows))];

	begin(w, "shutdown(%d, %d)", fd, how);
	CALL(w, OP_SHUTDOWN, false, shutdown(fd, how));
}

static void op_close(struct worker *w)
{
	int fd = slot_fd(w);

	if (chance(w, 30)) {
		struct linger lg = { 1, 0 };

		begin(w, "setsockopt(%d, SO_LINGER 0)", fd);
		CALL(w, OP_SETSOCKOPT, false,
		     setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
	}
	begin(w, "close(%d)", fd);
	CALL(w, OP_CLOSE, false, close(fd));
}

static void op_fcntl(struct worker *w)
{
	int fd = slot_fd(w), fl;

	begin(w, "fcntl(%d, F_GETFL)", fd);
	fl = fcntl(fd, F_GETFL);
	rec(w, OP_FCNTL, fl, errno, false);
	if (fl < 0)
		return;
	fl ^= O_NONBLOCK;
	if (chance(w, 10))
		fl ^= O_ASYNC;
	begin(w, "fcntl(%d, F_SETFL, %#x)", fd, fl);
	CALL(w, OP_FCNTL, false, fcntl(fd, F_SETFL, fl));
}

static void op_getname(struct worker *w)
{
	static const int lens[] = { 16, 16, 16, 0, 4, 15, 128, -1 };
	int fd = slot_fd(w);
	socklen_t *lenp = (socklen_t *)(w->opt + 512);
	bool bad = false, peer = chance(w, 50);
	void *sa;

	*lenp = lens[rnd(w, ARRAY_SIZE(lens))];
	sa = pick_ptr(w, w->opt, 128, 5, &bad);
	lenp = pick_ptr(w, lenp, 4, 5, &bad);
	begin(w, "%s(%d, %p, %p)", peer ? "getpeername" : "getsockname", fd,
	      sa, (void *)lenp);
	if (peer)
		CALL(w, OP_GETNAME, bad, getpeername(fd, sa, lenp));
	else
		CALL(w, OP_GETNAME, bad, getsockname(fd, sa, lenp));
}

/*
 * A real connection: a seqpacket listener in the worker's namespace on a
 * pool port, a client in either namespace, the accepted socket. All three
 * land in slots, so the other calls find connected sockets too.
 */
static void op_mkconn(struct worker *w)
{
	int ns = rnd(w, 2), s_l = rnd(w, NSLOTS), s_c = rnd(w, NSLOTS);
	const char *ip = w->home ? ADDR_B : ADDR_A;
	struct sockaddr_demo sa;
	int l, c, a, ret;
	struct pollfd p;

	if (ns == w->home && chance(w, 50))
		ip = "127.0.0.1";
	l = new_socket(w, s_l, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (l < 0)
		return;
	demo_addr(&sa, ip, PORT_BASE + rnd(w, NPORTS));
	begin(w, "mkconn bind(%d, %s:%u)", l, ip, ntohs(sa.sdemo_port));
	ret = bind(l, (struct sockaddr *)&sa, sizeof(sa));
	rec(w, OP_BIND, ret, errno, false);
	begin(w, "mkconn listen(%d)", l);
	CALL(w, OP_LISTEN, false, listen(l, 4));
	/* the listener's real port (the slot may have been replaced) */
	begin(w, "mkconn getsockname(%d)", l);
	ret = sock_name(l, &sa, false);
	rec(w, OP_GETNAME, ret, errno, false);
	if (ret || !sa.sdemo_port)
		return;
	if (!strcmp(ip, "127.0.0.1") || inet_addr(ip) != sa.sdemo_addr.s_addr)
		ns = w->home;
	if (ns != w->home && setns(w->ns_fd[ns], CLONE_NEWNET))
		return;
	c = new_socket(w, s_c, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
		       0);
	if (ns != w->home)
		setns(w->ns_fd[w->home], CLONE_NEWNET);
	if (c < 0)
		return;
	sa.sdemo_addr.s_addr = inet_addr(ip);
	begin(w, "mkconn connect(%d, %s:%u)", c, ip, ntohs(sa.sdemo_port));
	CALL(w, OP_CONNECT, false,
	     connect(c, (struct sockaddr *)&sa, sizeof(sa)));
	p.fd = c;
	p.events = POLLOUT;
	begin(w, "mkconn poll(%d)", c);
	CALL(w, OP_POLL, false, poll(&p, 1, 500));
	p.fd = l;
	p.events = POLLIN;
	begin(w, "mkconn poll(%d)", l);
	CALL(w, OP_POLL, false, poll(&p, 1, 500));
	begin(w, "mkconn accept4(%d)", l);
	a = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	rec(w, OP_ACCEPT, a, errno, false);
	if (a >= 0) {
		__atomic_fetch_add(&sh_mem->conns, 1, __ATOMIC_RELAXED);
		dup3(a, SLOT_BASE + rnd(w, NSLOTS), O_CLOEXEC);
		close(a);
	}
}

/* A connected datagram pair: two sockets bound and connected to each other. */
static void op_mkdgram(struct worker *w)
{
	const char *ip = w->home ? ADDR_B : ADDR_A;
	struct sockaddr_demo a, b;
	int x, y;

	x = new_socket(w, rnd(w, NSLOTS), SOCK_DGRAM | SOCK_CLOEXEC, 0);
	y = new_socket(w, rnd(w, NSLOTS), SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (x < 0 || y < 0 || x == y)
		return;
	begin(w, "mkdgram bind(%d)", x);
	CALL(w, OP_BIND, false, bind_to(x, ip, 0));
	begin(w, "mkdgram bind(%d)", y);
	CALL(w, OP_BIND, false, bind_to(y, ip, 0));
	if (sock_name(x, &a, false) || sock_name(y, &b, false))
		return;
	begin(w, "mkdgram connect(%d)", x);
	CALL(w, OP_CONNECT, false, connect(x, (struct sockaddr *)&b, sizeof(b)));
	begin(w, "mkdgram connect(%d)", y);
	CALL(w, OP_CONNECT, false, connect(y, (struct sockaddr *)&a, sizeof(a)));
}

struct op_weight {
	void (*fn)(struct worker *w);
	unsigned int weight;
};

static const struct op_weight ops[] = {
	{ op_socket, 6 }, { op_bind, 7 }, { op_connect, 8 }, { op_listen, 5 },
	{ op_accept, 6 }, { op_send, 16 }, { op_recv, 13 },
	{ op_sendmmsg, 3 }, { op_recvmmsg, 3 }, { op_setsockopt, 10 },
	{ op_getsockopt, 6 }, { op_ioctl, 5 }, { op_poll, 4 },
	{ op_shutdown, 3 }, { op_close, 5 }, { op_fcntl, 2 },
	{ op_getname, 3 }, { op_mkconn, 3 }, { op_mkdgram, 2 },
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	unsigned int total = 0, r;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(ops); i++)
		total += ops[i].weight;
	if (setns(w->ns_fd[w->home], CLONE_NEWNET))
		return NULL;
	if (w->idx == 0 && getenv("AFDEMO_FUZZ_SELFCHECK_HANG")) {
		/* proves the watchdog: a receive with no timeout */
		int fd = socket(fam, SOCK_DGRAM | SOCK_CLOEXEC, 0);

		begin(w, "selfcheck: recv(%d) without a timeout", fd);
		CALL(w, OP_RECV, false, recv(fd, w->buf, 1, 0));
	}
	while (!__atomic_load_n(&stop_fuzz, __ATOMIC_RELAXED)) {
		/*
		 * An op draws more or fewer numbers depending on what its
		 * calls returned; reseeding it from w->seq keeps the sequence
		 * of ops and of their arguments a function of the seed alone.
		 */
		w->rng.s = demo_rng_next(&w->seq);
		r = rnd(w, total);
		for (i = 0; r >= ops[i].weight; i++)
			r -= ops[i].weight;
		ops[i].fn(w);
	}
	return NULL;
}

static int fuzz_threads(void)
{
	return (int)env_long("AFDEMO_FUZZ_THREADS", 6);
}

/*
 * The fuzzing child: run the workers for @secs, watch them, close
 * everything. Exit status 0, or 3 on a hang (details in sh_mem).
 */
static void fuzz_child(unsigned long long seed, int nthreads, long secs,
		       long hang_ms)
{
	struct worker *ws = calloc(nthreads, sizeof(*ws));
	bool joined[MAX_THREADS] = {};
	int running = nthreads;
	long end, now;
	struct rlimit rl = { 4096, 4096 };
	char *pages;
	int i, j, ns[2];

	signal(SIGPIPE, SIG_IGN);
	signal(SIGIO, SIG_IGN);
	signal(SIGURG, SIG_IGN);
	setrlimit(RLIMIT_NOFILE, &rl);
	fam = af();
	pages = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!ws || pages == MAP_FAILED ||
	    mprotect(pages + 4096, 4096, PROT_NONE))
		_exit(2);
	edge = pages + 4096;
	bad_page = pages + 4096;
	ns[0] = open("/run/netns/" NS_A, O_RDONLY | O_CLOEXEC);
	ns[1] = open("/run/netns/" NS_B, O_RDONLY | O_CLOEXEC);
	if (ns[0] < 0 || ns[1] < 0)
		_exit(2);

	for (i = 0; i < nthreads; i++) {
		struct worker *w = &ws[i];

		w->idx = i;
		w->home = i & 1;
		w->ns_fd[0] = ns[0];
		w->ns_fd[1] = ns[1];
		w->seq.s = seed ^ (0x9e3779b97f4a7c15ULL * (i + 1));
		w->buf = malloc(BIGBUF + 64);
		w->opt = malloc(OPTBUF);
		w->iov = calloc(NIOV, sizeof(*w->iov));
		if (!w->buf || !w->opt || !w->iov)
			_exit(2);
		for (j = 0; j < BIGBUF; j++)
			w->buf[j] = (char)(j * 131 + i);
		if (pthread_create(&w->tid, NULL, worker_main, w))
			_exit(2);
	}

	/*
	 * The watchdog: a worker stuck in one call for hang_ms is a hang. At
	 * the deadline the workers finish their call in progress and stop.
	 */
	end = demo_now_ms() + secs * 1000;
	for (;;) {
		now = demo_now_ms();
		if (now >= end)
			__atomic_store_n(&stop_fuzz, 1, __ATOMIC_RELAXED);
		for (i = 0; i < nthreads; i++) {
			struct progress *p = &sh_mem->prog[i];
			long st = __atomic_load_n(&p->start_ms,
						  __ATOMIC_ACQUIRE);

			if (!st || now - st <= hang_ms)
				continue;
			snprintf(sh_mem->hang_msg, sizeof(sh_mem->hang_msg),
				 "worker %d stuck for %ld ms in %s", i,
				 now - st, p->what);
			sh_mem->hang = 1;
			_exit(3);
		}
		for (i = 0; stop_fuzz && i < nthreads; i++) {
			if (!joined[i] && !pthread_tryjoin_np(ws[i].tid, NULL))
				joined[i] = true;
			if (joined[i])
				running--;
		}
		if (stop_fuzz && !running)
			break;
		running = nthreads;
		poll(NULL, 0, 100);
	}

	for (i = 0; i < NSLOTS; i++)
		close_abort(SLOT_BASE + i);
	sh_mem->done = 1;
	_exit(0);
}

/* --- the test ----------------------------------------------------------- */

static const char *const setup_cmds[] = {
	"ip netns add " NS_A,
	"ip netns add " NS_B,
	"ip -n " NS_A " link add veth_a type veth peer name veth_b netns "
		NS_B,
	"ip -n " NS_A " addr add " ADDR_A "/24 dev veth_a",
	"ip -n " NS_B " addr add " ADDR_B "/24 dev veth_b",
	"ip -n " NS_A " link set veth_a up",
	"ip -n " NS_B " link set veth_b up",
	"ip -n " NS_A " link set lo up",
	"ip -n " NS_B " link set lo up",
};

static void ns_del(void)
{
	sh("ip netns del " NS_A " 2>/dev/null; ip netns del " NS_B
	   " 2>/dev/null");
}

/* Short seqpacket timers: closed connections end within a few seconds. */
static int quick_timers(const char *ns)
{
	return ns_sysctl(ns, "seqpacket_rto_min_ms", 50) ||
	       ns_sysctl(ns, "seqpacket_rto_max_ms", 300) ||
	       ns_sysctl(ns, "seqpacket_retries", 3) ||
	       ns_sysctl(ns, "seqpacket_syn_retries", 2) ||
	       ns_sysctl(ns, "seqpacket_fin_timeout_ms", 2000) ||
	       ns_sysctl(ns, "seqpacket_time_wait_ms", 2000) ? -1 : 0;
}

/*
 * Lines of /proc/net/demo in @ns that are not TIME_WAIT (all of them when
 * @dump, printed); -1 if unreadable.
 */
static int proc_busy(const char *ns, bool dump)
{
	char line[512], st[32];
	int cur = ns_save(), n = 0;
	FILE *f = NULL;

	if (cur >= 0 && !demo_netns_enter(ns))
		f = fopen("/proc/net/demo", "re");
	ns_restore(cur);
	if (!f || !fgets(line, sizeof(line), f)) {
		if (f)
			fclose(f);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*s %*s %*s %31s", st) != 1)
			continue;
		if (!strcmp(st, "TIME_WAIT"))
			continue;
		n++;
		if (dump)
			diag("%s /proc/net/demo: %s", ns,
			     strtok(line, "\n") ?: "");
	}
	fclose(f);
	return n;
}

FIXTURE(fuzz) {
	int init_ns;
	long refcnt0;
};

FIXTURE_SETUP(fuzz)
{
	size_t i;

	ASSERT_LT(0, af()) TH_LOG("af_demo is not loaded");
	ASSERT_EQ(0, demo_mod_long("af_demo", "refcnt", &self->refcnt0));
	self->init_ns = ns_save();
	ASSERT_LE(0, self->init_ns);
	ns_del();
	for (i = 0; i < ARRAY_SIZE(setup_cmds); i++)
		ASSERT_EQ(0, sh("%s", setup_cmds[i]))
			TH_LOG("failed: %s", setup_cmds[i]);
	ASSERT_EQ(0, quick_timers(NS_A));
	ASSERT_EQ(0, quick_timers(NS_B));
}

FIXTURE_TEARDOWN(fuzz)
{
	setns(self->init_ns, CLONE_NEWNET);
	close(self->init_ns);
	ns_del();
}

/* poll @fd for @ev up to @ms; true if it came */
static bool ready(int fd, short ev, int ms)
{
	return wait_ev(fd, ev, ms) & ev;
}

/* Plain traffic after the storm: a datagram and a seqpacket exchange. */
static void sanity(struct __test_metadata *_metadata)
{
	struct sockaddr_demo sa;
	char buf[64];
	int x, y, l, c, a;

	ASSERT_EQ(0, demo_netns_enter(NS_A));
	x = socket(af(), SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, x);
	ASSERT_EQ(0, bind_to(x, ADDR_A, 0));
	ASSERT_EQ(0, sock_name(x, &sa, false));
	ASSERT_EQ(0, demo_netns_enter(NS_B));
	y = socket(af(), SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, y);
	ASSERT_EQ(5, sendto(y, "hello", 5, 0, (struct sockaddr *)&sa,
			    sizeof(sa)));
	ASSERT_TRUE(ready(x, POLLIN, 5000));
	ASSERT_EQ(5, recv(x, buf, sizeof(buf), MSG_DONTWAIT));
	ASSERT_EQ(0, memcmp(buf, "hello", 5));
	close(x);
	close(y);

	l = socket(af(), SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, l);
	ASSERT_EQ(0, bind_to(l, ADDR_B, 0));
	ASSERT_EQ(0, listen(l, 1));
	ASSERT_EQ(0, sock_name(l, &sa, false));
	ASSERT_EQ(0, demo_netns_enter(NS_A));
	c = socket(af(), SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, c);
	ASSERT_EQ(0, set_timeo(c, SO_SNDTIMEO, 5000));
	ASSERT_EQ(0, connect(c, (struct sockaddr *)&sa, sizeof(sa)));
	ASSERT_TRUE(ready(l, POLLIN, 5000));
	a = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	ASSERT_LE(0, a);
	ASSERT_EQ(6, send(c, "sanity", 6, 0));
	ASSERT_TRUE(ready(a, POLLIN, 5000));
	ASSERT_EQ(6, recv(a, buf, sizeof(buf), MSG_DONTWAIT));
	ASSERT_EQ(0, memcmp(buf, "sanity", 6));
	close_abort(a);
	close_abort(c);
	close(l);
}

TEST_F_TIMEOUT(fuzz, syscalls, 600)
{
	bool dbg = debug_kernel();
	long secs = env_long("AFDEMO_FUZZ_SECONDS", dbg ? 100 : 60);
	long hang_ms = env_long("AFDEMO_FUZZ_HANG_S", 60) * 1000;
	int nthreads = fuzz_threads(), status = -1, op, e, bad, i;
	unsigned long long seed = demo_seed("demo_sysfuzz");
	unsigned long total = 0, unexpected = 0;
	long t0 = demo_now_ms(), end, cnt = -1;
	char line[1024];
	size_t o;
	pid_t pid;

	ASSERT_LT(0, nthreads);
	ASSERT_GE(MAX_THREADS, nthreads);
	sh_mem = mmap(NULL, sizeof(*sh_mem), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, sh_mem);
	sh_mem->slow_ms = dbg ? 30000 : 10000;
	diag("%d workers for %ld s (%s kernel), hang after %ld s", nthreads,
	     secs, dbg ? "debug" : "Debian", hang_ms / 1000);

	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		fuzz_child(seed, nthreads, secs, hang_ms);

	end = demo_now_ms() + (secs + 30) * 1000 + hang_ms;
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (demo_now_ms() > end) {
			kill(pid, SIGKILL);
			/* a task stuck in the kernel may not even die */
			end = demo_now_ms() + 10000;
			while (!waitpid(pid, &status, WNOHANG) &&
			       demo_now_ms() < end)
				poll(NULL, 0, 100);
			diag("fuzzing child did not finish: killed");
			for (i = 0; i < nthreads; i++)
				if (sh_mem->prog[i].start_ms)
					diag("worker %d in %s", i,
					     sh_mem->prog[i].what);
			break;
		}
		poll(NULL, 0, 100);
	}
	diag("fuzzing took %ld ms", demo_now_ms() - t0);

	/* the figures: calls per kind, errno histograms */
	for (op = 0; op < OP_NR; op++) {
		int n = 0;

		total += sh_mem->calls[op];
		n = snprintf(line, sizeof(line), "%-10s %8lu calls %8lu ok, max %ld ms;",
			     op_name[op], sh_mem->calls[op], sh_mem->ok[op],
			     sh_mem->max_ms[op]);
		for (e = 1; e <= ERR_OTHER; e++) {
			for (bad = 0; bad < 2; bad++) {
				unsigned long c = sh_mem->err[op][e][bad];

				if (!c || n >= (int)sizeof(line) - 40)
					continue;
				n += snprintf(line + n, sizeof(line) - n,
					      " %s%s:%lu",
					      e == ERR_OTHER ? "other" :
					      strerrorname_np(e) ?: "?",
					      bad ? "*" : "", c);
				if (!err_allowed(op, e == ERR_OTHER ? -1 : e,
						 bad))
					unexpected += c;
			}
		}
		diag("%s", line);
	}
	diag("(* = with an invalid pointer or length)");
	diag("connections made: %lu", sh_mem->conns);
	demo_figure("syscalls_issued", total);
	demo_figure("syscalls_per_s", total / (secs ?: 1));
	demo_figure("fuzz_seconds", secs);
	demo_figure("connections", sh_mem->conns);

	for (o = 0; o < NEXAMPLES && o < (size_t)sh_mem->nex; o++)
		diag("unexpected: %s", sh_mem->ex[o]);
	EXPECT_FALSE(sh_mem->hang) TH_LOG("hang: %s", sh_mem->hang_msg);
	for (i = 0; i < sh_mem->nslow && i < 4; i++)
		diag("slow: %s", sh_mem->slow[i]);
	EXPECT_EQ(0, sh_mem->nslow) TH_LOG("%d calls took over %ld ms",
					   sh_mem->nslow, sh_mem->slow_ms);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("fuzzing child: status %#x (%s)", status,
		       WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) :
		       "exit");
	EXPECT_EQ(0, unexpected) TH_LOG("%lu calls failed with an errno "
					"they should not return", unexpected);
	ASSERT_LT(1000, total);

	/* every connection ends: nothing but TIME_WAIT left */
	end = demo_now_ms() + SETTLE_MS;
	while (proc_busy(NS_A, false) || proc_busy(NS_B, false)) {
		if (demo_now_ms() > end) {
			proc_busy(NS_A, true);
			proc_busy(NS_B, true);
			ASSERT_TRUE(false) TH_LOG("sockets remain after %d ms",
						  SETTLE_MS);
		}
		poll(NULL, 0, 50);
	}
	diag("settled after %ld ms", demo_now_ms() - t0);

	sanity(_metadata);
	ASSERT_EQ(0, setns(self->init_ns, CLONE_NEWNET));

	/* no socket leaked: the refcount goes back once the netns are gone */
	ns_del();
	end = demo_now_ms() + IDLE_MS;
	while (!demo_mod_long("af_demo", "refcnt", &cnt) &&
	       cnt != self->refcnt0 && demo_now_ms() < end)
		poll(NULL, 0, 20);
	ASSERT_EQ(self->refcnt0, cnt) TH_LOG("af_demo refcnt %ld, was %ld",
					     cnt, self->refcnt0);
	diag("total %ld ms", demo_now_ms() - t0);
}

TEST_HARNESS_MAIN
