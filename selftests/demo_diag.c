// SPDX-License-Identifier: GPL-2.0
/*
 * AF_DEMO sock_diag selftests (include/uapi/linux/af_demo_diag.h,
 * demo_diag.c) and the demo-ss tool (tools/demo-ss, man/demo-ss.8).
 *
 * Run as root with af_demo loaded, from the top of the tree (demo-ss is
 * build/bin/demo-ss, or $AFDEMO_DEMO_SS). Fixture "lo" runs each case in a
 * private network namespace with lo up: what a dump reports for bound
 * datagram sockets, listeners, connections and TIME_WAIT entries, the
 * filters, malformed requests, a dump of 2,000 sockets over many netlink
 * messages, a hash bucket larger than one message, dumps while other
 * threads open and close sockets, another namespace's sockets, and the
 * tool's output. Fixture "veth" joins namespaces ddiag_a and ddiag_b by a
 * veth pair (198.18.20.1/24 - 198.18.20.2/24) for a connection between
 * them, each side's dump showing its own end only. Fixture "mod" needs
 * $AFDEMO_KO: a dump in progress holds af_demo, which unloads once it is
 * over, and the family has no handler until af_demo is loaded again.
 *
 * Nothing sleeps in place of synchronisation: every wait is a poll() or a
 * bounded loop re-reading a condition.
 */
#include "demo_lib.h"

#include <pthread.h>
#include <stdint.h>
#include <net/if.h>
#include <netinet/tcp.h>	/* TCP_ESTABLISHED ... TCP_CLOSING */
#include <sys/resource.h>
#include <sys/stat.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/af_demo_diag.h>

#include "kselftest_harness.h"

#define LO		"127.0.0.1"
#define NS_A		"ddiag_a"
#define NS_B		"ddiag_b"
#define ADDR_A		"198.18.20.1"
#define ADDR_B		"198.18.20.2"
#define SYSCTL_DIR	"/proc/sys/net/demo/"
#define TMO		3000	/* ms: bound on things that happen at once */
#define TW_MS		30000	/* seqpacket_time_wait_ms in the cases */
#define NBIG		2000	/* sockets of the large dump */
#define NBUCKET		250	/* sockets sharing one bind hash bucket */
#define BIND_BUCKETS	256	/* DEMO_HTABLE_SIZE */
#define SMALL_BUF	8192	/* a receive buffer that keeps messages small */

/* --- sock_diag ------------------------------------------------------------ */

struct ent {
	struct demo_diag_msg		m;
	bool				has_mem, has_rql, has_info;
	uint32_t			mem[SK_MEMINFO_VARS];
	struct demo_diag_rqlen		rql;
	struct demo_info		info;
	unsigned int			infolen;
};

struct dump {
	struct ent	*e;
	size_t		n;
	int		parts;	/* recv() calls that carried entries */
};

static struct demo_diag_req mkreq(int protocol, uint32_t states, uint32_t show)
{
	struct demo_diag_req r = {
		.sdiag_family	= af(),
		.sdiag_protocol	= protocol,
		.ddiag_states	= states,
		.ddiag_show	= show,
	};

	return r;
}

/* A NETLINK_SOCK_DIAG socket of the current namespace with @req sent. */
static int diag_send(const void *req, size_t len, uint16_t flags)
{
	struct sockaddr_nl nl = { .nl_family = AF_NETLINK };
	struct {
		struct nlmsghdr	nlh;
		char		body[64];
	} msg = {
		.nlh = {
			.nlmsg_len	= NLMSG_LENGTH(len),
			.nlmsg_type	= SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags	= flags,
			.nlmsg_seq	= 7,
		},
	};
	int fd;

	if (len > sizeof(msg.body)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(msg.body, req, len);
	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -1;
	if (sendto(fd, &msg, msg.nlh.nlmsg_len, 0, (struct sockaddr *)&nl,
		   sizeof(nl)) != (ssize_t)msg.nlh.nlmsg_len) {
		close(fd);
		return -1;
	}
	return fd;
}

static void ent_parse(struct ent *e, const struct nlmsghdr *h)
{
	const struct nlattr *a;
	unsigned int plen;
	int rem;

	memset(e, 0, sizeof(*e));
	memcpy(&e->m, NLMSG_DATA(h), sizeof(e->m));
	a = (const void *)((const char *)NLMSG_DATA(h) + NLMSG_ALIGN(sizeof(e->m)));
	rem = h->nlmsg_len - NLMSG_LENGTH(NLMSG_ALIGN(sizeof(e->m)));
	while (rem >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN &&
	       a->nla_len <= rem) {
		const void *p = (const char *)a + NLA_HDRLEN;

		plen = a->nla_len - NLA_HDRLEN;
		switch (a->nla_type) {
		case DEMO_DIAG_MEMINFO:
			e->has_mem = plen >= sizeof(e->mem);
			memcpy(e->mem, p, plen < sizeof(e->mem) ? plen : sizeof(e->mem));
			break;
		case DEMO_DIAG_RQLEN:
			e->has_rql = plen == sizeof(e->rql);
			memcpy(&e->rql, p, plen < sizeof(e->rql) ? plen : sizeof(e->rql));
			break;
		case DEMO_DIAG_INFO:
			e->has_info = true;
			e->infolen = plen;
			memcpy(&e->info, p, plen < sizeof(e->info) ? plen : sizeof(e->info));
			break;
		}
		rem -= NLA_ALIGN(a->nla_len);
		a = (const void *)((const char *)a + NLA_ALIGN(a->nla_len));
	}
}

/*
 * Read a dump from @fd into @d, with receive buffers of @bufsz bytes.
 * Returns 0, or -errno (the kernel's error, or EPROTO for a malformed
 * answer).
 */
static int diag_read(int fd, struct dump *d, size_t bufsz)
{
	char *buf = malloc(bufsz);
	struct nlmsghdr *h;
	int ret = -EPROTO;
	bool got;
	ssize_t n;
	int len;

	memset(d, 0, sizeof(*d));
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (!(wait_ev(fd, POLLIN, 10000) & POLLIN)) {
			ret = -ETIMEDOUT;
			break;
		}
		n = recv(fd, buf, bufsz, MSG_DONTWAIT);
		if (n <= 0) {
			ret = n < 0 ? -errno : -EPROTO;
			break;
		}
		len = n;
		got = false;
		for (h = (void *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_type == NLMSG_DONE) {
				ret = 0;
				goto out;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				ret = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
				goto out;
			}
			if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
			    !(h->nlmsg_flags & NLM_F_MULTI) ||
			    h->nlmsg_len < NLMSG_LENGTH(sizeof(struct demo_diag_msg)))
				goto out;
			if (!(d->n & 1023)) {
				struct ent *ne = realloc(d->e, (d->n + 1024) * sizeof(*ne));

				if (!ne) {
					ret = -ENOMEM;
					goto out;
				}
				d->e = ne;
			}
			ent_parse(&d->e[d->n++], h);
			got = true;
		}
		d->parts += got;
	}
out:
	free(buf);
	return ret;
}

static void dump_free(struct dump *d)
{
	free(d->e);
	memset(d, 0, sizeof(*d));
}

/* Dump with @req in the current namespace; 0 or -errno. */
static int diag_dump_buf(const struct demo_diag_req *req, struct dump *d,
			 size_t bufsz)
{
	int fd = diag_send(req, sizeof(*req), NLM_F_REQUEST | NLM_F_DUMP);
	int ret;

	memset(d, 0, sizeof(*d));
	if (fd < 0)
		return -errno;
	ret = diag_read(fd, d, bufsz);
	close(fd);
	return ret;
}

