/* SPDX-License-Identifier: GPL-2.0 */
/*
 * AF_DEMO kernel-internal interfaces shared by the family layer (af_demo.c)
 * and the protocol layer (demo_proto.c, demo_dgram.c, demo_raw.c).
 */
#ifndef _DEMO_PROTO_H
#define _DEMO_PROTO_H

#include <linux/list.h>
#include <linux/net.h>
#include <linux/percpu.h>
#include <linux/skbuff.h>
#include <linux/mutex.h>
#include <net/inet_sock.h>
#include <net/sock.h>
#include <uapi/linux/af_demo.h>

#include "demo_compat.h"

/* Largest DEMO packet: it must fit in one IPv4 datagram. */
#define DEMO_MAX_PKT		(IP_MAX_MTU - sizeof(struct iphdr))
#define DEMO_MAX_PAYLOAD	(DEMO_MAX_PKT - sizeof(struct demohdr))
/* Headers of a DEMOPROTO_SEQPACKET segment. */
#define DEMO_SEQ_HDRS		(sizeof(struct demohdr) + sizeof(struct demo_seqhdr))

/* Flags of struct demo_protosw, as INET_PROTOSW_* are for inetsw. */
#define DEMO_PROTOSW_REUSE	0x01	/* sockets may share an address */
#define DEMO_PROTOSW_PERMANENT	0x02	/* entry cannot be replaced or removed */

/**
 * struct demo_protosw - one (type, protocol) entry of the AF_DEMO switch
 * @list: link in the per-type list, RCU protected
 * @type: socket type, the second argument of socket()
 * @protocol: DEMOPROTO_*; DEMOPROTO_ANY makes the entry a wildcard
 * @prot: transport that sockets of this entry are allocated from
 * @ops: socket-level operations of this entry
 * @flags: DEMO_PROTOSW_*
 *
 * The analog of struct inet_protosw: socket(AF_DEMO, type, protocol) is
 * served by the first entry of the type's list that matches @protocol.
 */
struct demo_protosw {
	struct list_head	list;
	unsigned short		type;
	unsigned short		protocol;
	struct proto		*prot;
	const struct proto_ops	*ops;
	unsigned char		flags;
};

int demo_register_protosw(struct demo_protosw *p);
void demo_unregister_protosw(struct demo_protosw *p);
int demo_family_get(void);
void demo_sock_init(struct sock *sk, int protocol);

/**
 * struct demo_sock - an AF_DEMO socket
 * @inet: the IP socket it is, first so that the three convert freely.
 *	AF_DEMO uses its addressing fields as UDP does: inet_rcv_saddr (the
 *	bound address), inet_saddr (the source of transmitted packets),
 *	inet_num/inet_sport (the local port), inet_daddr/inet_dport (the peer
 *	of a connected socket), uc_ttl and tos (SOL_DEMO options).
 * @msgs_sent: datagrams sent (datagram and raw sockets; DEMO_INFO)
 * @msgs_received: datagrams read by recvmsg()
 * @bytes_sent: their payload bytes
 * @bytes_received: likewise; atomics, as sendmsg() and recvmsg() of a
 *	datagram socket run unlocked on several CPUs at once
 */
struct demo_sock {
	struct inet_sock	inet;
	atomic_t		msgs_sent;
	atomic_t		msgs_received;
	atomic64_t		bytes_sent;
	atomic64_t		bytes_received;
};

static inline struct demo_sock *demo_sk(const struct sock *sk)
{
	return container_of(sk, struct demo_sock, inet.sk);
}

static inline struct demohdr *demo_hdr(const struct sk_buff *skb)
{
	return (struct demohdr *)skb_transport_header(skb);
}

/* Counters of /proc/net/demo_stat, per network namespace. */
enum demo_mib_field {
	DEMO_MIB_INDATAGRAMS,
	DEMO_MIB_NOPORTS,
	DEMO_MIB_INERRORS,
	DEMO_MIB_OUTDATAGRAMS,
	DEMO_MIB_RCVBUFERRORS,
	DEMO_MIB_SNDBUFERRORS,
	DEMO_MIB_INCSUMERRORS,
	/* DEMOPROTO_SEQPACKET; docs/SEQPACKET.md says what each counts */
	DEMO_MIB_ACTIVEOPENS,
	DEMO_MIB_PASSIVEOPENS,
	DEMO_MIB_ATTEMPTFAILS,
	DEMO_MIB_ESTABRESETS,
	DEMO_MIB_INSEGS,
	DEMO_MIB_OUTSEGS,
	DEMO_MIB_RETRANSSEGS,
	DEMO_MIB_INRSTS,
	DEMO_MIB_OUTRSTS,
	DEMO_MIB_INDUPSEGS,
	DEMO_MIB_LISTENOVERFLOWS,
	DEMO_MIB_LISTENDROPS,
	DEMO_MIB_TIMEWAITREUSE,
	DEMO_MIB_TIMEOUTS,
	DEMO_MIB_ZEROWINDOWPROBES,
	DEMO_MIB_RCVMEMDROPS,
	DEMO_MIB_ORPHANOVERFLOW,
	DEMO_MIB_TIMEWAITOVERFLOW,
	DEMO_MIB_MEMCGCHARGEFAILS,
	DEMO_MIB_CHALLENGEACKS,
	DEMO_MIB_CHALLENGEACKSSKIPPED,
	DEMO_MIB_SYNCOOKIESSENT,
	DEMO_MIB_SYNCOOKIESRECV,
	DEMO_MIB_LISTENRSTS,
	DEMO_MIB_KEEPALIVES,
	DEMO_MIB_MAX
};

