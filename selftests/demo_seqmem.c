// SPDX-License-Identifier: GPL-2.0
/*
 * AF_DEMO seqpacket memory bounds (issue #11, docs/SEQPACKET.md "Memory"):
 *
 *   backlog_flood    peers fill a listener's backlog and send, never
 *                    accepted: what they pin stays within
 *                    net.demo.seqpacket_mem, and a fresh connection to the
 *                    same server still exchanges messages
 *   nonreading_peers the same for accepted connections never read
 *   per_conn_bound   a connection with a small SO_RCVBUF holds at most
 *                    SO_RCVBUF plus one largest message
 *   orphan_limit     net.demo.seqpacket_max_orphans bites: OrphanOverflow
 *   tw_limit         net.demo.seqpacket_max_tw bites: TimeWaitOverflow
 *   memcg_accept     accept() charges a connection, and what it holds, to
 *                    the accepting task's memory cgroup (cgroup v2)
 *   sysctl_scope     seqpacket_mem exists in the initial namespace only;
 *                    /proc/net/protocols shows the account
 *
 * Pinned memory is read from the account (/proc/net/demo_sockstat, pages),
 * from the sockets' receive memory (/proc/net/demo rx_queue) and, as a
 * cross-check, from MemAvailable. The account's global total lags by up to
 * net.core.mem_pcpu_rsv pages per CPU (the kernel's per-CPU reserve), which
 * the bounds allow for. Figures: "# figure: seqmem_NAME VALUE", the unit in
 * NAME where it is not a count.
 *
 * Run as root with af_demo loaded. Each case runs in a private network
 * namespace with lo up; seqpacket_mem, global, is set in the initial one and
 * restored.
 */
#include "demo_lib.h"

#include <sched.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <net/if.h>
#include <linux/sockios.h>

#include "kselftest_harness.h"

#define LO		"127.0.0.1"
#define MAXMSG		DEMO_SEQPACKET_MAX_MSG
#define SEQ_HLEN	((int)(sizeof(struct demohdr) + sizeof(struct demo_seqhdr)))
#define LO_MSS		(65536 - 20 - SEQ_HLEN)
#define SYSCTL_DIR	"/proc/sys/net/demo/"
#define TMO		3000	/* ms */
#define LONG_TMO	20000	/* ms */
#define FLOOD_MS	6000	/* how long the peers flood */
/* The limits the flooding cases set, in pages: 2, 4 and 8 MiB. */
#define MEM_MIN		512
#define MEM_PRESSURE	1024
#define MEM_MAX		2048
#define PAGE		4096L
#define CG_ROOT		"/sys/fs/cgroup"
#define CG_DIR		CG_ROOT "/demo_seqmem"

/* --- files ---------------------------------------------------------------- */

static int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

static int sysctl_set(const char *name, long val)
{
	char path[128], buf[32];

	snprintf(path, sizeof(path), SYSCTL_DIR "%s", name);
	snprintf(buf, sizeof(buf), "%ld\n", val);
	return demo_write_file(path, buf);
}

/* "Key: value kB" of /proc/meminfo, in bytes; -1 if missing. */
static long meminfo(const char *key)
{
	char line[256], k[64];
	long v, ret = -1;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63[^:]: %ld", k, &v) == 2 && !strcmp(k, key)) {
			ret = v * 1024;
			break;
		}
	fclose(f);
	return ret;
}

/* A field of the SEQPACKET line of /proc/net/demo_sockstat; -1 if none. */
static long sockstat(const char *field)
{
	char buf[512], key[64], *p;
	long v;

	if (read_file("/proc/net/demo_sockstat", buf, sizeof(buf)))
		return -1;
	p = strstr(buf, "SEQPACKET:");
	if (!p)
		return -1;
	p += strlen("SEQPACKET:");
	while (sscanf(p, " %63s %ld", key, &v) == 2) {
		if (!strcmp(key, field))
			return v;
		p = strstr(p, key) + strlen(key);
		while (*p == ' ')
			p++;
		while (*p && *p != ' ')
			p++;
	}
	return -1;
}