static int diag_dump(const struct demo_diag_req *req, struct dump *d)
{
	return diag_dump_buf(req, d, 32768);
}

/* The error a single request (no NLM_F_DUMP with @flags) gets, 0 if none. */
static int diag_error(const void *req, size_t len, uint16_t flags)
{
	struct dump d;
	int fd, ret;

	fd = diag_send(req, len, flags);
	if (fd < 0)
		return -errno;
	ret = diag_read(fd, &d, 32768);
	dump_free(&d);
	close(fd);
	return ret;
}

/* Entries of @d for @protocol, @state (-1: any) and the ports (host order). */
static int count(const struct dump *d, int protocol, int state,
		 unsigned short sport, unsigned short dport, const struct ent **last)
{
	size_t i;
	int n = 0;

	for (i = 0; i < d->n; i++) {
		const struct demo_diag_msg *m = &d->e[i].m;

		if (m->ddiag_protocol != protocol ||
		    (state >= 0 && m->ddiag_state != state) ||
		    ntohs(m->ddiag_sport) != sport ||
		    ntohs(m->ddiag_dport) != dport)
			continue;
		n++;
		if (last)
			*last = &d->e[i];
	}
	return n;
}

/* --- sockets -------------------------------------------------------------- */

static int dg_sock(void)
{
	return socket(af(), SOCK_DGRAM | SOCK_CLOEXEC, 0);
}

