/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the AF_DEMO selftests. Header-only so that each test
 * program stays a single translation unit, as kselftest programs are.
 *
 * Tests never hard-code the family or IP protocol number: they read the
 * numbers the loaded module uses from sysfs.
 */
#ifndef DEMO_LIB_H
#define DEMO_LIB_H

#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/af_demo.h>

#define DEMO_SYSFS_PARAM "/sys/module/af_demo/parameters/"

/* Read a decimal integer file such as a module parameter; 0 on success. */
static inline int demo_read_long(const char *path, long *val)
{
	char buf[64], *end;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	errno = 0;
	*val = strtol(buf, &end, 10);
	return errno || end == buf ? -1 : 0;
}

/* A module parameter of af_demo, -1 if it cannot be read. */
static inline int demo_param(const char *name)
{
	char path[128];
	long val;

	snprintf(path, sizeof(path), DEMO_SYSFS_PARAM "%s", name);
	return demo_read_long(path, &val) ? -1 : (int)val;
}

/* The address family the loaded af_demo module registered. */
static inline int demo_family(void)
{
	return demo_param("family");
}

/* The IP protocol number the loaded af_demo module registered. */
static inline int demo_ipproto(void)
{
	return demo_param("ipproto");
}

/* Fill @sa for @ip (dotted quad, NULL = INADDR_ANY) and host-order @port. */
static inline void demo_addr(struct sockaddr_demo *sa, const char *ip,
			     unsigned short port)
{
	memset(sa, 0, sizeof(*sa));
	sa->sdemo_family = demo_family();
	sa->sdemo_port = htons(port);
	sa->sdemo_addr.s_addr = ip ? inet_addr(ip) : htonl(INADDR_ANY);
}

/*
 * Read one counter from /proc/net/demo_stat ("Name value" per line) of the
 * current network namespace; -1 if it is missing.
 */
static inline long demo_stat(const char *name)
{
	char key[64];
	long val, ret = -1;
	FILE *f;

	f = fopen("/proc/net/demo_stat", "re");
	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld", key, &val) == 2) {
		if (!strcmp(key, name)) {
			ret = val;
			break;
		}
	}
	fclose(f);
	return ret;
}

/* Move the calling thread into the named network namespace (ip netns). */
static inline int demo_netns_enter(const char *name)
{
	char path[128];
	int fd, ret;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ret = setns(fd, CLONE_NEWNET);
	close(fd);
	return ret;
}

/* Helpers shared by the test programs. */

static inline int af(void)
{
	static int fam;

	if (!fam)
		fam = demo_family();
	return fam;
}

static inline int sock_name(int fd, struct sockaddr_demo *sa, bool peer)
{
	socklen_t len = sizeof(*sa);
	int ret;

	memset(sa, 0xa5, sizeof(*sa));
	ret = peer ? getpeername(fd, (struct sockaddr *)sa, &len) :
		     getsockname(fd, (struct sockaddr *)sa, &len);
	if (!ret && len != sizeof(*sa)) {
		errno = EMSGSIZE;
		return -1;
	}
	return ret;
}

/* The local port of @fd, host order; 0 if it has none or on error. */
static inline unsigned short port_of(int fd)
{
	struct sockaddr_demo sa;

	return sock_name(fd, &sa, false) ? 0 : ntohs(sa.sdemo_port);
}

static inline bool zero_ok(const struct sockaddr_demo *sa)
{
	static const unsigned char z[sizeof(sa->sdemo_zero)];

	return !memcmp(sa->sdemo_zero, z, sizeof(z));
}

/* True if @sa is a well-formed AF_DEMO address for ip:port. */
static inline bool addr_is(const struct sockaddr_demo *sa, const char *ip,
		    unsigned short port)
{
	return sa->sdemo_family == af() && ntohs(sa->sdemo_port) == port &&
	       sa->sdemo_addr.s_addr == inet_addr(ip) && zero_ok(sa);
}

