// SPDX-License-Identifier: GPL-2.0
/*
 * AF_DEMO seqpacket selftests (docs/SEQPACKET.md, "What an accepted
 * connection inherits"): what a connection takes from its listener (mark,
 * bound device, priority, socket filter, cgroup), that socket filters
 * apply to received segments at all, how segments sent on behalf of a
 * listener or a TIME_WAIT entry are routed (mark, bound device, VRF), and
 * the keyed, load-time sized connection hash.
 *
 * Run as root with af_demo loaded. Fixture "lo" runs each case in a
 * private network namespace with lo up. Fixture "paths" builds namespaces
 * dinh_c (client, 198.18.12.1 on lo) and dinh_s (server) joined by two
 * veth pairs, c1-s1 (198.18.10.0/24) and c2-s2 (198.18.11.0/24). The
 * server reaches the client's address three ways: the main table's best
 * route goes through s1 to a neighbour that is not there (a black hole),
 * a worse one through s2, and table 100 (fwmark 100) through s2 too. So a
 * segment the server sends reaches the client only if it is routed with
 * the listener's mark or bound device. The VRF case puts s2 in a VRF and
 * is skipped where the kernel has none. Needs ip(8).
 *
 * Nothing sleeps in place of synchronisation: every wait is a poll() or a
 * bounded loop re-reading a condition.
 */
#include "demo_lib.h"

#include <stdint.h>
#include <sys/stat.h>
#include <net/if.h>
#include <linux/filter.h>
#include <linux/sock_diag.h>

#include "kselftest_harness.h"

#define LO		"127.0.0.1"
#define NS_C		"dinh_c"
#define NS_S		"dinh_s"
#define ADDR_C1		"198.18.10.1"
#define ADDR_S1		"198.18.10.2"
#define ADDR_C2		"198.18.11.1"
#define ADDR_S2		"198.18.11.2"
#define ADDR_CLI	"198.18.12.1"
#define MAC_C1		"02:de:01:00:00:c1"
#define MAC_S1		"02:de:01:00:00:51"
#define MAC_C2		"02:de:01:00:00:c2"
#define MAC_S2		"02:de:01:00:00:52"
#define MAC_GONE	"02:de:01:00:00:99"
#define MARK		100
#define SEQ_HLEN	((int)(sizeof(struct demohdr) + sizeof(struct demo_seqhdr)))
#define SHORT_MIN	64	/* the test filter drops shorter payloads */
#define TMO		3000	/* ms: bound on things that happen at once */
#define LONG_TMO	20000	/* ms: bound on things that may need an RTO */
#define NPAIRS		64

/* --- helpers ------------------------------------------------------------ */

static int sp_sock(void)
{
	return socket(af(), SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
}

/* A listener on @ip:@port (NULL: any, 0: ephemeral), or -1. */
static int listener_on(const char *ip, unsigned short port)
{
	int fd = sp_sock();

	if (fd >= 0 && (bind_to(fd, ip, port) || listen(fd, 128))) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* The socket's drop counter (SO_MEMINFO), -1 on error. */
static long meminfo_drops(int fd)
{
	uint32_t mem[SK_MEMINFO_VARS];
	socklen_t len = sizeof(mem);

	if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &len) ||
	    len <= SK_MEMINFO_DROPS * sizeof(mem[0]))
		return -1;
	return mem[SK_MEMINFO_DROPS];
}

/* Wait (bounded) until the drop counter reaches @want; the last value. */
static long wait_drops(int fd, long want, int ms)
{
	long end = demo_now_ms() + ms, v;

	while ((v = meminfo_drops(fd)) < want && demo_now_ms() < end)
		poll(NULL, 0, 5);
	return v;
}

/*
 * A classic BPF filter over DEMO segments (offset 0 is the DEMO header):
 * pure ACKs and handshake segments (no payload) and payloads of SHORT_MIN
 * bytes or more pass, shorter payloads are dropped.
 */
static int attach_short_filter(int fd)
{
	struct sock_filter insns[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SEQ_HLEN, 1, 0),
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, SEQ_HLEN + SHORT_MIN, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0xffffffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = { ARRAY_SIZE(insns), insns };

	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
			  sizeof(prog));
}

#define SHORT_FILTER_LEN	5

/* Instructions of @fd's classic filter (SO_GET_FILTER), -1 on error. */
static int filter_len(int fd)
{
	socklen_t len = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_GET_FILTER, NULL, &len))
		return -1;
	return len;
}

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

static void close_demo_socks(void)
{
	int fd;

	for (fd = 3; fd < 4096; fd++)
		if (sockopt_int(fd, SOL_SOCKET, SO_DOMAIN) == af())
			close(fd);
}

