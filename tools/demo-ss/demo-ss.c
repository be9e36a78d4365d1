// SPDX-License-Identifier: GPL-2.0
/*
 * demo-ss: list AF_DEMO sockets, as ss(8) lists TCP and UDP ones, through
 * the af_demo module's sock_diag interface (<linux/af_demo_diag.h>).
 *
 * The family number is the module's parameter, read from
 * /sys/module/af_demo/parameters/family. See man/demo-ss.8.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/af_demo.h>
#include <linux/af_demo_diag.h>

#define FAMILY_PARAM	"/sys/module/af_demo/parameters/family"
#define RCVBUF		(64 * 1024)

/* TCP states, as net/tcp_states.h numbers them. */
enum {
	ST_ESTABLISHED = 1, ST_SYN_SENT, ST_SYN_RECV, ST_FIN_WAIT1,
	ST_FIN_WAIT2, ST_TIME_WAIT, ST_CLOSE, ST_CLOSE_WAIT, ST_LAST_ACK,
	ST_LISTEN, ST_CLOSING, ST_MAX
};

static const char *const state_names[ST_MAX] = {
	[ST_ESTABLISHED]	= "ESTAB",
	[ST_SYN_SENT]		= "SYN-SENT",
	[ST_SYN_RECV]		= "SYN-RECV",
	[ST_FIN_WAIT1]		= "FIN-WAIT-1",
	[ST_FIN_WAIT2]		= "FIN-WAIT-2",
	[ST_TIME_WAIT]		= "TIME-WAIT",
	[ST_CLOSE]		= "UNCONN",
	[ST_CLOSE_WAIT]		= "CLOSE-WAIT",
	[ST_LAST_ACK]		= "LAST-ACK",
	[ST_LISTEN]		= "LISTEN",
	[ST_CLOSING]		= "CLOSING",
};

static const char *const ca_names[] = { "open", "recovery", "loss" };

struct opts {
	int	family;
	int	protocol;	/* DEMOPROTO_ANY: both */
	uint32_t states;
	bool	numeric;
	bool	info;
	bool	mem;
	bool	timers;
	bool	procs;
	bool	no_header;
	uint16_t sport;		/* host order, 0: any */
	uint16_t dport;
};

/* inode -> "users:((\"comm\",pid=N,fd=N),...)" for -p */
struct owner {
	uint32_t	ino;
	char		*users;
};

static struct owner *owners;
static size_t nowners;

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: demo-ss [options]\n"
		"  -a, --all          all sockets (default: connections only)\n"
		"  -l, --listening    listening and unconnected sockets only\n"
		"  -t, --seqpacket    DEMOPROTO_SEQPACKET sockets only\n"
		"  -d, -u, --dgram    DEMOPROTO_DGRAM sockets only\n"
		"  -n, --numeric      do not resolve host names\n"
		"  -i, --info         the transport's state of connections\n"
		"  -m, --memory       socket memory (skmem)\n"
		"  -o, --options      timers\n"
		"  -p, --processes    the processes holding each socket\n"
		"  -H, --no-header    no header line\n"
		"  -N, --net NAME     in network namespace NAME (ip netns)\n"
		"  -F, --family NUM   the family number (default: " FAMILY_PARAM ")\n"
		"      --sport PORT   local port PORT only\n"
		"      --dport PORT   remote port PORT only\n"
		"  -h, --help\n");
}

static int read_family(void)
{
	char buf[32];
	FILE *f = fopen(FAMILY_PARAM, "re");
	int fam = -1;

	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		fam = atoi(buf);
	fclose(f);
	return fam;
}

static int parse_port(const char *s, uint16_t *port)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > 65535)
		return -1;
	*port = v;
	return 0;
}

static int enter_netns(const char *name)
{
	char path[PATH_MAX];
	int fd, ret;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ret = setns(fd, CLONE_NEWNET);
	close(fd);
	return ret;
}

/* --- -p: socket inodes of every process's descriptors -------------------- */

static void owner_add(uint32_t ino, const char *comm, int pid, int fd)
{
	char entry[128], *users;
	size_t i;

	snprintf(entry, sizeof(entry), "(\"%s\",pid=%d,fd=%d)", comm, pid, fd);
	for (i = 0; i < nowners; i++) {
		if (owners[i].ino != ino)
			continue;
		if (asprintf(&users, "%s,%s", owners[i].users, entry) < 0)
			return;
		free(owners[i].users);
		owners[i].users = users;
		return;
	}
	users = strdup(entry);
	if (!users)
		return;
	owners = realloc(owners, (nowners + 1) * sizeof(*owners));
	if (!owners) {
		free(users);
		nowners = 0;
		return;
	}
	owners[nowners].ino = ino;
	owners[nowners++].users = users;
}

