// SPDX-License-Identifier: GPL-2.0
/*
 * AF_DEMO datagram selftests: socket(), bind, connect, sendmsg/recvmsg,
 * shutdown and poll, ICMP errors, raw sockets, receive-side validation of
 * injected packets, socket options, privileges, network namespaces,
 * counters and a multi-threaded stress.
 *
 * Run as root with af_demo loaded (the family and IP protocol numbers are
 * read from sysfs). Fixture "demo" runs each case in a private network
 * namespace (lo up), so ports are free and counters see only the case's
 * own traffic. Fixture "veth" builds two named namespaces demo_a and
 * demo_b joined by a veth pair (198.18.0.1/24 - 198.18.0.2/24, mtu 1500);
 * it needs ip(8) and tc(8).
 */
#include "demo_lib.h"

#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/sockios.h>

#include "kselftest_harness.h"

#define LO		"127.0.0.1"
#define LO2		"10.77.0.1"	/* second local address, on lo */
#define NS_A		"demo_a"
#define NS_B		"demo_b"
#define ADDR_A		"198.18.0.1"
#define ADDR_B		"198.18.0.2"
#define DEMO_HLEN	((int)sizeof(struct demohdr))
#define MAX_PAYLOAD	(65535 - 20 - DEMO_HLEN)	/* 65503 */
#define TMO		3000	/* ms: bound on things that happen at once */
#define NOBODY		65534

/* --- small helpers ------------------------------------------------------ */

static int ipproto(void)
{
	static int proto;

	if (!proto)
		proto = demo_ipproto();
	return proto;
}

static int dsock(int type, int proto)
{
	return socket(af(), type, proto);
}

/* Disconnect with an AF_UNSPEC address of length 2. */
static int disconnect(int fd)
{
	struct sockaddr sa = { .sa_family = AF_UNSPEC };

	return connect(fd, &sa, sizeof(sa.sa_family));
}