struct demo_ent {
	unsigned int lport, rport;
	char state[16];
};

/*
 * The SEQPACKET lines of /proc/net/demo, in order, into @e (at most @max);
 * their count, -1 if the file cannot be read or parsed.
 */
static int proc_list(struct demo_ent *e, int max)
{
	FILE *f = fopen("/proc/net/demo", "re");
	unsigned int slot, la, ra, txq, rxq, uid, drops;
	char line[512], type[16];
	unsigned long inode;
	int n = 0;

	if (!f || !fgets(line, sizeof(line), f)) {
		if (f)
			fclose(f);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		struct demo_ent t;

		if (sscanf(line, " %u: %x:%x %x:%x %15s %x:%x %u %lu %u %15s",
			   &slot, &la, &t.lport, &ra, &t.rport, t.state, &txq,
			   &rxq, &uid, &inode, &drops, type) != 12) {
			n = -1;
			break;
		}
		if (strcmp(type, "SEQPACKET"))
			continue;
		if (n < max)
			e[n] = t;
		n++;
	}
	fclose(f);
	return n;
}

/* Lines with ports @lport/@rport (0: any) and @state (NULL: any). */
static int proc_count(unsigned int lport, unsigned int rport,
		      const char *state)
{
	struct demo_ent e[512];
	int i, n = proc_list(e, 512), c = 0;

	for (i = 0; i < n && i < 512; i++)
		c += (!lport || e[i].lport == lport) &&
		     (!rport || e[i].rport == rport) &&
		     (!state || !strcmp(e[i].state, state));
	return n < 0 ? -1 : c;
}

/* Wait (bounded) until proc_count() is @want (0 or more). */
static bool wait_count(unsigned int lport, unsigned int rport,
		       const char *state, int want, int ms)
{
	long end = demo_now_ms() + ms;

	do {
		if (proc_count(lport, rport, state) == want)
			return true;
		poll(NULL, 0, 5);
	} while (demo_now_ms() < end);
	return false;
}

static bool wait_no_conns(int ms)
{
	long end = demo_now_ms() + ms;
	int all, tw;

	do {
		all = proc_count(0, 0, NULL);
		tw = proc_count(0, 0, "TIME_WAIT");
		if (all >= 0 && all - tw - proc_count(0, 0, "LISTEN") <= 0)
			return true;
		poll(NULL, 0, 5);
	} while (demo_now_ms() < end);
	return false;
}

#define ENTER(ns) \
	ASSERT_EQ(0, demo_netns_enter(ns)) \
		TH_LOG("enter netns %s: %s", ns, strerror(errno))

#define ASSERT_MODULE() \
	ASSERT_LT(0, af()) TH_LOG("af_demo is not loaded (no %sfamily)", \
				  DEMO_SYSFS_PARAM)

/* --- one namespace, lo -------------------------------------------------- */

FIXTURE(lo) {
	int init_ns;
};

FIXTURE_SETUP(lo)
{
	struct ifreq ifr = {};

	ASSERT_MODULE();
	self->init_ns = ns_save();
	ASSERT_EQ(0, unshare(CLONE_NEWNET));
	ASSERT_EQ(0, if_ioctl("lo", SIOCGIFFLAGS, &ifr));
	ifr.ifr_flags |= IFF_UP;
	ASSERT_EQ(0, if_ioctl("lo", SIOCSIFFLAGS, &ifr));
	signal(SIGPIPE, SIG_IGN);
}

FIXTURE_TEARDOWN(lo)
{
	close_demo_socks();
	if (!wait_no_conns(10000))
		TH_LOG("teardown: connections still open");
	ns_restore(self->init_ns);
}

struct conn {
	int lst, cli, srv;
	unsigned short lport;
};

/* A connection over lo from listener @lst (already listening). */
static void lo_conn(struct __test_metadata *_metadata, struct conn *c)
{
	c->lport = port_of(c->lst);
	c->cli = sp_sock();
	ASSERT_LE(0, c->cli);
	ASSERT_EQ(0, connect_tmo(c->cli, LO, c->lport, TMO))
		TH_LOG("connect: %s", strerror(errno));
	c->srv = accept_tmo(c->lst, TMO);
	ASSERT_LE(0, c->srv) TH_LOG("accept: %s", strerror(errno));
}

/*
 * SO_MARK, SO_PRIORITY and SO_BINDTODEVICE of the listener are the
 * accepted socket's: it routes and queues as the listener does.
 */