/* The memory column (pages) of DEMO-SEQPACKET in /proc/net/protocols. */
static long protocols_mem(void)
{
	char line[512], name[64];
	long size, sockets, mem, ret = -2;
	FILE *f = fopen("/proc/net/protocols", "re");

	if (!f)
		return -2;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %ld %ld %ld", name, &size, &sockets,
			   &mem) == 4 && !strcmp(name, "DEMO-SEQPACKET")) {
			ret = mem;
			break;
		}
	fclose(f);
	return ret;
}

/* Slack of the global account: the kernel's per-CPU reserves, plus 1 MiB. */
static long account_slack(void)
{
	long rsv = 256;

	demo_read_long("/proc/sys/net/core/mem_pcpu_rsv", &rsv);
	return sysconf(_SC_NPROCESSORS_CONF) * rsv * PAGE + (1L << 20);
}

/*
 * Receive memory (rx_queue) of the connections of /proc/net/demo: of the
 * one from local port @lport to @rport, or (@lport 0) their sum.
 */
static long rmem(unsigned short lport, unsigned short rport)
{
	unsigned int la, lp, ra, rp, tx, rx;
	char line[512], st[32];
	long sum = 0, one = -1;
	FILE *f = fopen("/proc/net/demo", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*d: %x:%x %x:%x %31s %x:%x", &la, &lp, &ra,
			   &rp, st, &tx, &rx) != 7 || !strcmp(st, "LISTEN"))
			continue;
		sum += rx;
		if (lp == lport && rp == rport)
			one = rx;
	}
	fclose(f);
	return lport ? one : sum;
}

/* --- sockets -------------------------------------------------------------- */