static int sp_sock(void)
{
	return socket(af(), SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
}

static uint32_t ino_of(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : (uint32_t)st.st_ino;
}

static uint64_t cookie_of(int fd)
{
	uint64_t c = 0;
	socklen_t len = sizeof(c);

	return getsockopt(fd, SOL_SOCKET, SO_COOKIE, &c, &len) ? 0 : c;
}

static uint64_t ent_cookie(const struct ent *e)
{
	return e->m.ddiag_cookie[0] | (uint64_t)e->m.ddiag_cookie[1] << 32;
}

static int sysctl_set(const char *name, long val)
{
	char path[128], buf[32];

	snprintf(path, sizeof(path), SYSCTL_DIR "%s", name);
	snprintf(buf, sizeof(buf), "%ld\n", val);
	return demo_write_file(path, buf);
}

static int if_up(const char *name)
{
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret = -1;

	if (fd < 0)
		return -1;
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	if (!ioctl(fd, SIOCGIFFLAGS, &ifr)) {
		ifr.ifr_flags |= IFF_UP;
		ret = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	close(fd);
	return ret;
}

/* Move the caller into a new network namespace with lo up. */
static int netns_fresh(void)
{
	return unshare(CLONE_NEWNET) ? -1 : if_up("lo");
}

/* Enough descriptors for @n sockets. */
static int nofile_at_least(rlim_t n)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return -1;
	if (rl.rlim_cur >= n)
		return 0;
	rl.rlim_cur = n;
	if (rl.rlim_max < n)
		rl.rlim_max = n;
	return setrlimit(RLIMIT_NOFILE, &rl);
}

/* A seqpacket listener on @ip, ephemeral port, or -1. */
static int listener_on(const char *ip, int backlog)
{
	int fd = sp_sock();

	if (fd >= 0 && (bind_to(fd, ip, 0) || listen(fd, backlog))) {
		close(fd);
		fd = -1;
	}
	return fd;
}

struct conn {
	int		lfd, cli, srv;
	unsigned short	lport, cport;
};

/*
 * A connection to listener @c->lfd at @ip from port @cport (0: ephemeral),
 * accepted; 0 or -1.
 */
static int conn_open_from(struct conn *c, const char *ip, unsigned short cport)
{
	c->cli = sp_sock();
	c->srv = -1;
	if (c->cli < 0 || (cport && bind_to(c->cli, ip, cport)) ||
	    connect_tmo(c->cli, ip, c->lport, TMO))
		return -1;
	if (!(wait_ev(c->lfd, POLLIN, TMO) & POLLIN))
		return -1;
	c->srv = accept4(c->lfd, NULL, NULL, SOCK_CLOEXEC);
	c->cport = port_of(c->cli);
	return c->srv < 0 || !c->cport ? -1 : 0;
}

static int conn_open(struct conn *c, const char *ip)
{
	return conn_open_from(c, ip, 0);
}

/*
 * The client closes first, then the server once it saw the FIN: the
 * client's end becomes a TIME_WAIT entry. 0 or -1.
 */
static int conn_close_tw(struct conn *c)
{
	char b[8];
	int ret = 0;

	close(c->cli);
	c->cli = -1;
	if (!(wait_ev(c->srv, POLLIN, TMO) & POLLIN) ||
	    recv(c->srv, b, sizeof(b), MSG_DONTWAIT) != 0)
		ret = -1;
	close(c->srv);
	c->srv = -1;
	return ret;
}

/* Wait (bounded) until a dump with @req finds @n entries like these. */
static int wait_count(const struct demo_diag_req *req, int protocol, int state,
		      unsigned short sport, unsigned short dport, int n, int ms)
{
	long end = demo_now_ms() + ms;
	struct dump d;
	int got;

	for (;;) {
		if (diag_dump(req, &d))
			return -1;
		got = count(&d, protocol, state, sport, dport, NULL);
		dump_free(&d);
		if (got == n)
			return 0;
		if (demo_now_ms() > end)
			return -1;
		poll(NULL, 0, 10);
	}
}

/* --- demo-ss -------------------------------------------------------------- */

static const char *demo_ss_path(void)
{
	const char *p = getenv("AFDEMO_DEMO_SS");

	return p && *p ? p : "build/bin/demo-ss";
}

/* demo-ss @args' output (NUL-terminated, malloc'd) and exit status. */
static char *demo_ss(const char *args, int *status)
{
	char cmd[512], *out = NULL;
	size_t len = 0, cap = 0;
	char buf[4096];
	size_t n;
	FILE *p;
	int st;

	snprintf(cmd, sizeof(cmd), "%s %s 2>&1", demo_ss_path(), args);
	fflush(NULL);
	p = popen(cmd, "re");
	if (!p)
		return NULL;
	while ((n = fread(buf, 1, sizeof(buf), p)) > 0) {
		if (len + n + 1 > cap) {
			char *no;

			cap = (len + n + 1) * 2;
			no = realloc(out, cap);
			if (!no)
				break;
			out = no;
		}
		memcpy(out + len, buf, n);
		len += n;
		out[len] = '\0';
	}
	st = pclose(p);
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	if (!out)
		out = strdup("");
	return out;
}

/* Lines of @out containing every one of the NULL-terminated words. */
static int lines_with(const char *out, ...)
{
	const char *line = out, *nl, *w;
	char tmp[1024];
	int n = 0;
	va_list ap;
	bool all;

	while (line && *line) {
		nl = strchr(line, '\n');
		snprintf(tmp, sizeof(tmp), "%.*s",
			 (int)(nl ? nl - line : (long)strlen(line)), line);
		all = true;
		va_start(ap, out);
		while ((w = va_arg(ap, const char *)))
			if (!strstr(tmp, w))
				all = false;
		va_end(ap);
		n += all;
		line = nl ? nl + 1 : NULL;
	}
	return n;
}

#define ASSERT_MODULE() \
	ASSERT_LT(0, af()) TH_LOG("af_demo is not loaded (no %sfamily)", \
				  DEMO_SYSFS_PARAM)

/* --- fixture lo: a private namespace each ---------------------------------- */

FIXTURE(lo) {
	int unused;
};

FIXTURE_SETUP(lo)
{
	ASSERT_MODULE();
	ASSERT_EQ(0, netns_fresh()) TH_LOG("netns: %s", strerror(errno));
	ASSERT_EQ(0, sysctl_set("seqpacket_time_wait_ms", TW_MS));
}

FIXTURE_TEARDOWN(lo)
{
}

/* A fresh namespace lists nothing; the reply is a bare NLMSG_DONE. */
TEST_F_TIMEOUT(lo, empty_namespace, 120)
{
	struct demo_diag_req req = mkreq(0, DEMO_DIAG_ALL_STATES, DEMO_SHOW_ALL);
	struct dump d;

	ASSERT_EQ(0, diag_dump(&req, &d));
	EXPECT_EQ(0, d.n);
	dump_free(&d);
}

TEST_F_TIMEOUT(lo, dgram_bound_and_connected, 120)
{
	struct demo_diag_req req = mkreq(0, DEMO_DIAG_ALL_STATES, DEMO_SHOW_ALL);
	unsigned short p1, p2;
	const struct ent *e;
	uint32_t mem[SK_MEMINFO_VARS];
	socklen_t mlen = sizeof(mem);
	struct sockaddr_demo to;
	struct dump d;
	int a, b;

	a = dg_sock();
	b = dg_sock();
	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	ASSERT_EQ(0, bind_to(a, LO, 0));
	ASSERT_EQ(0, bind_to(b, NULL, 0));
	p1 = port_of(a);
	p2 = port_of(b);
	/* one datagram waits in b, from a */
	demo_addr(&to, LO, p2);
	ASSERT_EQ(5, sendto(a, "hello", 5, 0, (struct sockaddr *)&to, sizeof(to)));
	ASSERT_EQ(POLLIN, wait_ev(b, POLLIN, TMO) & POLLIN);
	ASSERT_EQ(0, connect_to(a, LO, p2));

	ASSERT_EQ(0, diag_dump(&req, &d));
	EXPECT_EQ(2, d.n);

	/* a: connected, on 127.0.0.1 */
	ASSERT_EQ(1, count(&d, DEMOPROTO_DGRAM, TCP_ESTABLISHED, p1, p2, &e));
	EXPECT_EQ(af(), e->m.ddiag_family);
	EXPECT_EQ(SOCK_DGRAM, e->m.ddiag_type);
	EXPECT_EQ(inet_addr(LO), e->m.ddiag_src);
	EXPECT_EQ(inet_addr(LO), e->m.ddiag_dst);
	EXPECT_EQ(ino_of(a), e->m.ddiag_ino);
	EXPECT_EQ(getuid(), e->m.ddiag_uid);
	EXPECT_EQ(cookie_of(a), ent_cookie(e));
	EXPECT_EQ(0, e->m.ddiag_shutdown);
	EXPECT_TRUE(e->has_mem);
	EXPECT_TRUE(e->has_rql);
	/* DEMO_INFO's datagram fields: the one datagram a sent */
	ASSERT_TRUE(e->has_info);
	EXPECT_EQ(TCP_ESTABLISHED, e->info.demoi_state);
	EXPECT_EQ(1, e->info.demoi_msgs_sent);
	EXPECT_EQ(5, e->info.demoi_bytes_sent);
	EXPECT_EQ(0, e->info.demoi_msgs_received);
	EXPECT_EQ(0, e->info.demoi_snd_cwnd);

	/* b: bound to any, unconnected, one datagram queued */
	ASSERT_EQ(1, count(&d, DEMOPROTO_DGRAM, TCP_CLOSE, p2, 0, &e));
	EXPECT_EQ(0, e->m.ddiag_src);
	EXPECT_EQ(0, e->m.ddiag_dst);
	EXPECT_EQ(ino_of(b), e->m.ddiag_ino);
	EXPECT_EQ(cookie_of(b), ent_cookie(e));
	ASSERT_TRUE(e->has_rql);
	EXPECT_LT(0, e->rql.rqueue);
	ASSERT_TRUE(e->has_mem);
	ASSERT_EQ(0, getsockopt(b, SOL_SOCKET, SO_MEMINFO, mem, &mlen));
	EXPECT_EQ(mem[SK_MEMINFO_RCVBUF], e->mem[SK_MEMINFO_RCVBUF]);
	EXPECT_EQ(mem[SK_MEMINFO_RMEM_ALLOC], e->mem[SK_MEMINFO_RMEM_ALLOC]);
	EXPECT_EQ(e->rql.rqueue, e->mem[SK_MEMINFO_RMEM_ALLOC]);
	dump_free(&d);

	/* shutdown is reported; without show bits, no attributes */
	ASSERT_EQ(0, shutdown(a, SHUT_RD));
	req.ddiag_show = 0;
	ASSERT_EQ(0, diag_dump(&req, &d));
	ASSERT_EQ(1, count(&d, DEMOPROTO_DGRAM, TCP_ESTABLISHED, p1, p2, &e));
	EXPECT_EQ(1, e->m.ddiag_shutdown);	/* RCV_SHUTDOWN */
	EXPECT_FALSE(e->has_mem || e->has_rql || e->has_info);
	dump_free(&d);

	/* a closed socket is gone from the next dump */
	close(b);
	ASSERT_EQ(0, diag_dump(&req, &d));
	EXPECT_EQ(1, d.n);
	EXPECT_EQ(0, count(&d, DEMOPROTO_DGRAM, -1, p2, 0, NULL));
	dump_free(&d);
	close(a);
}

TEST_F_TIMEOUT(lo, seqpacket_listener_and_connection, 120)
{
	struct demo_diag_req req = mkreq(0, DEMO_DIAG_ALL_STATES, DEMO_SHOW_ALL);
	socklen_t ilen;
	struct demo_info info;
	const struct ent *e;
	struct dump d;
	struct conn c;
	char b[64];
	int i;

	c.lfd = listener_on(LO, 17);
	ASSERT_LE(0, c.lfd);
	c.lport = port_of(c.lfd);

	ASSERT_EQ(0, diag_dump(&req, &d));
	ASSERT_EQ(1, count(&d, DEMOPROTO_SEQPACKET, TCP_LISTEN, c.lport, 0, &e));
	EXPECT_EQ(SOCK_SEQPACKET, e->m.ddiag_type);
	EXPECT_EQ(ino_of(c.lfd), e->m.ddiag_ino);
	EXPECT_EQ(cookie_of(c.lfd), ent_cookie(e));
	ASSERT_TRUE(e->has_rql);
	EXPECT_EQ(0, e->rql.rqueue);
	EXPECT_EQ(17, e->rql.wqueue);	/* the backlog */
	/* DEMO_INFO's struct, as TCP's for a listener: no connection */
	ASSERT_TRUE(e->has_info);
	EXPECT_EQ(TCP_LISTEN, e->info.demoi_state);
	EXPECT_EQ(0, e->info.demoi_snd_cwnd);
	EXPECT_EQ(0, e->info.demoi_srtt_us);
	dump_free(&d);

	/* a connection waiting for accept() counts in the listener's queue */
	c.cli = sp_sock();
	ASSERT_LE(0, c.cli);
	ASSERT_EQ(0, connect_tmo(c.cli, LO, c.lport, TMO));
	c.cport = port_of(c.cli);
	/* the client may be established before the listener queued its end */
	ASSERT_EQ(POLLIN, wait_ev(c.lfd, POLLIN, TMO) & POLLIN);
	ASSERT_EQ(0, diag_dump(&req, &d));
	ASSERT_EQ(1, count(&d, DEMOPROTO_SEQPACKET, TCP_LISTEN, c.lport, 0, &e));
	EXPECT_EQ(1, e->rql.rqueue);
	dump_free(&d);

	ASSERT_EQ(POLLIN, wait_ev(c.lfd, POLLIN, TMO) & POLLIN);
	c.srv = accept4(c.lfd, NULL, NULL, SOCK_CLOEXEC);
	ASSERT_LE(0, c.srv);
	/* some traffic both ways, for an RTT sample */
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(10, send(c.cli, "0123456789", 10, 0));
		ASSERT_EQ(POLLIN, wait_ev(c.srv, POLLIN, TMO) & POLLIN);
		ASSERT_EQ(10, recv(c.srv, b, sizeof(b), 0));
		ASSERT_EQ(2, send(c.srv, "ok", 2, 0));
		ASSERT_EQ(POLLIN, wait_ev(c.cli, POLLIN, TMO) & POLLIN);
		ASSERT_EQ(2, recv(c.cli, b, sizeof(b), 0));
	}
	/* unread: 3 bytes wait at the server */
	ASSERT_EQ(3, send(c.cli, "abc", 3, 0));
	ASSERT_EQ(POLLIN, wait_ev(c.srv, POLLIN, TMO) & POLLIN);

	ASSERT_EQ(0, diag_dump(&req, &d));
	EXPECT_EQ(3, d.n);
	ASSERT_EQ(1, count(&d, DEMOPROTO_SEQPACKET, TCP_ESTABLISHED, c.cport,
			   c.lport, &e));
	EXPECT_EQ(ino_of(c.cli), e->m.ddiag_ino);
	EXPECT_EQ(cookie_of(c.cli), ent_cookie(e));
	EXPECT_EQ(inet_addr(LO), e->m.ddiag_src);
	EXPECT_EQ(inet_addr(LO), e->m.ddiag_dst);
	ASSERT_TRUE(e->has_info);
	EXPECT_EQ(sizeof(struct demo_info), e->infolen);
	EXPECT_EQ(TCP_ESTABLISHED, e->info.demoi_state);
	EXPECT_LT(0, e->info.demoi_snd_cwnd);
	EXPECT_LT(0, e->info.demoi_snd_mss);
	EXPECT_LT(0, e->info.demoi_srtt_us);
	EXPECT_LT(0, e->info.demoi_rto_us);
	EXPECT_EQ(0, e->info.demoi_retransmits);
	EXPECT_EQ(0, e->info.demoi_ca_state);
	EXPECT_LT(0, e->info.demoi_snd_wnd);
	/* the struct getsockopt(DEMO_INFO) fills, from the same code */
	ilen = sizeof(info);
	ASSERT_EQ(0, getsockopt(c.cli, SOL_DEMO, DEMO_INFO, &info, &ilen));
	EXPECT_EQ(info.demoi_snd_mss, e->info.demoi_snd_mss);
	EXPECT_EQ(info.demoi_msgs_sent, e->info.demoi_msgs_sent);
	EXPECT_EQ(info.demoi_bytes_sent, e->info.demoi_bytes_sent);
	EXPECT_EQ(info.demoi_msgs_received, e->info.demoi_msgs_received);

	ASSERT_EQ(1, count(&d, DEMOPROTO_SEQPACKET, TCP_ESTABLISHED, c.lport,
			   c.cport, &e));
	EXPECT_EQ(ino_of(c.srv), e->m.ddiag_ino);
	EXPECT_EQ(cookie_of(c.srv), ent_cookie(e));
	ASSERT_TRUE(e->has_rql);
	EXPECT_LT(0, e->rql.rqueue);
	ASSERT_TRUE(e->has_info);
	EXPECT_LT(0, e->info.demoi_rcv_wnd);
	dump_free(&d);

	close(c.cli);
	close(c.srv);
	close(c.lfd);
}