static inline int bind_to(int fd, const char *ip, unsigned short port)
{
	struct sockaddr_demo sa;

	demo_addr(&sa, ip, port);
	return bind(fd, (struct sockaddr *)&sa, sizeof(sa));
}

static inline int connect_to(int fd, const char *ip, unsigned short port)
{
	struct sockaddr_demo sa;

	demo_addr(&sa, ip, port);
	return connect(fd, (struct sockaddr *)&sa, sizeof(sa));
}

/* revents of one poll() on @fd, -1 on error. */
static inline int wait_ev(int fd, short events, int ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	int n = poll(&p, 1, ms);

	return n < 0 ? -1 : p.revents;
}

static inline int sockopt_int(int fd, int level, int name)
{
	socklen_t len = sizeof(int);
	int val;

	if (getsockopt(fd, level, name, &val, &len) || len != sizeof(int))
		return INT_MIN;
	return val;
}

static inline int setopt_int(int fd, int level, int name, int val)
{
	return setsockopt(fd, level, name, &val, sizeof(val));
}

static inline int ioctl_int(int fd, unsigned long req)
{
	int val = -1;

	return ioctl(fd, req, &val) ? INT_MIN : val;
}

static inline int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int ret;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	fflush(NULL);
	ret = system(cmd);
	if (ret == -1 || !WIFEXITED(ret))
		return -1;
	return WEXITSTATUS(ret);
}

/*
 * One field of the @proto ("Ip", "Icmp", ...) lines of /proc/net/snmp of
 * the current namespace, -1 if missing.
 */
static inline long snmp_get(const char *proto, const char *field)
{
	char hdr[2048], val[2048], tag[32], *hs, *vs, *h, *v;
	FILE *f = fopen("/proc/net/snmp", "re");
	long ret = -1;

	if (!f)
		return -1;
	snprintf(tag, sizeof(tag), "%s: ", proto);
	while (fgets(hdr, sizeof(hdr), f)) {
		if (strncmp(hdr, tag, strlen(tag)) || !fgets(val, sizeof(val), f))
			continue;
		h = strtok_r(hdr, " \n", &hs);
		v = strtok_r(val, " \n", &vs);
		while ((h = strtok_r(NULL, " \n", &hs)) &&
		       (v = strtok_r(NULL, " \n", &vs))) {
			if (!strcmp(h, field)) {
				ret = atol(v);
				break;
			}
		}
		break;
	}
	fclose(f);
	return ret;
}

/* One field of the "Ip:" lines of /proc/net/snmp, -1 if missing. */
static inline long snmp_ip(const char *field)
{
	return snmp_get("Ip", field);
}

static inline int ns_save(void)
{
	return open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
}

static inline void ns_restore(int fd)
{
	if (fd >= 0) {
		setns(fd, CLONE_NEWNET);
		close(fd);
	}
}

/* demo_stat() of namespace @ns, staying in the current one. */
static inline long ns_stat(const char *ns, const char *name)
{
	int cur = ns_save();
	long v = -1;

	if (cur >= 0 && !demo_netns_enter(ns))
		v = demo_stat(name);
	ns_restore(cur);
	return v;
}

static inline int so_error(int fd)
{
	return sockopt_int(fd, SOL_SOCKET, SO_ERROR);
}

/*
 * Non-blocking connect() waiting at most @ms for the outcome; the file
 * flags are kept. Returns 0, or -1 with errno (ETIMEDOUT if nothing
 * happened in time).
 */
static inline int connect_tmo(int fd, const char *ip, unsigned short port,
			      int ms)
{
	int fl = fcntl(fd, F_GETFL), ret, err;

	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	ret = connect_to(fd, ip, port);
	if (ret && errno == EINPROGRESS) {
		if (!(wait_ev(fd, POLLOUT, ms) & (POLLOUT | POLLERR | POLLHUP))) {
			errno = ETIMEDOUT;
			ret = -1;
		} else {
			err = so_error(fd);
			ret = err ? -1 : 0;
			errno = err;
		}
	}
	err = errno;
	fcntl(fd, F_SETFL, fl);
	errno = err;
	return ret;
}