/* A datagram socket bound to ip:port (NULL = any, 0 = ephemeral), or -1. */
static int dgram_at(const char *ip, unsigned short port)
{
	int fd = dsock(SOCK_DGRAM, 0);

	if (fd >= 0 && bind_to(fd, ip, port)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* A port nobody is bound to in this netns. */
static unsigned short free_port(void)
{
	int fd = dgram_at(NULL, 0);
	unsigned short p = port_of(fd);

	close(fd);
	return p;
}

static ssize_t send_to(int fd, const void *buf, size_t len, int flags,
		       const char *ip, unsigned short port)
{
	struct sockaddr_demo sa;

	demo_addr(&sa, ip, port);
	return sendto(fd, buf, len, flags, (struct sockaddr *)&sa, sizeof(sa));
}

/*
 * Receive one datagram, waiting at most TMO ms for it (ETIMEDOUT).
 * @src may be NULL.
 */
static ssize_t recv_one(int fd, void *buf, size_t len, int flags,
			struct sockaddr_demo *src)
{
	socklen_t slen = sizeof(*src);

	if (!(wait_ev(fd, POLLIN, TMO) & (POLLIN | POLLERR))) {
		errno = ETIMEDOUT;
		return -1;
	}
	return recvfrom(fd, buf, len, flags | MSG_DONTWAIT,
			(struct sockaddr *)src, src ? &slen : NULL);
}

/* errno of a nonblocking recv on a socket expected to be empty. */
static int recv_err(int fd)
{
	char c;

	errno = 0;
	if (recv(fd, &c, 1, MSG_DONTWAIT) >= 0)
		return 0;
	return errno;
}

static int set_rcvbuf(int fd, int bytes)
{
	if (!setopt_int(fd, SOL_SOCKET, SO_RCVBUFFORCE, bytes))
		return 0;
	return setopt_int(fd, SOL_SOCKET, SO_RCVBUF, bytes);
}

/* Deterministic pseudo-random payload for (@seed, offset). */
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

/* --- counters and /proc ------------------------------------------------- */

/* Wait (bounded) until demo_stat(@name) >= @want; returns the last value. */
static long stat_wait(const char *name, long want)
{
	double end = now_ms() + TMO;
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
 * Look up /proc/net/demo lines whose local port is @lport (any port if 0):
 * returns how many matched (first one in @e), -1 if the file is missing or
 * a line does not parse.
 */
static int proc_demo(unsigned int lport, struct demo_ent *e)
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
		if (lport && t.lport != lport)
			continue;
		if (!n++ && e)
			*e = t;
	}
	fclose(f);
	return n;
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

static int lo_up(void)
{
	struct ifreq ifr = {};

	if (if_ioctl("lo", SIOCGIFFLAGS, &ifr))
		return -1;
	ifr.ifr_flags |= IFF_UP;
	return if_ioctl("lo", SIOCSIFFLAGS, &ifr);
}

static int lo_set_mtu(int mtu)
{
	struct ifreq ifr = { .ifr_mtu = mtu };

	return if_ioctl("lo", SIOCSIFMTU, &ifr);
}

/* Add @ip/32 to lo (as alias lo:1). */
static int lo_add_addr(const char *ip)
{
	struct ifreq ifr = {};
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;

	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = inet_addr(ip);
	if (if_ioctl("lo:1", SIOCSIFADDR, &ifr))
		return -1;
	sin->sin_addr.s_addr = htonl(0xffffffff);
	return if_ioctl("lo:1", SIOCSIFNETMASK, &ifr);
}

/* Move the caller into a new network namespace with lo up. */
static int netns_fresh(void)
{
	if (unshare(CLONE_NEWNET))
		return -1;
	return lo_up();
}

#define ENTER(ns) \
	ASSERT_EQ(0, demo_netns_enter(ns)) \
		TH_LOG("enter netns %s: %s", ns, strerror(errno))

/* --- threads ------------------------------------------------------------ */

static pid_t task_tid(void)
{
	return syscall(SYS_gettid);
}

/*
 * Wait (bounded) until thread *@tidp exists and sleeps ('S') in syscall @nr
 * (any syscall if @nr < 0). Returns 0 once seen, -1 on timeout.
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
		if (nr < 0)
			return 0;
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

/* pthread_join with a deadline of TMO ms. */
static int join_tmo(pthread_t t)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += TMO / 1000;
	return pthread_timedjoin_np(t, NULL, &ts);
}

/* --- wire format -------------------------------------------------------- */

static uint32_t csum_add(uint32_t sum, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	for (; len > 1; len -= 2, p += 2)
		sum += (p[0] << 8) | p[1];
	if (len)
		sum += p[0] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

/*
 * Sum of the pseudo-header (with length @plen) and the first @n bytes of
 * @pkt: the two lengths differ only for deliberately malformed packets.
 */
static uint32_t demo_sum(const void *pkt, size_t n, uint16_t plen,
			 in_addr_t saddr, in_addr_t daddr)
{
	struct {
		in_addr_t saddr, daddr;
		uint8_t zero, proto;
		uint16_t len;
	} __attribute__((__packed__)) ph = {
		saddr, daddr, 0, (uint8_t)ipproto(), htons(plen)
	};

	return csum_add(csum_add(0, &ph, sizeof(ph)), pkt, n);
}

/* Checksum of @n bytes at @pkt whose check field is zero. */
static uint16_t demo_csum(const void *pkt, size_t n, uint16_t plen,
			  in_addr_t saddr, in_addr_t daddr)
{
	uint16_t c = ~csum_fold(demo_sum(pkt, n, plen, saddr, daddr));

	return htons(c ? c : 0xffff);
}

/* Set the check field of the DEMO packet at @pkt (over its len field). */
static void demo_set_check(void *pkt, in_addr_t saddr, in_addr_t daddr)
{
	struct demohdr *h = pkt;

	h->check = 0;
	h->check = demo_csum(pkt, ntohs(h->len), ntohs(h->len), saddr, daddr);
}

static bool demo_check_ok(const void *pkt, in_addr_t saddr, in_addr_t daddr)
{
	const struct demohdr *h = pkt;

	return csum_fold(demo_sum(pkt, ntohs(h->len), ntohs(h->len), saddr,
				 daddr)) == 0xffff;
}

/* Build a valid loopback DGRAM packet; returns its length. */
static size_t demo_build(void *pkt, unsigned short sport, unsigned short dport,
			 const void *data, size_t len)
{
	struct demohdr *h = pkt;

	memset(h, 0, sizeof(*h));
	h->source = htons(sport);
	h->dest = htons(dport);
	h->version = DEMO_VERSION;
	h->type = DEMOPROTO_DGRAM;
	h->len = htons(DEMO_HLEN + len);
	memcpy(h + 1, data, len);
	demo_set_check(pkt, inet_addr(LO), inet_addr(LO));
	return DEMO_HLEN + len;
}

/* An AF_INET raw socket that sends complete IPv4 packets of our protocol. */
static int inject_sock(void)
{
	int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, ipproto());

	if (fd >= 0 && setopt_int(fd, IPPROTO_IP, IP_HDRINCL, 1)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Send @len bytes as the IP payload of a packet 127.0.0.1 -> 127.0.0.1. */
static int inject(int fd, const void *payload, size_t len)
{
	struct sockaddr_in dst = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = inet_addr(LO),
	};
	uint8_t pkt[2048];
	struct iphdr *ip = (struct iphdr *)pkt;

	memset(ip, 0, sizeof(*ip));
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = ipproto();
	ip->saddr = inet_addr(LO);
	ip->daddr = inet_addr(LO);
	memcpy(ip + 1, payload, len);
	len += sizeof(*ip);
	return sendto(fd, pkt, len, 0, (struct sockaddr *)&dst,
		      sizeof(dst)) == (ssize_t)len ? 0 : -1;
}

/* --- fixtures ----------------------------------------------------------- */

#define ASSERT_MODULE() \
	ASSERT_LT(0, af()) TH_LOG("af_demo is not loaded (no %sfamily)", \
				  DEMO_SYSFS_PARAM)

/* Every case in a private network namespace with only lo, up. */
FIXTURE(demo) {
	int unused;
};

FIXTURE_SETUP(demo)
{
	ASSERT_MODULE();
	ASSERT_EQ(0, netns_fresh()) TH_LOG("netns: %s", strerror(errno));
}

FIXTURE_TEARDOWN(demo)
{
}

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

/* --- socket() ----------------------------------------------------------- */

TEST_F(demo, socket_dgram_defaults)
{
	int proto, fd;

	for (proto = DEMOPROTO_ANY; proto <= DEMOPROTO_DGRAM; proto++) {
		fd = dsock(SOCK_DGRAM, proto);
		ASSERT_LE(0, fd) TH_LOG("socket(AF, SOCK_DGRAM, %d): %s",
					proto, strerror(errno));
		EXPECT_EQ(SOCK_DGRAM, sockopt_int(fd, SOL_SOCKET, SO_TYPE));
		EXPECT_EQ(DEMOPROTO_DGRAM,
			  sockopt_int(fd, SOL_SOCKET, SO_PROTOCOL));
		EXPECT_EQ(af(), sockopt_int(fd, SOL_SOCKET, SO_DOMAIN));
		close(fd);
	}
}

TEST_F(demo, socket_errno_matrix)
{
	static const struct {
		int type, proto, err;
	} rows[] = {
		/* protocol range first, whatever the type */
		{ SOCK_DGRAM, -1, EINVAL },
		{ SOCK_DGRAM, DEMOPROTO_MAX, EINVAL },
		{ SOCK_DGRAM, 1000, EINVAL },
		{ SOCK_DGRAM, INT_MIN, EINVAL },
		{ SOCK_STREAM, -1, EINVAL },
		{ SOCK_STREAM, DEMOPROTO_MAX, EINVAL },
		{ SOCK_SEQPACKET, DEMOPROTO_MAX, EINVAL },
		{ SOCK_RDM, -1, EINVAL },
		{ SOCK_RAW, -1, EINVAL },
		{ SOCK_RAW, DEMOPROTO_MAX, EINVAL },
		/* a protocol of another type */
		{ SOCK_DGRAM, DEMOPROTO_SEQPACKET, EPROTONOSUPPORT },
		{ SOCK_SEQPACKET, DEMOPROTO_DGRAM, EPROTONOSUPPORT },
		/* types without any entry */
		{ SOCK_STREAM, 0, ESOCKTNOSUPPORT },
		{ SOCK_STREAM, 1, ESOCKTNOSUPPORT },
		{ SOCK_STREAM, 2, ESOCKTNOSUPPORT },
		{ SOCK_RDM, 0, ESOCKTNOSUPPORT },
		{ SOCK_RDM, 1, ESOCKTNOSUPPORT },
		{ SOCK_RDM, 2, ESOCKTNOSUPPORT },
		{ SOCK_DCCP, 0, ESOCKTNOSUPPORT },
		{ SOCK_PACKET, 0, ESOCKTNOSUPPORT },
	};
	/* demo_protosw_test.ko registers {SOCK_RDM, 1}: skip RDM rows then */
	bool rdm_taken = !access("/sys/module/demo_protosw_test", F_OK);
	unsigned int i;
	int fd, proto;

	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		if (rdm_taken && rows[i].type == SOCK_RDM &&
		    rows[i].err != EINVAL)
			continue;
		errno = 0;
		fd = dsock(rows[i].type, rows[i].proto);
		EXPECT_EQ(-1, fd) TH_LOG("socket(AF, %d, %d) succeeded",
					 rows[i].type, rows[i].proto);
		EXPECT_EQ(rows[i].err, errno)
			TH_LOG("socket(AF, %d, %d): wanted %s, got %s",
			       rows[i].type, rows[i].proto,
			       strerror(rows[i].err), strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	/* root may open raw sockets of every protocol */
	for (proto = 0; proto < DEMOPROTO_MAX; proto++) {
		fd = dsock(SOCK_RAW, proto);
		EXPECT_LE(0, fd) TH_LOG("socket(AF, SOCK_RAW, %d): %s", proto,
					strerror(errno));
		if (fd >= 0)
			close(fd);
	}
}

TEST_F(demo, socket_type_flags)
{
	int fd = dsock(SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int plain = dsock(SOCK_DGRAM, 0);

	ASSERT_LE(0, fd);
	ASSERT_LE(0, plain);
	EXPECT_TRUE(fcntl(fd, F_GETFL) & O_NONBLOCK);
	EXPECT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	EXPECT_FALSE(fcntl(plain, F_GETFL) & O_NONBLOCK);
	EXPECT_FALSE(fcntl(plain, F_GETFD) & FD_CLOEXEC);
	ASSERT_EQ(0, bind_to(fd, LO, 0));
	/* O_NONBLOCK is honoured by a plain recv() */
	EXPECT_ERRNO(EAGAIN, recv(fd, &plain, 1, 0));
}

TEST_F(demo, socket_raw_options)
{
	int proto, fd;

	for (proto = 0; proto < DEMOPROTO_MAX; proto++) {
		fd = dsock(SOCK_RAW, proto);
		ASSERT_LE(0, fd);
		EXPECT_EQ(SOCK_RAW, sockopt_int(fd, SOL_SOCKET, SO_TYPE));
		EXPECT_EQ(af(), sockopt_int(fd, SOL_SOCKET, SO_DOMAIN));
		if (proto)
			EXPECT_EQ(proto,
				  sockopt_int(fd, SOL_SOCKET, SO_PROTOCOL));
		close(fd);
	}
}

/* --- bind --------------------------------------------------------------- */

TEST_F(demo, bind_errors)
{
	struct sockaddr_demo sa;
	int fd = dsock(SOCK_DGRAM, 0);

	ASSERT_LE(0, fd);
	demo_addr(&sa, LO, 0);
	EXPECT_ERRNO(EINVAL, bind(fd, (struct sockaddr *)&sa, sizeof(sa) - 1));
	EXPECT_ERRNO(EINVAL, bind(fd, (struct sockaddr *)&sa, 2));
	EXPECT_ERRNO(EINVAL, bind(fd, (struct sockaddr *)&sa, 0));

	sa.sdemo_family = AF_INET;
	EXPECT_ERRNO(EAFNOSUPPORT, bind(fd, (struct sockaddr *)&sa, sizeof(sa)));
	sa.sdemo_family = AF_UNSPEC;
	EXPECT_ERRNO(EAFNOSUPPORT, bind(fd, (struct sockaddr *)&sa, sizeof(sa)));

	demo_addr(&sa, LO, 0);
	sa.sdemo_zero[0] = 1;
	EXPECT_ERRNO(EINVAL, bind(fd, (struct sockaddr *)&sa, sizeof(sa)));
	sa.sdemo_zero[0] = 0;
	sa.sdemo_zero[7] = 0x80;
	EXPECT_ERRNO(EINVAL, bind(fd, (struct sockaddr *)&sa, sizeof(sa)));

	demo_addr(&sa, "192.0.2.1", 0);
	EXPECT_ERRNO(EADDRNOTAVAIL,
		     bind(fd, (struct sockaddr *)&sa, sizeof(sa)));
	demo_addr(&sa, "198.51.100.7", 4000);
	EXPECT_ERRNO(EADDRNOTAVAIL,
		     bind(fd, (struct sockaddr *)&sa, sizeof(sa)));

	/* none of that bound it; a good address still works */
	EXPECT_EQ(0, port_of(fd));
	EXPECT_EQ(0, bind_to(fd, LO, 0)) TH_LOG("%s", strerror(errno));
	EXPECT_NE(0, port_of(fd));
}

TEST_F(demo, bind_already_bound)
{
	int rcv = dgram_at(LO, 0), fd;

	ASSERT_LE(0, rcv);
	/* explicitly */
	fd = dgram_at(LO, 0);
	ASSERT_LE(0, fd);
	EXPECT_ERRNO(EINVAL, bind_to(fd, LO, 0));
	EXPECT_ERRNO(EINVAL, bind_to(fd, NULL, port_of(fd) + 1));
	close(fd);
	/* autobound by sendto() */
	fd = dsock(SOCK_DGRAM, 0);
	ASSERT_EQ(1, send_to(fd, "x", 1, 0, LO, port_of(rcv)));
	EXPECT_NE(0, port_of(fd));
	EXPECT_ERRNO(EINVAL, bind_to(fd, LO, 0));
	close(fd);
	/* autobound by connect() */
	fd = dsock(SOCK_DGRAM, 0);
	ASSERT_EQ(0, connect_to(fd, LO, port_of(rcv)));
	EXPECT_NE(0, port_of(fd));
	EXPECT_ERRNO(EINVAL, bind_to(fd, NULL, 0));
	close(fd);
}

static int port_range(int *lo, int *hi)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");
	int n;

	if (!f)
		return -1;
	n = fscanf(f, "%d %d", lo, hi);
	fclose(f);
	return n == 2 ? 0 : -1;
}

TEST_F(demo, bind_ephemeral_port)
{
	enum { N = 20 };
	unsigned short ports[N];
	struct sockaddr_demo sa;
	int fds[N], i, j, lo, hi;

	/* a narrow range proves that the sysctl is used */
	ASSERT_EQ(0, demo_write_file("/proc/sys/net/ipv4/ip_local_port_range",
				"40000 40099"));
	ASSERT_EQ(0, port_range(&lo, &hi));
	ASSERT_EQ(40000, lo);

	for (i = 0; i < N; i++) {
		fds[i] = dgram_at(i % 2 ? LO : NULL, 0);
		ASSERT_LE(0, fds[i]) TH_LOG("bind %d: %s", i, strerror(errno));
		ASSERT_EQ(0, sock_name(fds[i], &sa, false));
		ports[i] = ntohs(sa.sdemo_port);
		EXPECT_TRUE(addr_is(&sa, i % 2 ? LO : "0.0.0.0", ports[i]));
		EXPECT_LE(lo, ports[i]);
		EXPECT_GE(hi, ports[i]);
		for (j = 0; j < i; j++)
			EXPECT_NE(ports[j], ports[i])
				TH_LOG("sockets %d and %d share port %u", j, i,
				       ports[i]);
	}
}

TEST_F(demo, bind_addrinuse_overlap)
{
	unsigned short p, q;
	int a, b, any, fd;
	char buf[16];

	ASSERT_EQ(0, lo_add_addr(LO2)) TH_LOG("%s", strerror(errno));
	a = dgram_at(LO, 0);
	ASSERT_LE(0, a);
	p = port_of(a);
	fd = dsock(SOCK_DGRAM, 0);
	ASSERT_LE(0, fd);
	EXPECT_ERRNO(EADDRINUSE, bind_to(fd, LO, p));
	EXPECT_ERRNO(EADDRINUSE, bind_to(fd, NULL, p));
	/* a different specific address may share the port */
	b = dgram_at(LO2, p);
	ASSERT_LE(0, b) TH_LOG("bind %s:%u: %s", LO2, p, strerror(errno));
	EXPECT_ERRNO(EADDRINUSE, bind_to(fd, LO2, p));

	/* INADDR_ANY overlaps with everything */
	any = dgram_at(NULL, 0);
	ASSERT_LE(0, any);
	q = port_of(any);
	EXPECT_ERRNO(EADDRINUSE, bind_to(fd, LO, q));
	EXPECT_ERRNO(EADDRINUSE, bind_to(fd, LO2, q));
	EXPECT_ERRNO(EADDRINUSE, bind_to(fd, NULL, q));

	/* the failures left fd unbound */
	EXPECT_EQ(0, port_of(fd));

	/* and each of a and b gets only its own address's traffic */
	ASSERT_EQ(1, send_to(fd, "b", 1, 0, LO2, p));
	ASSERT_EQ(1, send_to(fd, "a", 1, 0, LO, p));
	ASSERT_EQ(1, recv_one(a, buf, sizeof(buf), 0, NULL));
	EXPECT_EQ('a', buf[0]);
	ASSERT_EQ(1, recv_one(b, buf, sizeof(buf), 0, NULL));
	EXPECT_EQ('b', buf[0]);
	EXPECT_EQ(EAGAIN, recv_err(a));
	EXPECT_EQ(EAGAIN, recv_err(b));
}

TEST_F(demo, bind_port_free_after_close)
{
	int fd = dgram_at(LO, 0);
	unsigned short p = port_of(fd);

	ASSERT_NE(0, p);
	close(fd);
	fd = dgram_at(LO, p);
	EXPECT_LE(0, fd) TH_LOG("rebind %u after close: %s", p,
				strerror(errno));
	close(fd);
	fd = dgram_at(NULL, p);
	EXPECT_LE(0, fd) TH_LOG("rebind any:%u after close: %s", p,
				strerror(errno));
}

TEST_F(demo, bind_same_port_two_netns)
{
	int a = dgram_at(LO, 0), any = dgram_at(NULL, 0), b, b2, c;
	unsigned short p = port_of(a), q = port_of(any);
	char buf[8];

	ASSERT_NE(0, p);
	ASSERT_NE(0, q);
	ASSERT_EQ(0, netns_fresh());
	b = dgram_at(LO, p);
	EXPECT_LE(0, b) TH_LOG("bind %u in second netns: %s", p,
			       strerror(errno));
	b2 = dgram_at(NULL, q);
	EXPECT_LE(0, b2) TH_LOG("bind any:%u in second netns: %s", q,
				strerror(errno));
	/* traffic to p in this netns reaches b, never a */
	c = dsock(SOCK_DGRAM, 0);
	ASSERT_EQ(2, send_to(c, "nb", 2, 0, LO, p));
	ASSERT_EQ(2, recv_one(b, buf, sizeof(buf), 0, NULL));
	EXPECT_EQ(EAGAIN, recv_err(a));
}

/* --- connect ------------------------------------------------------------ */

TEST_F(demo, connect_errors)
{
	struct sockaddr_demo sa;
	int fd = dsock(SOCK_DGRAM, 0);

	ASSERT_LE(0, fd);
	demo_addr(&sa, LO, 7);
	EXPECT_ERRNO(EINVAL, connect(fd, (struct sockaddr *)&sa, sizeof(sa) - 1));
	EXPECT_ERRNO(EINVAL, connect(fd, (struct sockaddr *)&sa, 4));
	sa.sdemo_family = AF_INET;
	EXPECT_ERRNO(EAFNOSUPPORT,
		     connect(fd, (struct sockaddr *)&sa, sizeof(sa)));
	demo_addr(&sa, LO, 7);
	sa.sdemo_zero[3] = 1;
	EXPECT_ERRNO(EINVAL, connect(fd, (struct sockaddr *)&sa, sizeof(sa)));
	demo_addr(&sa, LO, 0);
	EXPECT_ERRNO(EINVAL, connect(fd, (struct sockaddr *)&sa, sizeof(sa)));
	/* only lo exists here: no route */
	EXPECT_ERRNO(ENETUNREACH, connect_to(fd, "10.1.2.3", 7));

	/* still unconnected; disconnecting that is fine */
	EXPECT_ERRNO(ENOTCONN, sock_name(fd, &sa, true));
	EXPECT_EQ(0, disconnect(fd));
}

TEST_F(demo, connect_autobind_names)
{
	int srv = dgram_at(LO, 0), c = dsock(SOCK_DGRAM, 0);
	unsigned short p = port_of(srv), q;
	struct sockaddr_demo sa, src;
	struct demo_ent e;
	char buf[16];

	ASSERT_LE(0, c);
	ASSERT_NE(0, p);
	EXPECT_ERRNO(ENOTCONN, sock_name(c, &sa, true));
	ASSERT_EQ(0, connect_to(c, LO, p));

	ASSERT_EQ(0, sock_name(c, &sa, false));
	q = ntohs(sa.sdemo_port);
	EXPECT_NE(0, q);
	EXPECT_TRUE(addr_is(&sa, LO, q)) TH_LOG("getsockname %s:%u",
						inet_ntoa(sa.sdemo_addr), q);
	ASSERT_EQ(0, sock_name(c, &sa, true));
	EXPECT_TRUE(addr_is(&sa, LO, p));

	/* send() without address goes to the peer, from q */
	ASSERT_EQ(5, send(c, "hello", 5, 0));
	ASSERT_EQ(5, recv_one(srv, buf, sizeof(buf), 0, &src));
	EXPECT_TRUE(addr_is(&src, LO, q));
	ASSERT_EQ(3, send_to(srv, "ack", 3, 0, LO, q));
	ASSERT_EQ(3, recv_one(c, buf, sizeof(buf), 0, NULL));
	EXPECT_EQ(0, memcmp(buf, "ack", 3));

	ASSERT_EQ(1, proc_demo(q, &e));
	EXPECT_STREQ("ESTABLISHED", e.state);
	EXPECT_EQ(inet_addr(LO), e.raddr);
	EXPECT_EQ(p, e.rport);
	ASSERT_EQ(1, proc_demo(p, &e));
	EXPECT_STREQ("CLOSE", e.state);
}

TEST_F(demo, connect_unspec_releases_implicit_port)
{
	int srv = dgram_at(LO, 0), c = dsock(SOCK_DGRAM, 0), d;
	struct sockaddr_demo sa;
	unsigned short q;

	ASSERT_LE(0, c);
	ASSERT_EQ(0, connect_to(c, LO, port_of(srv)));
	q = port_of(c);
	ASSERT_NE(0, q);
	ASSERT_EQ(1, proc_demo(q, NULL));

	ASSERT_EQ(0, disconnect(c));
	EXPECT_ERRNO(ENOTCONN, sock_name(c, &sa, true));
	EXPECT_EQ(0, port_of(c)) TH_LOG("implicit port kept after disconnect");
	EXPECT_EQ(0, proc_demo(q, NULL));
	d = dgram_at(LO, q);
	EXPECT_LE(0, d) TH_LOG("port %u not released: %s", q, strerror(errno));
	EXPECT_ERRNO(EDESTADDRREQ, send(c, "x", 1, 0));

	/* sending again autobinds again, to some other free port */
	ASSERT_EQ(1, send_to(c, "x", 1, 0, LO, port_of(srv)));
	EXPECT_NE(0, port_of(c));
	EXPECT_NE(q, port_of(c));
}

/*
 * A port given to bind() stays bound. (bind() to port 0 is left alone: UDP
 * releases such a kernel-chosen port on disconnect, the spec is silent.)
 */
TEST_F(demo, connect_unspec_keeps_explicit_port)
{
	unsigned short p = free_port();
	int srv = dgram_at(LO, 0), c = dgram_at(NULL, p), fd;
	struct sockaddr_demo sa;
	struct demo_ent e;

	ASSERT_NE(0, p);
	ASSERT_LE(0, c) TH_LOG("bind any:%u: %s", p, strerror(errno));
	ASSERT_EQ(0, connect_to(c, LO, port_of(srv)));
	ASSERT_EQ(0, sock_name(c, &sa, false));
	EXPECT_TRUE(addr_is(&sa, LO, p))
		TH_LOG("source %s:%u", inet_ntoa(sa.sdemo_addr),
		       ntohs(sa.sdemo_port));
	ASSERT_EQ(0, disconnect(c));
	EXPECT_ERRNO(ENOTCONN, sock_name(c, &sa, true));
	EXPECT_EQ(p, port_of(c));
	ASSERT_EQ(1, proc_demo(p, &e));
	EXPECT_STREQ("CLOSE", e.state);
	EXPECT_EQ(0u, e.rport);
	fd = dsock(SOCK_DGRAM, 0);
	EXPECT_ERRNO(EADDRINUSE, bind_to(fd, LO, p));
}

TEST_F(demo, connected_peer_filtering)
{
	int s = dgram_at(LO, 0), a = dgram_at(LO, 0), b = dgram_at(LO, 0);
	unsigned short ps = port_of(s);
	long in_err = demo_stat("InErrors");
	long rcvbuf = demo_stat("RcvbufErrors");
	struct sockaddr_demo src;
	char buf[32];

	ASSERT_LE(0, s);
	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	ASSERT_EQ(0, connect_to(s, LO, port_of(a)));

	ASSERT_EQ(6, send_to(b, "from b", 6, 0, LO, ps));
	ASSERT_EQ(7, send_to(a, "from a1", 7, 0, LO, ps));
	ASSERT_EQ(7, recv_one(s, buf, sizeof(buf), 0, &src));
	EXPECT_EQ(0, memcmp(buf, "from a1", 7));
	EXPECT_TRUE(addr_is(&src, LO, port_of(a)));
	ASSERT_EQ(6, send_to(b, "from b", 6, 0, LO, ps));
	ASSERT_EQ(7, send_to(a, "from a2", 7, 0, LO, ps));
	ASSERT_EQ(7, recv_one(s, buf, sizeof(buf), 0, NULL));
	EXPECT_EQ(0, memcmp(buf, "from a2", 7));
	EXPECT_EQ(EAGAIN, recv_err(s));
	/* silently dropped, not an error */
	EXPECT_EQ(in_err, demo_stat("InErrors"));
	EXPECT_EQ(rcvbuf, demo_stat("RcvbufErrors"));
	EXPECT_EQ(EAGAIN, recv_err(b));

	/* sendto() with an explicit address still works when connected */
	ASSERT_EQ(8, send_to(s, "explicit", 8, 0, LO, port_of(b)));
	ASSERT_EQ(8, recv_one(b, buf, sizeof(buf), 0, &src));
	EXPECT_TRUE(addr_is(&src, LO, ps));
	EXPECT_EQ(EAGAIN, recv_err(a));
}

/* --- sendmsg ------------------------------------------------------------ */

static ssize_t sendmsg_to(int fd, const void *buf, size_t len, void *name,
			  socklen_t namelen, int flags)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = {
		.msg_name = name, .msg_namelen = namelen,
		.msg_iov = &iov, .msg_iovlen = 1,
	};

	return sendmsg(fd, &msg, flags);
}

TEST_F(demo, send_errors)
{
	int fd = dsock(SOCK_DGRAM, 0), rcv = dgram_at(LO, 0);
	unsigned short p = port_of(rcv);
	long out = demo_stat("OutDatagrams");
	size_t big = 1 << 20;
	struct sockaddr_demo sa;
	char *buf = calloc(1, big);

	ASSERT_LE(0, fd);
	ASSERT_NE(0, p);
	EXPECT_ERRNO(EDESTADDRREQ, send(fd, "x", 1, 0));
	EXPECT_ERRNO(EDESTADDRREQ, sendmsg_to(fd, "x", 1, NULL, 0, 0));

	demo_addr(&sa, LO, p);
	EXPECT_ERRNO(EINVAL, sendmsg_to(fd, "x", 1, &sa, 1, 0));
	EXPECT_ERRNO(EINVAL, sendmsg_to(fd, "x", 1, &sa, 8, 0));
	EXPECT_ERRNO(EINVAL, sendmsg_to(fd, "x", 1, &sa, sizeof(sa) - 1, 0));
	sa.sdemo_family = AF_INET;
	EXPECT_ERRNO(EAFNOSUPPORT, sendmsg_to(fd, "x", 1, &sa, sizeof(sa), 0));
	EXPECT_ERRNO(EINVAL, send_to(fd, "x", 1, 0, LO, 0));

	EXPECT_ERRNO(EMSGSIZE, send_to(fd, buf, MAX_PAYLOAD + 1, 0, LO, p));
	EXPECT_ERRNO(EMSGSIZE, send_to(fd, buf, 65535, 0, LO, p));
	EXPECT_ERRNO(EMSGSIZE, send_to(fd, buf, big, 0, LO, p));

	EXPECT_ERRNO(EOPNOTSUPP, send_to(fd, "x", 1, MSG_OOB, LO, p));
	EXPECT_ERRNO(EOPNOTSUPP, send_to(fd, "x", 1, MSG_MORE, LO, p));
	EXPECT_ERRNO(EOPNOTSUPP,
		     send_to(fd, "x", 1, MSG_MORE | MSG_DONTWAIT, LO, p));

	/* nothing went out */
	EXPECT_EQ(out, demo_stat("OutDatagrams"));
	EXPECT_EQ(EAGAIN, recv_err(rcv));
	free(buf);
}

TEST_F(demo, send_flags_accepted)
{
	static const int flags[] = {
		0, MSG_DONTWAIT, MSG_NOSIGNAL, MSG_DONTROUTE, MSG_CONFIRM,
		MSG_EOR, MSG_DONTWAIT | MSG_NOSIGNAL | MSG_DONTROUTE |
			 MSG_CONFIRM | MSG_EOR,
	};
	int fd = dgram_at(LO, 0), rcv = dgram_at(LO, 0);
	long out = demo_stat("OutDatagrams");
	unsigned int i;
	char buf[8];

	ASSERT_LE(0, fd);
	ASSERT_LE(0, rcv);
	for (i = 0; i < ARRAY_SIZE(flags); i++) {
		buf[0] = 'A' + i;
		EXPECT_EQ(1, send_to(fd, buf, 1, flags[i], LO, port_of(rcv)))
			TH_LOG("flags %#x: %s", flags[i], strerror(errno));
		ASSERT_EQ(1, recv_one(rcv, buf, sizeof(buf), 0, NULL));
		EXPECT_EQ('A' + (int)i, buf[0]);
	}
	EXPECT_EQ(out + (long)i, demo_stat("OutDatagrams"));
}

/* sendmmsg() marks all but the last message MSG_BATCH: one datagram each. */
TEST_F(demo, sendmmsg_batch)
{
	int fd = dgram_at(LO, 0), rcv = dgram_at(LO, 0);
	struct sockaddr_demo to;
	struct mmsghdr msgs[3];
	struct iovec iov[3];
	char buf[8];
	int i;

	ASSERT_LE(0, fd);
	ASSERT_LE(0, rcv);
	demo_addr(&to, LO, port_of(rcv));
	memset(msgs, 0, sizeof(msgs));
	for (i = 0; i < 3; i++) {
		iov[i].iov_base = (void *)&"abc"[i];
		iov[i].iov_len = 1;
		msgs[i].msg_hdr.msg_name = &to;
		msgs[i].msg_hdr.msg_namelen = sizeof(to);
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	ASSERT_EQ(3, sendmmsg(fd, msgs, 3, 0)) TH_LOG("%s", strerror(errno));
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(1, recv_one(rcv, buf, sizeof(buf), 0, NULL));
		EXPECT_EQ("abc"[i], buf[0]);
	}
}

/* Multicast is not supported: sending or connecting to a group fails. */
TEST_F(demo, multicast_refused)
{
	int fd = dgram_at(LO, 0);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, sh("ip route add 224.0.0.0/4 dev lo"));
	EXPECT_EQ(-1, send_to(fd, "m", 1, 0, "224.1.2.3", 4000));
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_EQ(-1, connect_to(fd, "224.1.2.3", 4000));
	EXPECT_EQ(EOPNOTSUPP, errno);
}

TEST_F(demo, send_autobinds)
{
	int fd = dsock(SOCK_DGRAM, 0), rcv = dgram_at(LO, 0), lo, hi;
	struct sockaddr_demo src;
	unsigned short q;
	char c;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, port_range(&lo, &hi));
	EXPECT_EQ(0, port_of(fd));
	EXPECT_EQ(1, proc_demo(0, NULL));	/* only rcv */
	ASSERT_EQ(1, send_to(fd, "z", 1, 0, LO, port_of(rcv)));
	q = port_of(fd);
	EXPECT_LE(lo, q);
	EXPECT_GE(hi, q);
	ASSERT_EQ(1, recv_one(rcv, &c, 1, 0, &src));
	EXPECT_TRUE(addr_is(&src, LO, q));
	EXPECT_EQ(1, proc_demo(q, NULL));
}