TEST_F_TIMEOUT(lo, time_wait, 120)
{
	struct demo_diag_req req = mkreq(0, DEMO_DIAG_ALL_STATES, DEMO_SHOW_ALL);
	const struct ent *e;
	struct dump d;
	struct conn c;

	c.lfd = listener_on(LO, 8);
	ASSERT_LE(0, c.lfd);
	c.lport = port_of(c.lfd);
	ASSERT_EQ(0, conn_open(&c, LO));
	ASSERT_EQ(0, conn_close_tw(&c));
	ASSERT_EQ(0, wait_count(&req, DEMOPROTO_SEQPACKET, TCP_TIME_WAIT,
				c.cport, c.lport, 1, TMO));

	ASSERT_EQ(0, diag_dump(&req, &d));
	ASSERT_EQ(1, count(&d, DEMOPROTO_SEQPACKET, TCP_TIME_WAIT, c.cport,
			   c.lport, &e));
	EXPECT_EQ(af(), e->m.ddiag_family);
	EXPECT_EQ(SOCK_SEQPACKET, e->m.ddiag_type);
	EXPECT_EQ(inet_addr(LO), e->m.ddiag_src);
	EXPECT_EQ(inet_addr(LO), e->m.ddiag_dst);
	EXPECT_EQ(0, e->m.ddiag_ino);
	EXPECT_EQ(0, ent_cookie(e));
	EXPECT_LT(0, e->m.ddiag_expires);
	EXPECT_GE(TW_MS, e->m.ddiag_expires);
	EXPECT_FALSE(e->has_mem || e->has_rql || e->has_info);
	/* the client's socket itself is gone; the listener stays */
	EXPECT_EQ(0, count(&d, DEMOPROTO_SEQPACKET, TCP_ESTABLISHED, c.cport,
			   c.lport, NULL));
	EXPECT_EQ(1, count(&d, DEMOPROTO_SEQPACKET, TCP_LISTEN, c.lport, 0, NULL));
	dump_free(&d);

	/* TIME_WAIT is a state like the others for the filter */
	req.ddiag_states = 1U << TCP_LISTEN;
	ASSERT_EQ(0, diag_dump(&req, &d));
	EXPECT_EQ(1, d.n);
	EXPECT_EQ(0, count(&d, DEMOPROTO_SEQPACKET, TCP_TIME_WAIT, c.cport,
			   c.lport, NULL));
	dump_free(&d);
	req.ddiag_states = 1U << TCP_TIME_WAIT;
	req.sdiag_protocol = DEMOPROTO_DGRAM;
	ASSERT_EQ(0, diag_dump(&req, &d));
	EXPECT_EQ(0, d.n);
	dump_free(&d);
	close(c.lfd);
}