TEST_F(lo, accepted_inherits_mark_priority_device)
{
	char dev[IFNAMSIZ] = "";
	socklen_t len = sizeof(dev);
	struct conn c;
	char b[8];

	c.lst = sp_sock();
	ASSERT_LE(0, c.lst);
	ASSERT_EQ(0, setopt_int(c.lst, SOL_SOCKET, SO_MARK, 0x1234));
	ASSERT_EQ(0, setopt_int(c.lst, SOL_SOCKET, SO_PRIORITY, 5));
	ASSERT_EQ(0, setsockopt(c.lst, SOL_SOCKET, SO_BINDTODEVICE, "lo", 3));
	ASSERT_EQ(0, bind_to(c.lst, LO, 0));
	ASSERT_EQ(0, listen(c.lst, 8));
	lo_conn(_metadata, &c);

	EXPECT_EQ(0x1234, sockopt_int(c.srv, SOL_SOCKET, SO_MARK));
	EXPECT_EQ(5, sockopt_int(c.srv, SOL_SOCKET, SO_PRIORITY));
	ASSERT_EQ(0, getsockopt(c.srv, SOL_SOCKET, SO_BINDTODEVICE, dev, &len));
	EXPECT_STREQ("lo", dev);
	/* the client's own settings stay its own */
	EXPECT_EQ(0, sockopt_int(c.cli, SOL_SOCKET, SO_MARK));

	ASSERT_EQ(4, send(c.cli, "ping", 4, 0));
	ASSERT_EQ(4, recv_tmo(c.srv, b, sizeof(b), TMO));
	ASSERT_EQ(4, send(c.srv, "pong", 4, 0));
	ASSERT_EQ(4, recv_tmo(c.cli, b, sizeof(b), TMO));
}

/*
 * @fd has the short-message filter: a long message passes, a short one is
 * dropped (counted in its drops, not delivered, retransmitted), and gets
 * through once the filter is detached. @peer sends.
 */
static void check_filtered(struct __test_metadata *_metadata, int fd,
			   int peer)
{
	char big[SHORT_MIN + 36], b[sizeof(big)];
	long drops;

	memset(big, 'L', sizeof(big));
	ASSERT_EQ((ssize_t)sizeof(big), send(peer, big, sizeof(big), 0));
	ASSERT_EQ((ssize_t)sizeof(big), recv_tmo(fd, b, sizeof(b), TMO));

	drops = meminfo_drops(fd);
	ASSERT_LE(0, drops);
	ASSERT_EQ(10, send(peer, "short msg.", 10, 0));
	EXPECT_LE(drops + 1, wait_drops(fd, drops + 1, LONG_TMO))
		TH_LOG("the filter never dropped the short message");
	errno = 0;
	EXPECT_EQ(-1, recv(fd, b, sizeof(b), MSG_DONTWAIT));
	EXPECT_EQ(EAGAIN, errno) TH_LOG("the short message was delivered");

	/* without the filter, its retransmission is taken */
	ASSERT_EQ(0, setopt_int(fd, SOL_SOCKET, SO_DETACH_FILTER, 0));
	ASSERT_EQ(10, recv_tmo(fd, b, sizeof(b), LONG_TMO));
	EXPECT_EQ(0, memcmp(b, "short msg.", 10));
}

/* The listener's socket filter is the accepted socket's, and applies. */
TEST_F_TIMEOUT(lo, accepted_applies_listener_filter, 120)
{
	struct conn c;

	c.lst = listener_on(LO, 0);
	ASSERT_LE(0, c.lst);
	ASSERT_EQ(0, attach_short_filter(c.lst));
	lo_conn(_metadata, &c);
	EXPECT_EQ(SHORT_FILTER_LEN, filter_len(c.srv))
		TH_LOG("the accepted socket has no copy of the filter");
	check_filtered(_metadata, c.srv, c.cli);
}

/* A connected socket's own filter applies to what it receives. */
TEST_F_TIMEOUT(lo, connected_socket_applies_filter, 120)
{
	struct conn c;

	c.lst = listener_on(LO, 0);
	ASSERT_LE(0, c.lst);
	lo_conn(_metadata, &c);
	EXPECT_EQ(0, filter_len(c.srv));
	ASSERT_EQ(0, attach_short_filter(c.cli));
	check_filtered(_metadata, c.cli, c.srv);
}

/* --- cgroup -------------------------------------------------------------- */

/*
 * A connection keeps its listener's sk_cgrp_data: the cgroup v2 cgroup
 * and the net_cls classid. Cgroup BPF skb programs do not run for
 * AF_DEMO (they are for AF_INET and AF_INET6 sockets only), and nothing
 * else shows a socket's v2 cgroup; the classid shows through tc's cgroup
 * classifier, which for packets sent in softirq (an ACK sent by the
 * delayed ACK timer) reads the sending socket's classid.
 */