/* accept4(@flags) of a connection ready within @ms; fd, or -1 with errno. */
static inline int accept4_tmo(int lfd, int flags, int ms)
{
	if (!(wait_ev(lfd, POLLIN, ms) & POLLIN)) {
		errno = ETIMEDOUT;
		return -1;
	}
	return accept4(lfd, NULL, NULL, flags);
}

/* accept() (SOCK_CLOEXEC) within @ms; fd, or -1 with errno (ETIMEDOUT). */
static inline int accept_tmo(int lfd, int ms)
{
	return accept4_tmo(lfd, SOCK_CLOEXEC, ms);
}

/* recv() of one message within @ms; its length, or -1 with errno. */
static inline ssize_t recv_tmo(int fd, void *buf, size_t len, int ms)
{
	if (!(wait_ev(fd, POLLIN, ms) & (POLLIN | POLLERR | POLLHUP))) {
		errno = ETIMEDOUT;
		return -1;
	}
	return recv(fd, buf, len, MSG_DONTWAIT);
}

/* Close @fd (if >= 0) with SO_LINGER 0: a reset, nothing lingers; no return. */
static inline void close_abort(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* Module lifecycle: the modules are loaded and unloaded by the tests. */

#define DEMO_MOD_IDLE_MS	10000	/* deadline for a refcount to drain */

/* CLOCK_MONOTONIC in whole ms. */
static inline long demo_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* CLOCK_MONOTONIC in ms, with the fraction (for sub-ms arithmetic). */
static inline double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/*
 * Wait at most @ms until @dev in namespace @ns shows "state UP" in ip link
 * (linkwatch has run); 0 once it does, -1 at the deadline.
 */
static inline int link_ready(const char *ns, const char *dev, int ms)
{
	double end = now_ms() + ms;

	do {
		if (!sh("ip -n %s link show %s | grep -q 'state UP'", ns, dev))
			return 0;
		poll(NULL, 0, 10);
	} while (now_ms() < end);
	return -1;
}

/* /sys/module/@mod/@file as a number; 0 on success. */
static inline int demo_mod_long(const char *mod, const char *file, long *val)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/module/%s/%s", mod, file);
	return demo_read_long(path, val);
}

static inline bool demo_mod_present(const char *mod)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/module/%s", mod);
	return access(path, F_OK) == 0;
}

/* finit_module(@path, @params); 0 or -errno. */
static inline int demo_mod_load(const char *path, const char *params)
{
	int fd, ret, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, params, 0);
	err = errno;
	close(fd);
	return ret ? -err : 0;
}

/* delete_module(@mod, O_NONBLOCK), as rmmod does; 0 or -errno. */
static inline int demo_mod_unload(const char *mod)
{
	return syscall(SYS_delete_module, mod, O_NONBLOCK) ? -errno : 0;
}

/*
 * Socket memory is freed after an RCU grace period, so the module refcount
 * drops shortly after the last close: poll it. 0 once it reads 0, -1 at the
 * deadline or if the module is gone.
 */
static inline int demo_mod_wait_idle(const char *mod)
{
	long end = demo_now_ms() + DEMO_MOD_IDLE_MS, cnt;

	for (;;) {
		if (demo_mod_long(mod, "refcnt", &cnt))
			return -1;
		if (cnt == 0)
			return 0;
		if (demo_now_ms() > end)
			return -1;
		poll(NULL, 0, 10);
	}
}

/* Wait until @mod is idle and unload it; 0 or -errno. */
static inline int demo_mod_unload_idle(const char *mod)
{
	if (demo_mod_wait_idle(mod))
		return -EWOULDBLOCK;
	return demo_mod_unload(mod);
}