TEST_F_TIMEOUT(lo, filters, 120)
{
	struct demo_diag_req req;
	int dg, dg2, n = 0;
	unsigned short pd, pd2;
	struct dump d;
	struct conn c;

	dg = dg_sock();
	dg2 = dg_sock();
	ASSERT_LE(0, dg);
	ASSERT_LE(0, dg2);
	ASSERT_EQ(0, bind_to(dg, LO, 0));
	ASSERT_EQ(0, bind_to(dg2, LO, 0));
	pd = port_of(dg);
	pd2 = port_of(dg2);
	c.lfd = listener_on(LO, 8);
	ASSERT_LE(0, c.lfd);
	c.lport = port_of(c.lfd);
	ASSERT_EQ(0, conn_open(&c, LO));

	/* everything: 2 datagram, listener, 2 ends */
	req = mkreq(0, DEMO_DIAG_ALL_STATES, 0);
	ASSERT_EQ(0, diag_dump(&req, &d));
	EXPECT_EQ(5, d.n);
	dump_free(&d);

	/* by protocol */
	req.sdiag_protocol = DEMOPROTO_DGRAM;
	ASSERT_EQ(0, diag_dump(&req, &d));
	EXPECT_EQ(2, d.n);
	EXPECT_EQ(2, count(&d, DEMOPROTO_DGRAM, TCP_CLOSE, pd, 0, NULL) +
		     count(&d, DEMOPROTO_DGRAM, TCP_CLOSE, pd2, 0, NULL));
	dump_free(&d);
	req.sdiag_protocol = DEMOPROTO_SEQPACKET;
	ASSERT_EQ(0, diag_dump(&req, &d));
	EXPECT_EQ(3, d.n);
	dump_free(&d);

	/* by state */
	req = mkreq(0, 1U << TCP_LISTEN, 0);
	ASSERT_EQ(0, diag_dump(&req, &d));
	EXPECT_EQ(1, d.n);
	EXPECT_EQ(1, count(&d, DEMOPROTO_SEQPACKET, TCP_LISTEN, c.lport, 0, NULL));
	dump_free(&d);
	req = mkreq(0, 1U << TCP_ESTABLISHED, 0);
	ASSERT_EQ(0, diag_dump(&req, &d));
	EXPECT_EQ(2, d.n);
	dump_free(&d);
	req = mkreq(0, 0, 0);
	ASSERT_EQ(0, diag_dump(&req, &d));
	EXPECT_EQ(0, d.n);
	dump_free(&d);

	/* by local port: the listener and the accepted end share it */
	req = mkreq(0, DEMO_DIAG_ALL_STATES, 0);
	req.ddiag_sport = htons(c.lport);
	ASSERT_EQ(0, diag_dump(&req, &d));
	EXPECT_EQ(2, d.n);
	n = count(&d, DEMOPROTO_SEQPACKET, TCP_LISTEN, c.lport, 0, NULL) +
	    count(&d, DEMOPROTO_SEQPACKET, TCP_ESTABLISHED, c.lport, c.cport, NULL);
	EXPECT_EQ(2, n);
	dump_free(&d);
	req.ddiag_sport = htons(pd);
	ASSERT_EQ(0, diag_dump(&req, &d));
	EXPECT_EQ(1, d.n);
	dump_free(&d);

	/* by remote port: the client only */
	req = mkreq(0, DEMO_DIAG_ALL_STATES, 0);
	req.ddiag_dport = htons(c.lport);
	ASSERT_EQ(0, diag_dump(&req, &d));
	EXPECT_EQ(1, d.n);
	EXPECT_EQ(1, count(&d, DEMOPROTO_SEQPACKET, TCP_ESTABLISHED, c.cport,
			   c.lport, NULL));
	dump_free(&d);

	/* both ports */
	req.ddiag_sport = htons(c.lport);
	req.ddiag_dport = htons(c.cport);
	ASSERT_EQ(0, diag_dump(&req, &d));
	EXPECT_EQ(1, d.n);
	dump_free(&d);

	close(dg);
	close(dg2);
	close(c.cli);
	close(c.srv);
	close(c.lfd);
}

TEST_F_TIMEOUT(lo, bad_requests, 120)
{
	struct demo_diag_req req = mkreq(0, DEMO_DIAG_ALL_STATES, 0);
	struct demo_diag_req r;
	const uint16_t dumpf = NLM_F_REQUEST | NLM_F_DUMP;

	r = req;
	r.sdiag_protocol = DEMOPROTO_MAX;
	EXPECT_EQ(-EINVAL, diag_error(&r, sizeof(r), dumpf));
	r = req;
	r.pad = 1;
	EXPECT_EQ(-EINVAL, diag_error(&r, sizeof(r), dumpf));
	r = req;
	r.ddiag_show = DEMO_SHOW_ALL + 1;
	EXPECT_EQ(-EINVAL, diag_error(&r, sizeof(r), dumpf));
	r = req;
	r.ddiag_reserved[1] = 1;
	EXPECT_EQ(-EINVAL, diag_error(&r, sizeof(r), dumpf));
	/* too short */
	EXPECT_EQ(-EINVAL, diag_error(&req, sizeof(req) - 4, dumpf));
	/* not a dump */
	EXPECT_EQ(-EOPNOTSUPP, diag_error(&req, sizeof(req),
					  NLM_F_REQUEST | NLM_F_ACK));
	/* and a good one still works */
	EXPECT_EQ(0, diag_error(&req, sizeof(req), dumpf));
}

/*
 * 2,000 sockets: the dump takes many messages, and lists each socket once.
 * With SMALL_BUF, the kernel's dump messages stay near that size.
 */
TEST_F_TIMEOUT(lo, large_dump_complete_no_duplicates, 120)
{
	struct demo_diag_req req = mkreq(0, DEMO_DIAG_ALL_STATES, DEMO_SHOW_ALL);
	static unsigned char seen[65536];
	static unsigned short port[NBIG];
	static int fd[NBIG];
	unsigned short p;
	struct dump d;
	int i, dups = 0, missing = 0, stray = 0;

	ASSERT_EQ(0, nofile_at_least(NBIG + 64));
	for (i = 0; i < NBIG; i++) {
		fd[i] = dg_sock();
		ASSERT_LE(0, fd[i]) TH_LOG("socket %d: %s", i, strerror(errno));
		ASSERT_EQ(0, bind_to(fd[i], LO, 0)) TH_LOG("bind %d: %s", i,
							   strerror(errno));
		port[i] = port_of(fd[i]);
	}

	ASSERT_EQ(0, diag_dump_buf(&req, &d, SMALL_BUF));
	EXPECT_EQ(NBIG, d.n);
	EXPECT_LT(1, d.parts) TH_LOG("the dump fit in one message");
	TH_LOG("%zu entries in %d messages", d.n, d.parts);
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < (int)d.n; i++) {
		p = ntohs(d.e[i].m.ddiag_sport);
		if (seen[p]++)
			dups++;
	}
	for (i = 0; i < NBIG; i++)
		if (seen[port[i]] != 1)
			missing += !seen[port[i]];
	for (i = 0; i < NBIG; i++)
		seen[port[i]] = 0;
	for (i = 0; i < 65536; i++)
		stray += !!seen[i];
	EXPECT_EQ(0, dups);
	EXPECT_EQ(0, missing);
	EXPECT_EQ(0, stray);
	dump_free(&d);

	/* the same with a large buffer, fewer messages, same answer */
	ASSERT_EQ(0, diag_dump(&req, &d));
	EXPECT_EQ(NBIG, d.n);
	dump_free(&d);
	for (i = 0; i < NBIG; i++)
		close(fd[i]);
}

/*
 * NBUCKET sockets on ports equal modulo the bind hash's size share one
 * bucket, which does not fit in one message: the dump splits it and still
 * lists each socket once.
 */
