// SPDX-License-Identifier: GPL-2.0
/*
 * AF_DEMO observability (issue #13): DEMO_INFO, the TCP_INFO of a
 * seqpacket socket, and the af_demo tracepoints.
 *
 * Two named namespaces, obs_s (198.18.1.1) and obs_r (198.18.1.2), joined
 * by a veth pair; netem delays each direction by OBS_DELAY_MS, and the
 * sender's direction loses packets where a case asks for it.
 *
 * Cases:
 *   info_errors        DEMO_INFO: bad level, negative length, bad
 *                      pointer; a socket never connected reports CLOSE
 *   info_datagram      a datagram socket's DEMO_INFO: datagrams and bytes
 *                      sent and read (a peek not counted), its state,
 *                      drops as SO_MEMINFO counts them; a raw socket's
 *                      bytes sent include its DEMO header
 *   info_prefix        a shorter buffer gets the prefix of the whole
 *                      struct, a longer one the whole struct, length 0
 *                      nothing; both ends of an idle connection
 *   info_transfer      messages over the path with OBS_LOSS random loss,
 *                      DEMO_INFO read all along: the window, the RTT
 *                      within the path's bounds, bytes acknowledged
 *                      growing; at the end retransmissions counted and
 *                      every byte sent acknowledged once and received
 *   trace_events       the af_demo events in a tracefs instance of their
 *                      own: a handshake (state changes, an RTT sample), a
 *                      retransmission while the path loses everything (a
 *                      tail loss probe, then a timeout and the Loss
 *                      state), a connection refused (a drop for no socket,
 *                      the RST sent and received) and an abort with
 *                      SO_LINGER 0 (RST sent and received); each with its
 *                      addresses, ports and reason. SKIP where the kernel
 *                      has no tracing.
 *
 * Run as root with af_demo loaded; needs ip(8), tc(8) and sch_netem (the
 * cases that use the path SKIP without netem).
 */
#include "demo_lib.h"

#include <pthread.h>
#include <stddef.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <linux/sock_diag.h>

#include "kselftest_harness.h"

#define NS_S		"obs_s"
#define NS_R		"obs_r"
#define DEV_S		"vobs_s"
#define DEV_R		"vobs_r"
#define ADDR_S		"198.18.1.1"
#define ADDR_R		"198.18.1.2"

#define OBS_DELAY_MS	10		/* each way: RTT 20 ms */
#define OBS_RTT_US	(2U * OBS_DELAY_MS * 1000)
/* An emulated guest adds scheduling delay, never takes any away. */
#define OBS_RTT_MIN_US	(OBS_RTT_US * 95 / 100)
#define OBS_RTT_MAX_US	(OBS_RTT_US + 400000)
#define OBS_LOSS	"5%"
#define OBS_MSGS	300		/* info_transfer: messages */
#define OBS_MSG_LEN	4000		/* bytes: three segments each */

#define PORT_INFO	7301
#define PORT_TRACE	7302
#define PORT_REFUSED	7303		/* nothing listens there */
#define PORT_LATE	7304		/* trace_events: data after close */

#define TMO		5000		/* ms */
#define XFER_TMO	60000		/* ms: info_transfer's bound */

#define TRACEFS		"/sys/kernel/tracing"
#define INSTANCE	TRACEFS "/instances/demo_observe"

/* TCP states, as the kernel numbers them (netinet/tcp.h has them too). */
#define ST_ESTABLISHED	1
#define ST_CLOSE	7

/* A socket of namespace @ns. */
static int ns_socket(const char *ns, int type, int proto)
{
	int cur = ns_save(), fd = -1;

	if (cur >= 0 && !demo_netns_enter(ns))
		fd = socket(af(), type | SOCK_CLOEXEC, proto);
	ns_restore(cur);
	return fd;
}

static int seq_socket(const char *ns)
{
	return ns_socket(ns, SOCK_SEQPACKET, DEMOPROTO_SEQPACKET);
}

/* DEMO_INFO of @fd into @info; the length returned, or -1. */
static int get_info(int fd, struct demo_info *info, socklen_t len)
{
	memset(info, 0, sizeof(*info));
	if (getsockopt(fd, SOL_DEMO, DEMO_INFO, info, &len))
		return -1;
	return len;
}

/* A listener on ADDR_R:@port in NS_R, and a connection to it from NS_S. */
static int connect_pair(int port, int *lfd, int *cfd, int *afd)
{
	*lfd = seq_socket(NS_R);
	*cfd = seq_socket(NS_S);
	*afd = -1;
	if (*lfd < 0 || *cfd < 0 || bind_to(*lfd, ADDR_R, port) ||
	    listen(*lfd, 4) || connect_to(*cfd, ADDR_R, port))
		return -1;
	if (wait_ev(*lfd, POLLIN, TMO) <= 0)
		return -1;
	*afd = accept4(*lfd, NULL, NULL, SOCK_CLOEXEC);
	return *afd < 0 ? -1 : 0;
}