/*
 * Why a received packet is dropped, for the trace events (demo_trace.h):
 * a demo_mib_field, the counter the drop bumps, or one of these, which no
 * counter of its own counts. They follow DEMO_MIB_MAX, which
 * demo_validate() returns for a valid packet.
 */
enum demo_drop_reason {
	DEMO_DROP_NOT_HOST = DEMO_MIB_MAX + 1,	/* not addressed to this host */
	DEMO_DROP_OUT_OF_WINDOW,	/* beyond the window offered */
	DEMO_DROP_AFTER_FIN,		/* data after the peer's FIN */
	DEMO_DROP_FILTER,		/* the socket's filter, cgroup BPF, LSM */
	DEMO_DROP_CLOSED,		/* for a socket closing or closed */
	DEMO_DROP_BAD_ACK,		/* acknowledges what was never sent */
};

struct demo_mib {
	unsigned long	mibs[DEMO_MIB_MAX];
};

/*
 * Buckets of demo_net.bind_hash, indexed by local port: a port is chosen
 * locally (bind() or the ephemeral range), never by a remote peer.
 */
#define DEMO_HTABLE_SIZE	256

/*
 * Buckets of demo_net.conn_hash and timewait_hash, a power of two: the
 * conn_hash_size module parameter, or sized to the memory at load time.
 */
#define DEMO_CONN_HASH_MIN	16
#define DEMO_CONN_HASH_MAX	1048576U
#define DEMO_CONN_HASH_AUTO_MIN	256
#define DEMO_CONN_HASH_AUTO_MAX	16384

/* net.demo.* sysctls of DEMOPROTO_SEQPACKET, see docs/SEQPACKET.md. */
struct demo_seq_sysctl {
	int	rto_min_ms;
	int	rto_max_ms;
	int	retries;
	int	syn_retries;
	int	time_wait_ms;
	int	fin_timeout_ms;
	int	rmem_max;
	int	wmem_max;
	int	max_orphans;
	int	max_tw;
	int	challenge_ack_limit;
	int	keepalive_time_ms;
	int	keepalive_intvl_ms;
	int	keepalive_probes;
};

/**
 * struct demo_net - per network namespace state
 * @lock: serialises writers of @bind_hash and @raw_list, all in process
 *	context; readers (softirq receive, /proc) use RCU
 * @bind_hash: bound protocol sockets, hashed by local port
 * @raw_list: raw sockets, each of which sees every valid packet
 * @conn_lock: serialises writers of @conn_hash and @timewait_hash, which may run
 *	in softirq (a listener adds connections); readers use RCU
 * @conn_hash: connected seqpacket sockets, hashed by address and port pair
 *	with a secret key (demo_conn_hash()); @conn_hash_mask + 1 buckets
 * @timewait_hash: seqpacket connections in TIME_WAIT, hashed the same way
 * @conn_hash_mask: buckets of @conn_hash and @timewait_hash, less one
 * @seq: sysctls
 * @sysctl_hdr: their registration
 * @mib: per-CPU counters
 * @orphans: seqpacket connections closed by their user and not yet ended
 *	(bounded by seq.max_orphans)
 * @tw_count: TIME_WAIT entries (bounded by seq.max_tw)
 * @challenge_stamp: the second (jiffies / HZ) @challenge_count is for
 * @challenge_count: challenge ACKs the namespace may still send in it
 */
struct demo_net {
	struct mutex		lock;	/* writers of bind_hash, raw_list */
	struct hlist_head	bind_hash[DEMO_HTABLE_SIZE];
	struct hlist_head	raw_list;
	spinlock_t		conn_lock;	/* writers of conn/timewait_hash */
	struct hlist_head	*conn_hash;
	struct hlist_head	*timewait_hash;
	u32			conn_hash_mask;
	struct demo_seq_sysctl	seq;
	struct ctl_table_header	*sysctl_hdr;
	struct demo_mib __percpu *mib;
	atomic_t		orphans;
	atomic_t		tw_count;
	u32			challenge_stamp;
	u32			challenge_count;
};

struct demo_net *demo_pernet(const struct net *net);

static inline void demo_inc_stats(const struct net *net,
				  enum demo_mib_field field)
{
	this_cpu_inc(demo_pernet(net)->mib->mibs[field]);
}

static inline struct hlist_head *demo_bind_bucket(struct demo_net *dn,
						  u16 port)
{
	return &dn->bind_hash[port & (DEMO_HTABLE_SIZE - 1)];
}