TEST_F(demo, send_max_size_loopback)
{
	int fd = dgram_at(LO, 0), rcv = dgram_at(LO, 0);
	char *buf = malloc(MAX_PAYLOAD + 2), *in = malloc(70000);
	long out = demo_stat("OutDatagrams");

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, set_rcvbuf(rcv, 4 << 20));
	fill(buf, MAX_PAYLOAD + 1, 65503);
	EXPECT_ERRNO(EMSGSIZE,
		     send_to(fd, buf, MAX_PAYLOAD + 1, 0, LO, port_of(rcv)));
	ASSERT_EQ(MAX_PAYLOAD, send_to(fd, buf, MAX_PAYLOAD, 0, LO,
				       port_of(rcv)))
		TH_LOG("%s", strerror(errno));
	ASSERT_EQ(MAX_PAYLOAD, recv_one(rcv, in, 70000, 0, NULL));
	EXPECT_EQ(-1, mismatch(in, MAX_PAYLOAD, 65503));
	/* connected send() has the same limit */
	ASSERT_EQ(0, connect_to(fd, LO, port_of(rcv)));
	EXPECT_ERRNO(EMSGSIZE, send(fd, buf, MAX_PAYLOAD + 1, 0));
	ASSERT_EQ(MAX_PAYLOAD, send(fd, buf, MAX_PAYLOAD, 0));
	ASSERT_EQ(MAX_PAYLOAD, recv_one(rcv, in, 70000, 0, NULL));
	EXPECT_EQ(-1, mismatch(in, MAX_PAYLOAD, 65503));
	EXPECT_EQ(out + 2, demo_stat("OutDatagrams"));
	free(buf);
	free(in);
}

/* Exchange datagrams of @sizes between fds and check fragment counters. */
static const int frag_sizes[] = { 0, 1, 1468, 1469, 20000, MAX_PAYLOAD };
#define N_FRAG_SIZES ((int)ARRAY_SIZE(frag_sizes))
#define N_FRAGMENTED 3	/* sizes above 1500 - 20 - 12 */

TEST_F(demo, send_fragmented_lo_mtu1500)
{
	int fd = dgram_at(LO, 0), rcv = dgram_at(LO, 0), i;
	char *buf = malloc(MAX_PAYLOAD), *in = malloc(70000);
	long frag = snmp_ip("FragOKs"), reasm = snmp_ip("ReasmOKs");
	struct sockaddr_demo src;

	ASSERT_EQ(0, lo_set_mtu(1500)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, set_rcvbuf(rcv, 4 << 20));
	ASSERT_LE(0, frag);
	for (i = 0; i < N_FRAG_SIZES; i++) {
		fill(buf, frag_sizes[i], i);
		ASSERT_EQ(frag_sizes[i], send_to(fd, buf, frag_sizes[i], 0,
						 LO, port_of(rcv)))
			TH_LOG("size %d: %s", frag_sizes[i], strerror(errno));
		ASSERT_EQ(frag_sizes[i], recv_one(rcv, in, 70000, 0, &src))
			TH_LOG("size %d: %s", frag_sizes[i], strerror(errno));
		EXPECT_EQ(-1, mismatch(in, frag_sizes[i], i))
			TH_LOG("size %d corrupted", frag_sizes[i]);
		EXPECT_TRUE(addr_is(&src, LO, port_of(fd)));
	}
	/* IP really fragmented (no DF) and reassembled them */
	EXPECT_EQ(frag + N_FRAGMENTED, snmp_ip("FragOKs"));
	EXPECT_EQ(reasm + N_FRAGMENTED, snmp_ip("ReasmOKs"));
	free(buf);
	free(in);
}

TEST_F(demo, send_after_shutdown_wr_epipe)
{
	int fd = dgram_at(LO, 0), peer = dgram_at(LO, 0);
	sigset_t set, pending;
	char buf[8];

	ASSERT_LE(0, fd);
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	ASSERT_EQ(0, sigprocmask(SIG_BLOCK, &set, NULL));

	ASSERT_EQ(0, connect_to(fd, LO, port_of(peer)));
	ASSERT_EQ(0, shutdown(fd, SHUT_WR));
	EXPECT_ERRNO(EPIPE, send(fd, "x", 1, 0));
	EXPECT_ERRNO(EPIPE, send_to(fd, "x", 1, 0, LO, port_of(peer)));
	ASSERT_EQ(0, sigpending(&pending));
	EXPECT_FALSE(sigismember(&pending, SIGPIPE)) TH_LOG("SIGPIPE raised");
	EXPECT_EQ(EAGAIN, recv_err(peer));

	/* receiving still works */
	ASSERT_EQ(4, send_to(peer, "back", 4, 0, LO, port_of(fd)));
	ASSERT_EQ(4, recv_one(fd, buf, sizeof(buf), 0, NULL));
}

TEST_F(demo, sendmsg_iovec_gather_scatter)
{
	int fd = dgram_at(LO, 0), rcv = dgram_at(LO, 0);
	char a[] = "gather-", b[] = "scatter-", c[] = "done";
	struct iovec out[] = {
		{ a, strlen(a) }, { NULL, 0 }, { b, strlen(b) }, { c, strlen(c) },
	};
	char x[10] = {}, y[32] = {};
	struct iovec in[] = { { x, sizeof(x) }, { y, sizeof(y) } };
	struct sockaddr_demo sa;
	struct msghdr msg = {
		.msg_name = &sa, .msg_namelen = sizeof(sa),
		.msg_iov = out, .msg_iovlen = 4,
	};

	ASSERT_LE(0, fd);
	demo_addr(&sa, LO, port_of(rcv));
	ASSERT_EQ(19, sendmsg(fd, &msg, 0));
	ASSERT_TRUE(wait_ev(rcv, POLLIN, TMO) & POLLIN);
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = in;
	msg.msg_iovlen = 2;
	ASSERT_EQ(19, recvmsg(rcv, &msg, 0));
	EXPECT_EQ(0, memcmp(x, "gather-sca", 10));
	EXPECT_STREQ("tter-done", y);
	EXPECT_EQ(0, msg.msg_flags);
}

/* --- recvmsg ------------------------------------------------------------ */

TEST_F(demo, recv_source_address)
{
	int fd = dgram_at(LO, 0), rcv = dgram_at(LO, 0);
	struct sockaddr_demo name[4];	/* room to spot overruns */
	char buf[16];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr msg = {
		.msg_name = name, .msg_namelen = sizeof(name),
		.msg_iov = &iov, .msg_iovlen = 1,
	};

	ASSERT_LE(0, fd);
	memset(name, 0xa5, sizeof(name));
	ASSERT_EQ(3, send_to(fd, "src", 3, 0, LO, port_of(rcv)));
	ASSERT_TRUE(wait_ev(rcv, POLLIN, TMO) & POLLIN);
	ASSERT_EQ(3, recvmsg(rcv, &msg, 0));
	EXPECT_EQ(sizeof(struct sockaddr_demo), msg.msg_namelen);
	EXPECT_TRUE(addr_is(&name[0], LO, port_of(fd)))
		TH_LOG("family %d port %u addr %s", name[0].sdemo_family,
		       ntohs(name[0].sdemo_port), inet_ntoa(name[0].sdemo_addr));
	EXPECT_TRUE(zero_ok(&name[0])) TH_LOG("sdemo_zero not zeroed");
	EXPECT_EQ(0xa5, ((unsigned char *)name)[sizeof(name[0])]);
	EXPECT_EQ(0, msg.msg_flags);
}