TEST_F_TIMEOUT(lo, bucket_larger_than_a_message, 120)
{
	struct demo_diag_req req = mkreq(0, DEMO_DIAG_ALL_STATES, DEMO_SHOW_ALL);
	static unsigned char seen[65536];
	static int fd[NBUCKET];
	unsigned short p;
	struct dump d;
	int i, dups = 0, missing = 0;

	ASSERT_EQ(0, nofile_at_least(NBUCKET + 64));
	for (i = 0; i < NBUCKET; i++) {
		p = 1280 + BIND_BUCKETS * i;
		fd[i] = dg_sock();
		ASSERT_LE(0, fd[i]);
		ASSERT_EQ(0, bind_to(fd[i], LO, p)) TH_LOG("bind %u: %s", p,
							   strerror(errno));
	}
	ASSERT_EQ(0, diag_dump_buf(&req, &d, SMALL_BUF));
	EXPECT_EQ(NBUCKET, d.n);
	EXPECT_LT(1, d.parts);
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < (int)d.n; i++)
		if (seen[ntohs(d.e[i].m.ddiag_sport)]++)
			dups++;
	for (i = 0; i < NBUCKET; i++)
		missing += !seen[1280 + BIND_BUCKETS * i];
	EXPECT_EQ(0, dups);
	EXPECT_EQ(0, missing);
	dump_free(&d);
	for (i = 0; i < NBUCKET; i++)
		close(fd[i]);
}

struct churn {
	volatile bool	stop;
	long		cycles;
};

static void *churn_thread(void *arg)
{
	struct churn *ch = arg;
	int fd[16], i;

	while (!ch->stop) {
		for (i = 0; i < 16; i++) {
			fd[i] = dg_sock();
			if (fd[i] >= 0 && bind_to(fd[i], LO, 0)) {
				close(fd[i]);
				fd[i] = -1;
			}
		}
		for (i = 0; i < 16; i++)
			if (fd[i] >= 0)
				close(fd[i]);
		ch->cycles++;
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Is @c among the @n sorted cookies @v, and how often? */
static int cookie_count(const uint64_t *v, size_t n, uint64_t c)
{
	const uint64_t *p = bsearch(&c, v, n, sizeof(*v), cmp_u64);
	int k = 0;

	if (!p)
		return 0;
	while (p > v && p[-1] == c)
		p--;
	while (p < v + n && *p++ == c)
		k++;
	return k;
}

#define NSTABLE	500

/*
 * Sockets come and go in two threads while dumps run: the sockets that
 * stay are each listed once in every dump, and no socket (by its cookie)
 * twice.
 */
TEST_F_TIMEOUT(lo, dump_under_churn, 120)
{
	struct demo_diag_req req = mkreq(DEMOPROTO_DGRAM, DEMO_DIAG_ALL_STATES,
					 DEMO_SHOW_ALL);
	static uint64_t stable[NSTABLE];
	static int fd[NSTABLE];
	int i, r, bad_stable = 0, dups = 0;
	struct churn ch = {};
	uint64_t *v;
	pthread_t th[2];
	struct dump d;

	ASSERT_EQ(0, nofile_at_least(NSTABLE + 128));
	for (i = 0; i < NSTABLE; i++) {
		fd[i] = dg_sock();
		ASSERT_LE(0, fd[i]);
		ASSERT_EQ(0, bind_to(fd[i], LO, 0));
		stable[i] = cookie_of(fd[i]);
		ASSERT_NE(0, stable[i]);
	}
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, churn_thread, &ch));
	for (r = 0; r < 100; r++) {
		ASSERT_EQ(0, diag_dump_buf(&req, &d, SMALL_BUF));
		v = malloc((d.n + 1) * sizeof(*v));
		ASSERT_TRUE(v);
		for (i = 0; i < (int)d.n; i++)
			v[i] = ent_cookie(&d.e[i]);
		qsort(v, d.n, sizeof(*v), cmp_u64);
		for (i = 1; i < (int)d.n; i++)
			dups += v[i] == v[i - 1];
		for (i = 0; i < NSTABLE; i++)
			bad_stable += cookie_count(v, d.n, stable[i]) != 1;
		free(v);
		dump_free(&d);
	}
	ch.stop = true;
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	TH_LOG("%ld churn cycles during 100 dumps", ch.cycles);
	EXPECT_LT(0, ch.cycles);
	EXPECT_EQ(0, dups);
	EXPECT_EQ(0, bad_stable);
	for (i = 0; i < NSTABLE; i++)
		close(fd[i]);
}

/* A dump lists its own namespace's sockets only. */
TEST_F_TIMEOUT(lo, other_namespace_not_listed, 120)
{
	struct demo_diag_req req = mkreq(0, DEMO_DIAG_ALL_STATES, 0);
	unsigned short pa, pb;
	int a, b, ns_a;
	struct dump d;

	a = dg_sock();
	ASSERT_LE(0, a);
	ASSERT_EQ(0, bind_to(a, LO, 0));
	pa = port_of(a);
	ns_a = ns_save();
	ASSERT_LE(0, ns_a);

	ASSERT_EQ(0, netns_fresh());
	b = dg_sock();
	ASSERT_LE(0, b);
	ASSERT_EQ(0, bind_to(b, LO, pa == 40000 ? 40001 : 40000));
	pb = port_of(b);
	ASSERT_EQ(0, diag_dump(&req, &d));
	EXPECT_EQ(1, d.n);
	EXPECT_EQ(1, count(&d, DEMOPROTO_DGRAM, TCP_CLOSE, pb, 0, NULL));
	EXPECT_EQ(0, count(&d, DEMOPROTO_DGRAM, TCP_CLOSE, pa, 0, NULL));
	dump_free(&d);

	ASSERT_EQ(0, setns(ns_a, CLONE_NEWNET));
	ASSERT_EQ(0, diag_dump(&req, &d));
	EXPECT_EQ(1, d.n);
	EXPECT_EQ(1, count(&d, DEMOPROTO_DGRAM, TCP_CLOSE, pa, 0, NULL));
	EXPECT_EQ(0, count(&d, DEMOPROTO_DGRAM, TCP_CLOSE, pb, 0, NULL));
	dump_free(&d);
	close(ns_a);
	close(a);
	close(b);
}