/*
 * A message from the accepted end to the client: the client hears from
 * the server, which ends its handshake (it stops re-sending its ACK).
 */
static int server_hello(int cfd, int afd)
{
	char buf[16] = "hello";

	if (send(afd, buf, sizeof(buf), 0) != sizeof(buf) ||
	    wait_ev(cfd, POLLIN, TMO) <= 0 ||
	    recv(cfd, buf, sizeof(buf), 0) != sizeof(buf))
		return -1;
	return 0;
}

/* --- the path ----------------------------------------------------------- */

static const char *const ns_up[] = {
	"ip netns add " NS_S,
	"ip netns add " NS_R,
	"ip -n " NS_S " link add " DEV_S " type veth peer name " DEV_R
		" netns " NS_R,
	"ip -n " NS_S " addr add " ADDR_S "/24 dev " DEV_S,
	"ip -n " NS_R " addr add " ADDR_R "/24 dev " DEV_R,
	"ip -n " NS_S " link set " DEV_S " up",
	"ip -n " NS_R " link set " DEV_R " up",
	"ip -n " NS_S " link set lo up",
	"ip -n " NS_R " link set lo up",
};

/*
 * netem on both egresses, OBS_DELAY_MS each; the sender's (NS_S) also
 * loses @loss ("5%", "100%") if not NULL. 0, or -1 without sch_netem.
 */
static int path_netem(const char *loss)
{
	return sh("tc -n %s qdisc replace dev %s root netem delay %dms limit 10000%s%s && "
		  "tc -n %s qdisc replace dev %s root netem delay %dms limit 10000",
		  NS_S, DEV_S, OBS_DELAY_MS, loss ? " loss random " : "",
		  loss ?: "", NS_R, DEV_R, OBS_DELAY_MS) ? -1 : 0;
}

FIXTURE(obs) {
	int init_ns;
	bool netem;
};

FIXTURE_SETUP(obs)
{
	size_t i;

	ASSERT_LT(0, af()) TH_LOG("af_demo is not loaded (no %sfamily)",
				  DEMO_SYSFS_PARAM);
	self->init_ns = ns_save();
	ASSERT_LE(0, self->init_ns);
	sh("ip netns del " NS_S " 2>/dev/null; ip netns del " NS_R
	   " 2>/dev/null");
	for (i = 0; i < ARRAY_SIZE(ns_up); i++)
		ASSERT_EQ(0, sh("%s", ns_up[i])) TH_LOG("failed: %s", ns_up[i]);
	ASSERT_EQ(0, link_ready(NS_S, DEV_S, TMO));
	ASSERT_EQ(0, link_ready(NS_R, DEV_R, TMO));
	sh("modprobe -q sch_netem 2>/dev/null");
	self->netem = !path_netem(NULL);
}

FIXTURE_TEARDOWN(obs)
{
	setns(self->init_ns, CLONE_NEWNET);
	sh("ip netns del " NS_S " 2>/dev/null; ip netns del " NS_R
	   " 2>/dev/null");
}

/* --- DEMO_INFO ---------------------------------------------------------- */

TEST_F_TIMEOUT(obs, info_errors, 120)
{
	struct demo_info info;
	socklen_t len;
	int fd;

	fd = seq_socket(NS_S);
	ASSERT_LE(0, fd);
	/* Another level does not know DEMO_INFO. */
	len = sizeof(info);
	EXPECT_EQ(-1, getsockopt(fd, SOL_IP, DEMO_INFO, &info, &len));
	EXPECT_EQ(ENOPROTOOPT, errno);
	/* A negative length. */
	len = (socklen_t)-1;
	EXPECT_EQ(-1, getsockopt(fd, SOL_DEMO, DEMO_INFO, &info, &len));
	EXPECT_EQ(EINVAL, errno);
	/* A buffer that is not there. */
	len = sizeof(info);
	EXPECT_EQ(-1, getsockopt(fd, SOL_DEMO, DEMO_INFO, (void *)8, &len));
	EXPECT_EQ(EFAULT, errno);
	/* Never connected: CLOSE, nothing sent. */
	EXPECT_EQ((int)sizeof(info), get_info(fd, &info, sizeof(info)));
	EXPECT_EQ(ST_CLOSE, info.demoi_state);
	EXPECT_EQ(0U, info.demoi_segs_out);
	EXPECT_EQ(0ULL, info.demoi_bytes_sent);
	EXPECT_LT(0U, info.demoi_rcvbuf);
	EXPECT_LT(0U, info.demoi_sndbuf);
	close(fd);
}