TEST_F(demo, recv_peek)
{
	int fd = dgram_at(LO, 0), rcv = dgram_at(LO, 0);
	long in = demo_stat("InDatagrams");
	char buf[16] = {};

	ASSERT_LE(0, fd);
	ASSERT_EQ(3, send_to(fd, "one", 3, 0, LO, port_of(rcv)));
	ASSERT_EQ(5, send_to(fd, "three", 5, 0, LO, port_of(rcv)));
	ASSERT_EQ(3, recv_one(rcv, buf, sizeof(buf), MSG_PEEK, NULL));
	EXPECT_EQ(0, memcmp(buf, "one", 3));
	memset(buf, 0, sizeof(buf));
	ASSERT_EQ(3, recv_one(rcv, buf, sizeof(buf), MSG_PEEK, NULL));
	EXPECT_EQ(0, memcmp(buf, "one", 3));
	EXPECT_EQ(in, demo_stat("InDatagrams")) TH_LOG("peek counted");
	ASSERT_EQ(3, recv_one(rcv, buf, sizeof(buf), 0, NULL));
	EXPECT_EQ(0, memcmp(buf, "one", 3));
	ASSERT_EQ(5, recv_one(rcv, buf, sizeof(buf), 0, NULL));
	EXPECT_EQ(0, memcmp(buf, "three", 5));
	EXPECT_EQ(in + 2, demo_stat("InDatagrams"));
}

static ssize_t recvmsg_flags(int fd, void *buf, size_t len, int flags,
			     int *msg_flags)
{
	struct iovec iov = { buf, len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (!(wait_ev(fd, POLLIN, TMO) & POLLIN)) {
		errno = ETIMEDOUT;
		return -1;
	}
	n = recvmsg(fd, &msg, flags);
	*msg_flags = msg.msg_flags;
	return n;
}

TEST_F(demo, recv_trunc)
{
	int fd = dgram_at(LO, 0), rcv = dgram_at(LO, 0), mflags;
	char data[100], buf[10];

	ASSERT_LE(0, fd);
	fill(data, sizeof(data), 7);
	/* short buffer: truncated, flagged, and the rest is gone */
	ASSERT_EQ(100, send_to(fd, data, 100, 0, LO, port_of(rcv)));
	ASSERT_EQ(10, recvmsg_flags(rcv, buf, 10, 0, &mflags));
	EXPECT_TRUE(mflags & MSG_TRUNC);
	EXPECT_EQ(0, memcmp(buf, data, 10));
	EXPECT_EQ(EAGAIN, recv_err(rcv));
	/* MSG_TRUNC: real length */
	ASSERT_EQ(100, send_to(fd, data, 100, 0, LO, port_of(rcv)));
	ASSERT_EQ(100, recvmsg_flags(rcv, buf, 10, MSG_TRUNC, &mflags));
	EXPECT_TRUE(mflags & MSG_TRUNC);
	EXPECT_EQ(0, memcmp(buf, data, 10));
	/* MSG_TRUNC | MSG_PEEK leaves it queued */
	ASSERT_EQ(100, send_to(fd, data, 100, 0, LO, port_of(rcv)));
	ASSERT_EQ(100, recvmsg_flags(rcv, buf, 0, MSG_TRUNC | MSG_PEEK,
				     &mflags));
	EXPECT_TRUE(mflags & MSG_TRUNC);
	/* a big enough buffer: no flag */
	ASSERT_EQ(100, recvmsg_flags(rcv, data, 100, 0, &mflags));
	EXPECT_FALSE(mflags & MSG_TRUNC);
	EXPECT_EQ(-1, mismatch(data, 100, 7));
}

TEST_F(demo, recv_dontwait_eagain)
{
	int rcv = dgram_at(LO, 0);
	double t0 = now_ms();
	char c;

	ASSERT_LE(0, rcv);
	EXPECT_ERRNO(EAGAIN, recv(rcv, &c, 1, MSG_DONTWAIT));
	EXPECT_ERRNO(EAGAIN, recvfrom(rcv, &c, 1, MSG_DONTWAIT, NULL, NULL));
	ASSERT_EQ(0, fcntl(rcv, F_SETFL, O_NONBLOCK));
	EXPECT_ERRNO(EAGAIN, recv(rcv, &c, 1, 0));
	EXPECT_GT(1000, now_ms() - t0);
}

TEST_F(demo, recv_rcvtimeo)
{
	/* kernel timeouts are in jiffies: allow one tick (HZ >= 100) */
	const int timeout = 300, slack = 10;
	struct timeval tv = { 0, timeout * 1000 };
	int rcv = dgram_at(LO, 0);
	double t0, dt;
	char c;

	ASSERT_LE(0, rcv);
	ASSERT_EQ(0, setsockopt(rcv, SOL_SOCKET, SO_RCVTIMEO, &tv,
				sizeof(tv)));
	t0 = now_ms();
	EXPECT_ERRNO(EAGAIN, recv(rcv, &c, 1, 0));
	dt = now_ms() - t0;
	EXPECT_LE(timeout - slack, dt);
	EXPECT_GT(timeout + 5000, dt);
	/* MSG_WAITALL changes nothing */
	t0 = now_ms();
	EXPECT_ERRNO(EAGAIN, recv(rcv, &c, 1, MSG_WAITALL));
	EXPECT_LE(timeout - slack, now_ms() - t0);
}

TEST_F(demo, recv_zero_length)
{
	int fd = dgram_at(LO, 0), rcv = dgram_at(LO, 0);
	long in = demo_stat("InDatagrams"), out = demo_stat("OutDatagrams");
	struct sockaddr_demo src;
	char buf[8];

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, send_to(fd, NULL, 0, 0, LO, port_of(rcv)));
	ASSERT_EQ(out + 1, demo_stat("OutDatagrams"));
	ASSERT_TRUE(wait_ev(rcv, POLLIN, TMO) & POLLIN);
	EXPECT_EQ(0, ioctl_int(rcv, FIONREAD));
	ASSERT_EQ(0, recv_one(rcv, buf, sizeof(buf), 0, &src));
	EXPECT_TRUE(addr_is(&src, LO, port_of(fd)));
	EXPECT_EQ(in + 1, demo_stat("InDatagrams"));
	/* it was one datagram, now consumed */
	EXPECT_EQ(EAGAIN, recv_err(rcv));
	EXPECT_FALSE(wait_ev(rcv, POLLIN, 0) & POLLIN);
}

TEST_F(demo, recv_fionread_siocinq)
{
	int fd = dgram_at(LO, 0), rcv = dgram_at(LO, 0);
	char buf[200] = {};

	ASSERT_LE(0, fd);
	EXPECT_EQ(0, ioctl_int(rcv, FIONREAD));
	EXPECT_EQ(0, ioctl_int(rcv, SIOCINQ));
	EXPECT_EQ(0, ioctl_int(fd, SIOCOUTQ));
	ASSERT_EQ(123, send_to(fd, buf, 123, 0, LO, port_of(rcv)));
	ASSERT_EQ(45, send_to(fd, buf, 45, 0, LO, port_of(rcv)));
	ASSERT_TRUE(wait_ev(rcv, POLLIN, TMO) & POLLIN);
	EXPECT_EQ(123, ioctl_int(rcv, FIONREAD));
	EXPECT_EQ(123, ioctl_int(rcv, SIOCINQ));
	ASSERT_EQ(123, recv(rcv, buf, sizeof(buf), 0));
	ASSERT_TRUE(wait_ev(rcv, POLLIN, TMO) & POLLIN);
	EXPECT_EQ(45, ioctl_int(rcv, SIOCINQ));
	ASSERT_EQ(45, recv(rcv, buf, sizeof(buf), 0));
	EXPECT_EQ(0, ioctl_int(rcv, FIONREAD));
	/* loopback freed the sent skbs: nothing left in the send queue */
	EXPECT_EQ(0, ioctl_int(fd, SIOCOUTQ));
}