/* demo-ss lists what the dump has, in ss's manner. */
TEST_F_TIMEOUT(lo, demo_ss_output, 120)
{
	struct demo_diag_req req = mkreq(0, DEMO_DIAG_ALL_STATES, 0);
	char lport[32], cport[32], dport[32], ino[32], sino[32];
	int dg, st, tw_lfd;
	struct conn c, t;
	char *out;

	ASSERT_EQ(0, access(demo_ss_path(), X_OK))
		TH_LOG("%s: %s (make tools)", demo_ss_path(), strerror(errno));
	dg = dg_sock();
	ASSERT_LE(0, dg);
	ASSERT_EQ(0, bind_to(dg, LO, 0));
	c.lfd = listener_on(LO, 8);
	ASSERT_LE(0, c.lfd);
	c.lport = port_of(c.lfd);
	ASSERT_EQ(0, conn_open(&c, LO));
	tw_lfd = listener_on(LO, 8);
	ASSERT_LE(0, tw_lfd);
	t.lfd = tw_lfd;
	t.lport = port_of(tw_lfd);
	ASSERT_EQ(0, conn_open(&t, LO));
	ASSERT_EQ(0, conn_close_tw(&t));
	ASSERT_EQ(0, wait_count(&req, DEMOPROTO_SEQPACKET, TCP_TIME_WAIT,
				t.cport, t.lport, 1, TMO));

	snprintf(lport, sizeof(lport), LO ":%u ", c.lport);
	snprintf(cport, sizeof(cport), LO ":%u ", c.cport);
	snprintf(dport, sizeof(dport), LO ":%u ", port_of(dg));
	snprintf(ino, sizeof(ino), " %u", ino_of(c.cli));
	snprintf(sino, sizeof(sino), " %u", ino_of(c.srv));

	/* -a: everything, with the header */
	out = demo_ss("-an", &st);
	ASSERT_TRUE(out);
	EXPECT_EQ(0, st) TH_LOG("%s", out);
	EXPECT_EQ(1, lines_with(out, "Netid", "State", "Recv-Q", "Send-Q", NULL));
	EXPECT_EQ(1, lines_with(out, "seq", "LISTEN", lport, NULL)) TH_LOG("%s", out);
	EXPECT_EQ(1, lines_with(out, "seq", "ESTAB", cport, lport, ino, NULL))
		TH_LOG("%s", out);
	EXPECT_EQ(1, lines_with(out, "seq", "ESTAB", lport, cport, sino, NULL))
		TH_LOG("%s", out);
	EXPECT_EQ(1, lines_with(out, "dgram", "UNCONN", dport, "*:*", NULL));
	EXPECT_EQ(1, lines_with(out, "seq", "TIME-WAIT", NULL));
	EXPECT_EQ(7, lines_with(out, "", NULL)) TH_LOG("%s", out);
	free(out);

	/* default: connections only */
	out = demo_ss("-nH", &st);
	EXPECT_EQ(0, st);
	EXPECT_EQ(2, lines_with(out, "ESTAB", NULL)) TH_LOG("%s", out);
	EXPECT_EQ(2, lines_with(out, "", NULL)) TH_LOG("%s", out);
	free(out);

	/* -l: the listeners and the unconnected datagram socket */
	out = demo_ss("-lnH", &st);
	EXPECT_EQ(0, st);
	EXPECT_EQ(3, lines_with(out, "", NULL)) TH_LOG("%s", out);
	EXPECT_EQ(2, lines_with(out, "LISTEN", NULL));
	EXPECT_EQ(1, lines_with(out, "UNCONN", NULL));
	free(out);

	/* -t and -d */
	out = demo_ss("-adnH", &st);
	EXPECT_EQ(0, st);
	EXPECT_EQ(1, lines_with(out, "", NULL)) TH_LOG("%s", out);
	EXPECT_EQ(1, lines_with(out, "dgram", NULL));
	free(out);
	out = demo_ss("-atnH", &st);
	EXPECT_EQ(0, st);
	EXPECT_EQ(5, lines_with(out, "seq", NULL)) TH_LOG("%s", out);
	free(out);

	/* -i: the transport's line under each connection */
	out = demo_ss("-tniH", &st);
	EXPECT_EQ(0, st);
	EXPECT_EQ(2, lines_with(out, "cwnd:", "ssthresh:", "rtt:", "retransmits:",
				"bytes_acked:", NULL)) TH_LOG("%s", out);
	free(out);

	/* -m: skmem for each; -o: the TIME_WAIT timer; --sport */
	out = demo_ss("-anmH", &st);
	EXPECT_EQ(0, st);
	EXPECT_EQ(5, lines_with(out, "skmem:(r", NULL)) TH_LOG("%s", out);
	free(out);
	out = demo_ss("-anoH", &st);
	EXPECT_EQ(0, st);
	EXPECT_EQ(1, lines_with(out, "timer:(timewait,", NULL)) TH_LOG("%s", out);
	free(out);
	snprintf(lport, sizeof(lport), "-anH --sport %u", c.lport);
	out = demo_ss(lport, &st);
	EXPECT_EQ(0, st);
	EXPECT_EQ(2, lines_with(out, "", NULL)) TH_LOG("%s", out);
	free(out);

	/* -p: the owner of the client's socket is this process */
	out = demo_ss("-tnpH", &st);
	EXPECT_EQ(0, st);
	snprintf(ino, sizeof(ino), "pid=%d,", getpid());
	EXPECT_EQ(2, lines_with(out, "users:((", ino, NULL)) TH_LOG("%s", out);
	free(out);

	/* bad usage */
	out = demo_ss("--sport 70000", &st);
	EXPECT_EQ(2, st);
	free(out);

	close(dg);
	close(c.cli);
	close(c.srv);
	close(c.lfd);
	close(tw_lfd);
}

/* --- fixture veth: a connection between two namespaces -------------------- */

FIXTURE(veth) {
	int init_ns;
};

static const char *const veth_up[] = {
	"ip netns add " NS_A,
	"ip netns add " NS_B,
	"ip -n " NS_A " link add veth_da type veth peer name veth_db netns " NS_B,
	"ip -n " NS_A " addr add " ADDR_A "/24 dev veth_da",
	"ip -n " NS_B " addr add " ADDR_B "/24 dev veth_db",
	"ip -n " NS_A " link set veth_da up",
	"ip -n " NS_B " link set veth_db up",
	"ip -n " NS_A " link set lo up",
	"ip -n " NS_B " link set lo up",
};

FIXTURE_SETUP(veth)
{
	unsigned int i;

	ASSERT_MODULE();
	self->init_ns = ns_save();
	ASSERT_LE(0, self->init_ns);
	sh("ip netns del " NS_A " 2>/dev/null; ip netns del " NS_B " 2>/dev/null");
	for (i = 0; i < ARRAY_SIZE(veth_up); i++)
		ASSERT_EQ(0, sh("%s", veth_up[i])) TH_LOG("failed: %s", veth_up[i]);
}

FIXTURE_TEARDOWN(veth)
{
	setns(self->init_ns, CLONE_NEWNET);
	sh("ip netns del " NS_A " 2>/dev/null; ip netns del " NS_B " 2>/dev/null");
}