/* DEMO_INFO of @fd, or a zeroed struct where getsockopt fails (checked). */
static struct demo_info info_of(int fd)
{
	struct demo_info info;

	if (get_info(fd, &info, sizeof(info)) != (int)sizeof(info))
		memset(&info, 0xff, sizeof(info));	/* no field passes */
	return info;
}

/*
 * Wait (bounded by TMO) until DEMO_INFO of @fd satisfies @cond, an
 * expression of the struct read, named i; 0, or -1 at the deadline.
 */
#define WAIT_INFO(fd, cond) ({						\
	long __end = demo_now_ms() + TMO;				\
	struct demo_info i;						\
	int __ret = -1;							\
									\
	do {								\
		i = info_of(fd);					\
		if (cond) {						\
			__ret = 0;					\
			break;						\
		}							\
		poll(NULL, 0, 10);					\
	} while (demo_now_ms() < __end);				\
	__ret;								\
})

TEST_F_TIMEOUT(obs, info_datagram, 120)
{
	uint32_t mem[SK_MEMINFO_VARS];
	struct sockaddr_demo to;
	struct demo_info ia, ib, ib2;
	socklen_t mlen = sizeof(mem);
	char buf[1000] = "", hdr[14] = "";
	int a, b, r, i;
	long end;

	a = ns_socket(NS_S, SOCK_DGRAM, DEMOPROTO_DGRAM);
	b = ns_socket(NS_S, SOCK_DGRAM, DEMOPROTO_DGRAM);
	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	ASSERT_EQ(0, bind_to(b, ADDR_S, 0));
	ia = info_of(a);
	EXPECT_EQ(ST_CLOSE, ia.demoi_state);
	EXPECT_EQ(0U, ia.demoi_msgs_sent);
	EXPECT_LT(0U, ia.demoi_sndbuf);

	/* 10 + 20 + 30 bytes to b; b peeks at one, then reads two */
	demo_addr(&to, ADDR_S, port_of(b));
	for (i = 1; i <= 3; i++)
		ASSERT_EQ(10 * i, sendto(a, buf, 10 * i, 0,
					 (struct sockaddr *)&to, sizeof(to)));
	ASSERT_EQ(POLLIN, wait_ev(b, POLLIN, TMO) & POLLIN);
	ASSERT_EQ(10, recv(b, buf, sizeof(buf), MSG_PEEK));
	ASSERT_EQ(10, recv(b, buf, sizeof(buf), 0));
	ASSERT_EQ(POLLIN, wait_ev(b, POLLIN, TMO) & POLLIN);
	ASSERT_EQ(20, recv(b, buf, sizeof(buf), 0));
	ia = info_of(a);
	ib = info_of(b);
	EXPECT_EQ(3U, ia.demoi_msgs_sent);
	EXPECT_EQ(60ULL, ia.demoi_bytes_sent);
	EXPECT_EQ(0U, ia.demoi_msgs_received);
	EXPECT_EQ(0U, ib.demoi_msgs_sent);
	EXPECT_EQ(2U, ib.demoi_msgs_received);
	EXPECT_EQ(30ULL, ib.demoi_bytes_received);
	EXPECT_LT(0U, ib.demoi_rmem_alloc);	/* the 30 bytes still queued */
	/* no connection: its fields stay zero */
	EXPECT_EQ(0U, ib.demoi_snd_cwnd);
	EXPECT_EQ(0U, ib.demoi_srtt_us);
	EXPECT_EQ(0U, ib.demoi_segs_out);

	ASSERT_EQ(0, connect_to(a, ADDR_S, port_of(b)));
	EXPECT_EQ(ST_ESTABLISHED, info_of(a).demoi_state);

	/* a receive buffer of one datagram: the rest are drops */
	ASSERT_EQ(0, setopt_int(b, SOL_SOCKET, SO_RCVBUF, 1));
	for (i = 0; i < 64; i++)
		ASSERT_EQ((int)sizeof(buf), send(a, buf, sizeof(buf), 0));
	end = demo_now_ms() + TMO;
	while (!info_of(b).demoi_drops && demo_now_ms() < end)
		poll(NULL, 0, 10);
	ib = info_of(b);
	ASSERT_EQ(0, getsockopt(b, SOL_SOCKET, SO_MEMINFO, mem, &mlen));
	ib2 = info_of(b);
	EXPECT_LT(0U, ib.demoi_drops);
	EXPECT_LE(ib.demoi_drops, mem[SK_MEMINFO_DROPS]);
	EXPECT_GE(ib2.demoi_drops, mem[SK_MEMINFO_DROPS]);
	EXPECT_EQ(67U, info_of(a).demoi_msgs_sent);

	/* a raw socket counts the DEMO header it wrote */
	r = ns_socket(NS_S, SOCK_RAW, DEMOPROTO_DGRAM);
	ASSERT_LE(0, r);
	demo_addr(&to, ADDR_S, 0);
	ASSERT_EQ((int)sizeof(hdr), sendto(r, hdr, sizeof(hdr), 0,
					   (struct sockaddr *)&to, sizeof(to)));
	ia = info_of(r);
	EXPECT_EQ(1U, ia.demoi_msgs_sent);
	EXPECT_EQ(sizeof(hdr), ia.demoi_bytes_sent);
	close(r);
	close(a);
	close(b);
}