TEST_F(demo, recv_unsupported_flags)
{
	int fd = dgram_at(LO, 0), rcv = dgram_at(LO, 0);
	struct timeval tv = { 5, 0 };
	char buf[100];

	ASSERT_LE(0, fd);
	ASSERT_EQ(4, send_to(fd, "data", 4, 0, LO, port_of(rcv)));
	ASSERT_TRUE(wait_ev(rcv, POLLIN, TMO) & POLLIN);
	EXPECT_ERRNO(EOPNOTSUPP, recv(rcv, buf, sizeof(buf), MSG_OOB));
	EXPECT_ERRNO(EOPNOTSUPP, recv(rcv, buf, sizeof(buf), MSG_ERRQUEUE));
	/* still queued; MSG_WAITALL does not wait for more than it */
	ASSERT_EQ(0, setsockopt(rcv, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
	EXPECT_EQ(4, recv(rcv, buf, sizeof(buf), MSG_WAITALL));
}

/* --- shutdown and poll -------------------------------------------------- */

TEST_F(demo, shutdown_args)
{
	int how, fd, peer = dgram_at(LO, 0);

	for (how = SHUT_RD; how <= SHUT_RDWR; how++) {
		/* unconnected: fine (AF_UNIX-like, not UDP's ENOTCONN) */
		fd = dsock(SOCK_DGRAM, 0);
		ASSERT_LE(0, fd);
		EXPECT_EQ(0, shutdown(fd, how)) TH_LOG("how %d: %s", how,
						       strerror(errno));
		close(fd);
		fd = dsock(SOCK_DGRAM, 0);
		ASSERT_EQ(0, connect_to(fd, LO, port_of(peer)));
		EXPECT_EQ(0, shutdown(fd, how));
		close(fd);
	}
	fd = dsock(SOCK_DGRAM, 0);
	EXPECT_ERRNO(EINVAL, shutdown(fd, 3));
	EXPECT_ERRNO(EINVAL, shutdown(fd, -1));
	EXPECT_ERRNO(EINVAL, shutdown(fd, 100));
}

struct blocker {
	int fd;
	pid_t tid;
	ssize_t ret;
	int err;
	int events;	/* poll/epoll result */
};

static void *recv_blocker(void *arg)
{
	struct blocker *b = arg;
	char buf[16];

	__atomic_store_n(&b->tid, task_tid(), __ATOMIC_RELEASE);
	b->ret = recvfrom(b->fd, buf, sizeof(buf), 0, NULL, NULL);
	b->err = errno;
	return NULL;
}

TEST_F(demo, shutdown_rd_wakes_blocked_recv)
{
	struct blocker b = { .fd = dgram_at(LO, 0), .ret = -2 };
	struct timeval tv = { 10, 0 };	/* a hang becomes a failure */
	pthread_t t;
	char c;

	ASSERT_LE(0, b.fd);
	ASSERT_EQ(0, setsockopt(b.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
	ASSERT_EQ(0, pthread_create(&t, NULL, recv_blocker, &b));
	ASSERT_EQ(0, wait_blocked(&b.tid, SYS_recvfrom))
		TH_LOG("thread never blocked in recvfrom");
	ASSERT_EQ(0, shutdown(b.fd, SHUT_RD));
	ASSERT_EQ(0, join_tmo(t)) TH_LOG("recv() not woken by SHUT_RD");
	EXPECT_EQ(0, b.ret) TH_LOG("recv returned %zd (%s)", b.ret,
				   strerror(b.err));
	/* and a later blocking recv returns 0 at once */
	EXPECT_EQ(0, recv(b.fd, &c, 1, 0));
	EXPECT_EQ(POLLIN | POLLRDHUP,
		  wait_ev(b.fd, POLLIN | POLLRDHUP, 0) & (POLLIN | POLLRDHUP));
}

#define POLL_ALL (POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM | POLLRDHUP)

TEST_F(demo, poll_events)
{
	int fd = dgram_at(LO, 0), snd = dgram_at(LO, 0), ev;
	char c;

	ASSERT_LE(0, fd);
	EXPECT_EQ(POLLOUT | POLLWRNORM, wait_ev(fd, POLL_ALL, 0));
	ASSERT_EQ(1, send_to(snd, "p", 1, 0, LO, port_of(fd)));
	EXPECT_EQ(POLL_ALL & ~POLLRDHUP, wait_ev(fd, POLL_ALL, TMO));
	ASSERT_EQ(1, recv(fd, &c, 1, 0));
	EXPECT_EQ(POLLOUT | POLLWRNORM, wait_ev(fd, POLL_ALL, 0));

	ASSERT_EQ(0, shutdown(fd, SHUT_RD));
	ev = wait_ev(fd, POLL_ALL, 0);
	EXPECT_EQ(POLLIN | POLLRDHUP, ev & (POLLIN | POLLRDHUP));
	EXPECT_FALSE(ev & (POLLHUP | POLLERR));
	ASSERT_EQ(0, shutdown(fd, SHUT_WR));
	ev = wait_ev(fd, POLL_ALL, 0);
	EXPECT_EQ(POLLIN | POLLRDHUP | POLLHUP,
		  ev & (POLLIN | POLLRDHUP | POLLHUP));

	/* SHUT_RDWR at once: the same */
	close(fd);
	fd = dsock(SOCK_DGRAM, 0);
	ASSERT_EQ(0, shutdown(fd, SHUT_RDWR));
	ev = wait_ev(fd, POLL_ALL, 0);
	EXPECT_EQ(POLLIN | POLLRDHUP | POLLHUP,
		  ev & (POLLIN | POLLRDHUP | POLLHUP));
	EXPECT_FALSE(ev & POLLERR);
}

static void *poll_blocker(void *arg)
{
	struct blocker *b = arg;

	__atomic_store_n(&b->tid, task_tid(), __ATOMIC_RELEASE);
	b->events = wait_ev(b->fd, POLLIN, 2 * TMO);
	return NULL;
}

TEST_F(demo, poll_wakes_on_datagram)
{
	struct blocker b = { .fd = dgram_at(LO, 0) };
	int snd = dgram_at(LO, 0);
	pthread_t t;

	ASSERT_LE(0, b.fd);
	ASSERT_EQ(0, pthread_create(&t, NULL, poll_blocker, &b));
	ASSERT_EQ(0, wait_blocked(&b.tid, -1));
	ASSERT_EQ(1, send_to(snd, "w", 1, 0, LO, port_of(b.fd)));
	ASSERT_EQ(0, join_tmo(t));
	EXPECT_EQ(POLLIN, b.events);
}

static void *epoll_blocker(void *arg)
{
	struct blocker *b = arg;
	struct epoll_event ev = {};

	__atomic_store_n(&b->tid, task_tid(), __ATOMIC_RELEASE);
	b->ret = epoll_wait(b->fd, &ev, 1, 2 * TMO);
	b->events = ev.events;
	return NULL;
}

TEST_F(demo, epoll_events)
{
	int fd = dgram_at(LO, 0), snd = dgram_at(LO, 0);
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP,
	}, out[2];
	struct blocker b = { .fd = epoll_create1(EPOLL_CLOEXEC) };
	int ep = epoll_create1(EPOLL_CLOEXEC);
	pthread_t t;
	char c;

	ASSERT_LE(0, ep);
	ASSERT_LE(0, b.fd);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
	ASSERT_EQ(1, epoll_wait(ep, out, 2, 0));
	EXPECT_EQ((uint32_t)EPOLLOUT, out[0].events);

	/* a blocked epoll_wait() is woken by an arriving datagram */
	ev.events = EPOLLIN;
	ASSERT_EQ(0, epoll_ctl(b.fd, EPOLL_CTL_ADD, fd, &ev));
	ASSERT_EQ(0, pthread_create(&t, NULL, epoll_blocker, &b));
	ASSERT_EQ(0, wait_blocked(&b.tid, -1));
	ASSERT_EQ(1, send_to(snd, "e", 1, 0, LO, port_of(fd)));
	ASSERT_EQ(0, join_tmo(t));
	EXPECT_EQ(1, b.ret);
	EXPECT_EQ(EPOLLIN, b.events);

	ASSERT_EQ(1, epoll_wait(ep, out, 2, 0));
	EXPECT_EQ((uint32_t)(EPOLLIN | EPOLLOUT), out[0].events);
	ASSERT_EQ(1, recv(fd, &c, 1, 0));
	ASSERT_EQ(0, shutdown(fd, SHUT_RD));
	ASSERT_EQ(1, epoll_wait(ep, out, 2, 0));
	EXPECT_EQ((uint32_t)(EPOLLIN | EPOLLOUT | EPOLLRDHUP), out[0].events);
}

/* --- ICMP errors -------------------------------------------------------- */

TEST_F(demo, icmp_port_unreachable_recv)
{
	long noports = demo_stat("NoPorts");
	unsigned short p = free_port();
	int c = dsock(SOCK_DGRAM, 0);

	ASSERT_NE(0, p);
	ASSERT_EQ(0, connect_to(c, LO, p));
	ASSERT_EQ(4, send(c, "ping", 4, 0));
	EXPECT_EQ(noports + 1, stat_wait("NoPorts", noports + 1));
	EXPECT_TRUE(wait_ev(c, POLLIN, TMO) & POLLERR);
	EXPECT_EQ(ECONNREFUSED, recv_err(c));
	/* reported once */
	EXPECT_EQ(EAGAIN, recv_err(c));
	EXPECT_FALSE(wait_ev(c, POLLIN | POLLOUT, 0) & POLLERR);
	EXPECT_EQ(noports + 1, demo_stat("NoPorts"));
}

TEST_F(demo, icmp_port_unreachable_send)
{
	unsigned short p = free_port();
	int c = dsock(SOCK_DGRAM, 0);

	ASSERT_EQ(0, connect_to(c, LO, p));
	ASSERT_EQ(4, send(c, "ping", 4, 0));
	ASSERT_TRUE(wait_ev(c, POLLOUT, TMO) & POLLERR);
	EXPECT_ERRNO(ECONNREFUSED, send(c, "ping", 4, 0));
	EXPECT_FALSE(wait_ev(c, POLLOUT, 0) & POLLERR);
	/* cleared: the next send goes out */
	EXPECT_EQ(4, send(c, "ping", 4, 0));
}

TEST_F(demo, icmp_unconnected_sender_sees_nothing)
{
	long noports = demo_stat("NoPorts");
	unsigned short p = free_port();
	int u = dgram_at(LO, 0), c = dsock(SOCK_DGRAM, 0);

	ASSERT_LE(0, u);
	ASSERT_EQ(1, send_to(u, "u", 1, 0, LO, p));
	/* a connected control: once its error is in, u's ICMP was handled */
	ASSERT_EQ(0, connect_to(c, LO, p));
	ASSERT_EQ(1, send(c, "c", 1, 0));
	ASSERT_TRUE(wait_ev(c, POLLIN, TMO) & POLLERR);
	EXPECT_EQ(noports + 2, stat_wait("NoPorts", noports + 2));

	EXPECT_FALSE(wait_ev(u, POLLIN | POLLOUT, 0) & POLLERR);
	EXPECT_EQ(0, sockopt_int(u, SOL_SOCKET, SO_ERROR));
	EXPECT_EQ(EAGAIN, recv_err(u));
	EXPECT_EQ(1, send_to(u, "u", 1, 0, LO, p));
}

/* --- receive buffer overflow -------------------------------------------- */

TEST_F(demo, rcvbuf_drops)
{
	enum { N = 200, LEN = 1000 };
	int snd = dgram_at(LO, 0), rcv = dgram_at(LO, 0), i, got = 0;
	long rb0 = demo_stat("RcvbufErrors"), ie0 = demo_stat("InErrors");
	long drops = 0, last = -1;
	unsigned char buf[LEN + 1];
	struct demo_ent e;
	double end;

	ASSERT_LE(0, snd);
	ASSERT_EQ(0, setopt_int(rcv, SOL_SOCKET, SO_RCVBUF, 8192));
	for (i = 0; i < N; i++) {
		fill(buf, LEN, i);
		ASSERT_EQ(LEN, send_to(snd, buf, LEN, 0, LO, port_of(rcv)));
	}
	ASSERT_EQ(1, proc_demo(port_of(rcv), &e));
	EXPECT_LT(0u, e.rxq);
	/* drain; wait (bounded) until every datagram is accounted for */
	for (end = now_ms() + TMO; now_ms() < end;) {
		ssize_t n = recv(rcv, buf, sizeof(buf), MSG_DONTWAIT);

		if (n >= 0) {
			uint32_t seq;

			ASSERT_EQ(LEN, n);
			for (seq = last + 1; seq < N; seq++)
				if (mismatch(buf, LEN, seq) < 0)
					break;
			ASSERT_GT((uint32_t)N, seq) TH_LOG("datagram %d corrupted", got);
			last = seq;
			got++;
			continue;
		}
		ASSERT_EQ(EAGAIN, errno);
		drops = demo_stat("RcvbufErrors") - rb0;
		if (got + drops >= N)
			break;
		poll(NULL, 0, 1);
	}
	EXPECT_LT(0, got);
	EXPECT_LT(0, drops);
	EXPECT_EQ(N, got + drops);
	EXPECT_EQ(drops, demo_stat("InErrors") - ie0);
	ASSERT_EQ(1, proc_demo(port_of(rcv), &e));
	EXPECT_EQ(drops, e.drops);
}

/* --- raw AF_DEMO sockets ------------------------------------------------ */

/* Check a received raw copy of a DGRAM packet sport -> dport with @data. */
static const char *raw_copy_check(const void *buf, ssize_t n,
				  unsigned short sport, unsigned short dport,
				  const void *data, size_t len)
{
	const struct demohdr *h = buf;

	if (n != (ssize_t)(DEMO_HLEN + len))
		return "length is not DEMO header + payload";
	if (ntohs(h->source) != sport || ntohs(h->dest) != dport)
		return "ports";
	if (h->version != DEMO_VERSION || h->type != DEMOPROTO_DGRAM)
		return "version/type";
	if (ntohs(h->len) != DEMO_HLEN + len || h->flags)
		return "len/flags";
	if (!demo_check_ok(buf, inet_addr(LO), inet_addr(LO)))
		return "checksum";
	if (memcmp(h + 1, data, len))
		return "payload";
	return NULL;
}

TEST_F(demo, raw_receives_dgram_copy)
{
	static const char data[] = "raw copy payload";
	int raw = dsock(SOCK_RAW, 0), snd = dgram_at(LO, 0);
	int rcv = dgram_at(LO, 0);
	struct sockaddr_demo src;
	const char *why;
	char buf[256];
	ssize_t n;

	ASSERT_LE(0, raw);
	ASSERT_EQ(16, send_to(snd, data, 16, 0, LO, port_of(rcv)));
	n = recv_one(raw, buf, sizeof(buf), 0, &src);
	ASSERT_LT(0, n) TH_LOG("raw socket got nothing: %s", strerror(errno));
	why = raw_copy_check(buf, n, port_of(snd), port_of(rcv), data, 16);
	EXPECT_EQ(NULL, why) TH_LOG("raw copy: bad %s", why ?: "");
	EXPECT_EQ(af(), src.sdemo_family);
	EXPECT_EQ(inet_addr(LO), src.sdemo_addr.s_addr);
	EXPECT_EQ(EAGAIN, recv_err(raw));
	/* the datagram socket still gets its own copy */
	ASSERT_EQ(16, recv_one(rcv, buf, sizeof(buf), 0, NULL));
	EXPECT_EQ(0, memcmp(buf, data, 16));
}

TEST_F(demo, raw_protocol_filter)
{
	int raw0 = dsock(SOCK_RAW, 0), raw1 = dsock(SOCK_RAW, DEMOPROTO_DGRAM);
	int raw2 = dsock(SOCK_RAW, DEMOPROTO_SEQPACKET);
	int snd = dgram_at(LO, 0), rcv = dgram_at(LO, 0);
	char buf[64];

	ASSERT_LE(0, raw0);
	ASSERT_LE(0, raw1);
	ASSERT_LE(0, raw2);
	ASSERT_EQ(3, send_to(snd, "flt", 3, 0, LO, port_of(rcv)));
	EXPECT_EQ(DEMO_HLEN + 3, recv_one(raw0, buf, sizeof(buf), 0, NULL));
	EXPECT_EQ(DEMO_HLEN + 3, recv_one(raw1, buf, sizeof(buf), 0, NULL));
	EXPECT_EQ(EAGAIN, recv_err(raw2)) TH_LOG("protocol 2 saw a DGRAM");
}

TEST_F(demo, raw_bind_filters_address)
{
	int raw_lo = dsock(SOCK_RAW, 0), raw_lo2 = dsock(SOCK_RAW, 0);
	int snd = dgram_at(LO, 0), rcv = dgram_at(NULL, 0);
	char buf[64];

	ASSERT_EQ(0, lo_add_addr(LO2));
	ASSERT_LE(0, raw_lo);
	ASSERT_EQ(0, bind_to(raw_lo, LO, 9999)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, bind_to(raw_lo2, LO2, 0)) TH_LOG("%s", strerror(errno));
	/* not in /proc/net/demo: only rcv and snd are */
	EXPECT_EQ(2, proc_demo(0, NULL));

	ASSERT_EQ(1, send_to(snd, "1", 1, 0, LO, port_of(rcv)));
	EXPECT_EQ(DEMO_HLEN + 1, recv_one(raw_lo, buf, sizeof(buf), 0, NULL));
	EXPECT_EQ(EAGAIN, recv_err(raw_lo2));
	ASSERT_EQ(2, send_to(snd, "22", 2, 0, LO2, port_of(rcv)));
	EXPECT_EQ(DEMO_HLEN + 2, recv_one(raw_lo2, buf, sizeof(buf), 0, NULL));
	EXPECT_EQ(EAGAIN, recv_err(raw_lo));
}

TEST_F(demo, raw_send_hand_built)
{
	static const char data[] = "hand built";
	int raw = dsock(SOCK_RAW, 0), rcv = dgram_at(LO, 0);
	struct sockaddr_demo src;
	char pkt[64], buf[64];
	size_t len;

	ASSERT_LE(0, raw);
	len = demo_build(pkt, 4242, port_of(rcv), data, 10);
	ASSERT_EQ((ssize_t)len, send_to(raw, pkt, len, 0, LO, port_of(rcv)))
		TH_LOG("%s", strerror(errno));
	ASSERT_EQ(10, recv_one(rcv, buf, sizeof(buf), 0, &src));
	EXPECT_EQ(0, memcmp(buf, data, 10));
	EXPECT_TRUE(addr_is(&src, LO, 4242));
}

/* --- receive-side validation (packets injected through AF_INET raw) ---- */

enum bad_kind {
	BAD_SHORT, BAD_CSUM, BAD_LEN_LONG, BAD_LEN_SHORT, BAD_VERSION,
	BAD_TYPE, BAD_FLAGS,
};

/*
 * The @i-th malformed packet of @kind to @dport: build it in @p, return its
 * IP payload length, or -1 after the last one. Each is a valid packet with
 * one defect; the checksum is kept valid unless it is the defect.
 */
static ssize_t bad_packet(int kind, int i, uint8_t *p, unsigned short dport)
{
	static const char data[] = "sixteen bytes...";
	struct demohdr *h = (struct demohdr *)p;
	size_t n = demo_build(p, 4000, dport, data, 16);
	in_addr_t lo = inet_addr(LO);

	switch (kind) {
	case BAD_SHORT: {
		static const int lens[] = { 0, 1, 8, DEMO_HLEN - 1 };

		return i < 4 ? lens[i] : -1;
	}
	case BAD_CSUM:
		if (i == 0)
			h->check ^= htons(0x0100);
		else if (i == 1)
			p[n - 1] ^= 0x20;	/* payload changed after */
		else
			return -1;
		return n;
	case BAD_LEN_LONG:
	case BAD_LEN_SHORT: {
		static const int lens[2][2] = {
			{ DEMO_HLEN + 17, 0xffff }, { 0, DEMO_HLEN - 1 },
		};

		if (i > 1)
			return -1;
		h->len = htons(lens[kind == BAD_LEN_SHORT][i]);
		break;
	}
	case BAD_VERSION:
	case BAD_TYPE: {
		/* Version 1, the old wire format, included: one on the wire. */
		static const uint8_t v[] = { 0, DEMO_VERSION - 1,
					     DEMO_VERSION + 1, 0xff };
		static const uint8_t t[] = { 0, 7, 0xff };

		if (i >= (int)(kind == BAD_VERSION ? ARRAY_SIZE(v) : ARRAY_SIZE(t)))
			return -1;
		if (kind == BAD_VERSION)
			h->version = v[i];
		else
			h->type = t[i];
		break;
	}
	case BAD_FLAGS:
		if (i > 1)
			return -1;
		h->flags = htons(i ? 0x8000 : 1);
		break;
	}
	/* a checksum that would be right over the bytes present */
	h->check = 0;
	h->check = demo_csum(p, n, ntohs(h->len), lo, lo);
	return n;
}

static void injector_init(struct __test_metadata *_metadata, int *inj,
			  int *rcv, int *raw, unsigned short *port)
{
	ASSERT_MODULE();
	ASSERT_EQ(0, netns_fresh());
	*inj = inject_sock();
	ASSERT_LE(0, *inj) TH_LOG("raw AF_INET: %s", strerror(errno));
	*rcv = dgram_at(LO, 0);
	ASSERT_LE(0, *rcv);
	*port = port_of(*rcv);
	*raw = dsock(SOCK_RAW, 0);
	ASSERT_LE(0, *raw);
}

/* One variant per kind of defect. */
FIXTURE(malformed) {
	int inj, rcv, raw;
	unsigned short port;
};

FIXTURE_VARIANT(malformed) {
	int kind;
	int csum_errors;	/* InCsumErrors per packet */
};

FIXTURE_VARIANT_ADD(malformed, truncated) { .kind = BAD_SHORT };
FIXTURE_VARIANT_ADD(malformed, bad_checksum) {
	.kind = BAD_CSUM, .csum_errors = 1,
};

FIXTURE_VARIANT_ADD(malformed, len_beyond_payload) { .kind = BAD_LEN_LONG };
FIXTURE_VARIANT_ADD(malformed, len_below_header) { .kind = BAD_LEN_SHORT };
FIXTURE_VARIANT_ADD(malformed, wrong_version) { .kind = BAD_VERSION };
FIXTURE_VARIANT_ADD(malformed, unknown_type) { .kind = BAD_TYPE };
FIXTURE_VARIANT_ADD(malformed, dgram_flags_set) { .kind = BAD_FLAGS };

FIXTURE_SETUP(malformed)
{
	injector_init(_metadata, &self->inj, &self->rcv, &self->raw,
		      &self->port);
}

FIXTURE_TEARDOWN(malformed)
{
}

FIXTURE(inject) {
	int inj, rcv, raw;
	unsigned short port;
};

FIXTURE_SETUP(inject)
{
	injector_init(_metadata, &self->inj, &self->rcv, &self->raw,
		      &self->port);
}

FIXTURE_TEARDOWN(inject)
{
}

/* After garbage: a valid injected packet and a normal exchange still work. */
static const char *inject_then_valid(int inj, int rcv, int raw,
				     unsigned short port)
{
	static const char data[] = "valid after garbage";
	struct sockaddr_demo src;
	uint8_t pkt[64], buf[64];
	size_t len = demo_build(pkt, 4001, port, data, 19);
	int snd;

	if (inject(inj, pkt, len))
		return "inject valid packet";
	if (recv_one(rcv, buf, sizeof(buf), 0, &src) != 19 ||
	    memcmp(buf, data, 19))
		return "valid packet not received first / intact";
	if (!addr_is(&src, LO, 4001))
		return "valid packet: wrong source";
	if (recv_one(raw, buf, sizeof(buf), 0, NULL) != (ssize_t)len ||
	    memcmp(buf, pkt, len))
		return "raw socket: valid packet not received first / intact";
	snd = dgram_at(LO, 0);
	if (send_to(snd, "normal", 6, 0, LO, port) != 6 ||
	    recv_one(rcv, buf, sizeof(buf), 0, &src) != 6 ||
	    !addr_is(&src, LO, port_of(snd)))
		return "normal exchange";
	close(snd);
	return NULL;
}

TEST_F(malformed, dropped_and_counted)
{
	long ie = demo_stat("InErrors"), cs = demo_stat("InCsumErrors");
	long in = demo_stat("InDatagrams"), np = demo_stat("NoPorts");
	const char *why;
	uint8_t pkt[128];
	ssize_t len;
	int i;

	for (i = 0; (len = bad_packet(variant->kind, i, pkt, self->port)) >= 0;
	     i++)
		ASSERT_EQ(0, inject(self->inj, pkt, len))
			TH_LOG("inject %d: %s", i, strerror(errno));
	EXPECT_EQ(ie + i, stat_wait("InErrors", ie + i));
	EXPECT_EQ(cs + i * variant->csum_errors, demo_stat("InCsumErrors"));
	EXPECT_EQ(in, demo_stat("InDatagrams"));
	EXPECT_EQ(np, demo_stat("NoPorts"));
	EXPECT_EQ(EAGAIN, recv_err(self->rcv));
	EXPECT_EQ(EAGAIN, recv_err(self->raw));

	why = inject_then_valid(self->inj, self->rcv, self->raw, self->port);
	EXPECT_EQ(NULL, why) TH_LOG("%s", why ?: "");
	EXPECT_EQ(ie + i, demo_stat("InErrors"));
}

static uint32_t xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Would a receiver accept @p apart from its type and flags? */
static bool demo_plausible(const uint8_t *p, size_t n)
{
	const struct demohdr *h = (const struct demohdr *)p;

	return n >= (size_t)DEMO_HLEN && ntohs(h->len) >= DEMO_HLEN &&
	       ntohs(h->len) <= n && h->version == DEMO_VERSION &&
	       demo_check_ok(p, inet_addr(LO), inet_addr(LO));
}

TEST_F(inject, random_garbage)
{
	enum { N = 1000 };
	long ie = demo_stat("InErrors"), cs = demo_stat("InCsumErrors");
	long in = demo_stat("InDatagrams");
	int i, bad_sum = 0, maybe_sum = 0;
	uint32_t seed = 0xdecafbad;
	struct demohdr *h;
	const char *why;
	uint8_t pkt[128];
	size_t n, j;

	for (i = 0; i < N; i++) {
		n = xorshift(&seed) % 64;
		for (j = 0; j < n; j++)
			pkt[j] = xorshift(&seed);
		h = (struct demohdr *)pkt;
		if (i % 2 && n >= (size_t)DEMO_HLEN) {
			/* well-formed header, random checksum */
			h->dest = htons(self->port);
			h->version = DEMO_VERSION;
			h->type = DEMOPROTO_DGRAM;
			h->len = htons(n);
			h->flags = 0;
		}
		if (demo_plausible(pkt, n))
			h->check ^= htons(1);	/* never valid by luck */
		if (i % 2 && n >= (size_t)DEMO_HLEN)
			bad_sum++;
		else if (n >= (size_t)DEMO_HLEN && ntohs(h->len) >= DEMO_HLEN &&
			 ntohs(h->len) <= n)
			maybe_sum++;
		ASSERT_EQ(0, inject(self->inj, pkt, n));
	}
	EXPECT_EQ(ie + N, stat_wait("InErrors", ie + N));
	EXPECT_LE(cs + bad_sum, demo_stat("InCsumErrors"));
	EXPECT_GE(cs + bad_sum + maybe_sum, demo_stat("InCsumErrors"));
	EXPECT_EQ(in, demo_stat("InDatagrams"));
	EXPECT_EQ(EAGAIN, recv_err(self->rcv));
	EXPECT_EQ(EAGAIN, recv_err(self->raw));
	why = inject_then_valid(self->inj, self->rcv, self->raw, self->port);
	EXPECT_EQ(NULL, why) TH_LOG("%s", why ?: "");
	EXPECT_EQ(ie + N, demo_stat("InErrors"));
}

TEST_F(inject, trailing_bytes_trimmed)
{
	uint8_t pkt[64], buf[64];
	struct demohdr *h = (struct demohdr *)pkt;
	long ie = demo_stat("InErrors");

	/* 20 payload bytes on the wire, len says 8: 12 are trimmed */
	demo_build(pkt, 4002, self->port, "12345678trailing1234", 20);
	h->len = htons(DEMO_HLEN + 8);
	demo_set_check(pkt, inet_addr(LO), inet_addr(LO));
	ASSERT_EQ(0, inject(self->inj, pkt, DEMO_HLEN + 20));
	ASSERT_EQ(8, recv_one(self->rcv, buf, sizeof(buf), 0, NULL));
	EXPECT_EQ(0, memcmp(buf, "12345678", 8));
	EXPECT_EQ(ie, demo_stat("InErrors"));
}

/* --- wire format and SOL_DEMO options ----------------------------------- */

/* Capture the next IPv4 packet of our protocol: returns its total length. */
static ssize_t capture(int cap, void *buf, size_t len)
{
	return recv_one(cap, buf, len, 0, NULL);
}

static int proc_int(const char *path)
{
	long val;

	return demo_read_long(path, &val) ? -1 : (int)val;
}

TEST_F(demo, wire_format)
{
	int cap = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, ipproto());
	int snd = dgram_at(LO, 0), rcv = dgram_at(LO, 0);
	uint8_t buf[256];
	struct iphdr *ip = (struct iphdr *)buf;
	struct demohdr *h = (struct demohdr *)(ip + 1);
	ssize_t n;

	ASSERT_LE(0, cap);
	ASSERT_EQ(5, send_to(snd, "wire!", 5, 0, LO, port_of(rcv)));
	n = capture(cap, buf, sizeof(buf));
	ASSERT_EQ(20 + DEMO_HLEN + 5, n);
	EXPECT_EQ(5, (int)ip->ihl);
	EXPECT_EQ(ipproto(), ip->protocol);
	EXPECT_EQ(0, ntohs(ip->frag_off) & IP_DF) TH_LOG("DF set");
	EXPECT_EQ(proc_int("/proc/sys/net/ipv4/ip_default_ttl"), ip->ttl);
	EXPECT_EQ(0, ip->tos);
	EXPECT_EQ(port_of(snd), ntohs(h->source));
	EXPECT_EQ(port_of(rcv), ntohs(h->dest));
	EXPECT_EQ(DEMO_VERSION, h->version);
	EXPECT_EQ(DEMOPROTO_DGRAM, h->type);
	EXPECT_EQ(DEMO_HLEN + 5, ntohs(h->len));
	EXPECT_EQ(0, h->flags);
	EXPECT_TRUE(demo_check_ok(h, ip->saddr, ip->daddr))
		TH_LOG("bad checksum %#x", ntohs(h->check));
	EXPECT_NE(0, h->check);
	EXPECT_EQ(0, memcmp(h + 1, "wire!", 5));
}

static int get_opt(int fd, int name, int *val)
{
	socklen_t len = sizeof(*val);
	int ret = getsockopt(fd, SOL_DEMO, name, val, &len);

	if (!ret && len != sizeof(*val)) {
		errno = EMSGSIZE;
		return -1;
	}
	return ret;
}

TEST_F(demo, sockopt_ttl_tos_values)
{
	static const int ttl_ok[] = { 1, 64, 255, -1 }, ttl_bad[] = {
		0, -2, 256, 1000, INT_MIN, INT_MAX };
	static const int tos_ok[] = { 1, 0x28, 255, 0 }, tos_bad[] = {
		-1, 256, INT_MIN, INT_MAX };
	int fd = dsock(SOCK_DGRAM, 0), val;
	unsigned int i;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, get_opt(fd, DEMO_TTL, &val)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(-1, val);
	ASSERT_EQ(0, get_opt(fd, DEMO_TOS, &val));
	EXPECT_EQ(0, val);
	for (i = 0; i < ARRAY_SIZE(ttl_ok); i++) {
		EXPECT_EQ(0, setopt_int(fd, SOL_DEMO, DEMO_TTL, ttl_ok[i]))
			TH_LOG("TTL %d: %s", ttl_ok[i], strerror(errno));
		ASSERT_EQ(0, get_opt(fd, DEMO_TTL, &val));
		EXPECT_EQ(ttl_ok[i], val);
	}
	for (i = 0; i < ARRAY_SIZE(tos_ok); i++) {
		EXPECT_EQ(0, setopt_int(fd, SOL_DEMO, DEMO_TOS, tos_ok[i]))
			TH_LOG("TOS %d: %s", tos_ok[i], strerror(errno));
		ASSERT_EQ(0, get_opt(fd, DEMO_TOS, &val));
		EXPECT_EQ(tos_ok[i], val);
	}
	ASSERT_EQ(0, setopt_int(fd, SOL_DEMO, DEMO_TTL, 9));
	ASSERT_EQ(0, setopt_int(fd, SOL_DEMO, DEMO_TOS, 8));
	for (i = 0; i < ARRAY_SIZE(ttl_bad); i++)
		EXPECT_ERRNO(EINVAL, setopt_int(fd, SOL_DEMO, DEMO_TTL,
						ttl_bad[i]));
	for (i = 0; i < ARRAY_SIZE(tos_bad); i++)
		EXPECT_ERRNO(EINVAL, setopt_int(fd, SOL_DEMO, DEMO_TOS,
						tos_bad[i]));
	/* rejected values changed nothing */
	ASSERT_EQ(0, get_opt(fd, DEMO_TTL, &val));
	EXPECT_EQ(9, val);
	ASSERT_EQ(0, get_opt(fd, DEMO_TOS, &val));
	EXPECT_EQ(8, val);
}

TEST_F(demo, sockopt_errors)
{
	int fd = dsock(SOCK_DGRAM, 0), val = 1, name;
	socklen_t len;

	ASSERT_LE(0, fd);
	for (name = DEMO_TTL; name <= DEMO_TOS; name++) {
		EXPECT_ERRNO(EINVAL, setsockopt(fd, SOL_DEMO, name, &val, 3));
		EXPECT_ERRNO(EINVAL, setsockopt(fd, SOL_DEMO, name, &val, 0));
		len = 3;
		EXPECT_ERRNO(EINVAL, getsockopt(fd, SOL_DEMO, name, &val, &len));
	}
	for (name = 0; name < 200; name += 99) {	/* 0, 99, 198 */
		len = sizeof(val);
		EXPECT_ERRNO(ENOPROTOOPT, setopt_int(fd, SOL_DEMO, name, 1));
		EXPECT_ERRNO(ENOPROTOOPT,
			     getsockopt(fd, SOL_DEMO, name, &val, &len));
	}
	EXPECT_ERRNO(ENOPROTOOPT, setopt_int(fd, SOL_DEMO, DEMO_TOS + 1, 1));
}

TEST_F(demo, sockopt_ttl_tos_on_wire)
{
	int cap = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, ipproto());
	int snd = dgram_at(LO, 0), rcv = dgram_at(LO, 0);
	uint8_t buf[256];
	struct iphdr *ip = (struct iphdr *)buf;

	ASSERT_LE(0, cap);
	ASSERT_EQ(0, setopt_int(snd, SOL_DEMO, DEMO_TTL, 7));
	ASSERT_EQ(0, setopt_int(snd, SOL_DEMO, DEMO_TOS, 0x28));
	ASSERT_EQ(1, send_to(snd, "t", 1, 0, LO, port_of(rcv)));
	ASSERT_LT(0, capture(cap, buf, sizeof(buf)));
	EXPECT_EQ(7, ip->ttl);
	EXPECT_EQ(0x28, ip->tos);
	/* back to the route default */
	ASSERT_EQ(0, setopt_int(snd, SOL_DEMO, DEMO_TTL, -1));
	ASSERT_EQ(1, send_to(snd, "t", 1, 0, LO, port_of(rcv)));
	ASSERT_LT(0, capture(cap, buf, sizeof(buf)));
	EXPECT_EQ(proc_int("/proc/sys/net/ipv4/ip_default_ttl"), ip->ttl);
	EXPECT_EQ(2, recv(rcv, buf, sizeof(buf), MSG_DONTWAIT) +
		     recv(rcv, buf, sizeof(buf), MSG_DONTWAIT));
}

/* --- privileges --------------------------------------------------------- */

/* In a forked child: report the first failed check and exit nonzero. */
#define CHILD_CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "# child %s:%d: failed: %s (errno: %s)\n", \
			__FILE__, __LINE__, #cond, strerror(errno)); \
		_exit(1); \
	} \
} while (0)