static int netns_fresh(void)
{
	struct ifreq ifr = {};
	int fd, ret;

	if (unshare(CLONE_NEWNET))
		return -1;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	strcpy(ifr.ifr_name, "lo");
	ret = ioctl(fd, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	if (!ret)
		ret = ioctl(fd, SIOCSIFFLAGS, &ifr);
	close(fd);
	return ret;
}

static int listener(int backlog, int rcvbuf)
{
	int fd = socket(af(), SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if ((rcvbuf && setopt_int(fd, SOL_SOCKET, SO_RCVBUF, rcvbuf)) ||
	    bind_to(fd, LO, 0) || listen(fd, backlog)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A non-blocking client connecting to @port, with a small send buffer. */
static int client(unsigned short port, int sndbuf)
{
	int fd = socket(af(), SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if ((sndbuf && setopt_int(fd, SOL_SOCKET, SO_SNDBUF, sndbuf)) ||
	    (connect_to(fd, LO, port) && errno != EINPROGRESS)) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool connected(int fd)
{
	return (wait_ev(fd, POLLOUT, LONG_TMO) & POLLOUT) && !so_error(fd);
}

static void fill(char *buf, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (char)(seed * 131 + i * 7);
}

/*
 * A well-behaved client of listener @lfd: connect, get accepted, and
 * exchange @n messages of @len bytes each way, checking each. True if all
 * came through intact.
 */
static bool exchange(int lfd, int n, size_t len)
{
	struct timeval tv = { LONG_TMO / 1000, 0 };
	char *out = malloc(len), *in = malloc(len + 1);
	int c = -1, s = -1, i;
	bool ok = false;

	if (!out || !in)
		goto out;
	c = socket(af(), SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c < 0 || connect_to(c, LO, port_of(lfd)))
		goto out;
	s = accept_tmo(lfd, LONG_TMO);
	if (s < 0 ||
	    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)))
		goto out;
	for (i = 0; i < n; i++) {
		fill(out, len, i);
		if (send(c, out, len, 0) != (ssize_t)len ||
		    recv(s, in, len + 1, 0) != (ssize_t)len ||
		    memcmp(in, out, len))
			goto out;
		fill(out, len, i + 1000);
		if (send(s, out, len, 0) != (ssize_t)len ||
		    recv(c, in, len + 1, 0) != (ssize_t)len ||
		    memcmp(in, out, len))
			goto out;
	}
	ok = true;
out:
	if (!ok)
		printf("# exchange failed at errno %d (%s)\n", errno,
		       strerror(errno));
	close_abort(c);
	close_abort(s);
	free(out);
	free(in);
	return ok;
}

/* What a flood pinned: peaks of the account and of receive memory. */
struct flood {
	long	peak_account;	/* bytes, -1 without an account */
	long	peak_rmem;	/* bytes */
	long	sent;		/* messages */
};

static void flood_sample(struct flood *fl)
{
	long acc = sockstat("mem"), rm = rmem(0, 0);

	if (acc >= 0 && acc * PAGE > fl->peak_account)
		fl->peak_account = acc * PAGE;
	if (rm > fl->peak_rmem)
		fl->peak_rmem = rm;
}

/* Send @len-byte messages on every fd of @fds, without blocking, for @ms. */
static void flood_run(struct flood *fl, const int *fds, int n, size_t len,
		      long ms)
{
	long end = demo_now_ms() + ms;
	char *buf = calloc(1, len);
	int i, k;

	fl->peak_account = -1;
	fl->peak_rmem = 0;
	fl->sent = 0;
	while (buf && demo_now_ms() < end) {
		for (i = 0; i < n; i++)
			for (k = 0; k < 4; k++) {
				if (send(fds[i], buf, len, MSG_DONTWAIT) < 0)
					break;
				fl->sent++;
			}
		flood_sample(fl);
		/* Bound the loop's pace: wait for any ACK, at most 20 ms. */
		wait_ev(fds[0], POLLOUT, 20);
	}
	flood_sample(fl);
	free(buf);
}

/* --- fixture: a private namespace, the global limits restored ------------ */

FIXTURE(mem) {
	int	init_ns;
	char	saved_mem[128];
};

FIXTURE_SETUP(mem)
{
	ASSERT_LT(0, af()) TH_LOG("af_demo is not loaded");
	self->init_ns = ns_save();
	ASSERT_LE(0, self->init_ns);
	self->saved_mem[0] = '\0';
	read_file(SYSCTL_DIR "seqpacket_mem", self->saved_mem,
		  sizeof(self->saved_mem));
	ASSERT_EQ(0, netns_fresh()) TH_LOG("netns: %s", strerror(errno));
}

FIXTURE_TEARDOWN(mem)
{
	if (self->init_ns >= 0 && !setns(self->init_ns, CLONE_NEWNET) &&
	    self->saved_mem[0])
		demo_write_file(SYSCTL_DIR "seqpacket_mem", self->saved_mem);
	if (self->init_ns >= 0)
		close(self->init_ns);
}

/* Set the global limits from within the case's namespace. */
static int set_limits(int init_ns, long min, long pressure, long max)
{
	int cur = ns_save();
	char buf[64];
	int ret = -1;

	snprintf(buf, sizeof(buf), "%ld %ld %ld\n", min, pressure, max);
	if (cur >= 0 && !setns(init_ns, CLONE_NEWNET))
		ret = demo_write_file(SYSCTL_DIR "seqpacket_mem", buf);
	if (cur >= 0) {
		if (setns(cur, CLONE_NEWNET))
			ret = -1;
		close(cur);
	}
	return ret;
}

/* The checks (a) and (b) share, once the flood @fl ran. */
static void pinned_report(struct __test_metadata *_metadata,
			  const char *name, const struct flood *fl,
			  long avail_drop, long drops)
{
	long limit = MEM_MAX * PAGE + account_slack();
	char fig[96];

	snprintf(fig, sizeof(fig), "%s_peak_account_kib", name);
	printf("# figure: seqmem_%s %ld\n", fig, fl->peak_account / 1024);
	printf("# figure: seqmem_%s_peak_rmem_kib %ld\n", name,
	       fl->peak_rmem / 1024);
	printf("# figure: seqmem_%s_memavailable_drop_kib %ld\n", name,
	       avail_drop / 1024);
	printf("# figure: seqmem_%s_limit_kib %ld\n", name, limit / 1024);
	printf("# figure: seqmem_%s_rcvmemdrops %ld\n", name, drops);
	printf("# figure: seqmem_%s_messages_sent %ld\n", name, fl->sent);
	fflush(stdout);

	EXPECT_LE(0, fl->peak_account) TH_LOG("no memory account");
	EXPECT_LE(fl->peak_account, limit);
	EXPECT_LE(fl->peak_rmem, limit);
	/* The sockets themselves and the senders' queues come on top. */
	EXPECT_LE(avail_drop, limit + (32L << 20));
	EXPECT_LT(0, drops) TH_LOG("the limit never bit (RcvMemDrops)");
}

/* (a) The whole backlog, never accepted, sending. */
#define FLOOD_BACKLOG	256

TEST_F(mem, backlog_flood)
{
	int cl[FLOOD_BACKLOG], lfd, svc, i, n = 0;
	long avail0, drops0;
	struct flood fl;

	EXPECT_EQ(0, set_limits(self->init_ns, MEM_MIN, MEM_PRESSURE, MEM_MAX))
		TH_LOG("seqpacket_mem: %s", strerror(errno));
	lfd = listener(FLOOD_BACKLOG, 0);
	svc = listener(8, 0);
	ASSERT_LE(0, lfd);
	ASSERT_LE(0, svc);
	avail0 = meminfo("MemAvailable");
	drops0 = demo_stat("RcvMemDrops");

	for (i = 0; i < FLOOD_BACKLOG; i++) {
		cl[i] = client(port_of(lfd), 4096);
		ASSERT_LE(0, cl[i]);
	}
	for (i = 0; i < FLOOD_BACKLOG; i++)
		n += connected(cl[i]);
	EXPECT_EQ(FLOOD_BACKLOG, n);
	printf("# figure: seqmem_backlog_flood_connections %d\n", n);

	flood_run(&fl, cl, FLOOD_BACKLOG, 1024, FLOOD_MS);
	pinned_report(_metadata, "backlog_flood", &fl,
		      avail0 - meminfo("MemAvailable"),
		      demo_stat("RcvMemDrops") - drops0);

	/* Meanwhile, the server still serves. */
	EXPECT_TRUE(exchange(svc, 8, 4096));

	for (i = 0; i < FLOOD_BACKLOG; i++)
		close_abort(cl[i]);
	close(lfd);
	close(svc);
}

/* (b) Accepted connections whose user never reads. */
#define NONREADING	96

TEST_F(mem, nonreading_peers)
{
	int cl[NONREADING], sv[NONREADING], lfd, svc, i;
	long avail0, drops0;
	struct flood fl;

	EXPECT_EQ(0, set_limits(self->init_ns, MEM_MIN, MEM_PRESSURE, MEM_MAX));
	lfd = listener(NONREADING, 0);
	svc = listener(8, 0);
	ASSERT_LE(0, lfd);
	ASSERT_LE(0, svc);
	avail0 = meminfo("MemAvailable");
	drops0 = demo_stat("RcvMemDrops");

	for (i = 0; i < NONREADING; i++) {
		cl[i] = client(port_of(lfd), 4096);
		ASSERT_LE(0, cl[i]);
		ASSERT_TRUE(connected(cl[i]));
		sv[i] = accept_tmo(lfd, LONG_TMO);
		ASSERT_LE(0, sv[i]);
	}

	flood_run(&fl, cl, NONREADING, 16384, FLOOD_MS);
	pinned_report(_metadata, "nonreading", &fl,
		      avail0 - meminfo("MemAvailable"),
		      demo_stat("RcvMemDrops") - drops0);

	EXPECT_TRUE(exchange(svc, 8, 4096));

	for (i = 0; i < NONREADING; i++) {
		close_abort(cl[i]);
		close_abort(sv[i]);
	}
	close(lfd);
	close(svc);
}

/* Wait (bounded) until connection @lport -> @rport holds @min bytes. */
static long rmem_wait(unsigned short lport, unsigned short rport, long min)
{
	long end = demo_now_ms() + LONG_TMO, v;

	while ((v = rmem(lport, rport)) < min && demo_now_ms() < end)
		wait_ev(-1, 0, 5);
	return v;
}

/* (c) SO_RCVBUF plus one largest message, whatever the peer sends. */
TEST_F(mem, per_conn_bound)
{
	int lfd, a, b, rcvbuf, segs = (MAXMSG + LO_MSS - 1) / LO_MSS + 2;
	long seg, msg, end, bound, v, peak = 0, errs0, zwp0;
	char *buf = calloc(1, MAXMSG);

	ASSERT_NE(NULL, buf);
	lfd = listener(16, 8192);
	ASSERT_LE(0, lfd);
	rcvbuf = sockopt_int(lfd, SOL_SOCKET, SO_RCVBUF);

	/* The truesize of one full segment, and of one largest message. */
	a = client(port_of(lfd), 0);
	ASSERT_LE(0, a);
	ASSERT_TRUE(connected(a));
	ASSERT_EQ(LO_MSS, send(a, buf, LO_MSS, MSG_DONTWAIT));
	seg = rmem_wait(port_of(lfd), port_of(a), 1);
	ASSERT_LT(0, seg);
	close_abort(a);
	a = client(port_of(lfd), 0);
	ASSERT_LE(0, a);
	ASSERT_TRUE(connected(a));
	ASSERT_EQ(MAXMSG, send(a, buf, MAXMSG, MSG_DONTWAIT));
	msg = rmem_wait(port_of(lfd), port_of(a), MAXMSG);
	close_abort(a);
	/* The window's "one largest message": its segments, and two. */
	bound = rcvbuf + segs * seg;

	/* A peer sending all it can, never read nor accepted. */
	errs0 = demo_stat("RcvbufErrors");
	zwp0 = demo_stat("ZeroWindowProbes");
	b = client(port_of(lfd), 0);
	ASSERT_LE(0, b);
	ASSERT_TRUE(connected(b));
	end = demo_now_ms() + FLOOD_MS;
	while (demo_now_ms() < end) {
		while (send(b, buf, MAXMSG, MSG_DONTWAIT) > 0)
			;
		v = rmem(port_of(lfd), port_of(b));
		if (v > peak)
			peak = v;
		wait_ev(b, POLLOUT, 20);
	}

	printf("# figure: seqmem_per_conn_rcvbuf %d\n", rcvbuf);
	printf("# figure: seqmem_per_conn_segment_truesize %ld\n", seg);
	printf("# figure: seqmem_per_conn_max_message_truesize %ld\n", msg);
	printf("# figure: seqmem_per_conn_bound %ld\n", bound);
	printf("# figure: seqmem_per_conn_peak_rmem %ld\n", peak);
	EXPECT_LT(rcvbuf, peak) TH_LOG("the peer never filled the buffer");
	EXPECT_LE(peak, bound);
	EXPECT_LE(msg, bound - rcvbuf);
	/*
	 * The window keeps the bound: it never offers more than the buffer
	 * and one message, so nothing is dropped; the sender finds it closed
	 * and probes. (Segments a peer sends beyond the window are dropped:
	 * demo_pktfuzz.)
	 */
	EXPECT_EQ(errs0, demo_stat("RcvbufErrors"));
	EXPECT_LT(zwp0, demo_stat("ZeroWindowProbes"));

	close_abort(b);
	close(lfd);
	free(buf);
}

/* n connected pairs through @lfd: clients in @c, accepted ends in @s. */
static int pairs(int lfd, int *c, int *s, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		c[i] = client(port_of(lfd), 0);
		if (c[i] < 0 || !connected(c[i]))
			return -1;
		s[i] = accept_tmo(lfd, LONG_TMO);
		if (s[i] < 0)
			return -1;
	}
	return 0;
}

#define NPAIRS		5
#define SMALL_LIMIT	2

/* (d) Beyond seqpacket_max_orphans a close resets the connection. */
TEST_F(mem, orphan_limit)
{
	int c[NPAIRS], s[NPAIRS], lfd, i, resets = 0;
	long over0, over, end;
	char b;

	EXPECT_EQ(0, sysctl_set("seqpacket_max_orphans", SMALL_LIMIT));
	lfd = listener(NPAIRS, 0);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, pairs(lfd, c, s, NPAIRS));
	over0 = demo_stat("OrphanOverflow");

	/* The peers never close: each closed end would stay, FIN_WAIT2. */
	for (i = 0; i < NPAIRS; i++)
		close(s[i]);
	over = demo_stat("OrphanOverflow");
	/* A reset peer reports an error (EPIPE after the FIN), else EOF. */
	for (i = 0; i < NPAIRS; i++) {
		end = demo_now_ms() + TMO;
		while (!(wait_ev(c[i], POLLIN, 10) & POLLERR) &&
		       demo_now_ms() < end)
			;
		if (recv(c[i], &b, 1, MSG_DONTWAIT) < 0 &&
		    (errno == ECONNRESET || errno == EPIPE))
			resets++;
	}
	printf("# figure: seqmem_orphan_overflow %ld\n", over - over0);
	printf("# figure: seqmem_orphans %ld\n", sockstat("orphan"));
	printf("# figure: seqmem_orphan_resets_seen %d\n", resets);
	EXPECT_LE(0, over0) TH_LOG("no OrphanOverflow counter");
	EXPECT_EQ(NPAIRS - SMALL_LIMIT, over - over0);
	EXPECT_EQ(SMALL_LIMIT, sockstat("orphan"));
	EXPECT_EQ(NPAIRS - SMALL_LIMIT, resets);

	for (i = 0; i < NPAIRS; i++)
		close_abort(c[i]);
	close(lfd);
}

/* (d) Beyond seqpacket_max_tw no TIME_WAIT entry is made. */
TEST_F(mem, tw_limit)
{
	int c[NPAIRS], s[NPAIRS], lfd, i;
	long over0, over = 0, tw = 0, end;
	char b;

	EXPECT_EQ(0, sysctl_set("seqpacket_max_tw", SMALL_LIMIT));
	lfd = listener(NPAIRS, 0);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, pairs(lfd, c, s, NPAIRS));
	over0 = demo_stat("TimeWaitOverflow");

	/* The accepted ends close first, so they would go to TIME_WAIT. */
	for (i = 0; i < NPAIRS; i++)
		close(s[i]);
	for (i = 0; i < NPAIRS; i++) {
		wait_ev(c[i], POLLIN, LONG_TMO);
		EXPECT_EQ(0, recv(c[i], &b, 1, MSG_DONTWAIT));
		close(c[i]);
	}
	end = demo_now_ms() + LONG_TMO;
	do {
		over = demo_stat("TimeWaitOverflow") - over0;
		tw = sockstat("tw");
		if (over + tw >= NPAIRS)
			break;
		wait_ev(-1, 0, 10);
	} while (demo_now_ms() < end);

	printf("# figure: seqmem_timewait_overflow %ld\n", over);
	printf("# figure: seqmem_timewait_entries %ld\n", tw);
	EXPECT_LE(0, over0) TH_LOG("no TimeWaitOverflow counter");
	EXPECT_EQ(NPAIRS - SMALL_LIMIT, over);
	EXPECT_EQ(SMALL_LIMIT, tw);
	close(lfd);
}

/* A cgroup's memory.current, bytes (exact, unlike memory.stat); or -1. */
static long cg_current(const char *dir)
{
	char path[256];
	long v;

	snprintf(path, sizeof(path), "%s/memory.current", dir);
	return demo_read_long(path, &v) ? -1 : v;
}

/* "sock" of a cgroup's memory.stat, bytes; -1 if missing. */
static long cg_sock(const char *dir)
{
	char path[256], line[256], k[64];
	long v, ret = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/memory.stat", dir);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %ld", k, &v) == 2 && !strcmp(k, "sock")) {
			ret = v;
			break;
		}
	fclose(f);
	return ret;
}