TEST_F_TIMEOUT(obs, info_prefix, 120)
{
	struct demo_info full, part;
	int lfd, cfd, afd, i;
	char buf[200], big[sizeof(struct demo_info) + 64];
	socklen_t len;
	const socklen_t plens[] = {
		1, 4, offsetof(struct demo_info, demoi_srtt_us) + 4,
		offsetof(struct demo_info, demoi_bytes_sent),
		sizeof(struct demo_info) - 1,
	};

	ASSERT_EQ(0, connect_pair(PORT_INFO, &lfd, &cfd, &afd));
	ASSERT_EQ(0, server_hello(cfd, afd));
	memset(buf, 'm', sizeof(buf));
	ASSERT_EQ((ssize_t)sizeof(buf), send(cfd, buf, sizeof(buf), 0));
	ASSERT_EQ(POLLIN, wait_ev(afd, POLLIN, TMO) & POLLIN);
	ASSERT_EQ((ssize_t)sizeof(buf), recv(afd, buf, sizeof(buf), 0));
	/* Idle: everything acknowledged, nothing changes any more. */
	poll(NULL, 0, 300);

	ASSERT_EQ((int)sizeof(full), get_info(cfd, &full, sizeof(full)));
	EXPECT_EQ(ST_ESTABLISHED, full.demoi_state);
	EXPECT_EQ(1U, full.demoi_msgs_sent);
	EXPECT_EQ(sizeof(buf), full.demoi_bytes_acked);
	for (i = 0; i < (int)ARRAY_SIZE(plens); i++) {
		memset(&part, 0xa5, sizeof(part));
		len = plens[i];
		ASSERT_EQ(0, getsockopt(cfd, SOL_DEMO, DEMO_INFO, &part, &len));
		EXPECT_EQ(plens[i], len);
		EXPECT_EQ(0, memcmp(&full, &part, len)) TH_LOG("prefix %u", len);
		/* Nothing beyond the length asked for is written. */
		EXPECT_EQ(0xa5, ((unsigned char *)&part)[len]);
	}
	/* A longer buffer: the whole struct, the length says how long. */
	memset(big, 0xa5, sizeof(big));
	len = sizeof(big);
	ASSERT_EQ(0, getsockopt(cfd, SOL_DEMO, DEMO_INFO, big, &len));
	EXPECT_EQ(sizeof(struct demo_info), len);
	EXPECT_EQ(0, memcmp(&full, big, sizeof(full)));
	EXPECT_EQ(0xa5, (unsigned char)big[sizeof(full)]);
	/* Length 0: nothing. */
	len = 0;
	EXPECT_EQ(0, getsockopt(cfd, SOL_DEMO, DEMO_INFO, &part, &len));
	EXPECT_EQ(0U, len);

	/* The receiving end. */
	ASSERT_EQ((int)sizeof(full), get_info(afd, &full, sizeof(full)));
	EXPECT_EQ(ST_ESTABLISHED, full.demoi_state);
	EXPECT_EQ(1U, full.demoi_msgs_received);
	EXPECT_EQ(sizeof(buf), full.demoi_bytes_received);
	EXPECT_LT(0U, full.demoi_rcv_wnd);

	close_abort(cfd);
	close_abort(afd);
	close(lfd);
}

struct xfer {
	int fd;
	long msgs;
	unsigned long long bytes;
	int err;
};

static void *xfer_send(void *arg)
{
	struct xfer *x = arg;
	char buf[OBS_MSG_LEN];
	ssize_t n;

	memset(buf, 's', sizeof(buf));
	while (x->msgs < OBS_MSGS) {
		n = send(x->fd, buf, sizeof(buf), 0);
		if (n != (ssize_t)sizeof(buf)) {
			x->err = n < 0 ? errno : EMSGSIZE;
			break;
		}
		x->msgs++;
		x->bytes += n;
	}
	return NULL;
}

