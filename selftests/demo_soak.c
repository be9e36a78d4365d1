// SPDX-License-Identifier: GPL-2.0
/*
 * AF_DEMO soak tests: the module and its per-namespace state survive long
 * and repeated use, and leave nothing behind.
 *
 * - module_cycles: load/unload cycles with live traffic in between. Each
 *   cycle loads af_demo (half of them with the namespaces already there,
 *   so the module's per-namespace init runs on existing namespaces),
 *   exchanges verified datagrams and seqpacket messages between two
 *   namespaces over veth, checks that rmmod is refused (EWOULDBLOCK) while
 *   sockets exist and that traffic continues unharmed, then closes every
 *   socket a different way (graceful close leaving TIME_WAIT, close with
 *   unread data -> reset, SO_LINGER 0, shutdown both ways, a listener with
 *   unaccepted connections, a socket in SYN_SENT to an unreachable peer),
 *   unloads the module, and checks that IP now refuses DEMO packets sent
 *   by an AF_INET raw socket (InUnknownProtos), without a crash.
 * - netns_churn: namespace pairs created and destroyed with bound
 *   datagram sockets, listeners and established connections open, unread
 *   data, data in flight through netem loss (retransmission timers
 *   pending), sockets held by a child that is SIGKILLed; the client
 *   namespace is deleted first and must really be destroyed (its veth
 *   peer vanishes) once its sockets are closed; some iterations destroy a
 *   namespace holding only a TIME_WAIT entry. Afterwards nothing is left
 *   in /proc/net/demo, the module refcount is 0 and rmmod succeeds.
 * - lossy_transfer: 16 concurrent seqpacket connections, each carrying
 *   MiBs of messages of 1 byte to DEMO_SEQPACKET_MAX_MSG both ways through
 *   netem delay and loss, every message checked in order with its
 *   boundaries, a datagram flow alongside (every datagram that arrives is
 *   checked), then a graceful close of everything.
 *
 * Every case ends with rmmod af_demo succeeding, then the leak scan:
 * kmemleak (cleared at the start of the case) on the debug kernel; on the
 * Debian kernels, which have no kmemleak, slub_debug's check at
 * kmem_cache_destroy() reports leaked objects in the kernel log, which
 * scripts/logscan.sh fails on. af_demo is then loaded again from
 * $AFDEMO_KO with default parameters (also in the teardown after a
 * failure), as run_guest.sh expects.
 *
 * Namespaces are made in this process (a bind mount in /run/netns, as
 * ip-netns(8) makes them; addresses and static neighbours by ioctl): only
 * the veth pair and netem take an ip(8)/tc(8) process each, which is
 * what makes dozens of namespace pairs affordable in a TCG guest.
 *
 * Run as root in a guest with af_demo loaded and $AFDEMO_KO set; needs
 * ip(8) and tc(8) with sch_netem:
 *   scripts/vm-run.sh -k KVER -t 900 -o /tmp/soak -- \
 *	selftests/run_guest.sh build/selftests/demo_soak
 * Volume scales with the kernel (smaller on the "-afdemo-debug" kernel)
 * and with the measured time of each iteration, never below the minimums
 * below. The seed of every random choice is printed; repeat a run with
 * AFDEMO_SEED=<seed>. AFDEMO_SOAK_KIB overrides the KiB each lossy_transfer
 * connection carries in each direction.
 */
/* diag() lines go to stdout, in order with the TAP lines. */
#define DEMO_DIAG_STREAM stdout
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
#include <net/if_arp.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "kselftest_harness.h"

#define MOD_NAME	"af_demo"
#define MAX_MSG		DEMO_SEQPACKET_MAX_MSG
#define TMO		10000	/* ms: bound on things that happen at once */
#define SYSCTL		"/proc/sys/net/demo/"
#define MAC_A		"02:de:00:00:05:0a"
#define MAC_B		"02:de:00:00:05:0b"
#define MAC_GONE	"02:de:00:00:05:99"

/* Volumes: the target, the minimum, and the time budget of the loop. */
#define CYCLES		20
#define CYCLES_DEBUG	8
#define CYCLES_MIN	5
#define NETNS_ITERS	40
#define NETNS_DEBUG	15
#define NETNS_MIN	10
#define LOSSY_CONNS	16
#define LOSSY_KIB	2048	/* per connection and direction */
#define LOSSY_KIB_DEBUG	512
#define LOSSY_NETEM	"root netem delay 5ms loss 4% limit 10000"

/* --- small helpers ------------------------------------------------------ */

static bool debug_kernel(void)
{
	struct utsname u;
	size_t n;

	if (uname(&u))
		return false;
	n = strlen(u.release);
	return n > 13 && !strcmp(u.release + n - 13, "-afdemo-debug");
}

/* Time budget of a soak loop in ms: the debug kernel is ~5x slower. */
static long budget_ms(long debian_ms)
{
	return debug_kernel() ? debian_ms * 3 : debian_ms;
}

/* Set /proc/sys/net/demo/@name in netns @ns; 0 or -1. */
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

/* Short timers: an orphaned connection ends within a few seconds. */
static int quick_timers(const char *ns)
{
	return ns_sysctl(ns, "seqpacket_rto_min_ms", 100) ||
	       ns_sysctl(ns, "seqpacket_rto_max_ms", 400) ||
	       ns_sysctl(ns, "seqpacket_retries", 4) ||
	       ns_sysctl(ns, "seqpacket_syn_retries", 2) ||
	       ns_sysctl(ns, "seqpacket_fin_timeout_ms", 2000) ? -1 : 0;
}

/* A socket created in netns @ns (the caller stays where it is). */
static int ns_socket(const char *ns, int domain, int type, int proto)
{
	int cur = ns_save(), fd = -1;

	if (cur >= 0 && !demo_netns_enter(ns))
		fd = socket(domain, type | SOCK_CLOEXEC, proto);
	ns_restore(cur);
	return fd;
}

/* One field of the "Ip:" line of /proc/net/snmp in netns @ns. */
static long ns_snmp_ip(const char *ns, const char *field)
{
	int cur = ns_save();
	long v = -1;

	if (cur >= 0 && !demo_netns_enter(ns))
		v = snmp_ip(field);
	ns_restore(cur);
	return v;
}

static int set_timeo(int fd, int opt, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = ms % 1000 * 1000 };

	return setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof(tv));
}

/*
 * Lines of /proc/net/demo in netns @ns (NULL: the current one) of socket
 * type @type (NULL: any) in state @state (NULL: any); -1 if unreadable.
 * With @dump every line is printed as a diagnostic.
 */
static int proc_count(const char *ns, const char *type, const char *state,
		      bool dump)
{
	char line[512], st[32], ty[32];
	int cur = ns_save(), n = 0;
	FILE *f = NULL;

	if (cur >= 0 && (!ns || !demo_netns_enter(ns)))
		f = fopen("/proc/net/demo", "re");
	ns_restore(cur);
	if (!f || !fgets(line, sizeof(line), f)) {	/* header */
		if (f)
			fclose(f);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*s %*s %*s %31s %*s %*s %*s %*s %31s",
			   st, ty) != 2) {
			n = -1;
			break;
		}
		if (dump)
			diag("%s /proc/net/demo: %s", ns ?: "init",
			     strtok(line, "\n") ?: "");
		if ((!type || !strcmp(ty, type)) &&
		    (!state || !strcmp(st, state)))
			n++;
	}
	fclose(f);
	return n;
}