#define DEMO_KMEMLEAK "/sys/kernel/debug/kmemleak"

/* True if the kernel has kmemleak (the debug kernel). */
static inline bool demo_kmemleak_available(void)
{
	return access(DEMO_KMEMLEAK, W_OK) == 0;
}

/*
 * Write @val to the (proc, sys or debugfs) file @path: 0, or -1 with the
 * errno of open() or write() (EIO for a short write).
 */
static inline int demo_write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int err;

	if (fd < 0)
		return -1;
	n = write(fd, val, strlen(val));
	err = errno;
	close(fd);
	errno = err;
	if (n >= 0 && n != (ssize_t)strlen(val)) {
		errno = EIO;
		return -1;
	}
	return n < 0 ? -1 : 0;
}

static inline int demo_kmemleak_cmd(const char *cmd)
{
	return demo_write_file(DEMO_KMEMLEAK, cmd);
}

/* Forget every object kmemleak suspects now; 0 on success. */
static inline int demo_kmemleak_clear(void)
{
	return demo_kmemleak_cmd("clear");
}

/*
 * Scan twice (an object is reported once it stayed unreferenced across a
 * scan) and count the suspected leaks, copying the first report lines to
 * stdout as TAP diagnostics. -1 if kmemleak is unavailable.
 */
static inline int demo_kmemleak_scan(void)
{
	char line[256];
	int leaks = 0, shown = 0;
	FILE *f;

	if (demo_kmemleak_cmd("scan") || demo_kmemleak_cmd("scan"))
		return -1;
	f = fopen(DEMO_KMEMLEAK, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, "unreferenced object"))
			leaks++;
		if (leaks && shown++ < 40)
			printf("# kmemleak: %s", line);
	}
	fclose(f);
	return leaks;
}

/*
 * The stream of diag(): stderr, unbuffered (the harness ends tests with
 * _exit). A program that wants its diagnostics in order with its TAP lines
 * defines DEMO_DIAG_STREAM as stdout before it includes this file.
 */
#ifndef DEMO_DIAG_STREAM
#define DEMO_DIAG_STREAM stderr
#endif

/* Print "# <fmt ...>" on DEMO_DIAG_STREAM as a TAP diagnostic, flushed. */
static inline void __attribute__((format(printf, 1, 2)))
diag(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(DEMO_DIAG_STREAM, "# %s\n", line);
	fflush(DEMO_DIAG_STREAM);
}

/*
 * A figure for the README: "# figure: NAME VALUE" in the TAP output;
 * scripts/test.sh collects them per kernel.
 */
static inline void demo_figure(const char *name, unsigned long long value)
{
	printf("# figure: %s %llu\n", name, value);
	fflush(stdout);
}

/*
 * Seeded pseudo-random numbers (splitmix64) for the fuzzers: the seed is
 * $AFDEMO_SEED if set, else taken from the clock; either way it is printed
 * so that a run can be repeated.
 */
struct demo_rng {
	unsigned long long s;
};

static inline unsigned long long demo_rng_next(struct demo_rng *r)
{
	unsigned long long z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, n), n > 0. */
static inline unsigned int demo_rng_below(struct demo_rng *r, unsigned int n)
{
	return (unsigned int)(demo_rng_next(r) % n);
}

static inline unsigned long long demo_seed(const char *prog)
{
	const char *env = getenv("AFDEMO_SEED");
	unsigned long long seed;
	struct timespec ts;

	if (env && *env) {
		seed = strtoull(env, NULL, 0);
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		seed = (unsigned long long)ts.tv_sec * 1000000007ULL ^
		       (unsigned long long)ts.tv_nsec ^
		       ((unsigned long long)getpid() << 32);
	}
	printf("# %s: seed %llu (repeat with AFDEMO_SEED=%llu)\n",
	       prog, seed, seed);
	fflush(stdout);
	return seed;
}

#endif /* DEMO_LIB_H */