/* demo_proto.c: IP delivery, transmit and address helpers */
extern int demo_ipproto;
extern struct pernet_operations demo_net_ops;

int demo_conn_hash_init(void);
u32 demo_conn_hash(const struct net *net, __be32 laddr, __be16 lport,
		   __be32 raddr, __be16 rport);

int demo_ip_register(void);
void demo_ip_unregister(void);
int demo_check_sockaddr(const void *uaddr, int addr_len);
void demo_fill_sockaddr(struct sockaddr_demo *sa, __be32 addr, __be16 port);
int demo_sysctl_init_net(struct net *net);
void demo_sysctl_exit_net(struct net *net);

/* demo_port.c: local ports, shared by the transports */
int demo_bind(struct sock *sk, DEMO_PROTO_SOCKADDR_ARG_T *uaddr, int addr_len);
int demo_get_port(struct sock *sk, u16 port);
int demo_autobind(struct sock *sk);
void demo_port_release(struct sock *sk);
void demo_port_unhash(struct sock *sk);
void demo_set_peer(struct sock *sk, const struct flowi4 *fl4, __be16 dport);
void demo_clear_peer(struct sock *sk);

/**
 * struct demo_xmit - where and how demo_xmit() sends one packet
 * @saddr: source address, 0 to let routing choose
 * @daddr: destination address
 * @sport: source port (only for the flow key when @hdr_type is 0)
 * @dport: destination port
 * @hdr_type: DEMOPROTO_* of the DEMO header to build, 0 to send the
 *	caller's bytes verbatim (raw sockets)
 * @ttl: IPv4 TTL, -1 for the route's default
 * @tos: IPv4 TOS
 */
struct demo_xmit {
	__be32	saddr;
	__be32	daddr;
	__be16	sport;
	__be16	dport;
	u8	hdr_type;
	s16	ttl;
	u8	tos;
};

void demo_hdr_fill(struct sk_buff *skb, __be32 saddr, __be32 daddr,
		   __be16 sport, __be16 dport, u8 type, u16 flags);
int demo_ip_output(struct net *net, struct sock *sk, struct sk_buff *skb,
		   __be32 saddr, __be32 daddr, int ttl, u8 tos, bool df);
struct rtable *demo_route(struct sock *sk, struct flowi4 *fl4, __be32 daddr,
			  __be32 saddr, __be16 dport, __be16 sport, u8 tos,
			  bool dontroute);
int demo_xmit(struct sock *sk, struct msghdr *msg, size_t len,
	      const struct demo_xmit *x);
int demo_recvmsg_common(struct sock *sk, struct msghdr *msg, size_t len,
			int flags);
int demo_queue_ioctl(struct sock *sk, int cmd, DEMO_IOCTL_ARG_T karg);
int demo_setsockopt(struct sock *sk, int level, int optname,
		    sockptr_t optval, unsigned int optlen);
void demo_get_info(struct sock *sk, struct demo_info *info);
void demo_count_sent(struct sock *sk, int len);
int demo_getsockopt(struct sock *sk, int level, int optname,
		    char __user *optval, int __user *optlen);
int demo_proc_init_net(struct net *net);
void demo_proc_exit_net(struct net *net);

/* demo_diag.c: sock_diag dumps */
int demo_diag_init(int family);
void demo_diag_exit(void);

#if IS_ENABLED(CONFIG_KUNIT)
/* Pure logic, exported only to the KUnit suites (selftests/demo_kunit.c). */
bool demo_protosw_match(int entry_protocol, int *protocol);
enum demo_mib_field demo_validate(struct sk_buff *skb);
u32 demo_conn_hash_seed(const struct net *net);
u32 __demo_conn_hash(u32 seed, __be32 laddr, __be16 lport, __be32 raddr,
		     __be16 rport);
#endif

/* demo_dgram.c: the datagram transport */
extern struct proto demo_dgram_prot;
void demo_dgram_rcv(struct sk_buff *skb);
int demo_dgram_err(struct sk_buff *skb, u32 info);

/* demo_seqpacket.c and friends: the reliable message transport */
extern struct proto demo_seq_prot;
void demo_seq_rcv(struct sk_buff *skb);
int demo_seq_err(struct sk_buff *skb, u32 info);
struct sock *demo_seq_accept(struct sock *sk, int flags, int *err, bool kern);
int demo_seq_listen(struct sock *sk, int backlog);
__poll_t demo_seq_poll(struct file *file, struct socket *sock,
		       poll_table *wait);
long demo_seq_wait_connect(struct sock *sk, long timeo);
void demo_tw_purge(struct demo_net *dn);
void demo_seq_init(void);
extern long demo_seq_sysctl_mem[3];
int demo_seq_mem_init(void);
void demo_seq_mem_exit(void);

/* demo_raw.c: raw sockets */
extern struct proto demo_raw_prot;
void demo_raw_deliver(struct sk_buff *skb);

#endif /* _DEMO_PROTO_H */