#define NETCLS_MNT	"/tmp/demo_netcls"
#define NETCLS_ID	"0x100001"

/* Packets the egress cgroup filter on lo classified, -1 on error. */
static long cls_cgroup_pkts(void)
{
	char line[256];
	long pkts = -1;
	FILE *f;

	f = popen("tc -s filter show dev lo egress", "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, " Sent %*u bytes %ld pkt", &pkts) == 1)
			break;
	if (f)
		pclose(f);
	return pkts;
}

/*
 * The server side, in a process of its own in net_cls cgroup @cg: listen,
 * report the port on @up, accept, report again, then leave the accepted
 * socket to the softirq (no send, no recv) until @down says done.
 */
static void cgroup_server(const char *cg, int up, int down)
{
	char path[512], pid[32], c;
	unsigned short port;
	int lst, srv;

	snprintf(path, sizeof(path), "%s/tasks", cg);
	snprintf(pid, sizeof(pid), "%d", getpid());
	if (demo_write_file(path, pid))
		_exit(1);
	lst = listener_on(LO, 0);
	port = lst < 0 ? 0 : port_of(lst);
	if (write(up, &port, sizeof(port)) != sizeof(port) || !port)
		_exit(1);
	srv = accept_tmo(lst, TMO);
	c = srv < 0 ? 'E' : 'A';
	if (write(up, &c, 1) != 1 || srv < 0)
		_exit(1);
	if (read(down, &c, 1) != 1)
		_exit(1);
	_exit(0);
}

TEST_F(lo, accepted_in_listener_cgroup)
{
	char cg[256];
	int up[2], down[2], cli, status;
	unsigned short port = 0;
	long pkts = 0, end;
	pid_t pid;
	char c = 0;

	mkdir(NETCLS_MNT, 0755);
	if (sh("mountpoint -q " NETCLS_MNT " || mount -t cgroup -o net_cls "
	       "none " NETCLS_MNT " 2>/dev/null"))
		SKIP(return, "no cgroup v1 net_cls");
	if (sh("tc qdisc add dev lo clsact && tc filter add dev lo egress "
	       "prio 1 handle 1 cgroup action pass"))
		SKIP(return, "no tc clsact, cgroup classifier or gact");
	snprintf(cg, sizeof(cg), NETCLS_MNT "/demo_inherit.%d", getpid());
	ASSERT_EQ(0, mkdir(cg, 0755)) TH_LOG("mkdir %s: %s", cg, strerror(errno));
	ASSERT_EQ(0, sh("echo " NETCLS_ID " >%s/net_cls.classid", cg));
	ASSERT_EQ(0, cls_cgroup_pkts());

	ASSERT_EQ(0, pipe2(up, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(down, O_CLOEXEC));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		cgroup_server(cg, up[1], down[0]);
	ASSERT_EQ((ssize_t)sizeof(port), read(up[0], &port, sizeof(port)));
	ASSERT_NE(0, port);

	/* the client, in the root net_cls cgroup */
	cli = sp_sock();
	ASSERT_LE(0, cli);
	ASSERT_EQ(0, connect_tmo(cli, LO, port, TMO));
	ASSERT_EQ(1, read(up[0], &c, 1));
	ASSERT_EQ('A', c);

	/* acknowledged by its delayed ACK timer, in softirq */
	ASSERT_EQ(4, send(cli, "ping", 4, 0));
	end = demo_now_ms() + TMO;
	while ((pkts = cls_cgroup_pkts()) == 0 && demo_now_ms() < end)
		poll(NULL, 0, 20);
	EXPECT_LE(1, pkts)
		TH_LOG("the accepted socket has not the listener's net_cls classid");

	ASSERT_EQ(1, write(down[1], "x", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	close(cli);
	EXPECT_EQ(0, rmdir(cg));
}

/* --- the connection hash ------------------------------------------------ */

/* The kernel's jhash_3words() (lookup3), to predict the unseeded buckets. */
static uint32_t rol32(uint32_t w, int s)
{
	return (w << s) | (w >> (32 - s));
}

static uint32_t jhash_3words(uint32_t a, uint32_t b, uint32_t c,
			     uint32_t initval)
{
	initval += 0xdeadbeef + (3 << 2);
	a += initval;
	b += initval;
	c += initval;
	c ^= b; c -= rol32(b, 14);
	a ^= c; a -= rol32(c, 11);
	b ^= a; b -= rol32(a, 25);
	c ^= b; c -= rol32(b, 16);
	a ^= c; a -= rol32(c, 4);
	b ^= a; b -= rol32(a, 14);
	c ^= b; c -= rol32(b, 24);
	return c;
}

/* The bucket the connection hash used to give a pair: no key, 256. */
static uint32_t unseeded_bucket(const char *laddr, unsigned short lport,
				const char *raddr, unsigned short rport)
{
	uint32_t ports = (uint32_t)htons(lport) << 16 | htons(rport);

	return jhash_3words(inet_addr(laddr), inet_addr(raddr), ports, 0) & 255;
}

TEST_F(lo, conn_hash_size_parameter)
{
	struct stat st;
	int size, fd;

	ASSERT_EQ(0, stat(DEMO_SYSFS_PARAM "conn_hash_size", &st))
		TH_LOG("no conn_hash_size parameter");
	EXPECT_EQ(0, st.st_mode & 0222) TH_LOG("mode %o", st.st_mode);
	size = demo_param("conn_hash_size");
	EXPECT_LE(16, size);
	EXPECT_GE(1 << 20, size);
	EXPECT_EQ(0, size & (size - 1)) TH_LOG("%d is not a power of two", size);
	/* read-only, even for root */
	fd = open(DEMO_SYSFS_PARAM "conn_hash_size", O_WRONLY | O_CLOEXEC);
	EXPECT_EQ(-1, fd);
	if (fd >= 0)
		close(fd);
}

/*
 * NPAIRS connections whose pairs an unkeyed hash put in one bucket work,
 * and are not in one bucket: /proc/net/demo walks the hash bucket by
 * bucket, and one bucket's chain lists them in reverse order of creation.
 */
TEST_F_TIMEOUT(lo, colliding_pairs_spread, 180)
{
	unsigned short ports[NPAIRS], lport = 7000;
	int cli[NPAIRS], srv[NPAIRS], lst, n = 0, i, j, listed;
	struct demo_ent e[4 * NPAIRS + 8];
	uint32_t target;
	bool reversed;
	unsigned int p;
	char b[8];

	lst = listener_on(LO, lport);
	ASSERT_LE(0, lst);
	target = unseeded_bucket(LO, 20000, LO, lport);
	for (p = 20000; p < 60000 && n < NPAIRS; p++)
		if (unseeded_bucket(LO, p, LO, lport) == target)
			ports[n++] = p;
	ASSERT_EQ(NPAIRS, n);

	for (i = 0; i < NPAIRS; i++) {
		cli[i] = sp_sock();
		ASSERT_LE(0, cli[i]);
		ASSERT_EQ(0, bind_to(cli[i], LO, ports[i]))
			TH_LOG("bind %u: %s", ports[i], strerror(errno));
		ASSERT_EQ(0, connect_tmo(cli[i], LO, lport, TMO))
			TH_LOG("connect %d: %s", i, strerror(errno));
		srv[i] = accept_tmo(lst, TMO);
		ASSERT_LE(0, srv[i]);
	}
	for (i = 0; i < NPAIRS; i++) {
		ASSERT_EQ(1, send(cli[i], &i, 1, 0));
		ASSERT_EQ(1, recv_tmo(srv[i], b, sizeof(b), TMO));
		EXPECT_EQ((char)i, b[0]);
	}

	listed = proc_list(e, ARRAY_SIZE(e));
	ASSERT_LT(0, listed);
	ASSERT_GE((int)ARRAY_SIZE(e), listed);
	/* the client ends, in listing order */
	for (i = 0, j = 0; i < listed; i++)
		if (e[i].rport == lport && e[i].lport != lport)
			e[j++] = e[i];
	ASSERT_EQ(NPAIRS, j);
	reversed = true;
	for (i = 0; i < NPAIRS; i++)
		reversed &= e[i].lport == ports[NPAIRS - 1 - i];
	EXPECT_FALSE(reversed)
		TH_LOG("the %d pairs share one bucket of the connection hash",
		       NPAIRS);
}

/* --- routing of what a listener or TIME_WAIT sends ----------------------- */

FIXTURE(paths) {
	int init_ns;
	bool policy;	/* routing by mark: CONFIG_IP_MULTIPLE_TABLES */
};

static const char *const paths_up[] = {
	"ip netns add " NS_C,
	"ip netns add " NS_S,
	"ip netns exec " NS_C " sysctl -qw net.ipv4.conf.all.rp_filter=0 "
		"net.ipv4.conf.default.rp_filter=0",
	"ip netns exec " NS_S " sysctl -qw net.ipv4.conf.all.rp_filter=0 "
		"net.ipv4.conf.default.rp_filter=0",
	"ip -n " NS_C " link add c1 address " MAC_C1 " type veth "
		"peer name s1 address " MAC_S1 " netns " NS_S,
	"ip -n " NS_C " link add c2 address " MAC_C2 " type veth "
		"peer name s2 address " MAC_S2 " netns " NS_S,
	"ip -n " NS_C " addr add " ADDR_C1 "/24 dev c1",
	"ip -n " NS_C " addr add " ADDR_C2 "/24 dev c2",
	"ip -n " NS_C " addr add " ADDR_CLI "/32 dev lo",
	"ip -n " NS_S " addr add " ADDR_S1 "/24 dev s1",
	"ip -n " NS_S " addr add " ADDR_S2 "/24 dev s2",
	"ip -n " NS_C " link set lo up",
	"ip -n " NS_S " link set lo up",
	"ip -n " NS_C " link set c1 up",
	"ip -n " NS_C " link set c2 up",
	"ip -n " NS_S " link set s1 up",
	"ip -n " NS_S " link set s2 up",
	"ip -n " NS_C " neigh replace " ADDR_S1 " lladdr " MAC_S1
		" dev c1 nud permanent",
	"ip -n " NS_C " neigh replace " ADDR_S2 " lladdr " MAC_S2
		" dev c2 nud permanent",
	"ip -n " NS_S " neigh replace " ADDR_C2 " lladdr " MAC_C2
		" dev s2 nud permanent",
	/* the best route to the client: into a black hole */
	"ip -n " NS_S " neigh replace " ADDR_C1 " lladdr " MAC_GONE
		" dev s1 nud permanent",
	"ip -n " NS_S " route add " ADDR_CLI "/32 via " ADDR_C1
		" dev s1 metric 10",
	"ip -n " NS_S " route add " ADDR_CLI "/32 via " ADDR_C2
		" dev s2 metric 20",
};

/* Marked packets to the client go by s2, where the kernel can route by mark. */
#define PATHS_POLICY	"ip -n " NS_S " route add " ADDR_CLI "/32 via " ADDR_C2 \
			" dev s2 table 100 2>/dev/null && " \
			"ip -n " NS_S " rule add fwmark 100 table 100 pref 100"
#define NO_POLICY	"this kernel does not route by mark (CONFIG_IP_MULTIPLE_TABLES)"

/* Until linkwatch activates the qdisc, a new veth drops what it is sent. */
static int links_ready(void)
{
	long end = demo_now_ms() + 5000;

	do {
		if (!sh("for l in c1 c2; do ip -n " NS_C " link show $l | "
			"grep -q 'state UP' || exit 1; done; "
			"for l in s1 s2; do ip -n " NS_S " link show $l | "
			"grep -q 'state UP' || exit 1; done"))
			return 0;
		poll(NULL, 0, 10);
	} while (demo_now_ms() < end);
	return -1;
}

FIXTURE_SETUP(paths)
{
	unsigned int i;

	ASSERT_MODULE();
	signal(SIGPIPE, SIG_IGN);
	self->init_ns = ns_save();
	ASSERT_LE(0, self->init_ns);
	sh("ip netns del " NS_C " 2>/dev/null; ip netns del " NS_S
	   " 2>/dev/null");
	for (i = 0; i < ARRAY_SIZE(paths_up); i++)
		ASSERT_EQ(0, sh("%s", paths_up[i]))
			TH_LOG("failed: %s", paths_up[i]);
	self->policy = !sh(PATHS_POLICY);
	ASSERT_EQ(0, links_ready()) TH_LOG("links never came up");
}

FIXTURE_TEARDOWN(paths)
{
	close_demo_socks();
	/* what is left open is reset or times out with its namespace */
	setns(self->init_ns, CLONE_NEWNET);
	sh("ip netns del " NS_C "; ip netns del " NS_S);
}

/* A client socket in NS_C bound to ADDR_CLI; the caller is in NS_C. */
static int client_sock(void)
{
	int fd = sp_sock();

	if (fd >= 0 && bind_to(fd, ADDR_CLI, 0)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static void exchange(struct __test_metadata *_metadata, int cli, int srv)
{
	char b[8];

	ASSERT_EQ(4, send(cli, "ping", 4, 0));
	ASSERT_EQ(4, recv_tmo(srv, b, sizeof(b), TMO));
	ASSERT_EQ(4, send(srv, "pong", 4, 0));
	ASSERT_EQ(4, recv_tmo(cli, b, sizeof(b), TMO));
	EXPECT_EQ(0, memcmp(b, "pong", 4));
}

/* A listener in NS_S with SO_MARK @mark on ADDR_S1; the caller ends in NS_C. */
static void marked_conn(struct __test_metadata *_metadata, struct conn *c)
{
	ENTER(NS_S);
	c->lst = sp_sock();
	ASSERT_LE(0, c->lst);
	ASSERT_EQ(0, setopt_int(c->lst, SOL_SOCKET, SO_MARK, MARK));
	ASSERT_EQ(0, bind_to(c->lst, ADDR_S1, 0));
	ASSERT_EQ(0, listen(c->lst, 8));
	c->lport = port_of(c->lst);
	ENTER(NS_C);
	c->cli = client_sock();
	ASSERT_LE(0, c->cli);
	ASSERT_EQ(0, connect_tmo(c->cli, ADDR_S1, c->lport, 2 * TMO))
		TH_LOG("no SYN-ACK through the listener's mark: %s",
		       strerror(errno));
	c->srv = accept_tmo(c->lst, TMO);
	ASSERT_LE(0, c->srv);
}

/* The SYN-ACK leaves by the route the listener's mark selects. */
TEST_F_TIMEOUT(paths, syn_ack_follows_listener_mark, 90)
{
	struct conn c;

	if (!self->policy)
		SKIP(return, NO_POLICY);
	marked_conn(_metadata, &c);
	exchange(_metadata, c.cli, c.srv);
}

/* The DEMO part of a packet @raw sees from @sport to @dport with @flags. */
static ssize_t capture(int raw, unsigned short sport, unsigned short dport,
		       uint16_t flags, uint8_t *out, size_t len, int ms)
{
	long end = demo_now_ms() + ms;
	const struct demohdr *dh;
	uint8_t buf[2048];
	ssize_t n;

	do {
		if (wait_ev(raw, POLLIN, 10) <= 0)
			continue;
		n = recv(raw, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 20 + SEQ_HLEN || (size_t)(n - 20) > len)
			continue;
		dh = (const struct demohdr *)(buf + 20);
		if (ntohs(dh->source) != sport || ntohs(dh->dest) != dport ||
		    ntohs(dh->flags) != flags)
			continue;
		memcpy(out, buf + 20, n - 20);
		return n - 20;
	} while (demo_now_ms() < end);
	return -1;
}

/*
 * The ACK a TIME_WAIT entry sends when the peer's FIN comes again leaves
 * by the route the connection's mark selected. The connection is set up
 * unmarked while the black hole route is away, then marked: only
 * TIME_WAIT's own routing is tested.
 */
TEST_F_TIMEOUT(paths, time_wait_ack_follows_mark, 120)
{
	const uint16_t fa = DEMO_SEQ_FIN | DEMO_SEQ_ACK;
	struct sockaddr_in to = { .sin_family = AF_INET };
	struct sockaddr_in from = { .sin_family = AF_INET };
	unsigned short cport;
	uint8_t fin[256], ack[256];
	int raw_s, raw_c;
	ssize_t n;
	struct conn c;
	char b[4];

	if (!self->policy)
		SKIP(return, NO_POLICY);
	ENTER(NS_S);
	ASSERT_EQ(0, sh("echo 60000 >/proc/sys/net/demo/seqpacket_time_wait_ms"));
	raw_s = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, demo_ipproto());
	ASSERT_LE(0, raw_s);
	ASSERT_EQ(0, sh("ip -n " NS_S " route del " ADDR_CLI "/32 via " ADDR_C1
			" dev s1 metric 10"));
	c.lst = listener_on(ADDR_S1, 0);
	ASSERT_LE(0, c.lst);
	c.lport = port_of(c.lst);
	ENTER(NS_C);
	c.cli = client_sock();
	ASSERT_LE(0, c.cli);
	ASSERT_EQ(0, connect_tmo(c.cli, ADDR_S1, c.lport, TMO));
	c.srv = accept_tmo(c.lst, TMO);
	ASSERT_LE(0, c.srv);
	cport = port_of(c.cli);
	ASSERT_EQ(0, setopt_int(c.srv, SOL_SOCKET, SO_MARK, MARK));
	ASSERT_EQ(0, sh("ip -n " NS_S " route add " ADDR_CLI "/32 via " ADDR_C1
			" dev s1 metric 10"));
	exchange(_metadata, c.cli, c.srv);

	/* the server closes first: TIME_WAIT is on its side */
	close(c.srv);
	ASSERT_EQ(0, recv_tmo(c.cli, b, sizeof(b), TMO));
	close(c.cli);
	/* the server's ACK of our FIN arrived: nothing is left here */
	ASSERT_TRUE(wait_count(cport, c.lport, NULL, 0, LONG_TMO));
	ENTER(NS_S);
	ASSERT_TRUE(wait_count(c.lport, cport, "TIME_WAIT", 1, TMO));
	n = capture(raw_s, cport, c.lport, fa, fin, sizeof(fin), TMO);
	ASSERT_LT(0, n) TH_LOG("the client's FIN was not seen");

	/* the client's FIN again, as if our ACK had been lost */
	ENTER(NS_C);
	raw_c = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, demo_ipproto());
	ASSERT_LE(0, raw_c);
	from.sin_addr.s_addr = inet_addr(ADDR_CLI);
	ASSERT_EQ(0, bind(raw_c, (struct sockaddr *)&from, sizeof(from)));
	to.sin_addr.s_addr = inet_addr(ADDR_S1);
	ASSERT_EQ(n, sendto(raw_c, fin, n, 0, (struct sockaddr *)&to,
			    sizeof(to)));
	EXPECT_LT(0, capture(raw_c, c.lport, cport, DEMO_SEQ_ACK, ack,
			     sizeof(ack), TMO))
		TH_LOG("TIME_WAIT's ACK did not follow the mark");
	close(raw_c);
	close(raw_s);
}

/* A listener bound to a device answers through it. */
TEST_F_TIMEOUT(paths, bound_listener_answers_through_device, 90)
{
	char dev[IFNAMSIZ] = "";
	socklen_t len = sizeof(dev);
	struct conn c;

	ENTER(NS_S);
	c.lst = sp_sock();
	ASSERT_LE(0, c.lst);
	ASSERT_EQ(0, setsockopt(c.lst, SOL_SOCKET, SO_BINDTODEVICE, "s2", 3));
	ASSERT_EQ(0, bind_to(c.lst, NULL, 0));
	ASSERT_EQ(0, listen(c.lst, 8));
	c.lport = port_of(c.lst);
	ENTER(NS_C);
	c.cli = client_sock();
	ASSERT_LE(0, c.cli);
	ASSERT_EQ(0, connect_tmo(c.cli, ADDR_S2, c.lport, 2 * TMO))
		TH_LOG("no SYN-ACK through the bound device: %s",
		       strerror(errno));
	c.srv = accept_tmo(c.lst, TMO);
	ASSERT_LE(0, c.srv);
	ASSERT_EQ(0, getsockopt(c.srv, SOL_SOCKET, SO_BINDTODEVICE, dev, &len));
	EXPECT_STREQ("s2", dev);
	exchange(_metadata, c.cli, c.srv);
}

/*
 * In a VRF: a listener bound to the VRF device answers by the VRF's table,
 * and so does the reset for a port nobody listens on.
 */
TEST_F_TIMEOUT(paths, vrf_listener_and_reset, 120)
{
	struct conn c;
	int s;

	if (sh("ip -n " NS_S " link add vrf_s type vrf table 200 2>/dev/null"))
		SKIP(return, "this kernel has no VRF (vrf.ko)");
	ASSERT_EQ(0, sh("ip -n " NS_S " link set vrf_s up && "
			"ip -n " NS_S " link set s2 master vrf_s && "
			"ip -n " NS_S " neigh replace " ADDR_C2 " lladdr "
			MAC_C2 " dev s2 nud permanent && "
			"ip -n " NS_S " route replace " ADDR_CLI "/32 via "
			ADDR_C2 " dev s2 table 200"));
	ASSERT_EQ(0, links_ready());

	/* nobody listens: the reset comes back through the VRF */
	ENTER(NS_C);
	s = client_sock();
	ASSERT_LE(0, s);
	EXPECT_EQ(-1, connect_tmo(s, ADDR_S2, 7000, 2 * TMO));
	EXPECT_EQ(ECONNREFUSED, errno) TH_LOG("%s", strerror(errno));

	ENTER(NS_S);
	c.lst = sp_sock();
	ASSERT_LE(0, c.lst);
	ASSERT_EQ(0, setsockopt(c.lst, SOL_SOCKET, SO_BINDTODEVICE, "vrf_s", 6));
	ASSERT_EQ(0, bind_to(c.lst, NULL, 0));
	ASSERT_EQ(0, listen(c.lst, 8));
	c.lport = port_of(c.lst);
	ENTER(NS_C);
	c.cli = client_sock();
	ASSERT_LE(0, c.cli);
	ASSERT_EQ(0, connect_tmo(c.cli, ADDR_S2, c.lport, 2 * TMO))
		TH_LOG("no SYN-ACK through the VRF: %s", strerror(errno));
	c.srv = accept_tmo(c.lst, TMO);
	ASSERT_LE(0, c.srv);
	exchange(_metadata, c.cli, c.srv);
}

TEST_HARNESS_MAIN