static bool caps_empty(void)
{
	char line[256];
	bool ret = false;
	FILE *f = fopen("/proc/self/status", "re");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "CapEff:", 7))
			ret = strtoull(line + 7, NULL, 16) == 0;
	if (f)
		fclose(f);
	return ret;
}

static void unprivileged_child(int port_start)
{
	struct demo_ent e;
	int fd, peer;
	char buf[8];

	CHILD_CHECK(!setgroups(0, NULL));
	CHILD_CHECK(!setresgid(NOBODY, NOBODY, NOBODY));
	CHILD_CHECK(!setresuid(NOBODY, NOBODY, NOBODY));
	CHILD_CHECK(caps_empty());

	fd = dsock(SOCK_DGRAM, 0);
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK(bind_to(fd, NULL, 80) == -1 && errno == EACCES);
	CHILD_CHECK(bind_to(fd, LO, port_start - 1) == -1 && errno == EACCES);
	CHILD_CHECK(bind_to(fd, LO, port_start) == 0);
	peer = dgram_at(LO, 0);
	CHILD_CHECK(peer >= 0);
	CHILD_CHECK(send_to(peer, "nobody", 6, 0, LO, port_start) == 6);
	CHILD_CHECK(recv_one(fd, buf, sizeof(buf), 0, NULL) == 6);
	CHILD_CHECK(proc_demo(port_start, &e) == 1 && e.uid == NOBODY);
	/* the remote port is not restricted */
	CHILD_CHECK(send_to(peer, "x", 1, 0, LO, 80) == 1);

	for (int proto = 0; proto < DEMOPROTO_MAX; proto++)
		CHILD_CHECK(dsock(SOCK_RAW, proto) == -1 && errno == EPERM);
	/* the range check comes first */
	CHILD_CHECK(dsock(SOCK_RAW, DEMOPROTO_MAX) == -1 && errno == EINVAL);
	CHILD_CHECK(dsock(SOCK_RAW, -1) == -1 && errno == EINVAL);
	_exit(0);
}