static void scan_procs(void)
{
	char path[PATH_MAX], link[64], comm[64];
	struct dirent *p, *d;
	DIR *proc, *fds;
	unsigned long ino;
	ssize_t n;
	FILE *f;

	proc = opendir("/proc");
	if (!proc)
		return;
	while ((p = readdir(proc))) {
		if (!isdigit((unsigned char)p->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", p->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = '\0';
		fclose(f);
		comm[strcspn(comm, "\n")] = '\0';
		snprintf(path, sizeof(path), "/proc/%s/fd", p->d_name);
		fds = opendir(path);
		if (!fds)
			continue;
		while ((d = readdir(fds))) {
			snprintf(path, sizeof(path), "/proc/%s/fd/%s",
				 p->d_name, d->d_name);
			n = readlink(path, link, sizeof(link) - 1);
			if (n <= 0)
				continue;
			link[n] = '\0';
			if (sscanf(link, "socket:[%lu]", &ino) == 1)
				owner_add(ino, comm, atoi(p->d_name),
					  atoi(d->d_name));
		}
		closedir(fds);
	}
	closedir(proc);
}

static const char *owner_of(uint32_t ino)
{
	size_t i;

	for (i = 0; ino && i < nowners; i++)
		if (owners[i].ino == ino)
			return owners[i].users;
	return NULL;
}

/* --- output -------------------------------------------------------------- */

static void fmt_endpoint(char *buf, size_t len, uint32_t addr, uint16_t port,
			 bool peer, bool numeric)
{
	char host[NI_MAXHOST];
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = addr,
	};

	if (!addr) {
		strcpy(host, "*");
	} else if (numeric ||
		   getnameinfo((struct sockaddr *)&sin, sizeof(sin), host,
			       sizeof(host), NULL, 0, NI_NAMEREQD)) {
		inet_ntop(AF_INET, &sin.sin_addr, host, sizeof(host));
	}
	if (!port && (peer || !addr))
		snprintf(buf, len, "%s:*", host);
	else
		snprintf(buf, len, "%s:%u", host, port);
}

static void print_header(const struct opts *o)
{
	printf("%-6s %-10s %6s %6s %-21s %-21s %6s %8s%s\n", "Netid", "State",
	       "Recv-Q", "Send-Q", "Local Address:Port", "Peer Address:Port",
	       "UID", "Inode", o->procs ? " Process" : "");
}

static void print_msg(const struct opts *o, const struct demo_diag_msg *r,
		      const struct nlattr *attrs[])
{
	const struct demo_diag_rqlen *rql = NULL;
	char local[NI_MAXHOST + 8], peer[NI_MAXHOST + 8];
	const char *users;

	if (attrs[DEMO_DIAG_RQLEN] &&
	    attrs[DEMO_DIAG_RQLEN]->nla_len >= NLA_HDRLEN + sizeof(*rql))
		rql = (const void *)((const char *)attrs[DEMO_DIAG_RQLEN] +
				     NLA_HDRLEN);
	fmt_endpoint(local, sizeof(local), r->ddiag_src, ntohs(r->ddiag_sport),
		     false, o->numeric);
	fmt_endpoint(peer, sizeof(peer), r->ddiag_dst, ntohs(r->ddiag_dport),
		     true, o->numeric);
	printf("%-6s %-10s %6u %6u %-21s %-21s %6u %8u",
	       r->ddiag_protocol == DEMOPROTO_SEQPACKET ? "seq" :
	       r->ddiag_protocol == DEMOPROTO_DGRAM ? "dgram" : "?",
	       r->ddiag_state < ST_MAX && state_names[r->ddiag_state] ?
	       state_names[r->ddiag_state] : "UNKNOWN",
	       rql ? rql->rqueue : 0, rql ? rql->wqueue : 0, local, peer,
	       r->ddiag_uid, r->ddiag_ino);
	users = o->procs ? owner_of(r->ddiag_ino) : NULL;
	if (users)
		printf(" users:(%s)", users);
	printf("\n");

	if (o->timers && r->ddiag_expires)
		printf("\t timer:(%s,%ums)\n",
		       r->ddiag_state == ST_TIME_WAIT ? "timewait" : "on",
		       r->ddiag_expires);
	if (o->mem && attrs[DEMO_DIAG_MEMINFO] &&
	    attrs[DEMO_DIAG_MEMINFO]->nla_len >=
	    NLA_HDRLEN + SK_MEMINFO_VARS * sizeof(uint32_t)) {
		const uint32_t *m = (const void *)
			((const char *)attrs[DEMO_DIAG_MEMINFO] + NLA_HDRLEN);

		printf("\t skmem:(r%u,rb%u,t%u,tb%u,f%u,w%u,o%u,bl%u,d%u)\n",
		       m[SK_MEMINFO_RMEM_ALLOC], m[SK_MEMINFO_RCVBUF],
		       m[SK_MEMINFO_WMEM_ALLOC], m[SK_MEMINFO_SNDBUF],
		       m[SK_MEMINFO_FWD_ALLOC], m[SK_MEMINFO_WMEM_QUEUED],
		       m[SK_MEMINFO_OPTMEM], m[SK_MEMINFO_BACKLOG],
		       m[SK_MEMINFO_DROPS]);
	}
	if (o->info && attrs[DEMO_DIAG_INFO] && r->ddiag_state != ST_LISTEN) {
		struct demo_info si = {};
		size_t len = attrs[DEMO_DIAG_INFO]->nla_len - NLA_HDRLEN;

		/* Shorter from an older module, longer from a newer one. */
		memcpy(&si, (const char *)attrs[DEMO_DIAG_INFO] + NLA_HDRLEN,
		       len < sizeof(si) ? len : sizeof(si));
		if (r->ddiag_type != SOCK_SEQPACKET) {
			printf("\t msgs_sent:%u bytes_sent:%llu msgs_received:%u bytes_received:%llu drops:%u\n",
			       si.demoi_msgs_sent,
			       (unsigned long long)si.demoi_bytes_sent,
			       si.demoi_msgs_received,
			       (unsigned long long)si.demoi_bytes_received,
			       si.demoi_drops);
			return;
		}
		printf("\t ca:%s cwnd:%u ssthresh:%u rtt:%u.%03u/%u.%03u rto:%u mss:%u unacked:%u sacked:%u lost:%u retrans:%u in_flight:%u retransmits:%u snd_wnd:%u rcv_wnd:%u",
		       si.demoi_ca_state < 3 ? ca_names[si.demoi_ca_state] : "?",
		       si.demoi_snd_cwnd, si.demoi_snd_ssthresh,
		       si.demoi_srtt_us / 1000, si.demoi_srtt_us % 1000,
		       si.demoi_rttvar_us / 1000, si.demoi_rttvar_us % 1000,
		       si.demoi_rto_us / 1000, si.demoi_snd_mss,
		       si.demoi_unacked, si.demoi_sacked, si.demoi_lost,
		       si.demoi_retrans, si.demoi_in_flight,
		       si.demoi_retransmits, si.demoi_snd_wnd, si.demoi_rcv_wnd);
		printf(" bytes_sent:%llu bytes_retrans:%llu bytes_acked:%llu bytes_received:%llu segs_out:%u segs_in:%u msgs_sent:%u msgs_received:%u\n",
		       (unsigned long long)si.demoi_bytes_sent,
		       (unsigned long long)si.demoi_bytes_retrans,
		       (unsigned long long)si.demoi_bytes_acked,
		       (unsigned long long)si.demoi_bytes_received,
		       si.demoi_segs_out, si.demoi_segs_in,
		       si.demoi_msgs_sent, si.demoi_msgs_received);
	}
}

/* --- the dump ------------------------------------------------------------ */

static int send_request(int fd, const struct opts *o)
{
	struct {
		struct nlmsghdr		nlh;
		struct demo_diag_req	req;
	} msg = {
		.nlh = {
			.nlmsg_len	= sizeof(msg),
			.nlmsg_type	= SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags	= NLM_F_REQUEST | NLM_F_DUMP,
			.nlmsg_seq	= 1,
		},
		.req = {
			.sdiag_family	= o->family,
			.sdiag_protocol	= o->protocol,
			.ddiag_states	= o->states,
			.ddiag_show	= DEMO_SHOW_RQLEN |
					  (o->mem ? DEMO_SHOW_MEMINFO : 0) |
					  (o->info ? DEMO_SHOW_INFO : 0),
			.ddiag_sport	= htons(o->sport),
			.ddiag_dport	= htons(o->dport),
		},
	};
	struct sockaddr_nl nl = { .nl_family = AF_NETLINK };

	return sendto(fd, &msg, sizeof(msg), 0, (struct sockaddr *)&nl,
		      sizeof(nl)) == sizeof(msg) ? 0 : -1;
}

static void parse_attrs(const struct nlmsghdr *h, const struct nlattr *attrs[])
{
	const struct nlattr *a;
	int rem;

	memset(attrs, 0, (DEMO_DIAG_MAX + 1) * sizeof(*attrs));
	a = (const void *)((const char *)NLMSG_DATA(h) +
			   NLMSG_ALIGN(sizeof(struct demo_diag_msg)));
	rem = h->nlmsg_len - NLMSG_LENGTH(NLMSG_ALIGN(sizeof(struct demo_diag_msg)));
	while (rem >= (int)sizeof(*a) && a->nla_len >= sizeof(*a) &&
	       a->nla_len <= rem) {
		if (a->nla_type <= DEMO_DIAG_MAX)
			attrs[a->nla_type] = a;
		rem -= NLA_ALIGN(a->nla_len);
		a = (const void *)((const char *)a + NLA_ALIGN(a->nla_len));
	}
}

static int dump(int fd, const struct opts *o)
{
	const struct nlattr *attrs[DEMO_DIAG_MAX + 1];
	static char buf[RCVBUF];
	struct nlmsghdr *h;
	ssize_t n;
	int len;

	for (;;) {
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("demo-ss: recv");
			return -1;
		}
		if (n == 0) {
			fprintf(stderr, "demo-ss: unexpected end of dump\n");
			return -1;
		}
		len = n;
		for (h = (void *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);

				errno = -e->error;
				if (errno == ENOENT)
					fprintf(stderr, "demo-ss: family %d has no sock_diag handler (is af_demo loaded with it?)\n",
						o->family);
				else
					perror("demo-ss: dump");
				return -1;
			}
			if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
			    h->nlmsg_len < NLMSG_LENGTH(sizeof(struct demo_diag_msg)))
				continue;
			parse_attrs(h, attrs);
			print_msg(o, NLMSG_DATA(h), attrs);
		}
	}
}