static int cg_join(const char *dir)
{
	char path[256], pid[32];

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	snprintf(pid, sizeof(pid), "%d\n", getpid());
	return demo_write_file(path, pid);
}

/* A cgroup v2 memory controller for this case, or false. */
static bool cg_setup(void)
{
	char buf[512];

	if (read_file(CG_ROOT "/cgroup.controllers", buf, sizeof(buf)))
		mount("none", CG_ROOT, "cgroup2", 0, NULL);
	if (read_file(CG_ROOT "/cgroup.controllers", buf, sizeof(buf)) ||
	    !strstr(buf, "memory"))
		return false;
	demo_write_file(CG_ROOT "/cgroup.subtree_control", "+memory");
	if (mkdir(CG_DIR, 0755) && errno != EEXIST)
		return false;
	return cg_current(CG_DIR) >= 0;
}

/*
 * (memcg) accept() charges the connections and what they hold. The cgroup's
 * counters move in batches (a per-CPU stock of 64 pages, stats flushed past
 * a threshold): several connections holding a largest message each make
 * the charge stand out.
 */
#define MEMCG_CONNS	8

TEST_F(mem, memcg_accept)
{
	int lfd, c[MEMCG_CONNS], s[MEMCG_CONNS], i, ok = 0;
	long held = 0, v, before, after, sock0;
	char *buf = calloc(1, MAXMSG);

	ASSERT_NE(NULL, buf);
	if (!cg_setup())
		SKIP(return, "no cgroup v2 memory controller");
	lfd = listener(MEMCG_CONNS, 0);
	ASSERT_LE(0, lfd);
	for (i = 0; i < MEMCG_CONNS; i++) {
		c[i] = client(port_of(lfd), 0);
		ASSERT_LE(0, c[i]);
		ASSERT_TRUE(connected(c[i]));
		ASSERT_EQ(MAXMSG, send(c[i], buf, MAXMSG, MSG_DONTWAIT));
		v = rmem_wait(port_of(lfd), port_of(c[i]), MAXMSG);
		ASSERT_LE(MAXMSG, v);
		held += v;
	}

	/* Only the accepting task is in the cgroup. */
	ASSERT_EQ(0, cg_join(CG_DIR));
	before = cg_current(CG_DIR);
	sock0 = cg_sock(CG_DIR);
	for (i = 0; i < MEMCG_CONNS; i++) {
		s[i] = accept_tmo(lfd, LONG_TMO);
		ok += s[i] >= 0;
	}
	after = cg_current(CG_DIR);
	cg_join(CG_ROOT);

	printf("# figure: seqmem_memcg_held_before_accept %ld\n", held);
	printf("# figure: seqmem_memcg_charged_at_accept %ld\n",
	       after - before);
	printf("# figure: seqmem_memcg_sock_stat_delta %ld\n",
	       cg_sock(CG_DIR) - sock0);
	EXPECT_EQ(MEMCG_CONNS, ok);
	/* Less at most the per-CPU stocks: 64 pages a CPU. */
	EXPECT_LE(held - sysconf(_SC_NPROCESSORS_CONF) * 64 * PAGE,
		  after - before);

	for (i = 0; i < MEMCG_CONNS; i++) {
		close_abort(s[i]);
		close_abort(c[i]);
	}
	close(lfd);
	rmdir(CG_DIR);
	free(buf);
}