TEST_F(demo, unprivileged_limits)
{
	int start = proc_int("/proc/sys/net/ipv4/ip_unprivileged_port_start");
	int status;
	pid_t pid;

	ASSERT_LT(80, start) TH_LOG("ip_unprivileged_port_start is %d", start);
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		unprivileged_child(start);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/* --- counters and /proc/net/demo ---------------------------------------- */

TEST_F(demo, stat_in_out_datagrams)
{
	long in = demo_stat("InDatagrams"), out = demo_stat("OutDatagrams");
	int snd = dgram_at(LO, 0), rcv = dgram_at(LO, 0), mflags;
	char buf[MAX_PAYLOAD + 1] = {};

	ASSERT_LE(0, in);
	ASSERT_LE(0, out);
	ASSERT_LE(0, demo_stat("NoPorts"));
	ASSERT_LE(0, demo_stat("InErrors"));
	ASSERT_LE(0, demo_stat("RcvbufErrors"));
	ASSERT_LE(0, demo_stat("SndbufErrors"));
	ASSERT_LE(0, demo_stat("InCsumErrors"));

	ASSERT_EQ(5, send_to(snd, "first", 5, 0, LO, port_of(rcv)));
	ASSERT_EQ(6, send_to(snd, "second", 6, 0, LO, port_of(rcv)));
	ASSERT_EQ(0, send_to(snd, "", 0, 0, LO, port_of(rcv)));
	EXPECT_ERRNO(EMSGSIZE, send_to(snd, buf, sizeof(buf), 0, LO,
				       port_of(rcv)));
	EXPECT_EQ(out + 3, demo_stat("OutDatagrams"));

	ASSERT_EQ(5, recv_one(rcv, buf, sizeof(buf), MSG_PEEK, NULL));
	ASSERT_EQ(5, recv_one(rcv, buf, sizeof(buf), MSG_PEEK, NULL));
	EXPECT_EQ(in, demo_stat("InDatagrams"));
	ASSERT_EQ(5, recv_one(rcv, buf, sizeof(buf), 0, NULL));
	EXPECT_EQ(in + 1, demo_stat("InDatagrams"));
	ASSERT_EQ(6, recvmsg_flags(rcv, buf, 2, MSG_TRUNC, &mflags));
	EXPECT_EQ(in + 2, demo_stat("InDatagrams"));
	ASSERT_EQ(0, recv_one(rcv, buf, sizeof(buf), 0, NULL));
	EXPECT_EQ(in + 3, demo_stat("InDatagrams"));
	/* nothing received on the sending side */
	EXPECT_EQ(EAGAIN, recv_err(snd));
	EXPECT_EQ(in + 3, demo_stat("InDatagrams"));
	EXPECT_EQ(out + 3, demo_stat("OutDatagrams"));
}

TEST_F(demo, proc_net_demo_format)
{
	int a = dgram_at(LO, 0), b = dsock(SOCK_DGRAM, 0);
	int unbound = dsock(SOCK_DGRAM, 0), raw = dsock(SOCK_RAW, 0);
	unsigned short pa = port_of(a), pb;
	struct sockaddr_demo sa;
	struct demo_ent e;
	struct stat st;
	char buf[8];

	ASSERT_LE(0, unbound);
	ASSERT_EQ(0, bind_to(raw, LO, 0));
	ASSERT_EQ(0, connect_to(b, LO, pa));
	pb = port_of(b);
	/* raw and unbound sockets are not listed */
	EXPECT_EQ(2, proc_demo(0, NULL));

	ASSERT_EQ(1, proc_demo(pa, &e));
	ASSERT_EQ(0, fstat(a, &st));
	EXPECT_EQ(inet_addr(LO), e.laddr);
	EXPECT_EQ(0u, e.raddr);
	EXPECT_EQ(0u, e.rport);
	EXPECT_STREQ("CLOSE", e.state);
	EXPECT_EQ(0u, e.txq);
	EXPECT_EQ(0u, e.rxq);
	EXPECT_EQ(0u, e.uid);
	EXPECT_EQ(st.st_ino, e.inode);
	EXPECT_EQ(0u, e.drops);
	EXPECT_STREQ("DGRAM", e.type);

	/* the local address is the one getsockname() reports */
	ASSERT_EQ(1, proc_demo(pb, &e));
	ASSERT_EQ(0, sock_name(b, &sa, false));
	EXPECT_EQ(sa.sdemo_addr.s_addr, e.laddr);
	EXPECT_EQ(inet_addr(LO), e.laddr);
	EXPECT_EQ(inet_addr(LO), e.raddr);
	EXPECT_EQ(pa, e.rport);
	EXPECT_STREQ("ESTABLISHED", e.state);

	ASSERT_EQ(5, send(b, "queue", 5, 0));
	ASSERT_TRUE(wait_ev(a, POLLIN, TMO) & POLLIN);
	ASSERT_EQ(1, proc_demo(pa, &e));
	EXPECT_LT(0u, e.rxq);
	ASSERT_EQ(5, recv(a, buf, sizeof(buf), 0));
	ASSERT_EQ(1, proc_demo(pa, &e));
	EXPECT_EQ(0u, e.rxq);

	close(a);
	EXPECT_EQ(0, proc_demo(pa, NULL));
	EXPECT_EQ(1, proc_demo(0, NULL));
}

/* --- multi-threaded stress ---------------------------------------------- */

#define STRESS_THREADS	8
#define STRESS_COUNT	2000
#define STRESS_WINDOW	16
#define STRESS_BUF	65536

struct stress_hdr {
	uint32_t tid, seq, len, sum;
};

struct stress {
	int tid, snd, rcv;
	unsigned short snd_port;
	long sent, received;
	char why[160];
};

static size_t stress_len(int tid, uint32_t seq)
{
	uint32_t x = (seq + 1) * 2654435761u ^ (tid + 1) * 40503u;

	if (seq % 97 == 0)
		return sizeof(struct stress_hdr) + 30000 + x % 2000;
	return sizeof(struct stress_hdr) + x % 4000;
}

static uint32_t fnv1a(const uint8_t *p, size_t len)
{
	uint32_t h = 2166136261u;

	while (len--)
		h = (h ^ *p++) * 16777619u;
	return h;
}

static size_t stress_build(uint8_t *buf, int tid, uint32_t seq)
{
	struct stress_hdr *h = (struct stress_hdr *)buf;
	size_t len = stress_len(tid, seq), plen = len - sizeof(*h);

	fill(h + 1, plen, tid << 20 ^ seq);
	h->tid = tid;
	h->seq = seq;
	h->len = len;
	h->sum = fnv1a((uint8_t *)(h + 1), plen);
	return len;
}

/* NULL if @buf is an intact stress datagram of @n bytes. */
static const char *stress_bad(const uint8_t *buf, ssize_t n)
{
	const struct stress_hdr *h = (const struct stress_hdr *)buf;
	size_t plen;

	if (n < (ssize_t)sizeof(*h) || h->tid >= STRESS_THREADS ||
	    h->seq >= STRESS_COUNT)
		return "bad header";
	if (h->len != (size_t)n || h->len != stress_len(h->tid, h->seq))
		return "bad length";
	plen = n - sizeof(*h);
	if (h->sum != fnv1a((const uint8_t *)(h + 1), plen))
		return "bad payload checksum";
	if (mismatch(h + 1, plen, h->tid << 20 ^ h->seq) >= 0)
		return "bad payload";
	return NULL;
}

#define STRESS_FAIL(s, ...) do { \
	snprintf((s)->why, sizeof((s)->why), __VA_ARGS__); \
	goto out; \
} while (0)

/* One connected socket pair per thread, flow-controlled: no loss allowed. */
static void *stress_pair(void *arg)
{
	struct stress *s = arg;
	uint8_t *buf = malloc(STRESS_BUF);
	const struct stress_hdr *h = (const struct stress_hdr *)buf;
	uint32_t seq = 0, expect = 0;
	struct sockaddr_demo src;
	const char *why;
	ssize_t n;
	size_t len;
	int w;

	while (seq < STRESS_COUNT) {
		for (w = 0; w < STRESS_WINDOW && seq < STRESS_COUNT; w++) {
			len = stress_build(buf, s->tid, seq);
			if (send(s->snd, buf, len, 0) != (ssize_t)len)
				STRESS_FAIL(s, "send %u: %s", seq,
					    strerror(errno));
			s->sent++;
			seq++;
		}
		for (; expect < seq; expect++) {
			n = recv_one(s->rcv, buf, STRESS_BUF, 0, &src);
			if (n < 0)
				STRESS_FAIL(s, "recv %u: %s", expect,
					    strerror(errno));
			why = stress_bad(buf, n);
			if (why)
				STRESS_FAIL(s, "seq %u: %s", expect, why);
			if (h->tid != (uint32_t)s->tid ||
			    !addr_is(&src, LO, s->snd_port))
				STRESS_FAIL(s, "seq %u from thread %u", expect,
					    h->tid);
			if (h->seq != expect)
				STRESS_FAIL(s, "got seq %u, wanted %u", h->seq,
					    expect);
			s->received++;
		}
	}
out:
	free(buf);
	return NULL;
}

FIXTURE(stress) {
	struct stress s[STRESS_THREADS];
	pthread_t t[STRESS_THREADS];
};

FIXTURE_SETUP(stress)
{
	ASSERT_MODULE();
	ASSERT_EQ(0, netns_fresh());
}

FIXTURE_TEARDOWN(stress)
{
}

TEST_F_TIMEOUT(stress, socket_pairs, 120)
{
	long out = demo_stat("OutDatagrams"), in = demo_stat("InDatagrams");
	int i;

	for (i = 0; i < STRESS_THREADS; i++) {
		struct stress *s = &self->s[i];

		s->tid = i;
		s->snd = dgram_at(LO, 0);
		s->rcv = dgram_at(LO, 0);
		ASSERT_LE(0, s->snd);
		ASSERT_LE(0, s->rcv);
		ASSERT_EQ(0, set_rcvbuf(s->rcv, 4 << 20));
		s->snd_port = port_of(s->snd);
		ASSERT_EQ(0, connect_to(s->snd, LO, port_of(s->rcv)));
		ASSERT_EQ(0, connect_to(s->rcv, LO, s->snd_port));
	}
	for (i = 0; i < STRESS_THREADS; i++)
		ASSERT_EQ(0, pthread_create(&self->t[i], NULL, stress_pair,
					    &self->s[i]));
	for (i = 0; i < STRESS_THREADS; i++)
		ASSERT_EQ(0, pthread_join(self->t[i], NULL));
	for (i = 0; i < STRESS_THREADS; i++) {
		EXPECT_STREQ("", self->s[i].why);
		EXPECT_EQ(STRESS_COUNT, self->s[i].sent);
		EXPECT_EQ(STRESS_COUNT, self->s[i].received);
	}
	EXPECT_EQ(out + STRESS_THREADS * STRESS_COUNT,
		  demo_stat("OutDatagrams"));
	EXPECT_EQ(in + STRESS_THREADS * STRESS_COUNT,
		  demo_stat("InDatagrams"));
}

static void *stress_sender(void *arg)
{
	struct stress *s = arg;
	uint8_t *buf = malloc(STRESS_BUF);
	uint32_t seq;
	size_t len;

	for (seq = 0; seq < STRESS_COUNT; seq++) {
		len = stress_build(buf, s->tid, seq);
		if (send(s->snd, buf, len, 0) != (ssize_t)len)
			STRESS_FAIL(s, "send %u: %s", seq, strerror(errno));
		s->sent++;
	}
out:
	free(buf);
	return NULL;
}

struct sink {
	int fd;
	bool done;		/* senders finished */
	unsigned short ports[STRESS_THREADS];
	long got[STRESS_THREADS];
	char why[160];
};

/* One receiver for all: loss allowed, corruption and reordering not. */
static void *stress_sink(void *arg)
{
	struct sink *k = arg;
	uint8_t *buf = malloc(STRESS_BUF);
	const struct stress_hdr *h = (const struct stress_hdr *)buf;
	long last[STRESS_THREADS];
	struct sockaddr_demo src;
	socklen_t slen;
	const char *why;
	ssize_t n;
	int i;

	for (i = 0; i < STRESS_THREADS; i++)
		last[i] = -1;
	for (;;) {
		if (!(wait_ev(k->fd, POLLIN, 1000) & POLLIN)) {
			if (__atomic_load_n(&k->done, __ATOMIC_ACQUIRE))
				break;
			continue;
		}
		slen = sizeof(src);
		n = recvfrom(k->fd, buf, STRESS_BUF, MSG_DONTWAIT,
			     (struct sockaddr *)&src, &slen);
		if (n < 0) {
			snprintf(k->why, sizeof(k->why), "recv: %s",
				 strerror(errno));
			break;
		}
		why = stress_bad(buf, n);
		if (!why && !addr_is(&src, LO, k->ports[h->tid]))
			why = "source does not match the thread id";
		if (!why && (long)h->seq <= last[h->tid])
			why = "sequence went backwards";
		if (why) {
			snprintf(k->why, sizeof(k->why), "%s", why);
			break;
		}
		last[h->tid] = h->seq;
		k->got[h->tid]++;
	}
	free(buf);
	return NULL;
}