/* Wait (bounded) until proc_count(...) == @want; 0 or -1. */
static int wait_proc(const char *ns, const char *type, const char *state,
		     int want, long ms)
{
	long end = demo_now_ms() + ms;

	while (proc_count(ns, type, state, false) != want) {
		if (demo_now_ms() > end) {
			proc_count(ns, NULL, NULL, true);
			return -1;
		}
		poll(NULL, 0, 10);
	}
	return 0;
}

/* Whether network device @dev exists in netns @ns (true if unknown). */
static bool dev_exists(const char *ns, const char *dev)
{
	int cur = ns_save();
	bool ret = true;

	if (cur >= 0 && !demo_netns_enter(ns))
		ret = if_nametoindex(dev) != 0;
	ns_restore(cur);
	return ret;
}

/* Wait until @dev in @ns is running (carrier up: linkwatch has run). */
static int link_running(const char *ns, const char *dev)
{
	long end = demo_now_ms() + TMO;
	struct ifreq ifr = {};
	int fd, ret = -1;

	fd = ns_socket(ns, AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	do {
		if (!ioctl(fd, SIOCGIFFLAGS, &ifr) &&
		    (ifr.ifr_flags & (IFF_UP | IFF_RUNNING)) ==
		    (IFF_UP | IFF_RUNNING)) {
			ret = 0;
			break;
		}
		poll(NULL, 0, 10);
	} while (demo_now_ms() < end);
	close(fd);
	return ret;
}

/* --- deterministic content ---------------------------------------------- */

/* @len bytes of the demo_rng stream seeded by @seed. */
static void fill(void *buf, size_t len, uint64_t seed)
{
	struct demo_rng r = { .s = seed };
	uint8_t *p = buf;
	uint64_t v;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		v = demo_rng_next(&r);
		memcpy(p + i, &v, 8);
	}
	if (i < len) {
		v = demo_rng_next(&r);
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

/* The content seed of message @idx of stream @stream. */
static uint64_t msg_seed(uint64_t base, uint32_t stream, uint32_t idx)
{
	return base ^ ((uint64_t)stream << 40) ^ ((uint64_t)idx << 8) ^ 0x50a4;
}

/* --- namespaces --------------------------------------------------------- */

struct pair {
	char a[16], b[16];		/* namespace names */
	char ip_a[20], ip_b[20], ip_gone[20];
};

static void pair_init(struct pair *p, const char *tag, int net)
{
	snprintf(p->a, sizeof(p->a), "soak_%s_a", tag);
	snprintf(p->b, sizeof(p->b), "soak_%s_b", tag);
	snprintf(p->ip_a, sizeof(p->ip_a), "198.18.%d.1", net);
	snprintf(p->ip_b, sizeof(p->ip_b), "198.18.%d.2", net);
	snprintf(p->ip_gone, sizeof(p->ip_gone), "198.18.%d.99", net);
}

/*
 * Named namespaces as ip(8) makes them (/run/netns/NAME, a bind mount of
 * the namespace), but in this process: a process per command is slow in
 * the guest, and the churn creates many.
 */
#define NETNS_RUN_DIR	"/run/netns"

static int ns_del(const char *ns)
{
	char path[128];

	snprintf(path, sizeof(path), NETNS_RUN_DIR "/%s", ns);
	if (umount2(path, MNT_DETACH) && errno != EINVAL && errno != ENOENT)
		return -1;
	return unlink(path) && errno != ENOENT ? -1 : 0;
}

static int ns_add(const char *ns)
{
	int cur = ns_save(), fd, ret = -1;
	char path[128];

	snprintf(path, sizeof(path), NETNS_RUN_DIR "/%s", ns);
	mkdir(NETNS_RUN_DIR, 0755);
	fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
	if (cur < 0 || fd < 0)
		goto out;
	close(fd);
	if (unshare(CLONE_NEWNET))
		goto out;
	ret = mount("/proc/thread-self/ns/net", path, "none", MS_BIND, NULL);
out:
	ns_restore(cur);
	if (ret && fd >= 0)
		unlink(path);
	return ret;
}

/* In netns @ns: @dev up, with @ip/24 unless NULL. */
static int ns_if_up(const char *ns, const char *dev, const char *ip)
{
	struct sockaddr_in *sin;
	struct ifreq ifr = {};
	int fd, ret = -1;

	fd = ns_socket(ns, AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	sin = (struct sockaddr_in *)&ifr.ifr_addr;
	if (ip) {
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = inet_addr(ip);
		if (ioctl(fd, SIOCSIFADDR, &ifr))
			goto out;
		sin->sin_addr.s_addr = htonl(0xffffff00);
		if (ioctl(fd, SIOCSIFNETMASK, &ifr))
			goto out;
	}
	if (ioctl(fd, SIOCGIFFLAGS, &ifr))
		goto out;
	ifr.ifr_flags |= IFF_UP;
	ret = ioctl(fd, SIOCSIFFLAGS, &ifr);
out:
	close(fd);
	return ret;
}

/* In netns @ns: a permanent neighbour @ip at @mac on @dev. */
static int ns_neigh(const char *ns, const char *dev, const char *ip,
		    const char *mac)
{
	struct arpreq req = {};
	struct sockaddr_in *sin = (struct sockaddr_in *)&req.arp_pa;
	unsigned int m[6];
	int fd, i, ret;

	if (sscanf(mac, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3],
		   &m[4], &m[5]) != 6)
		return -1;
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = inet_addr(ip);
	req.arp_ha.sa_family = ARPHRD_ETHER;
	for (i = 0; i < 6; i++)
		req.arp_ha.sa_data[i] = m[i];
	req.arp_flags = ATF_PERM | ATF_COM;
	snprintf(req.arp_dev, sizeof(req.arp_dev), "%s", dev);
	fd = ns_socket(ns, AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		return -1;
	ret = ioctl(fd, SIOCSARP, &req);
	close(fd);
	return ret;
}

/*
 * Wait until UDP datagrams pass from @from_ns to @to (in @to_ns): the
 * link is up and linkwatch has replaced the noop qdisc, which drops.
 */
static int udp_path(const char *from_ns, const char *to_ns, const char *to)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(9) };
	long end = demo_now_ms() + TMO;
	int tx, rx, ret = -1;

	sa.sin_addr.s_addr = inet_addr(to);
	tx = ns_socket(from_ns, AF_INET, SOCK_DGRAM, 0);
	rx = ns_socket(to_ns, AF_INET, SOCK_DGRAM, 0);
	if (tx < 0 || rx < 0 || bind(rx, (struct sockaddr *)&sa, sizeof(sa)))
		goto out;
	do {
		if (sendto(tx, "up", 2, MSG_DONTWAIT, (struct sockaddr *)&sa,
			   sizeof(sa)) == 2 &&
		    wait_ev(rx, POLLIN, 20) & POLLIN) {
			ret = 0;
			break;
		}
	} while (demo_now_ms() < end);
out:
	if (tx >= 0)
		close(tx);
	if (rx >= 0)
		close(rx);
	return ret;
}

static void pair_down(const struct pair *p)
{
	ns_del(p->a);
	ns_del(p->b);
}

/*
 * Two namespaces joined by veth_a - veth_b, static neighbours (and one for
 * ip_gone on veth_a whose frames veth_b drops: an unreachable peer).
 */
static int pair_up(const struct pair *p)
{
	pair_down(p);
	if (ns_add(p->a) || ns_add(p->b))
		return -1;
	if (sh("ip link add veth_a netns %s address " MAC_A " type veth"
	       " peer name veth_b netns %s address " MAC_B, p->a, p->b))
		return -1;
	if (ns_if_up(p->a, "lo", NULL) || ns_if_up(p->b, "lo", NULL) ||
	    ns_if_up(p->a, "veth_a", p->ip_a) ||
	    ns_if_up(p->b, "veth_b", p->ip_b) ||
	    ns_neigh(p->a, "veth_a", p->ip_b, MAC_B) ||
	    ns_neigh(p->a, "veth_a", p->ip_gone, MAC_GONE) ||
	    ns_neigh(p->b, "veth_b", p->ip_a, MAC_A))
		return -1;
	if (link_running(p->a, "veth_a") || link_running(p->b, "veth_b") ||
	    udp_path(p->a, p->b, p->ip_b) || udp_path(p->b, p->a, p->ip_a))
		return -1;
	return 0;
}

static int pair_netem(const struct pair *p, const char *qdisc)
{
	return sh("tc -n %s qdisc add dev veth_a %s && "
		  "tc -n %s qdisc add dev veth_b %s", p->a, qdisc, p->b, qdisc);
}

/* --- the fixture -------------------------------------------------------- */

static const char *ko;

FIXTURE(soak) {
	int init_ns;
	pid_t child;
	struct pair p[2];
	int npairs;
	struct demo_rng rng;
	uint64_t seed;
};

FIXTURE_SETUP(soak)
{
	self->init_ns = -1;
	self->child = -1;
	self->npairs = 0;
	ko = getenv("AFDEMO_KO");
	if (!ko || !*ko)
		SKIP(return, "AFDEMO_KO (path of af_demo.ko) is not set");
	if (geteuid())
		SKIP(return, "needs root");
	ASSERT_TRUE(demo_mod_present(MOD_NAME)) TH_LOG("af_demo is not loaded");
	ASSERT_EQ(AF_DEMO, demo_family()) TH_LOG("af_demo has not its defaults");
	ASSERT_EQ(IPPROTO_DEMO, demo_ipproto());
	self->init_ns = ns_save();
	ASSERT_LE(0, self->init_ns);
	self->seed = demo_seed("demo_soak");
	self->rng.s = self->seed;
}

/* af_demo loaded with default parameters, as the program found it. */
static int reload_default(void)
{
	int ret;

	if (demo_mod_present(MOD_NAME))
		return 0;
	ret = demo_mod_load(ko, "");
	if (ret)
		diag("cannot load %s: %s", ko, strerror(-ret));
	return ret;
}

FIXTURE_TEARDOWN(soak)
{
	int i;

	if (self->child > 0) {
		kill(self->child, SIGKILL);
		waitpid(self->child, NULL, 0);
	}
	if (self->init_ns >= 0)
		setns(self->init_ns, CLONE_NEWNET);
	/* Drop every socket a failed assertion left open. */
	syscall(SYS_close_range, 3, ~0U, 0);
	for (i = 0; i < self->npairs; i++)
		pair_down(&self->p[i]);
	if (ko && reload_default())
		_metadata->exit_code = KSFT_FAIL;
}

/* The start of every case: forget older kmemleak suspects. */
static void leak_begin(struct __test_metadata *_metadata)
{
	if (demo_kmemleak_available()) {
		ASSERT_EQ(0, demo_kmemleak_clear());
		return;
	}
	diag("no kmemleak on this kernel: slub_debug's check at "
		     "kmem_cache_destroy() (kernel log, scripts/logscan.sh) "
		     "is the leak check");
}

/*
 * The end of every case: rmmod succeeds once the last socket is gone
 * (@ms bounds the wait for orphaned connections to end), the leak scan is
 * clean, and af_demo is loaded again with default parameters.
 */
static void scan_reload(struct __test_metadata *_metadata);

static void unload_scan_reload(struct __test_metadata *_metadata, long ms)
{
	long end = demo_now_ms() + ms, cnt = -1;

	while (!demo_mod_long(MOD_NAME, "refcnt", &cnt) && cnt) {
		if (demo_now_ms() > end)
			break;
		poll(NULL, 0, 20);
	}
	if (cnt)
		proc_count(NULL, NULL, NULL, true);
	ASSERT_EQ(0, cnt) TH_LOG("af_demo refcnt still %ld after %ld ms",
				 cnt, ms);
	ASSERT_EQ(0, demo_mod_unload_idle(MOD_NAME));
	ASSERT_FALSE(demo_mod_present(MOD_NAME));
	scan_reload(_metadata);
}

/* After the final rmmod: the leak scan, then af_demo loaded again. */
static void scan_reload(struct __test_metadata *_metadata)
{
	int leaks;

	if (demo_kmemleak_available()) {
		leaks = demo_kmemleak_scan();
		ASSERT_EQ(0, leaks) TH_LOG("kmemleak: %d suspected leaks", leaks);
	}
	ASSERT_EQ(0, reload_default());
	ASSERT_EQ(AF_DEMO, demo_family());
	ASSERT_EQ(IPPROTO_DEMO, demo_ipproto());
}

/* --- verified messages ---------------------------------------------------- */

/*
 * Send message @idx of stream @stream (@len bytes) on @fd, blocking with a
 * bound; 0 or -1.
 */
static int send_msg(int fd, uint64_t base, uint32_t stream, uint32_t idx,
		    size_t len, uint8_t *buf)
{
	fill(buf, len, msg_seed(base, stream, idx));
	if (set_timeo(fd, SO_SNDTIMEO, TMO))
		return -1;
	return send(fd, buf, len, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

/* Receive and check message @idx of @stream: NULL or what was wrong. */
static const char *recv_msg(int fd, uint64_t base, uint32_t stream,
			    uint32_t idx, size_t len, uint8_t *buf, uint8_t *tmp)
{
	struct iovec iov = { .iov_base = buf, .iov_len = MAX_MSG + 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	static char why[128];
	ssize_t n;
	long off;

	if (!(wait_ev(fd, POLLIN, TMO) & (POLLIN | POLLERR | POLLHUP)))
		return "no message within the bound";
	n = recvmsg(fd, &mh, MSG_DONTWAIT);
	if (n < 0) {
		snprintf(why, sizeof(why), "recvmsg: %s", strerror(errno));
		return why;
	}
	if ((size_t)n != len || (mh.msg_flags & MSG_TRUNC) ||
	    !(mh.msg_flags & MSG_EOR)) {
		snprintf(why, sizeof(why), "%zd bytes (flags %#x), not %zu",
			 n, mh.msg_flags, len);
		return why;
	}
	off = mismatch(buf, len, msg_seed(base, stream, idx), tmp);
	if (off >= 0) {
		snprintf(why, sizeof(why), "byte %ld of %zu differs", off, len);
		return why;
	}
	return NULL;
}

/* Wait for @fd to fail with @err on recv (a reset arriving); 0 or -1. */
static int wait_recv_err(int fd, int err)
{
	char b[64];
	ssize_t n;

	if (!(wait_ev(fd, POLLIN, TMO) & (POLLIN | POLLERR | POLLHUP)))
		return -1;
	n = recv(fd, b, sizeof(b), MSG_DONTWAIT);
	return n < 0 && errno == err ? 0 : -1;
}

/* Wait for end of file on @fd (the peer's FIN); 0 or -1. */
static int wait_eof(int fd)
{
	char b[64];

	if (!(wait_ev(fd, POLLIN, TMO) & (POLLIN | POLLHUP)))
		return -1;
	return recv(fd, b, sizeof(b), MSG_DONTWAIT) == 0 ? 0 : -1;
}

/* A seqpacket listener in @ns on @ip:0. */
static int ns_listener(const char *ns, const char *ip, int backlog)
{
	int fd = ns_socket(ns, af(), SOCK_SEQPACKET, 0);

	if (fd < 0)
		return -1;
	if (bind_to(fd, ip, 0) || listen(fd, backlog)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A connection from @ns to @ip:@port; blocking, bounded. */
static int ns_connect(const char *ns, const char *ip, unsigned short port)
{
	int fd = ns_socket(ns, af(), SOCK_SEQPACKET, 0);

	if (fd < 0)
		return -1;
	if (set_timeo(fd, SO_SNDTIMEO, TMO) || connect_to(fd, ip, port)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A bound datagram socket in @ns on @ip:0. */
static int ns_dgram(const char *ns, const char *ip)
{
	int fd = ns_socket(ns, af(), SOCK_DGRAM, 0);

	if (fd >= 0 && bind_to(fd, ip, 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Exchange @n verified datagrams each way between bound @fa and @fb. */
static void dgram_round(struct __test_metadata *_metadata, int fa, int fb,
			uint64_t base, uint32_t round, int n, uint8_t *buf,
			uint8_t *tmp, struct demo_rng *rng)
{
	struct sockaddr_demo da, db, src;
	int i, dir, to, from;
	socklen_t sl;
	size_t len;
	ssize_t got;

	ASSERT_EQ(0, sock_name(fa, &da, false));
	ASSERT_EQ(0, sock_name(fb, &db, false));
	for (i = 0; i < n; i++) {
		for (dir = 0; dir < 2; dir++) {
			to = dir ? fa : fb;
			from = dir ? fb : fa;
			len = 1 + demo_rng_below(rng, 3000);
			fill(buf, len, msg_seed(base, round * 2 + dir, i));
			ASSERT_EQ((ssize_t)len,
				  sendto(from, buf, len, 0,
					 (struct sockaddr *)(dir ? &da : &db),
					 sizeof(da)))
				TH_LOG("dgram sendto: %s", strerror(errno));
			ASSERT_TRUE(wait_ev(to, POLLIN, TMO) & POLLIN)
				TH_LOG("datagram %d/%d lost on a clean link",
				       i, dir);
			sl = sizeof(src);
			got = recvfrom(to, buf, MAX_MSG, MSG_DONTWAIT,
				       (struct sockaddr *)&src, &sl);
			ASSERT_EQ((ssize_t)len, got);
			ASSERT_EQ(-1, mismatch(buf, len, msg_seed(base,
					round * 2 + dir, i), tmp));
			ASSERT_EQ((dir ? db : da).sdemo_port, src.sdemo_port);
		}
	}
}

/* One verified message each way on each of @n connections. */
static void seq_round(struct __test_metadata *_metadata, const int *cl,
		      const int *sv, int n, uint64_t base, uint32_t round,
		      uint8_t *buf, uint8_t *tmp, struct demo_rng *rng)
{
	uint32_t stream;
	const char *why;
	size_t len;
	int k, dir;

	for (k = 0; k < n; k++) {
		for (dir = 0; dir < 2; dir++) {
			stream = 1000 + round * 64 + k * 2 + dir;
			/* one connection gets the extremes */
			len = k ? 1 + demo_rng_below(rng, 20000) :
			      (round & 1) ? MAX_MSG : 1;
			ASSERT_EQ(0, send_msg(dir ? sv[k] : cl[k], base,
					      stream, 0, len, buf))
				TH_LOG("conn %d dir %d: send %zu: %s", k, dir,
				       len, strerror(errno));
			why = recv_msg(dir ? cl[k] : sv[k], base, stream, 0,
				       len, buf, tmp);
			ASSERT_TRUE(why == NULL) TH_LOG("conn %d dir %d: %s", k,
						    dir, why);
		}
	}
}

/* --- module_cycles ------------------------------------------------------ */

#define MC_CONNS	4

struct cyc {
	int da, db, l, cl[MC_CONNS], sv[MC_CONNS], q[2], syn;
	uint8_t buf[MAX_MSG + 1], tmp[MAX_MSG + 1];
};

/* A DEMO-looking packet sent by an AF_INET raw socket of @proto. */
static void raw_refused(struct __test_metadata *_metadata,
			const struct pair *p, int proto, int count)
{
	struct sockaddr_in dst = { .sin_family = AF_INET };
	struct demohdr h;
	long before, now = -1, end;
	char pkt[sizeof(h) + 32];
	int fd, i;

	fd = ns_socket(p->a, AF_INET, SOCK_RAW, proto);
	ASSERT_LE(0, fd) TH_LOG("raw socket: %s", strerror(errno));
	dst.sin_addr.s_addr = inet_addr(p->ip_b);
	before = ns_snmp_ip(p->b, "InUnknownProtos");
	ASSERT_LE(0, before);
	memset(&h, 0, sizeof(h));
	memset(pkt, 0x5a, sizeof(pkt));
	memcpy(pkt, &h, sizeof(h));
	for (i = 0; i < count; i++)
		ASSERT_EQ((ssize_t)sizeof(pkt),
			  sendto(fd, pkt, sizeof(pkt), 0,
				 (struct sockaddr *)&dst, sizeof(dst)))
			TH_LOG("raw sendto: %s", strerror(errno));
	end = demo_now_ms() + TMO;
	while (demo_now_ms() < end) {
		now = ns_snmp_ip(p->b, "InUnknownProtos");
		if (now >= before + count)
			break;
		poll(NULL, 0, 10);
	}
	ASSERT_EQ(before + count, now)
		TH_LOG("IP did not refuse the DEMO packets as an unknown "
		       "protocol");
	close(fd);
}

static void module_cycle(struct __test_metadata *_metadata,
			 FIXTURE_DATA(soak) *self, struct cyc *c, int n)
{
	const struct pair *p = &self->p[0];
	struct demo_rng *rng = &self->rng;
	uint64_t base = self->seed ^ ((uint64_t)n << 48);
	bool ns_first = n & 1;	/* kept from the previous cycle */
	struct sockaddr_demo sa;
	unsigned short port;
	int k, fam, ret;

	ret = demo_mod_load(ko, "");
	ASSERT_EQ(0, ret) TH_LOG("cycle %d: insmod: %s", n, strerror(-ret));
	fam = demo_family();
	ASSERT_EQ(AF_DEMO, fam);
	if (!ns_first)
		ASSERT_EQ(0, pair_up(p));

	/* Traffic: datagrams and MC_CONNS connections, both ways. */
	c->da = ns_dgram(p->a, p->ip_a);
	c->db = ns_dgram(p->b, p->ip_b);
	ASSERT_LE(0, c->da);
	ASSERT_LE(0, c->db);
	dgram_round(_metadata, c->da, c->db, base, 0, 4, c->buf, c->tmp, rng);
	c->l = ns_listener(p->b, p->ip_b, 8);
	ASSERT_LE(0, c->l) TH_LOG("listener: %s", strerror(errno));
	port = port_of(c->l);
	for (k = 0; k < MC_CONNS; k++) {
		c->cl[k] = ns_connect(p->a, p->ip_b, port);
		ASSERT_LE(0, c->cl[k]) TH_LOG("connect %d: %s", k,
					      strerror(errno));
		c->sv[k] = accept_tmo(c->l, TMO);
		ASSERT_LE(0, c->sv[k]) TH_LOG("accept %d: %s", k,
					      strerror(errno));
	}
	seq_round(_metadata, c->cl, c->sv, MC_CONNS, base, 0, c->buf, c->tmp,
		  rng);

	/* rmmod is refused while sockets exist; nothing is harmed. */
	ASSERT_EQ(-EWOULDBLOCK, demo_mod_unload(MOD_NAME))
		TH_LOG("cycle %d: rmmod with open sockets", n);
	ASSERT_TRUE(demo_mod_present(MOD_NAME));
	dgram_round(_metadata, c->da, c->db, base, 1, 4, c->buf, c->tmp, rng);
	seq_round(_metadata, c->cl, c->sv, MC_CONNS, base, 1, c->buf, c->tmp,
		  rng);

	/* Two connections left unaccepted, one with data queued. */
	for (k = 0; k < 2; k++) {
		c->q[k] = ns_connect(p->a, p->ip_b, port);
		ASSERT_LE(0, c->q[k]) TH_LOG("connect q%d: %s", k,
					     strerror(errno));
	}
	ASSERT_EQ(0, send_msg(c->q[0], base, 7, 0, 100, c->buf));
	/* One connection attempt to an unreachable peer. */
	c->syn = ns_socket(p->a, fam, SOCK_SEQPACKET | SOCK_NONBLOCK, 0);
	ASSERT_LE(0, c->syn);
	ASSERT_EQ(-1, connect_to(c->syn, p->ip_gone, 9));
	ASSERT_EQ(EINPROGRESS, errno);
	ASSERT_EQ(1, proc_count(p->a, "SEQPACKET", "SYN_SENT", false));

	/* Close everything, each a different way. */
	/* 0: graceful, the client closes first and keeps TIME_WAIT */
	ASSERT_EQ(0, close(c->cl[0]));
	ASSERT_EQ(0, wait_eof(c->sv[0]));
	ASSERT_EQ(0, close(c->sv[0]));
	/* 1: the server closes with an unread message: reset */
	ASSERT_EQ(0, send_msg(c->cl[1], base, 8, 0, 5000, c->buf));
	ASSERT_TRUE(wait_ev(c->sv[1], POLLIN, TMO) & POLLIN);
	ASSERT_EQ(0, close(c->sv[1]));
	ASSERT_EQ(0, wait_recv_err(c->cl[1], ECONNRESET))
		TH_LOG("close with unread data did not reset the peer");
	ASSERT_EQ(0, close(c->cl[1]));
	/* 2: the client aborts with SO_LINGER 0 */
	close_abort(c->cl[2]);
	ASSERT_EQ(0, wait_recv_err(c->sv[2], ECONNRESET));
	ASSERT_EQ(0, close(c->sv[2]));
	/* 3: the server shuts down first (its TIME_WAIT), then the client */
	ASSERT_EQ(0, shutdown(c->sv[3], SHUT_WR));
	ASSERT_EQ(0, wait_eof(c->cl[3]));
	ASSERT_EQ(0, shutdown(c->cl[3], SHUT_WR));
	ASSERT_EQ(0, wait_eof(c->sv[3]));
	ASSERT_EQ(0, close(c->cl[3]));
	ASSERT_EQ(0, close(c->sv[3]));
	/* the listener with two unaccepted connections: both reset */
	ASSERT_EQ(0, close(c->l));
	for (k = 0; k < 2; k++) {
		ASSERT_EQ(0, wait_recv_err(c->q[k], ECONNRESET))
			TH_LOG("unaccepted connection %d not reset", k);
		ASSERT_EQ(0, close(c->q[k]));
	}
	ASSERT_EQ(0, close(c->syn));
	/* datagram sockets, one with a datagram unread */
	ASSERT_EQ(0, sock_name(c->da, &sa, false));
	ASSERT_EQ(3, sendto(c->db, "bye", 3, 0, (struct sockaddr *)&sa,
			    sizeof(sa)));
	ASSERT_TRUE(wait_ev(c->da, POLLIN, TMO) & POLLIN);
	ASSERT_EQ(0, close(c->da));
	ASSERT_EQ(0, close(c->db));
	ASSERT_EQ(0, wait_proc(p->a, "SEQPACKET", "TIME_WAIT", 1, TMO))
		TH_LOG("no TIME_WAIT after the client's graceful close");
	ASSERT_EQ(0, wait_proc(p->b, "SEQPACKET", "TIME_WAIT", 1, TMO))
		TH_LOG("no TIME_WAIT after the server's graceful close");

	/* rmmod succeeds with TIME_WAIT left; the family is gone. */
	ret = demo_mod_unload_idle(MOD_NAME);
	ASSERT_EQ(0, ret) TH_LOG("cycle %d: rmmod: %s", n, strerror(-ret));
	ASSERT_FALSE(demo_mod_present(MOD_NAME));
	ASSERT_EQ(-1, socket(fam, SOCK_DGRAM, 0));
	ASSERT_EQ(EAFNOSUPPORT, errno);

	/* Unloaded: IP refuses DEMO packets (unknown protocol). */
	raw_refused(_metadata, p, IPPROTO_DEMO, 3);
	/*
	 * Every other cycle keeps its namespaces for the next one: af_demo
	 * then loads into namespaces that already had its state once.
	 */
	if (n & 1)
		pair_down(p);
}

TEST_F_TIMEOUT(soak, module_cycles, 900)
{
	int target = debug_kernel() ? CYCLES_DEBUG : CYCLES, n;
	long t0 = demo_now_ms(), budget = budget_ms(40000);
	struct cyc *c;

	c = calloc(1, sizeof(*c));
	ASSERT_NE(NULL, c);
	pair_init(&self->p[0], "mc", 40);
	self->npairs = 1;
	leak_begin(_metadata);
	ASSERT_EQ(0, demo_mod_unload_idle(MOD_NAME))
		TH_LOG("af_demo busy at the start");
	for (n = 0; n < target; n++) {
		if (n >= CYCLES_MIN && demo_now_ms() - t0 > budget)
			break;
		module_cycle(_metadata, self, c, n);
	}
	pair_down(&self->p[0]);
	diag("module_cycles: %d cycles in %ld ms", n, demo_now_ms() - t0);
	demo_figure("module_cycles", n);
	free(c);
	/* the last cycle ended with rmmod */
	scan_reload(_metadata);
}

/* --- netns_churn -------------------------------------------------------- */

#define NC_CONNS	3

struct churn {
	int da, db, da2, l, qa, cl[NC_CONNS], sv[NC_CONNS], svc;
	uint8_t buf[MAX_MSG + 1], tmp[MAX_MSG + 1];
};

/* The child: a connection and a bound datagram socket, until SIGKILL. */
static __attribute__((noreturn)) void churn_child(const struct pair *p,
						  unsigned short port,
						  int wfd, uint64_t base)
{
	static uint8_t buf[4096];
	int c, d;

	c = ns_connect(p->a, p->ip_b, port);
	d = ns_dgram(p->a, p->ip_a);
	if (c < 0 || d < 0 || send_msg(c, base, 9, 0, 3000, buf) ||
	    write(wfd, "r", 1) != 1)
		_exit(1);
	for (;;)
		pause();
}

/* A namespace that dies holding nothing but a TIME_WAIT entry. */
static void churn_time_wait(struct __test_metadata *_metadata,
			    const struct pair *p, struct churn *c,
			    uint64_t base, struct demo_rng *rng)
{
	long end;
	int l, cl, sv;

	ASSERT_EQ(0, ns_sysctl(p->a, "seqpacket_time_wait_ms", 600000));
	l = ns_listener(p->b, p->ip_b, 4);
	ASSERT_LE(0, l);
	cl = ns_connect(p->a, p->ip_b, port_of(l));
	ASSERT_LE(0, cl);
	sv = accept_tmo(l, TMO);
	ASSERT_LE(0, sv);
	seq_round(_metadata, &cl, &sv, 1, base, 0, c->buf, c->tmp, rng);
	ASSERT_EQ(0, close(cl));
	ASSERT_EQ(0, wait_eof(sv));
	ASSERT_EQ(0, close(sv));
	ASSERT_EQ(0, close(l));
	ASSERT_EQ(0, wait_proc(p->b, NULL, NULL, 0, TMO));
	ASSERT_EQ(0, wait_proc(p->a, "SEQPACKET", "TIME_WAIT", 1, TMO));
	ASSERT_EQ(1, proc_count(p->a, NULL, NULL, false));
	/* TIME_WAIT holds neither the module nor the namespace. */
	ASSERT_EQ(0, demo_mod_wait_idle(MOD_NAME));
	ASSERT_EQ(0, ns_del(p->a));
	end = demo_now_ms() + 3 * TMO;
	while (dev_exists(p->b, "veth_b") && demo_now_ms() < end)
		poll(NULL, 0, 20);
	ASSERT_FALSE(dev_exists(p->b, "veth_b"))
		TH_LOG("namespace with a TIME_WAIT entry was not destroyed");
}

static void churn_iter(struct __test_metadata *_metadata,
		       FIXTURE_DATA(soak) *self, struct churn *c, int i)
{
	const struct pair *p = &self->p[0];
	struct demo_rng *rng = &self->rng;
	uint64_t base = self->seed ^ ((uint64_t)i << 48) ^ 0xc0ffee;
	bool tw_only = i % 10 == 3, lossy = i & 1, child = i % 3 != 2;
	int k, pfd[2], status;
	unsigned short port;
	const char *why;
	long end, t0 = demo_now_ms(), t1, t2, t3;
	char r;

	ASSERT_EQ(0, pair_up(p));
	t1 = demo_now_ms();
	ASSERT_EQ(0, quick_timers(p->a));
	ASSERT_EQ(0, quick_timers(p->b));
	/* the client's orphans must not wait long for the server's FIN */
	ASSERT_EQ(0, ns_sysctl(p->a, "seqpacket_fin_timeout_ms", 300));
	if (tw_only) {
		churn_time_wait(_metadata, p, c, base, rng);
		pair_down(p);
		return;
	}

	/* Bound datagram sockets, one with datagrams unread. */
	c->da = ns_dgram(p->a, p->ip_a);
	c->da2 = ns_dgram(p->a, NULL);
	c->db = ns_dgram(p->b, p->ip_b);
	ASSERT_LE(0, c->da);
	ASSERT_LE(0, c->da2);
	ASSERT_LE(0, c->db);
	dgram_round(_metadata, c->da, c->db, base, 0, 1, c->buf, c->tmp, rng);
	ASSERT_EQ(0, connect_to(c->db, p->ip_a, port_of(c->da)));
	ASSERT_EQ(100, send(c->db, c->buf, 100, 0));

	/* Established connections, a message each way verified. */
	c->l = ns_listener(p->b, p->ip_b, 8);
	ASSERT_LE(0, c->l);
	port = port_of(c->l);
	for (k = 0; k < NC_CONNS; k++) {
		c->cl[k] = ns_connect(p->a, p->ip_b, port);
		ASSERT_LE(0, c->cl[k]) TH_LOG("connect: %s", strerror(errno));
		c->sv[k] = accept_tmo(c->l, TMO);
		ASSERT_LE(0, c->sv[k]) TH_LOG("accept: %s", strerror(errno));
	}
	seq_round(_metadata, c->cl, c->sv, NC_CONNS, base, 0, c->buf, c->tmp,
		  rng);

	/* Sockets held by a child, which gets SIGKILLed below. */
	c->svc = -1;
	if (child) {
		ASSERT_EQ(0, pipe2(pfd, O_CLOEXEC));
		fflush(NULL);
		self->child = fork();
		ASSERT_LE(0, self->child);
		if (!self->child)
			churn_child(p, port, pfd[1], base);
		close(pfd[1]);
		ASSERT_TRUE(wait_ev(pfd[0], POLLIN, TMO) & POLLIN);
		ASSERT_EQ(1, read(pfd[0], &r, 1)) TH_LOG("child failed");
		close(pfd[0]);
		c->svc = accept_tmo(c->l, TMO);
		ASSERT_LE(0, c->svc);
		why = recv_msg(c->svc, base, 9, 0, 3000, c->buf, c->tmp);
		ASSERT_TRUE(why == NULL) TH_LOG("child's message: %s", why);
		/* unread by the child */
		ASSERT_EQ(0, send_msg(c->svc, base, 10, 0, 2000, c->buf));
	}

	/* A listener with a connection not yet accepted. */
	c->qa = ns_connect(p->a, p->ip_b, port);
	ASSERT_LE(0, c->qa) TH_LOG("connect: %s", strerror(errno));

	/* Loss and delay: data in flight, retransmissions pending. */
	if (lossy)
		ASSERT_EQ(0, pair_netem(p, "root netem delay 20ms loss 10%"));
	for (k = 0; k < NC_CONNS; k++) {
		fill(c->buf, 30000, base + k);
		ASSERT_EQ(30000, send(c->cl[k], c->buf, 30000,
				      MSG_DONTWAIT | MSG_NOSIGNAL));
		ASSERT_EQ(1000, send(c->sv[k], c->buf, 1000,
				     MSG_DONTWAIT | MSG_NOSIGNAL));
	}

	if (child) {
		ASSERT_EQ(0, kill(self->child, SIGKILL));
		ASSERT_EQ(self->child, waitpid(self->child, &status, 0));
		self->child = -1;
		ASSERT_TRUE(WIFSIGNALED(status));
	}

	/*
	 * The client namespace goes with its sockets still open; once they
	 * are closed (their connections end within the quick timers) it must
	 * really be destroyed: veth_b, its veth's peer, vanishes.
	 */
	t2 = demo_now_ms();
	ASSERT_EQ(0, ns_del(p->a));
	ASSERT_TRUE(dev_exists(p->b, "veth_b"));
	close(c->cl[0]);			/* unread data: reset */
	close_abort(c->cl[1]);
	shutdown(c->cl[2], SHUT_RDWR);		/* orderly: FIN */
	close(c->cl[2]);
	close(c->qa);
	close(c->da);
	close(c->da2);
	end = demo_now_ms() + 3 * TMO;
	while (dev_exists(p->b, "veth_b") && demo_now_ms() < end)
		poll(NULL, 0, 20);
	ASSERT_FALSE(dev_exists(p->b, "veth_b"))
		TH_LOG("iteration %d: namespace %s not destroyed after its "
		       "sockets were closed", i, p->a);

	t3 = demo_now_ms();
	/* The server namespace goes while its sockets are open too. */
	ASSERT_EQ(0, ns_del(p->b));
	for (k = 0; k < NC_CONNS; k++)
		close(c->sv[k]);
	if (c->svc >= 0)
		close(c->svc);
	close(c->l);
	close(c->db);
	diag("iteration %d: setup %ld, traffic %ld, destroy %ld, end %ld ms",
	     i, t1 - t0, t2 - t1, t3 - t2, demo_now_ms() - t3);
}

TEST_F_TIMEOUT(soak, netns_churn, 900)
{
	int target = debug_kernel() ? NETNS_DEBUG : NETNS_ITERS, n;
	long t0 = demo_now_ms(), budget = budget_ms(45000);
	struct churn *c;

	c = calloc(1, sizeof(*c));
	ASSERT_NE(NULL, c);
	pair_init(&self->p[0], "nc", 41);
	self->npairs = 1;
	leak_begin(_metadata);
	for (n = 0; n < target; n++) {
		if (n >= NETNS_MIN && demo_now_ms() - t0 > budget)
			break;
		churn_iter(_metadata, self, c, n);
	}
	diag("netns_churn: %d iterations in %ld ms", n, demo_now_ms() - t0);
	demo_figure("netns_cycles", n);
	ASSERT_EQ(0, proc_count(NULL, NULL, NULL, true))
		TH_LOG("leftovers in the initial namespace's /proc/net/demo");
	unload_scan_reload(_metadata, 6 * TMO);
	free(c);
}

/* --- lossy_transfer ----------------------------------------------------- */

struct lt_end {
	pthread_t th;
	int fd;
	uint32_t tx_stream, rx_stream;
	long long target, sent, rcvd;
	uint32_t nsent, nrcvd;
	struct demo_rng txr, rxr;
	uint64_t base;
	long deadline;
	char err[160];
	uint8_t sbuf[MAX_MSG], rbuf[MAX_MSG + 1], tmp[MAX_MSG];
};

/* Set by the first connection end that fails: the others stop. */
static volatile int lt_abort;

/* Length of the next message of a stream: 1 byte to MAX_MSG. */
static size_t lt_len(struct demo_rng *r)
{
	switch (demo_rng_below(r, 4)) {
	case 0:
		return 1 + demo_rng_below(r, 64);
	case 1:
		return 1 + demo_rng_below(r, 1500);
	case 2:
		return 1 + demo_rng_below(r, 16384);
	default:
		return demo_rng_below(r, 8) ? 1 + demo_rng_below(r, MAX_MSG) :
		       MAX_MSG;
	}
}

/* Full duplex on one connection end: send and check its messages. */
static void *lt_run(struct lt_end *e)
{
	struct iovec iov = { .iov_base = e->rbuf, .iov_len = MAX_MSG + 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	size_t txlen = 0, rxlen = 0;
	bool txpend = false;
	struct pollfd pf;
	ssize_t n;
	long off;

	for (;;) {
		bool txdone = e->sent >= e->target && !txpend;
		bool rxdone = e->rcvd >= e->target;

		if (txdone && rxdone)
			return NULL;
		if (lt_abort)
			return NULL;
		if (demo_now_ms() > e->deadline) {
			snprintf(e->err, sizeof(e->err),
				 "deadline: sent %lld rcvd %lld of %lld",
				 e->sent, e->rcvd, e->target);
			return NULL;
		}
		if (!txdone && !txpend) {
			txlen = lt_len(&e->txr);
			fill(e->sbuf, txlen, msg_seed(e->base, e->tx_stream,
						      e->nsent));
			txpend = true;
		}
		pf.fd = e->fd;
		pf.events = (txpend ? POLLOUT : 0) | (rxdone ? 0 : POLLIN);
		pf.revents = 0;
		if (poll(&pf, 1, 1000) < 0) {
			snprintf(e->err, sizeof(e->err), "poll: %m");
			return NULL;
		}
		if (!rxdone && (pf.revents & (POLLIN | POLLERR | POLLHUP))) {
			mh.msg_flags = 0;
			n = recvmsg(e->fd, &mh, MSG_DONTWAIT);
			if (n < 0 && errno != EAGAIN) {
				snprintf(e->err, sizeof(e->err),
					 "recv message %u: %m", e->nrcvd);
				return NULL;
			}
			if (n >= 0) {
				rxlen = lt_len(&e->rxr);
				off = -1;
				if ((size_t)n == rxlen)
					off = mismatch(e->rbuf, n,
						       msg_seed(e->base,
								e->rx_stream,
								e->nrcvd),
						       e->tmp);
				if ((size_t)n != rxlen || off >= 0 ||
				    (mh.msg_flags & MSG_TRUNC) ||
				    !(mh.msg_flags & MSG_EOR)) {
					snprintf(e->err, sizeof(e->err),
						 "message %u: %zd bytes (want %zu) flags %#x, first bad byte %ld",
						 e->nrcvd, n, rxlen,
						 mh.msg_flags, off);
					return NULL;
				}
				e->nrcvd++;
				e->rcvd += n;
			}
		}
		if (txpend && (pf.revents & (POLLOUT | POLLERR))) {
			n = send(e->fd, e->sbuf, txlen,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n < 0 && errno != EAGAIN) {
				snprintf(e->err, sizeof(e->err),
					 "send message %u: %m", e->nsent);
				return NULL;
			}
			if (n >= 0 && (size_t)n != txlen) {
				snprintf(e->err, sizeof(e->err),
					 "send message %u: %zd of %zu",
					 e->nsent, n, txlen);
				return NULL;
			}
			if (n >= 0) {
				e->nsent++;
				e->sent += n;
				txpend = false;
			}
		}
	}
}

static void *lt_thread(void *arg)
{
	struct lt_end *e = arg;

	lt_run(e);
	if (e->err[0])
		lt_abort = 1;
	return NULL;
}

#define LT_DG_MAGIC	0x64677261u

struct lt_dgram {
	pthread_t tx_th, rx_th;
	int tx, rx;
	uint64_t base;
	volatile int stop;		/* set by the main thread */
	volatile uint32_t sent;
	uint32_t rcvd, reordered;
	uint8_t seen[1 << 16];		/* a bit per datagram */
	char err[160];
	uint8_t sbuf[8192], rbuf[16384], tmp[8192];
};

static size_t dg_len(uint64_t base, uint32_t seq)
{
	struct demo_rng r = { .s = base ^ seq };

	return 12 + demo_rng_below(&r, 4000);
}

/* Datagrams A -> B, paced, while the transfer runs. */
static void *lt_dgram_tx(void *arg)
{
	struct lt_dgram *d = arg;
	uint32_t hdr[3];
	size_t len;

	while (!d->stop && d->sent < 8 * sizeof(d->seen)) {
		len = dg_len(d->base, d->sent);
		hdr[0] = LT_DG_MAGIC;
		hdr[1] = d->sent;
		hdr[2] = len;
		fill(d->sbuf, len, d->base + d->sent);
		memcpy(d->sbuf, hdr, sizeof(hdr));
		/* counted first: the receiver checks seq < sent */
		__atomic_store_n(&d->sent, hdr[1] + 1, __ATOMIC_SEQ_CST);
		if (send(d->tx, d->sbuf, len, 0) != (ssize_t)len) {
			snprintf(d->err, sizeof(d->err), "dgram send: %m");
			return NULL;
		}
		poll(NULL, 0, 5);	/* pacing, not synchronisation */
	}
	return NULL;
}

/*
 * Every datagram that arrives is checked: whole, intact, sent, and not
 * seen before. Order is not guaranteed (as for UDP, packets can be
 * reordered on their way through the two CPUs' backlogs): counted.
 */
static void *lt_dgram_rx(void *arg)
{
	struct lt_dgram *d = arg;
	long long last = -1;
	uint32_t hdr[3], s;
	ssize_t n;

	for (;;) {
		if (!(wait_ev(d->rx, POLLIN, 200) & POLLIN)) {
			if (d->stop == 2)
				return NULL;
			continue;
		}
		n = recv(d->rx, d->rbuf, sizeof(d->rbuf), MSG_DONTWAIT);
		if (n < 0) {
			snprintf(d->err, sizeof(d->err), "dgram recv: %m");
			return NULL;
		}
		if (n < (ssize_t)sizeof(hdr)) {
			snprintf(d->err, sizeof(d->err), "dgram of %zd", n);
			return NULL;
		}
		memcpy(hdr, d->rbuf, sizeof(hdr));
		s = hdr[1];
		if (hdr[0] != LT_DG_MAGIC || s >= d->sent ||
		    (d->seen[s / 8] & (1 << (s % 8))) ||
		    hdr[2] != (uint32_t)n || dg_len(d->base, s) != (size_t)n) {
			snprintf(d->err, sizeof(d->err),
				 "bad datagram: %zd bytes, seq %u (%u sent, %s)",
				 n, s, d->sent, s < d->sent &&
				 (d->seen[s / 8] & (1 << (s % 8))) ?
				 "a duplicate" : "new");
			return NULL;
		}
		d->seen[s / 8] |= 1 << (s % 8);
		if ((long long)s < last)
			d->reordered++;
		fill(d->tmp, n, d->base + hdr[1]);
		if (memcmp(d->rbuf + sizeof(hdr), d->tmp + sizeof(hdr),
			   n - sizeof(hdr))) {
			snprintf(d->err, sizeof(d->err),
				 "datagram %u corrupted", hdr[1]);
			return NULL;
		}
		if ((long long)s > last)
			last = s;
		d->rcvd++;
	}
}

TEST_F_TIMEOUT(soak, lossy_transfer, 900)
{
	long kib = debug_kernel() ? LOSSY_KIB_DEBUG : LOSSY_KIB, t0, ms;
	long bound = budget_ms(150000);
	const char *env = getenv("AFDEMO_SOAK_KIB");
	const struct pair *p = &self->p[0];
	struct lt_end *e[2 * LOSSY_CONNS];
	long long total = 0;
	struct lt_dgram *d;
	unsigned short port;
	int k, l, dgs;

	if (env && *env)
		kib = atol(env);
	ASSERT_LT(0, kib);
	pair_init(&self->p[0], "lt", 42);
	self->npairs = 1;
	leak_begin(_metadata);
	ASSERT_EQ(0, pair_up(p));
	ASSERT_EQ(0, pair_netem(p, LOSSY_NETEM));
	ASSERT_EQ(0, ns_sysctl(p->a, "seqpacket_time_wait_ms", 120000));

	l = ns_listener(p->b, p->ip_b, 2 * LOSSY_CONNS);
	ASSERT_LE(0, l);
	port = port_of(l);
	for (k = 0; k < 2 * LOSSY_CONNS; k++) {
		e[k] = calloc(1, sizeof(*e[k]));
		ASSERT_NE(NULL, e[k]);
	}
	for (k = 0; k < LOSSY_CONNS; k++) {
		struct lt_end *cl = e[2 * k], *sv = e[2 * k + 1];

		cl->fd = ns_connect(p->a, p->ip_b, port);
		ASSERT_LE(0, cl->fd) TH_LOG("connect %d: %s", k,
					    strerror(errno));
		sv->fd = accept_tmo(l, TMO);
		ASSERT_LE(0, sv->fd) TH_LOG("accept %d: %s", k,
					    strerror(errno));
	}
	ASSERT_EQ(0, close(l));
	t0 = demo_now_ms();
	for (k = 0; k < 2 * LOSSY_CONNS; k++) {
		/* the connections were accepted in order: k ^ 1 is the peer */
		e[k]->tx_stream = k;
		e[k]->rx_stream = k ^ 1;
		e[k]->txr.s = self->seed ^ (0x1000ull + k);
		e[k]->rxr.s = self->seed ^ (0x1000ull + (k ^ 1));
		e[k]->base = self->seed;
		e[k]->target = kib << 10;
		e[k]->deadline = t0 + bound;
	}

	d = calloc(1, sizeof(*d));
	ASSERT_NE(NULL, d);
	d->base = self->seed ^ 0xd6;
	d->tx = ns_dgram(p->a, p->ip_a);
	d->rx = ns_dgram(p->b, p->ip_b);
	ASSERT_LE(0, d->tx);
	ASSERT_LE(0, d->rx);
	ASSERT_EQ(0, connect_to(d->tx, p->ip_b, port_of(d->rx)));
	ASSERT_EQ(0, pthread_create(&d->tx_th, NULL, lt_dgram_tx, d));
	ASSERT_EQ(0, pthread_create(&d->rx_th, NULL, lt_dgram_rx, d));
	for (k = 0; k < 2 * LOSSY_CONNS; k++)
		ASSERT_EQ(0, pthread_create(&e[k]->th, NULL, lt_thread, e[k]));
	for (k = 0; k < 2 * LOSSY_CONNS; k++)
		pthread_join(e[k]->th, NULL);
	ms = demo_now_ms() - t0;
	d->stop = 1;
	pthread_join(d->tx_th, NULL);
	/* the receiver ends once nothing arrived for 200 ms */
	d->stop = 2;
	pthread_join(d->rx_th, NULL);

	for (k = 0; k < 2 * LOSSY_CONNS && lt_abort; k++)
		if (e[k]->err[0])
			TH_LOG("connection %d %s: %s", k / 2,
			       k & 1 ? "server" : "client", e[k]->err);
	ASSERT_FALSE(lt_abort);
	for (k = 0; k < 2 * LOSSY_CONNS; k++) {
		ASSERT_EQ('\0', e[k]->err[0])
			TH_LOG("connection %d %s: %s", k / 2,
			       k & 1 ? "server" : "client", e[k]->err);
		ASSERT_EQ(e[k]->nsent, e[k ^ 1]->nrcvd);
		total += e[k]->sent;
	}
	ASSERT_EQ('\0', d->err[0]) TH_LOG("%s", d->err);
	dgs = d->rcvd;
	diag("lossy_transfer: %d connections, %lld bytes (%ld KiB each way "
	     "each) in %ld ms: %lld KiB/s; datagrams %u sent, %d received, "
	     "%u out of order",
	     LOSSY_CONNS, total, kib, ms, ms ? total * 1000 / 1024 / ms : 0,
	     d->sent, dgs, d->reordered);
	ASSERT_LT(0, dgs) TH_LOG("no datagram arrived");
	ASSERT_LE(d->sent / 4, (uint32_t)dgs)
		TH_LOG("more datagrams lost than netem can explain");
	demo_figure("soak_bytes", total);
	demo_figure("soak_connections", LOSSY_CONNS);
	demo_figure("soak_kib_per_s", ms ? total * 1000 / 1024 / ms : 0);

	/* Graceful close: clients first (TIME_WAIT), then servers. */
	for (k = 0; k < LOSSY_CONNS; k++)
		ASSERT_EQ(0, close(e[2 * k]->fd));
	for (k = 0; k < LOSSY_CONNS; k++) {
		ASSERT_EQ(0, wait_eof(e[2 * k + 1]->fd))
			TH_LOG("connection %d: no FIN", k);
		ASSERT_EQ(0, close(e[2 * k + 1]->fd));
	}
	close(d->tx);
	close(d->rx);
	ASSERT_EQ(0, wait_proc(p->a, "SEQPACKET", "TIME_WAIT", LOSSY_CONNS,
			       6 * TMO));
	unload_scan_reload(_metadata, 6 * TMO);
	pair_down(p);
	for (k = 0; k < 2 * LOSSY_CONNS; k++)
		free(e[k]);
	free(d);
}

TEST_HARNESS_MAIN