/* seqpacket_mem is global: in the initial namespace only; the account. */
TEST_F(mem, sysctl_scope)
{
	long mem[3] = { -1, -1, -1 };
	char buf[128];
	int cur;

	EXPECT_NE(0, access(SYSCTL_DIR "seqpacket_mem", F_OK));
	EXPECT_EQ(0, access(SYSCTL_DIR "seqpacket_max_orphans", W_OK));
	EXPECT_EQ(0, access(SYSCTL_DIR "seqpacket_max_tw", W_OK));

	cur = ns_save();
	ASSERT_EQ(0, setns(self->init_ns, CLONE_NEWNET));
	EXPECT_EQ(0, access(SYSCTL_DIR "seqpacket_mem", W_OK));
	if (!read_file(SYSCTL_DIR "seqpacket_mem", buf, sizeof(buf)))
		sscanf(buf, "%ld %ld %ld", &mem[0], &mem[1], &mem[2]);
	printf("# figure: seqmem_default_min_pages %ld\n", mem[0]);
	printf("# figure: seqmem_default_pressure_pages %ld\n", mem[1]);
	printf("# figure: seqmem_default_max_pages %ld\n", mem[2]);
	EXPECT_LT(0, mem[0]);
	EXPECT_LT(mem[0], mem[1]);
	EXPECT_LT(mem[1], mem[2]);
	/* The account counts pages (-1: the protocol has none). */
	EXPECT_LE(0, protocols_mem());
	setns(cur, CLONE_NEWNET);
	close(cur);
}

TEST_HARNESS_MAIN