TEST_F_TIMEOUT(stress, many_to_one, 120)
{
	long out = demo_stat("OutDatagrams"), in = demo_stat("InDatagrams");
	long rb = demo_stat("RcvbufErrors"), total = 0;
	struct sink k = { .fd = dgram_at(LO, 0) };
	struct demo_ent e;
	pthread_t sink;
	int i;

	ASSERT_LE(0, k.fd);
	ASSERT_EQ(0, set_rcvbuf(k.fd, 1 << 20));
	for (i = 0; i < STRESS_THREADS; i++) {
		struct stress *s = &self->s[i];

		s->tid = i;
		s->snd = dgram_at(LO, 0);
		ASSERT_LE(0, s->snd);
		k.ports[i] = port_of(s->snd);
		ASSERT_EQ(0, connect_to(s->snd, LO, port_of(k.fd)));
	}
	ASSERT_EQ(0, pthread_create(&sink, NULL, stress_sink, &k));
	for (i = 0; i < STRESS_THREADS; i++)
		ASSERT_EQ(0, pthread_create(&self->t[i], NULL, stress_sender,
					    &self->s[i]));
	for (i = 0; i < STRESS_THREADS; i++)
		ASSERT_EQ(0, pthread_join(self->t[i], NULL));
	__atomic_store_n(&k.done, true, __ATOMIC_RELEASE);
	ASSERT_EQ(0, pthread_join(sink, NULL));

	EXPECT_STREQ("", k.why);
	for (i = 0; i < STRESS_THREADS; i++) {
		EXPECT_STREQ("", self->s[i].why);
		EXPECT_EQ(STRESS_COUNT, self->s[i].sent);
		EXPECT_LT(0, k.got[i]);
		total += k.got[i];
	}
	EXPECT_EQ(out + STRESS_THREADS * STRESS_COUNT,
		  demo_stat("OutDatagrams"));
	EXPECT_EQ(in + total, demo_stat("InDatagrams"));
	/* received + counted drops never exceed what was sent */
	EXPECT_GE(STRESS_THREADS * STRESS_COUNT,
		  total + demo_stat("RcvbufErrors") - rb);
	ASSERT_EQ(1, proc_demo(port_of(k.fd), &e));
	EXPECT_EQ(demo_stat("RcvbufErrors") - rb, e.drops);
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
	static const char *const ns[] = { NS_A, NS_B };
	unsigned int i;

	ASSERT_MODULE();
	self->init_ns = ns_save();
	ASSERT_LE(0, self->init_ns);
	sh("ip netns del " NS_A " 2>/dev/null; ip netns del " NS_B
	   " 2>/dev/null");
	for (i = 0; i < ARRAY_SIZE(veth_up); i++) {
		const char *cmd = veth_up[i];

		ASSERT_EQ(0, sh("%s", cmd)) TH_LOG("failed: %s", cmd ?: "");
	}
	ASSERT_EQ(0, veth_wait_ready()) TH_LOG("veth pair never came up");
	/* ICMP errors unthrottled, so every one of them is sent */
	for (i = 0; i < 2; i++) {
		ENTER(ns[i]);
		ASSERT_EQ(0, demo_write_file("/proc/sys/net/ipv4/icmp_ratelimit",
					"0"));
	}
	ASSERT_EQ(0, setns(self->init_ns, CLONE_NEWNET));
}

FIXTURE_TEARDOWN(veth)
{
	setns(self->init_ns, CLONE_NEWNET);
	sh("ip netns del " NS_A "; ip netns del " NS_B);
}

TEST_F(veth, exchange_with_fragmentation)
{
	long frag_a, reasm_b, out_a, in_b;
	char *buf = malloc(MAX_PAYLOAD), *in = malloc(70000);
	struct sockaddr_demo sa, src;
	int a, b, i;
	ssize_t n;

	ENTER(NS_B);
	b = dgram_at(ADDR_B, 0);
	ASSERT_LE(0, b);
	ASSERT_EQ(0, set_rcvbuf(b, 4 << 20));
	reasm_b = snmp_ip("ReasmOKs");
	in_b = demo_stat("InDatagrams");
	ENTER(NS_A);
	a = dsock(SOCK_DGRAM, 0);
	ASSERT_LE(0, a);
	ASSERT_EQ(0, set_rcvbuf(a, 4 << 20));
	ASSERT_EQ(0, connect_to(a, ADDR_B, port_of(b)));
	/* the route picked veth_a's address */
	ASSERT_EQ(0, sock_name(a, &sa, false));
	EXPECT_TRUE(addr_is(&sa, ADDR_A, ntohs(sa.sdemo_port)));
	frag_a = snmp_ip("FragOKs");
	out_a = demo_stat("OutDatagrams");

	for (i = 0; i < N_FRAG_SIZES; i++) {
		fill(buf, frag_sizes[i], 100 + i);
		ASSERT_EQ(frag_sizes[i], send(a, buf, frag_sizes[i], 0))
			TH_LOG("size %d: %s", frag_sizes[i], strerror(errno));
		n = recv_one(b, in, 70000, 0, &src);
		ASSERT_EQ(frag_sizes[i], n) TH_LOG("size %d: %s",
						   frag_sizes[i],
						   strerror(errno));
		EXPECT_EQ(-1, mismatch(in, n, 100 + i));
		EXPECT_TRUE(addr_is(&src, ADDR_A, port_of(a)));
		/* echo it back to where it came from */
		ASSERT_EQ(n, sendto(b, in, n, 0, (struct sockaddr *)&src,
				    sizeof(src)));
		ASSERT_EQ(n, recv_one(a, in, 70000, 0, &src));
		EXPECT_EQ(-1, mismatch(in, n, 100 + i));
		EXPECT_TRUE(addr_is(&src, ADDR_B, port_of(b)));
	}
	EXPECT_EQ(frag_a + N_FRAGMENTED, snmp_ip("FragOKs"));
	EXPECT_EQ(out_a + N_FRAG_SIZES, demo_stat("OutDatagrams"));
	ENTER(NS_B);
	EXPECT_EQ(reasm_b + N_FRAGMENTED, snmp_ip("ReasmOKs"));
	EXPECT_EQ(in_b + N_FRAG_SIZES, demo_stat("InDatagrams"));
	free(buf);
	free(in);
}

TEST_F(veth, icmp_port_unreachable)
{
	long np_a, np_b;
	unsigned short p;
	int c, u;

	ENTER(NS_B);
	p = free_port();
	np_b = demo_stat("NoPorts");
	ENTER(NS_A);
	np_a = demo_stat("NoPorts");
	u = dgram_at(NULL, 0);
	c = dsock(SOCK_DGRAM, 0);
	ASSERT_LE(0, u);
	ASSERT_EQ(1, send_to(u, "u", 1, 0, ADDR_B, p));
	ASSERT_EQ(0, connect_to(c, ADDR_B, p));
	ASSERT_EQ(1, send(c, "c", 1, 0));
	ASSERT_TRUE(wait_ev(c, POLLIN, 2 * TMO) & POLLERR)
		TH_LOG("no ICMP error from " NS_B);
	EXPECT_EQ(ECONNREFUSED, recv_err(c));
	EXPECT_EQ(EAGAIN, recv_err(c));
	/* the unconnected sender sees nothing */
	EXPECT_FALSE(wait_ev(u, POLLIN | POLLOUT, 0) & POLLERR);
	EXPECT_EQ(EAGAIN, recv_err(u));
	/* counted where the port was missing */
	EXPECT_EQ(np_a, demo_stat("NoPorts"));
	EXPECT_EQ(np_b + 2, ns_stat(NS_B, "NoPorts"));
}

TEST_F(veth, icmp_host_unreachable)
{
	static const char *const knobs[][2] = {
		{ "mcast_solicit", "1" }, { "ucast_solicit", "1" },
		{ "app_solicit", "0" }, { "retrans_time_ms", "100" },
	};
	char path[128];
	unsigned int i;
	int c;

	ENTER(NS_A);
	for (i = 0; i < ARRAY_SIZE(knobs); i++) {
		snprintf(path, sizeof(path), "/proc/sys/net/ipv4/neigh/veth_a/%s",
			 knobs[i][0]);
		ASSERT_EQ(0, demo_write_file(path, knobs[i][1])) TH_LOG("%s", path);
	}
	c = dsock(SOCK_DGRAM, 0);
	ASSERT_EQ(0, connect_to(c, "198.18.0.99", 7));
	ASSERT_EQ(1, send(c, "h", 1, 0));
	/* ARP gives up after ~100 ms, then the stack reports it */
	ASSERT_TRUE(wait_ev(c, POLLIN, 10000) & POLLERR);
	EXPECT_EQ(EHOSTUNREACH, recv_err(c));
}

TEST_F(veth, netns_loopback_isolation)
{
	unsigned short p;
	int a, b, c;
	char buf[16];

	ENTER(NS_A);
	a = dgram_at(NULL, 0);
	ASSERT_LE(0, a);
	p = port_of(a);
	ENTER(NS_B);
	b = dgram_at(NULL, p);
	ASSERT_LE(0, b) TH_LOG("port %u taken across netns: %s", p,
			       strerror(errno));
	c = dsock(SOCK_DGRAM, 0);
	ASSERT_EQ(4, send_to(c, "to b", 4, 0, LO, p));
	ASSERT_EQ(4, recv_one(b, buf, sizeof(buf), 0, NULL));
	EXPECT_EQ(0, memcmp(buf, "to b", 4));
	ENTER(NS_A);
	c = dsock(SOCK_DGRAM, 0);
	ASSERT_EQ(4, send_to(c, "to a", 4, 0, LO, p));
	/* the first thing a gets is its own namespace's datagram */
	ASSERT_EQ(4, recv_one(a, buf, sizeof(buf), 0, NULL));
	EXPECT_EQ(0, memcmp(buf, "to a", 4));
	EXPECT_EQ(EAGAIN, recv_err(a));
	EXPECT_EQ(EAGAIN, recv_err(b));
}

TEST_F(veth, netns_proc_and_stat_isolation)
{
	long in_a, out_a, in_b, out_b;
	unsigned short pa, pb;
	int a, b, i, fd;
	char buf[8];

	ENTER(NS_A);
	a = dgram_at(LO, 0);
	ASSERT_LE(0, a);
	pa = port_of(a);
	in_a = demo_stat("InDatagrams");
	out_a = demo_stat("OutDatagrams");
	ENTER(NS_B);
	b = dgram_at(LO, pa == 40000 ? 40001 : 40000);
	ASSERT_LE(0, b);
	pb = port_of(b);
	in_b = demo_stat("InDatagrams");
	out_b = demo_stat("OutDatagrams");

	EXPECT_EQ(1, proc_demo(0, NULL));
	EXPECT_EQ(1, proc_demo(pb, NULL));
	EXPECT_EQ(0, proc_demo(pa, NULL));
	ENTER(NS_A);
	EXPECT_EQ(1, proc_demo(0, NULL));
	EXPECT_EQ(1, proc_demo(pa, NULL));
	EXPECT_EQ(0, proc_demo(pb, NULL));

	/* one datagram in demo_a, two in demo_b */
	ASSERT_EQ(1, send_to(a, "1", 1, 0, LO, pa));
	ASSERT_EQ(1, recv_one(a, buf, sizeof(buf), 0, NULL));
	ENTER(NS_B);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(1, send_to(b, "2", 1, 0, LO, pb));
		ASSERT_EQ(1, recv_one(b, buf, sizeof(buf), 0, NULL));
	}
	EXPECT_EQ(in_b + 2, demo_stat("InDatagrams"));
	EXPECT_EQ(out_b + 2, demo_stat("OutDatagrams"));
	EXPECT_EQ(in_a + 1, ns_stat(NS_A, "InDatagrams"));
	EXPECT_EQ(out_a + 1, ns_stat(NS_A, "OutDatagrams"));
	/* a socket created in demo_b is listed only there */
	fd = dgram_at(LO, 0);
	ASSERT_LE(0, fd);
	EXPECT_EQ(2, proc_demo(0, NULL));
	ENTER(NS_A);
	EXPECT_EQ(1, proc_demo(0, NULL));
}

/*
 * Fill the send buffer: skbs must stay charged to the socket while queued.
 * netem's delay cannot do that (netem_enqueue() orphans delayed skbs, which
 * returns their memory to the socket); a plugged sch_plug qdisc holds them
 * untouched until released.
 */
TEST_F(veth, sndbuf_full_eagain)
{
	enum { LEN = 1000, MAX = 10000 };
	long sb, out;
	char buf[LEN];
	int s, r, n, i;
	ssize_t ret;

	sh("modprobe -q sch_plug 2>/dev/null");
	if (sh("tc -n " NS_A " qdisc add dev veth_a root plug limit 100000000"))
		SKIP(return, "sch_plug unavailable: %s",
		     "nothing can hold skbs charged to the socket");

	ENTER(NS_B);
	r = dgram_at(ADDR_B, 0);
	ASSERT_LE(0, r);
	ASSERT_EQ(0, set_rcvbuf(r, 8 << 20));
	ENTER(NS_A);
	s = dsock(SOCK_DGRAM, 0);
	ASSERT_LE(0, s);
	ASSERT_EQ(0, setopt_int(s, SOL_SOCKET, SO_SNDBUF, 4096));
	sb = demo_stat("SndbufErrors");
	out = demo_stat("OutDatagrams");
	for (n = 0; n < MAX; n++) {
		fill(buf, LEN, n);
		ret = send_to(s, buf, LEN, MSG_DONTWAIT, ADDR_B, port_of(r));
		if (ret < 0)
			break;
		ASSERT_EQ(LEN, ret);
	}
	ASSERT_GT(MAX, n) TH_LOG("the send buffer never filled up");
	ASSERT_EQ(EAGAIN, errno) TH_LOG("%s", strerror(errno));
	EXPECT_LT(0, n);
	EXPECT_EQ(sb + 1, demo_stat("SndbufErrors"));
	EXPECT_EQ(out + n, demo_stat("OutDatagrams"));
	EXPECT_LT(0, ioctl_int(s, SIOCOUTQ));
	EXPECT_FALSE(wait_ev(s, POLLOUT, 0) & POLLOUT);
	/* O_NONBLOCK is the same */
	ASSERT_EQ(0, fcntl(s, F_SETFL, O_NONBLOCK));
	EXPECT_ERRNO(EAGAIN, send_to(s, buf, LEN, 0, ADDR_B, port_of(r)));
	EXPECT_EQ(sb + 2, demo_stat("SndbufErrors"));

	/* release: the queue drains, the socket becomes writable */
	ASSERT_EQ(0, sh("tc -n " NS_A " qdisc change dev veth_a root plug "
			"release_indefinite"));
	EXPECT_TRUE(wait_ev(s, POLLOUT, TMO) & POLLOUT);
	for (i = 0; i < n; i++) {
		ASSERT_EQ(LEN, recv_one(r, buf, LEN, 0, NULL))
			TH_LOG("datagram %d of %d: %s", i, n, strerror(errno));
		EXPECT_EQ(-1, mismatch(buf, LEN, i));
	}
	EXPECT_EQ(EAGAIN, recv_err(r));
}

TEST_HARNESS_MAIN