static void *xfer_recv(void *arg)
{
	struct xfer *x = arg;
	char buf[OBS_MSG_LEN + 1];
	ssize_t n;

	while (x->msgs < OBS_MSGS) {
		n = recv(x->fd, buf, sizeof(buf), 0);
		if (n != OBS_MSG_LEN) {
			x->err = n < 0 ? errno : EMSGSIZE;
			break;
		}
		x->msgs++;
		x->bytes += n;
	}
	return NULL;
}

TEST_F_TIMEOUT(obs, info_transfer, 300)
{
	struct xfer s = { 0 }, r = { 0 };
	unsigned long long last_acked = 0;
	struct timeval tv = { .tv_sec = XFER_TMO / 1000 };
	struct demo_info in, rin;
	int lfd, cfd, afd, samples = 0, mid = 0;
	unsigned long long total = (unsigned long long)OBS_MSGS * OBS_MSG_LEN;
	pthread_t ts, tr;
	double end;

	if (!self->netem)
		SKIP(return, "no netem qdisc (sch_netem)");
	ASSERT_EQ(0, connect_pair(PORT_INFO, &lfd, &cfd, &afd));
	ASSERT_EQ(0, path_netem(OBS_LOSS));
	setsockopt(cfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(afd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

	s.fd = cfd;
	r.fd = afd;
	ASSERT_EQ(0, pthread_create(&tr, NULL, xfer_recv, &r));
	ASSERT_EQ(0, pthread_create(&ts, NULL, xfer_send, &s));

	/* Sample the sender while it sends, until all is acknowledged. */
	end = now_ms() + XFER_TMO;
	do {
		ASSERT_EQ((int)sizeof(in), get_info(cfd, &in, sizeof(in)));
		samples++;
		EXPECT_EQ(ST_ESTABLISHED, in.demoi_state);
		EXPECT_LT(0U, in.demoi_snd_cwnd);
		EXPECT_LT(0U, in.demoi_snd_mss);
		EXPECT_LE(last_acked, in.demoi_bytes_acked);
		EXPECT_GE(in.demoi_bytes_sent, in.demoi_bytes_acked);
		EXPECT_LE(in.demoi_in_flight, in.demoi_unacked + in.demoi_retrans);
		if (in.demoi_bytes_acked > 0 && in.demoi_bytes_acked < total)
			mid++;
		last_acked = in.demoi_bytes_acked;
		if (in.demoi_bytes_acked == total && !in.demoi_unacked)
			break;
		poll(NULL, 0, 20);
	} while (now_ms() < end);
	pthread_join(ts, NULL);
	pthread_join(tr, NULL);
	ASSERT_EQ(0, s.err) TH_LOG("send: %s", strerror(s.err));
	ASSERT_EQ(0, r.err) TH_LOG("recv: %s", strerror(r.err));
	ASSERT_EQ(OBS_MSGS, r.msgs);

	ASSERT_EQ((int)sizeof(in), get_info(cfd, &in, sizeof(in)));
	ASSERT_EQ((int)sizeof(rin), get_info(afd, &rin, sizeof(rin)));
	diag("sender: samples %d (%d mid-transfer) cwnd %u ssthresh %u srtt %u us rttvar %u us min %u us rto %u us",
	     samples, mid, in.demoi_snd_cwnd, in.demoi_snd_ssthresh,
	     in.demoi_srtt_us, in.demoi_rttvar_us, in.demoi_rtt_min_us,
	     in.demoi_rto_us);
	diag("sender: sent %llu retrans %llu acked %llu bytes, segs out %u data %u, total_retrans %u",
	     in.demoi_bytes_sent, in.demoi_bytes_retrans,
	     in.demoi_bytes_acked, in.demoi_segs_out,
	     in.demoi_data_segs_out, in.demoi_total_retrans);
	diag("receiver: received %llu bytes, %u messages, segs in %u data %u",
	     rin.demoi_bytes_received, rin.demoi_msgs_received,
	     rin.demoi_segs_in, rin.demoi_data_segs_in);

	/* The values moved while the transfer ran. */
	EXPECT_LT(0, mid);
	/* Every byte acknowledged once; what was sent beyond, again. */
	EXPECT_EQ(total, in.demoi_bytes_acked);
	EXPECT_EQ(total, in.demoi_bytes_sent - in.demoi_bytes_retrans);
	EXPECT_EQ(0U, in.demoi_unacked);
	EXPECT_EQ(0U, in.demoi_sndq_bytes);
	EXPECT_EQ((unsigned int)OBS_MSGS, in.demoi_msgs_sent);
	/* 5% of ~900 segments lost: retransmissions, counted. */
	EXPECT_LT(0U, in.demoi_total_retrans);
	EXPECT_LT(0ULL, in.demoi_bytes_retrans);
	EXPECT_LE(in.demoi_total_retrans, in.demoi_data_segs_out);
	EXPECT_LE(in.demoi_data_segs_out, in.demoi_segs_out);
	EXPECT_LE((unsigned int)OBS_MSGS * 3, in.demoi_data_segs_out);
	/* The RTT within what the path allows. */
	EXPECT_LE(OBS_RTT_MIN_US, in.demoi_rtt_min_us);
	EXPECT_LE(in.demoi_rtt_min_us, in.demoi_srtt_us);
	EXPECT_LE(OBS_RTT_MIN_US, in.demoi_srtt_us);
	EXPECT_GE(OBS_RTT_MAX_US, in.demoi_srtt_us);
	EXPECT_LE(OBS_RTT_MIN_US, in.demoi_rtt_last_us);
	EXPECT_LT(in.demoi_srtt_us, in.demoi_rto_us);
	EXPECT_LT(0U, in.demoi_snd_cwnd);
	EXPECT_LT(0U, in.demoi_snd_wnd);
	/* The receiver got every byte, in every message. */
	EXPECT_EQ(total, rin.demoi_bytes_received);
	EXPECT_EQ((unsigned int)OBS_MSGS, rin.demoi_msgs_received);
	EXPECT_LE((unsigned int)OBS_MSGS * 3, rin.demoi_data_segs_in);
	EXPECT_LE(rin.demoi_data_segs_in, rin.demoi_segs_in);
	EXPECT_EQ(0ULL, rin.demoi_bytes_sent);

	close_abort(cfd);
	close_abort(afd);
	close(lfd);
}

/* --- tracepoints -------------------------------------------------------- */

static const char *const trace_events[] = {
	"demo_seq_state", "demo_seq_retransmit", "demo_seq_cong",
	"demo_seq_rtt", "demo_seq_send_reset", "demo_seq_receive_reset",
	"demo_seq_drop", "demo_drop", "demo_seq_probe",
};

/* tracefs mounted, or mounted now; false where the kernel has none. */
static bool tracefs_ready(void)
{
	struct stat st;

	if (!stat(TRACEFS "/instances", &st))
		return true;
	mount("nodev", TRACEFS, "tracefs", 0, NULL);
	return !stat(TRACEFS "/instances", &st);
}

static int trace_write(const char *file, const char *val)
{
	char path[256];

	snprintf(path, sizeof(path), INSTANCE "/%s", file);
	return demo_write_file(path, val);
}

/* The instance's whole trace, NUL-terminated, malloc()ed; NULL if none. */
static char *trace_read(void)
{
	size_t cap = 1 << 20, len = 0;
	char *buf = malloc(cap);
	ssize_t n;
	int fd;

	fd = open(INSTANCE "/trace", O_RDONLY | O_CLOEXEC);
	if (!buf || fd < 0) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += n;
		if (cap - len < 4096) {
			char *nb = realloc(buf, cap * 2);

			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
	}
	close(fd);
	buf[len] = '\0';
	return buf;
}

/*
 * The number of @event lines of @trace holding every "key=value" of the
 * NULL-terminated @kv, each as a whole word.
 */
static int trace_count(const char *trace, const char *event,
		       const char *const *kv)
{
	char tag[64], word[128];
	const char *line = trace, *next, *p;
	int n = 0, i;

	snprintf(tag, sizeof(tag), " %s: ", event);
	for (; line && *line; line = next) {
		size_t llen;
		char copy[1024];

		next = strchr(line, '\n');
		llen = next ? (size_t)(next - line) : strlen(line);
		if (next)
			next++;
		if (llen >= sizeof(copy))
			continue;
		memcpy(copy, line, llen);
		copy[llen] = '\0';
		if (!strstr(copy, tag))
			continue;
		for (i = 0; kv[i]; i++) {
			snprintf(word, sizeof(word), " %s", kv[i]);
			p = strstr(copy, word);
			if (!p || (p[strlen(word)] && p[strlen(word)] != ' '))
				break;
		}
		if (!kv[i])
			n++;
	}
	return n;
}

#define KV(...)	((const char *const[]){ __VA_ARGS__, NULL })

/* Port @port as "sport=N" or "dport=N". */
static const char *port_kv(char *buf, const char *key, int port)
{
	sprintf(buf, "%s=%d", key, port);
	return buf;
}

static void dump_af_demo(const char *trace)
{
	const char *line = trace, *next;
	int n = 0;

	for (; line && *line && n < 60; line = next) {
		next = strchr(line, '\n');
		if (strstr(line, " demo_") &&
		    (!next || strstr(line, " demo_") < next)) {
			fprintf(stderr, "# %.*s\n",
				next ? (int)(next - line) : (int)strlen(line),
				line);
			n++;
		}
		if (next)
			next++;
	}
}

TEST_F_TIMEOUT(obs, trace_events, 300)
{
	char cport[32], cport_d[32], sp[32], dp[32], msg[100];
	struct sockaddr_demo sa;
	int lfd, cfd, afd, rfd, l2, c2, a2, i, ok;
	char *trace;
	char path[256];

	if (!tracefs_ready())
		SKIP(return, "no tracefs (a kernel without tracing)");
	if (!self->netem)
		SKIP(return, "no netem qdisc (sch_netem)");
	rmdir(INSTANCE);
	ASSERT_EQ(0, mkdir(INSTANCE, 0755)) TH_LOG("%s: %s", INSTANCE,
						   strerror(errno));
	snprintf(path, sizeof(path), INSTANCE "/events/af_demo");
	ok = !access(path, F_OK);
	EXPECT_TRUE(ok) TH_LOG("no af_demo events in %s", INSTANCE);
	if (!ok)
		goto out_rmdir;
	trace_write("buffer_size_kb", "4096");
	for (i = 0; i < (int)ARRAY_SIZE(trace_events); i++) {
		snprintf(path, sizeof(path), "events/af_demo/%s/enable",
			 trace_events[i]);
		EXPECT_EQ(0, trace_write(path, "1")) TH_LOG("%s", path);
	}
	EXPECT_EQ(0, trace_write("tracing_on", "1"));

	/* A handshake, on a path of 20 ms. */
	ASSERT_EQ(0, connect_pair(PORT_TRACE, &lfd, &cfd, &afd));
	ASSERT_EQ(0, server_hello(cfd, afd));
	ASSERT_EQ(0, sock_name(cfd, &sa, false));
	/* The hello acknowledged before the path goes dark. */
	ASSERT_EQ(0, WAIT_INFO(afd, i.demoi_unacked == 0));
	port_kv(cport, "sport", ntohs(sa.sdemo_port));
	port_kv(cport_d, "dport", ntohs(sa.sdemo_port));
	port_kv(sp, "sport", PORT_TRACE);
	port_kv(dp, "dport", PORT_TRACE);

	/* Everything the client sends is lost for 2 s: TLP, then RTO. */
	ASSERT_EQ(0, path_netem("100%"));
	memset(msg, 'r', sizeof(msg));
	ASSERT_EQ((ssize_t)sizeof(msg), send(cfd, msg, sizeof(msg), 0));
	poll(NULL, 0, 2000);
	ASSERT_EQ(0, path_netem(NULL));
	ASSERT_EQ(POLLIN, wait_ev(afd, POLLIN, 3 * TMO) & POLLIN);
	ASSERT_EQ((ssize_t)sizeof(msg), recv(afd, msg, sizeof(msg), 0));

	/* Refused: nothing listens on PORT_REFUSED. */
	rfd = seq_socket(NS_S);
	ASSERT_LE(0, rfd);
	EXPECT_EQ(-1, connect_to(rfd, ADDR_R, PORT_REFUSED));
	EXPECT_EQ(ECONNREFUSED, errno);
	close(rfd);

	/*
	 * Data for a server that closed, sent after its FIN: dropped, and a
	 * reset tells the client (TCP's abort on data).
	 */
	ASSERT_EQ(0, connect_pair(PORT_LATE, &l2, &c2, &a2));
	ASSERT_EQ(0, server_hello(c2, a2));
	close(a2);
	ASSERT_EQ(POLLIN, wait_ev(c2, POLLIN, TMO) & POLLIN);
	ASSERT_EQ(0, recv(c2, msg, sizeof(msg), 0));	/* the FIN */
	ASSERT_EQ((ssize_t)sizeof(msg), send(c2, msg, sizeof(msg), 0));
	EXPECT_EQ(0, WAIT_INFO(c2, i.demoi_state == ST_CLOSE));
	EXPECT_EQ(EPIPE, so_error(c2));	/* a reset in CLOSE_WAIT, as TCP */
	close(c2);
	close(l2);

	/* An abort: the client resets, the server hears it. */
	ASSERT_EQ(0, WAIT_INFO(cfd, i.demoi_unacked == 0));
	close_abort(cfd);
	EXPECT_NE(0, wait_ev(afd, POLLIN | POLLERR, TMO));
	EXPECT_EQ(0, WAIT_INFO(afd, i.demoi_state == ST_CLOSE));
	trace_write("tracing_on", "0");

	trace = trace_read();
	ASSERT_NE(NULL, trace);

	/* The handshake: the client, then the accepted connection. */
	EXPECT_EQ(1, trace_count(trace, "demo_seq_state",
				 KV(cport, dp, "saddr=" ADDR_S, "daddr=" ADDR_R,
				    "oldstate=TCP_CLOSE",
				    "newstate=TCP_SYN_SENT")));
	EXPECT_EQ(1, trace_count(trace, "demo_seq_state",
				 KV(cport, dp, "oldstate=TCP_SYN_SENT",
				    "newstate=TCP_ESTABLISHED")));
	EXPECT_EQ(1, trace_count(trace, "demo_seq_state",
				 KV(sp, cport_d, "saddr=" ADDR_R,
				    "daddr=" ADDR_S, "oldstate=TCP_LISTEN",
				    "newstate=TCP_ESTABLISHED")));
	/* An RTT sample from the SYN-ACK; an ACK of the client's data. */
	EXPECT_LE(1, trace_count(trace, "demo_seq_rtt", KV(cport, dp)));
	EXPECT_LE(1, trace_count(trace, "demo_seq_probe",
				 KV(cport, dp, "saddr=" ADDR_S, "ca=DEMO_CA_OPEN")));

	/* The lost message: a tail loss probe, then timeouts. */
	EXPECT_LE(1, trace_count(trace, "demo_seq_retransmit",
				 KV(cport, dp, "state=TCP_ESTABLISHED",
				    "reason=DEMO_RTX_TLP")));
	EXPECT_LE(1, trace_count(trace, "demo_seq_retransmit",
				 KV(cport, dp, "state=TCP_ESTABLISHED",
				    "reason=DEMO_RTX_TIMEOUT")));
	EXPECT_LE(1, trace_count(trace, "demo_seq_cong",
				 KV(cport, dp, "old=DEMO_CA_OPEN",
				    "new=DEMO_CA_LOSS", "cwnd=1")));
	EXPECT_LE(1, trace_count(trace, "demo_seq_cong",
				 KV(cport, dp, "old=DEMO_CA_LOSS",
				    "new=DEMO_CA_OPEN")));

	/* The refused connection: dropped for no socket, reset both ways. */
	port_kv(dp, "dport", PORT_REFUSED);
	EXPECT_LE(1, trace_count(trace, "demo_drop",
				 KV(dp, "saddr=" ADDR_S, "daddr=" ADDR_R,
				    "reason=DEMO_MIB_NOPORTS")));
	port_kv(sp, "sport", PORT_REFUSED);
	EXPECT_LE(1, trace_count(trace, "demo_seq_send_reset",
				 KV(sp, "saddr=" ADDR_R, "daddr=" ADDR_S,
				    "reason=DEMO_RST_NO_SOCKET")));
	EXPECT_LE(1, trace_count(trace, "demo_seq_receive_reset",
				 KV(dp, "state=TCP_SYN_SENT")));

	/* Data after close: dropped by the closed end, which resets. */
	port_kv(sp, "sport", PORT_LATE);
	EXPECT_EQ(1, trace_count(trace, "demo_seq_drop",
				 KV(sp, "saddr=" ADDR_R,
				    "reason=DEMO_DROP_CLOSED")));
	EXPECT_EQ(1, trace_count(trace, "demo_seq_send_reset",
				 KV(sp, "saddr=" ADDR_R,
				    "reason=DEMO_RST_DATA_AFTER_CLOSE")));

	/* The abort. */
	port_kv(dp, "dport", PORT_TRACE);
	port_kv(sp, "sport", PORT_TRACE);
	EXPECT_EQ(1, trace_count(trace, "demo_seq_send_reset",
				 KV(cport, dp, "saddr=" ADDR_S,
				    "state=TCP_ESTABLISHED",
				    "reason=DEMO_RST_LINGER_ZERO")));
	EXPECT_EQ(1, trace_count(trace, "demo_seq_receive_reset",
				 KV(sp, cport_d, "state=TCP_ESTABLISHED")));
	EXPECT_EQ(1, trace_count(trace, "demo_seq_state",
				 KV(sp, cport_d, "oldstate=TCP_ESTABLISHED",
				    "newstate=TCP_CLOSE")));
	if (_metadata->exit_code)
		dump_af_demo(trace);
	free(trace);

	close(afd);
	close(lfd);
out_rmdir:
	trace_write("events/af_demo/enable", "0");
	EXPECT_EQ(0, rmdir(INSTANCE)) TH_LOG("rmdir: %s", strerror(errno));
}

TEST_HARNESS_MAIN