int main(int argc, char **argv)
{
	enum { OPT_SPORT = 256, OPT_DPORT };
	static const struct option longopts[] = {
		{ "all",	no_argument,		NULL, 'a' },
		{ "listening",	no_argument,		NULL, 'l' },
		{ "seqpacket",	no_argument,		NULL, 't' },
		{ "dgram",	no_argument,		NULL, 'd' },
		{ "numeric",	no_argument,		NULL, 'n' },
		{ "info",	no_argument,		NULL, 'i' },
		{ "memory",	no_argument,		NULL, 'm' },
		{ "options",	no_argument,		NULL, 'o' },
		{ "processes",	no_argument,		NULL, 'p' },
		{ "no-header",	no_argument,		NULL, 'H' },
		{ "net",	required_argument,	NULL, 'N' },
		{ "family",	required_argument,	NULL, 'F' },
		{ "sport",	required_argument,	NULL, OPT_SPORT },
		{ "dport",	required_argument,	NULL, OPT_DPORT },
		{ "help",	no_argument,		NULL, 'h' },
		{ }
	};
	struct opts o = { .family = -1, .protocol = DEMOPROTO_ANY };
	bool all = false, listening = false, seq = false, dgram = false;
	const char *netns = NULL;
	int c, fd, ret;

	while ((c = getopt_long(argc, argv, "altdunimopHN:F:h", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'a':
			all = true;
			break;
		case 'l':
			listening = true;
			break;
		case 't':
			seq = true;
			break;
		case 'd':
		case 'u':
			dgram = true;
			break;
		case 'n':
			o.numeric = true;
			break;
		case 'i':
			o.info = true;
			break;
		case 'm':
			o.mem = true;
			break;
		case 'o':
			o.timers = true;
			break;
		case 'p':
			o.procs = true;
			break;
		case 'H':
			o.no_header = true;
			break;
		case 'N':
			netns = optarg;
			break;
		case 'F':
			o.family = atoi(optarg);
			break;
		case OPT_SPORT:
		case OPT_DPORT:
			if (parse_port(optarg, c == OPT_SPORT ? &o.sport : &o.dport)) {
				fprintf(stderr, "demo-ss: bad port %s\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}

	if (o.family < 0)
		o.family = read_family();
	if (o.family <= 0 || o.family > 255) {
		fprintf(stderr, "demo-ss: cannot read %s: is af_demo loaded?\n",
			FAMILY_PARAM);
		return 1;
	}
	/* -t and -d together are both, as neither. */
	if (seq != dgram)
		o.protocol = seq ? DEMOPROTO_SEQPACKET : DEMOPROTO_DGRAM;
	/* As ss: connections by default; -l listeners and unconnected. */
	if (all)
		o.states = DEMO_DIAG_ALL_STATES;
	else if (listening)
		o.states = 1U << ST_LISTEN | 1U << ST_CLOSE;
	else
		o.states = DEMO_DIAG_ALL_STATES &
			   ~(1U << ST_LISTEN | 1U << ST_CLOSE | 1U << ST_TIME_WAIT |
			     1U << ST_SYN_RECV);

	if (netns && enter_netns(netns)) {
		fprintf(stderr, "demo-ss: network namespace %s: %s\n", netns,
			strerror(errno));
		return 1;
	}
	if (o.procs)
		scan_procs();

	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0) {
		perror("demo-ss: socket(AF_NETLINK)");
		return 1;
	}
	if (send_request(fd, &o)) {
		perror("demo-ss: send");
		close(fd);
		return 1;
	}
	if (!o.no_header)
		print_header(&o);
	ret = dump(fd, &o);
	close(fd);
	if (fflush(stdout) == EOF)
		ret = -1;
	return ret ? 1 : 0;
}