TEST_F_TIMEOUT(veth, each_side_lists_its_end, 180)
{
	struct demo_diag_req req = mkreq(0, DEMO_DIAG_ALL_STATES, DEMO_SHOW_ALL);
	char want[64], want2[64];
	const struct ent *e;
	struct dump d;
	struct conn c;
	char *out;
	int st;

	ASSERT_EQ(0, demo_netns_enter(NS_B));
	ASSERT_EQ(0, sysctl_set("seqpacket_time_wait_ms", TW_MS));
	c.lfd = listener_on(ADDR_B, 8);
	ASSERT_LE(0, c.lfd);
	c.lport = port_of(c.lfd);
	ASSERT_EQ(0, demo_netns_enter(NS_A));
	ASSERT_EQ(0, sysctl_set("seqpacket_time_wait_ms", TW_MS));
	c.cli = sp_sock();
	ASSERT_LE(0, c.cli);
	/* a new veth may drop the first SYN: the SYN retry covers it */
	ASSERT_EQ(0, connect_tmo(c.cli, ADDR_B, c.lport, 10000))
		TH_LOG("connect across the veth: %s", strerror(errno));
	c.cport = port_of(c.cli);
	ASSERT_EQ(POLLIN, wait_ev(c.lfd, POLLIN, TMO) & POLLIN);
	c.srv = accept4(c.lfd, NULL, NULL, SOCK_CLOEXEC);
	ASSERT_LE(0, c.srv);

	/* namespace A: the client only */
	ASSERT_EQ(0, diag_dump(&req, &d));
	EXPECT_EQ(1, d.n);
	ASSERT_EQ(1, count(&d, DEMOPROTO_SEQPACKET, TCP_ESTABLISHED, c.cport,
			   c.lport, &e));
	EXPECT_EQ(inet_addr(ADDR_A), e->m.ddiag_src);
	EXPECT_EQ(inet_addr(ADDR_B), e->m.ddiag_dst);
	EXPECT_EQ(ino_of(c.cli), e->m.ddiag_ino);
	EXPECT_TRUE(e->has_info);
	dump_free(&d);

	/* namespace B: the listener and the accepted end */
	ASSERT_EQ(0, demo_netns_enter(NS_B));
	ASSERT_EQ(0, diag_dump(&req, &d));
	EXPECT_EQ(2, d.n);
	EXPECT_EQ(1, count(&d, DEMOPROTO_SEQPACKET, TCP_LISTEN, c.lport, 0, NULL));
	ASSERT_EQ(1, count(&d, DEMOPROTO_SEQPACKET, TCP_ESTABLISHED, c.lport,
			   c.cport, &e));
	EXPECT_EQ(inet_addr(ADDR_B), e->m.ddiag_src);
	EXPECT_EQ(inet_addr(ADDR_A), e->m.ddiag_dst);
	EXPECT_EQ(ino_of(c.srv), e->m.ddiag_ino);
	EXPECT_EQ(0, count(&d, DEMOPROTO_SEQPACKET, TCP_ESTABLISHED, c.cport,
			   c.lport, NULL));
	dump_free(&d);

	/* demo-ss -N names the namespace, whatever the caller's */
	ASSERT_EQ(0, setns(self->init_ns, CLONE_NEWNET));
	out = demo_ss("-anH -N " NS_A, &st);
	ASSERT_TRUE(out);
	EXPECT_EQ(0, st) TH_LOG("%s", out);
	snprintf(want, sizeof(want), ADDR_A ":%u ", c.cport);
	snprintf(want2, sizeof(want2), ADDR_B ":%u ", c.lport);
	EXPECT_EQ(1, lines_with(out, "ESTAB", want, want2, NULL)) TH_LOG("%s", out);
	EXPECT_EQ(1, lines_with(out, "", NULL)) TH_LOG("%s", out);
	free(out);

	/* the client closes first: TIME_WAIT in A, nothing of it in B */
	ASSERT_EQ(0, conn_close_tw(&c));
	ASSERT_EQ(0, demo_netns_enter(NS_A));
	ASSERT_EQ(0, wait_count(&req, DEMOPROTO_SEQPACKET, TCP_TIME_WAIT,
				c.cport, c.lport, 1, TMO));
	ASSERT_EQ(0, diag_dump(&req, &d));
	EXPECT_EQ(1, d.n);
	ASSERT_EQ(1, count(&d, DEMOPROTO_SEQPACKET, TCP_TIME_WAIT, c.cport,
			   c.lport, &e));
	EXPECT_EQ(inet_addr(ADDR_A), e->m.ddiag_src);
	EXPECT_EQ(inet_addr(ADDR_B), e->m.ddiag_dst);
	dump_free(&d);
	ASSERT_EQ(0, demo_netns_enter(NS_B));
	ASSERT_EQ(0, wait_count(&req, DEMOPROTO_SEQPACKET, -1, c.lport, c.cport,
				0, TMO));
	close(c.lfd);
}

/* --- fixture mod: unloading af_demo around dumps -------------------------- */

static const char *ko;

FIXTURE(mod) {
	int unused;
};

FIXTURE_SETUP(mod)
{
	if (!ko)
		SKIP(return, "AFDEMO_KO (path of af_demo.ko) is not set");
	if (geteuid())
		SKIP(return, "needs root");
	ASSERT_MODULE();
	ASSERT_EQ(0, netns_fresh());
	ASSERT_EQ(0, sysctl_set("seqpacket_time_wait_ms", TW_MS));
}

FIXTURE_TEARDOWN(mod)
{
	/* Leave af_demo loaded, as the runner expects. */
	if (!demo_mod_present("af_demo") && demo_mod_load(ko, ""))
		_metadata->exit_code = KSFT_FAIL;
}

#define NTW	400	/* TIME_WAIT entries: more than one message's worth */

/*
 * TIME_WAIT entries hold neither module nor namespace, so with only them
 * left af_demo is idle; a dump in progress holds it until it is read to
 * the end and its socket closed. Then af_demo unloads, its entries go with
 * it, and the family has no sock_diag handler until it is loaded again.
 */
TEST_F_TIMEOUT(mod, dump_holds_module_until_done, 180)
{
	struct demo_diag_req req = mkreq(0, DEMO_DIAG_ALL_STATES, 0);
	static unsigned char seen[65536];
	int fd, i, ret, dups = 0;
	struct dump d;
	struct conn c;
	long refcnt;

	ASSERT_EQ(0, nofile_at_least(64));
	c.lfd = listener_on(LO, 64);
	ASSERT_LE(0, c.lfd);
	c.lport = port_of(c.lfd);
	/*
	 * Distinct client ports: an ephemeral one could meet a pair still in
	 * TIME_WAIT, which the new connection would take over.
	 */
	for (i = 0; i < NTW; i++) {
		ASSERT_EQ(0, conn_open_from(&c, LO, 20000 + i))
			TH_LOG("connection %d: %s", i, strerror(errno));
		ASSERT_EQ(0, conn_close_tw(&c)) TH_LOG("close %d", i);
	}
	close(c.lfd);
	ASSERT_EQ(0, demo_mod_wait_idle("af_demo"))
		TH_LOG("af_demo still in use with only TIME_WAIT entries");

	/* a dump begun and not read: af_demo is held */
	fd = diag_send(&req, sizeof(req), NLM_F_REQUEST | NLM_F_DUMP);
	ASSERT_LE(0, fd);
	ASSERT_EQ(POLLIN, wait_ev(fd, POLLIN, TMO) & POLLIN);
	ASSERT_EQ(0, demo_mod_long("af_demo", "refcnt", &refcnt));
	EXPECT_LT(0, refcnt);
	ret = demo_mod_unload("af_demo");
	EXPECT_TRUE(ret == -EWOULDBLOCK || ret == -EBUSY)
		TH_LOG("rmmod during a dump: %s", strerror(-ret));
	ASSERT_TRUE(demo_mod_present("af_demo"));

	/* read to the end: every entry once */
	ASSERT_EQ(0, diag_read(fd, &d, SMALL_BUF));
	close(fd);
	EXPECT_EQ(NTW, d.n);
	EXPECT_LT(1, d.parts);
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < (int)d.n; i++) {
		EXPECT_EQ(TCP_TIME_WAIT, d.e[i].m.ddiag_state);
		if (seen[ntohs(d.e[i].m.ddiag_sport)]++)
			dups++;
	}
	EXPECT_EQ(0, dups);
	dump_free(&d);

	/* now af_demo unloads, TIME_WAIT entries and all */
	ASSERT_EQ(0, demo_mod_unload_idle("af_demo"));
	ASSERT_FALSE(demo_mod_present("af_demo"));
	/* no handler: sock_diag answers ENOENT (no alias loads af_demo) */
	EXPECT_EQ(-ENOENT, diag_error(&req, sizeof(req), NLM_F_REQUEST | NLM_F_DUMP));
	EXPECT_FALSE(demo_mod_present("af_demo"));

	/* loaded again: the handler is back, the namespace is empty */
	ASSERT_EQ(0, demo_mod_load(ko, ""));
	req.sdiag_family = demo_family();
	ASSERT_EQ(0, diag_dump(&req, &d));
	EXPECT_EQ(0, d.n);
	dump_free(&d);
}

int main(int argc, char **argv)
{
	ko = getenv("AFDEMO_KO");
	if (ko && !*ko)
		ko = NULL;
	return test_harness_run(argc, argv);
}
