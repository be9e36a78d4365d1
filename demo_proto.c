// SPDX-License-Identifier: GPL-2.0
/*
 * AF_DEMO: the protocol layer's common part, IP delivery and transmit.
 *
 * Receive path, as for UDP:
 *
 *   ip_local_deliver_finish()           net/ipv4/ip_input.c
 *     inet_protos[demo_ipproto]         filled by inet_add_protocol()
 *       ->handler = demo_rcv()          validates the DEMO header completely
 *         demo_raw_deliver()            a copy to every matching raw socket
 *         demo_dgram_rcv()              the datagram transport
 *
 * and ICMP errors about packets we sent come back through
 * icmp_unreach() -> inet_protos[demo_ipproto]->err_handler = demo_err().
 *
 * Transmit builds the IPv4 header itself and hands the packet to
 * ip_local_out(), so IP output (netfilter, fragmentation, neighbour
 * resolution) treats it like any locally generated datagram.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <asm/ioctls.h>
#include <linux/icmp.h>
#include <linux/ip.h>
#include <linux/jhash.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/random.h>
#include <linux/skbuff.h>
#include <kunit/visibility.h>
#include <net/checksum.h>
#include <net/icmp.h>
#include <net/ip.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>
#include <net/netns/hash.h>
#include <net/protocol.h>
#include <net/route.h>
#include <net/sock.h>

#include "demo_proto.h"
#include "demo_trace.h"

int demo_ipproto = IPPROTO_DEMO;
module_param_named(ipproto, demo_ipproto, int, 0444);
MODULE_PARM_DESC(ipproto, "IP protocol number to register (default "
		 __stringify(IPPROTO_DEMO) ")");
EXPORT_SYMBOL_IF_KUNIT(demo_ipproto);

/* Buckets of each namespace's connection and TIME_WAIT hashes. */
static unsigned int conn_hash_size;
module_param(conn_hash_size, uint, 0444);
MODULE_PARM_DESC(conn_hash_size,
		 "buckets of each namespace's seqpacket connection and TIME_WAIT hashes, a power of two from 16 to 1048576 (default 0: sized to the memory; reads the size in use)");

/* The key of demo_conn_hash(), chosen at load time. */
static u32 demo_conn_hash_secret __read_mostly;

static unsigned int demo_net_id __read_mostly;

/**
 * demo_conn_hash_init() - size the connection hashes, choose their key
 *
 * As TCP sizes its established hash: by default one bucket per 512 KiB of
 * memory, a power of two from DEMO_CONN_HASH_AUTO_MIN to
 * DEMO_CONN_HASH_AUTO_MAX (each namespace has two tables of that many
 * buckets). The parameter then reads the size in use.
 *
 * Context: module load, before any namespace is set up.
 * Return: 0, or -EINVAL for a conn_hash_size out of range or not a power
 * of two.
 */
int demo_conn_hash_init(void)
{
	unsigned long buckets;

	if (conn_hash_size) {
		if (conn_hash_size < DEMO_CONN_HASH_MIN ||
		    conn_hash_size > DEMO_CONN_HASH_MAX ||
		    !is_power_of_2(conn_hash_size)) {
			pr_err("conn_hash_size %u is not a power of two from %u to %u\n",
			       conn_hash_size, DEMO_CONN_HASH_MIN,
			       DEMO_CONN_HASH_MAX);
			return -EINVAL;
		}
	} else {
		buckets = totalram_pages() >> (19 - PAGE_SHIFT);
		buckets = clamp_t(unsigned long, buckets,
				  DEMO_CONN_HASH_AUTO_MIN,
				  DEMO_CONN_HASH_AUTO_MAX);
		conn_hash_size = rounddown_pow_of_two(buckets);
	}
	demo_conn_hash_secret = get_random_u32();
	return 0;
}

/**
 * __demo_conn_hash() - the connection hash of a pair with key @seed
 * @seed: the key
 * @laddr: local address
 * @lport: local port
 * @raddr: remote address
 * @rport: remote port
 *
 * Return: the 32-bit hash; the caller masks it to its table.
 */
VISIBLE_IF_KUNIT u32 __demo_conn_hash(u32 seed, __be32 laddr, __be16 lport,
				      __be32 raddr, __be16 rport)
{
	return jhash_3words((__force u32)laddr, (__force u32)raddr,
			    ((__force u32)lport << 16) | (__force u32)rport,
			    seed);
}
EXPORT_SYMBOL_IF_KUNIT(__demo_conn_hash);

/**
 * demo_conn_hash_seed() - the key of @net's connection hashes
 * @net: the namespace
 *
 * The load-time secret mixed with the namespace's own random value, as
 * inet_ehashfn() does: a remote peer cannot predict which pairs collide,
 * and two namespaces do not collide alike.
 *
 * Return: the key.
 */
VISIBLE_IF_KUNIT u32 demo_conn_hash_seed(const struct net *net)
{
	return demo_conn_hash_secret + net_hash_mix(net);
}
EXPORT_SYMBOL_IF_KUNIT(demo_conn_hash_seed);

/**
 * demo_conn_hash() - the hash of a pair in @net's connection hashes
 * @net: the namespace
 * @laddr: local address
 * @lport: local port
 * @raddr: remote address
 * @rport: remote port
 *
 * Return: the 32-bit hash; demo_conn_hashfn() masks it.
 */
u32 demo_conn_hash(const struct net *net, __be32 laddr, __be16 lport,
		   __be32 raddr, __be16 rport)
{
	return __demo_conn_hash(demo_conn_hash_seed(net), laddr, lport, raddr,
				rport);
}
EXPORT_SYMBOL_IF_KUNIT(demo_conn_hash);

struct demo_net *demo_pernet(const struct net *net)
{
	return net_generic(net, demo_net_id);
}

/*
 * Check a sockaddr_demo from userspace: -EINVAL when it is too short or its
 * padding is not zero, -EAFNOSUPPORT when it is of another family.
 */
int demo_check_sockaddr(const void *uaddr, int addr_len)
{
	const struct sockaddr_demo *sa = uaddr;

	if (addr_len < (int)sizeof(*sa))
		return -EINVAL;
	if (sa->sdemo_family != demo_family_get())
		return -EAFNOSUPPORT;
	if (memchr_inv(sa->sdemo_zero, 0, sizeof(sa->sdemo_zero)))
		return -EINVAL;
	return 0;
}

void demo_fill_sockaddr(struct sockaddr_demo *sa, __be32 addr, __be16 port)
{
	sa->sdemo_family = demo_family_get();
	sa->sdemo_port = port;
	sa->sdemo_addr.s_addr = addr;
	memset(sa->sdemo_zero, 0, sizeof(sa->sdemo_zero));
}

/*
 * Send flags a datagram socket understands; others, MSG_OOB and MSG_MORE
 * (no corking) among them, are EOPNOTSUPP. sendmmsg() adds MSG_BATCH and
 * splice() MSG_SPLICE_PAGES, which need nothing special here.
 */
#define DEMO_SEND_FLAGS	(MSG_DONTWAIT | MSG_NOSIGNAL | MSG_DONTROUTE | \
			 MSG_CONFIRM | MSG_EOR | MSG_CMSG_COMPAT | \
			 MSG_BATCH | MSG_SPLICE_PAGES)

/**
 * demo_hdr_fill() - write the DEMO header of a packet and its checksum
 * @skb: the packet; its transport header is where the DEMO header goes and
 *	everything from there to the end is the DEMO header and payload
 * @saddr: IPv4 source address, for the pseudo-header
 * @daddr: IPv4 destination address, for the pseudo-header
 * @sport: source port
 * @dport: destination port
 * @type: DEMOPROTO_* of the packet
 * @flags: the header's flags, host order
 */
void demo_hdr_fill(struct sk_buff *skb, __be32 saddr, __be32 daddr,
		   __be16 sport, __be16 dport, u8 type, u16 flags)
{
	int offset = skb_transport_offset(skb);
	unsigned int len = skb->len - offset;
	struct demohdr *dh = demo_hdr(skb);
	__wsum csum;

	dh->source = sport;
	dh->dest = dport;
	dh->version = DEMO_VERSION;
	dh->type = type;
	dh->len = htons(len);
	dh->check = 0;
	dh->flags = htons(flags);
	csum = skb_checksum(skb, offset, len, 0);
	dh->check = csum_tcpudp_magic(saddr, daddr, len, demo_ipproto, csum);
	/* 0 means "no checksum" in UDP; DEMO sends the other zero. */
	if (!dh->check)
		dh->check = CSUM_MANGLED_0;
}
EXPORT_SYMBOL_IF_KUNIT(demo_hdr_fill);

/**
 * demo_route() - route a packet of @sk from @saddr to @daddr
 * @sk: the socket; its bound device, mark and uid select the route
 * @fl4: filled with the flow, including the source address routing chose
 * @daddr: destination address
 * @saddr: source address, 0 to let routing choose
 * @dport: destination port (for policy routing and xfrm)
 * @sport: source port
 * @tos: IPv4 TOS
 * @dontroute: only directly connected destinations (MSG_DONTROUTE)
 *
 * Return: a route reference, or ERR_PTR(-EACCES) for a broadcast route
 * without SO_BROADCAST, ERR_PTR(-EOPNOTSUPP) for a multicast one, or
 * another routing error.
 */
struct rtable *demo_route(struct sock *sk, struct flowi4 *fl4, __be32 daddr,
			  __be32 saddr, __be16 dport, __be16 sport, u8 tos,
			  bool dontroute)
{
	u8 scope = RT_SCOPE_UNIVERSE;
	struct rtable *rt;

	if (dontroute || sock_flag(sk, SOCK_LOCALROUTE))
		scope = RT_SCOPE_LINK;

	flowi4_init_output(fl4, sk->sk_bound_dev_if, READ_ONCE(sk->sk_mark),
			   tos & IPTOS_TOS_MASK, scope, demo_ipproto, 0,
			   daddr, saddr, dport, sport, sk->sk_uid);
	rt = ip_route_output_flow(sock_net(sk), fl4, sk);
	if (IS_ERR(rt))
		return rt;
	/* Broadcast needs SO_BROADCAST, as for UDP; multicast is not done. */
	if ((rt->rt_flags & RTCF_BROADCAST) && !sock_flag(sk, SOCK_BROADCAST)) {
		ip_rt_put(rt);
		return ERR_PTR(-EACCES);
	}
	if (rt->rt_flags & RTCF_MULTICAST) {
		ip_rt_put(rt);
		return ERR_PTR(-EOPNOTSUPP);
	}
	return rt;
}

/**
 * demo_ip_output() - put an IPv4 header on a DEMO packet and send it
 * @net: the namespace
 * @sk: the sending socket, or NULL for a packet no socket sends (a reset)
 * @skb: the packet, data at the DEMO header, its route attached
 * @saddr: IPv4 source address
 * @daddr: IPv4 destination address
 * @ttl: IPv4 TTL, -1 for the route's default
 * @tos: IPv4 TOS
 * @df: set Don't Fragment
 *
 * Return: 0 or a negative errno, as ip_local_out() with its NET_XMIT codes
 * turned into errnos.
 */
int demo_ip_output(struct net *net, struct sock *sk, struct sk_buff *skb,
		   __be32 saddr, __be32 daddr, int ttl, u8 tos, bool df)
{
	struct iphdr *iph;
	int err;

	skb_push(skb, sizeof(*iph));
	skb_reset_network_header(skb);
	iph = ip_hdr(skb);
	iph->version = 4;
	iph->ihl = sizeof(*iph) >> 2;
	iph->tos = tos;
	iph->frag_off = df ? htons(IP_DF) : 0;
	iph->ttl = ttl < 0 ? ip4_dst_hoplimit(skb_dst(skb)) : ttl;
	iph->protocol = demo_ipproto;
	iph->saddr = saddr;
	iph->daddr = daddr;
	/* tot_len and the header checksum are set by ip_local_out(). */
	ip_select_ident(net, skb, NULL);

	if (sk) {
		skb->priority = READ_ONCE(sk->sk_priority);
		skb->mark = READ_ONCE(sk->sk_mark);
	}

	err = ip_local_out(net, sk, skb);
	if (err > 0)
		err = net_xmit_errno(err);
	return err;
}

/**
 * demo_xmit() - build one DEMO packet from @msg and send it over IPv4
 * @sk: sending socket, charged for the packet's memory
 * @msg: payload (for raw sockets: the DEMO header and payload)
 * @len: bytes of @msg to send
 * @x: addresses, ports and IP header fields
 *
 * Return: @len on success or a negative errno.
 */
int demo_xmit(struct sock *sk, struct msghdr *msg, size_t len,
	      const struct demo_xmit *x)
{
	size_t hdr_len = x->hdr_type ? sizeof(struct demohdr) : 0;
	size_t pkt_len = hdr_len + len;
	struct net *net = sock_net(sk);
	size_t linear, reserve;
	struct sk_buff *skb;
	struct flowi4 fl4;
	struct rtable *rt;
	int err;

	if (msg->msg_flags & ~DEMO_SEND_FLAGS)
		return -EOPNOTSUPP;
	if (pkt_len > DEMO_MAX_PKT)
		return -EMSGSIZE;

	rt = demo_route(sk, &fl4, x->daddr, x->saddr, x->dport, x->sport,
			x->tos, msg->msg_flags & MSG_DONTROUTE);
	if (IS_ERR(rt))
		return PTR_ERR(rt);

	/* Headers in the linear area, a large payload in page fragments. */
	reserve = LL_RESERVED_SPACE(rt->dst.dev) + sizeof(struct iphdr);
	linear = min_t(size_t, pkt_len, SKB_MAX_HEAD(reserve));
	linear = max(linear, hdr_len);
	skb = sock_alloc_send_pskb(sk, reserve + linear, pkt_len - linear,
				   msg->msg_flags & MSG_DONTWAIT, &err,
				   PAGE_ALLOC_COSTLY_ORDER);
	if (!skb) {
		if (err == -EAGAIN || err == -ENOBUFS)
			demo_inc_stats(net, DEMO_MIB_SNDBUFERRORS);
		goto out_rt;
	}
	skb_reserve(skb, reserve);
	skb_put(skb, linear);
	skb->data_len = pkt_len - linear;
	skb->len += pkt_len - linear;

	skb_reset_transport_header(skb);
	err = skb_copy_datagram_from_iter(skb, hdr_len, &msg->msg_iter, len);
	if (err)
		goto out_free;

	if (x->hdr_type)
		demo_hdr_fill(skb, fl4.saddr, fl4.daddr, x->sport, x->dport,
			      x->hdr_type, 0);

	skb_dst_set(skb, &rt->dst);
	/* Never DF: a datagram larger than the path MTU is fragmented. */
	err = demo_ip_output(net, sk, skb, fl4.saddr, fl4.daddr, x->ttl,
			     x->tos, false);

	/*
	 * Like UDP without IP_RECVERR, a packet dropped by a full queue
	 * below us is counted, not reported: the datagram was sent.
	 */
	if (err == -ENOBUFS) {
		demo_inc_stats(net, DEMO_MIB_SNDBUFERRORS);
		err = 0;
	}
	return err ?: len;

out_free:
	kfree_skb(skb);
out_rt:
	ip_rt_put(rt);
	return err;
}

/**
 * demo_recvmsg_common() - dequeue one packet of a datagram-style socket
 * @sk: the socket
 * @msg: where the payload and the source address go
 * @len: room in @msg
 * @flags: MSG_* from the caller
 *
 * A datagram socket's queue holds payloads (the DEMO header pulled), a raw
 * socket's the whole DEMO packet; either way the DEMO header is still at
 * the skb's transport header, and the IPv4 header at its network header.
 *
 * Return: bytes copied (the full length with MSG_TRUNC), 0 after
 * shutdown(SHUT_RD) or a negative errno.
 */
int demo_recvmsg_common(struct sock *sk, struct msghdr *msg, size_t len,
			int flags)
{
	struct sk_buff *skb;
	size_t copied;
	int err;

	if (flags & (MSG_OOB | MSG_ERRQUEUE))
		return -EOPNOTSUPP;

	skb = skb_recv_datagram(sk, flags, &err);
	if (!skb)
		return err;

	copied = skb->len;
	if (copied > len) {
		copied = len;
		msg->msg_flags |= MSG_TRUNC;
	}
	err = skb_copy_datagram_msg(skb, 0, msg, copied);
	if (err)
		goto out_free;

	sock_recv_cmsgs(msg, sk, skb);

	if (msg->msg_name) {
		DECLARE_SOCKADDR(struct sockaddr_demo *, sa, msg->msg_name);

		demo_fill_sockaddr(sa, ip_hdr(skb)->saddr, demo_hdr(skb)->source);
		msg->msg_namelen = sizeof(*sa);
	}

	err = (flags & MSG_TRUNC) ? skb->len : copied;
	if (!(flags & MSG_PEEK)) {
		atomic_inc(&demo_sk(sk)->msgs_received);
		atomic64_add(skb->len, &demo_sk(sk)->bytes_received);
		if (sk->sk_type == SOCK_DGRAM)
			demo_inc_stats(sock_net(sk), DEMO_MIB_INDATAGRAMS);
	}

out_free:
	skb_free_datagram(sk, skb);
	return err;
}

/* SIOCINQ and SIOCOUTQ, for datagram and raw sockets. */
int demo_queue_ioctl(struct sock *sk, int cmd, DEMO_IOCTL_ARG_T karg)
{
	struct sk_buff *skb;
	int val;

	switch (cmd) {
	case SIOCOUTQ:
		val = sk_wmem_alloc_get(sk);
		break;
	case SIOCINQ:
		/* Like UDP: the length of the next datagram, not the sum. */
		spin_lock_bh(&sk->sk_receive_queue.lock);
		skb = skb_peek(&sk->sk_receive_queue);
		val = skb ? skb->len : 0;
		spin_unlock_bh(&sk->sk_receive_queue.lock);
		break;
	default:
		return -ENOIOCTLCMD;
	}
	return demo_compat_ioctl_ret(karg, val);
}

/* SOL_DEMO options common to every AF_DEMO socket. */
int demo_setsockopt(struct sock *sk, int level, int optname,
		    sockptr_t optval, unsigned int optlen)
{
	struct inet_sock *inet = inet_sk(sk);
	int val;

	if (level != SOL_DEMO)
		return -ENOPROTOOPT;
	if (optlen < sizeof(int))
		return -EINVAL;
	if (copy_from_sockptr(&val, optval, sizeof(val)))
		return -EFAULT;

	switch (optname) {
	case DEMO_TTL:
		if (val != -1 && (val < 1 || val > 255))
			return -EINVAL;
		WRITE_ONCE(inet->uc_ttl, val);
		return 0;
	case DEMO_TOS:
		if (val < 0 || val > 255)
			return -EINVAL;
		WRITE_ONCE(inet->tos, val);
		return 0;
	default:
		return -ENOPROTOOPT;
	}
}

/* A datagram or raw socket sent @len payload bytes (demo_xmit()'s return). */
void demo_count_sent(struct sock *sk, int len)
{
	atomic_inc(&demo_sk(sk)->msgs_sent);
	atomic64_add(len, &demo_sk(sk)->bytes_sent);
}

/**
 * demo_get_info() - DEMO_INFO's struct for an AF_DEMO socket
 * @sk: the socket, locked by the caller for a consistent snapshot
 *	(getsockopt) or not (a sock_diag dump: racy, as a tcp_info there)
 * @info: filled entirely: state, memory and drops for every socket; the
 *	connection's fields for seqpacket (demo_seq_get_info()); datagrams
 *	sent and read for datagram and raw sockets; the rest zero
 */
void demo_get_info(struct sock *sk, struct demo_info *info)
{
	const struct demo_sock *dsk = demo_sk(sk);

	memset(info, 0, sizeof(*info));
	info->demoi_state = inet_sk_state_load(sk);
	info->demoi_rmem_alloc = sk_rmem_alloc_get(sk);
	info->demoi_rcvbuf = READ_ONCE(sk->sk_rcvbuf);
	info->demoi_sndbuf = READ_ONCE(sk->sk_sndbuf);
	info->demoi_drops = atomic_read(&sk->sk_drops);
	if (sk->sk_prot == &demo_seq_prot) {
		demo_seq_get_info(sk, info);
		return;
	}
	info->demoi_wmem_queued = sk_wmem_alloc_get(sk);
	info->demoi_msgs_sent = atomic_read(&dsk->msgs_sent);
	info->demoi_msgs_received = atomic_read(&dsk->msgs_received);
	info->demoi_bytes_sent = atomic64_read(&dsk->bytes_sent);
	info->demoi_bytes_received = atomic64_read(&dsk->bytes_received);
}

/* DEMO_INFO, as TCP_INFO: as much of the struct as the caller has room for. */
static int demo_getsockopt_info(struct sock *sk, char __user *optval,
				int __user *optlen)
{
	struct demo_info info;
	int len;

	if (get_user(len, optlen))
		return -EFAULT;
	if (len < 0)
		return -EINVAL;
	len = min_t(unsigned int, len, sizeof(info));

	lock_sock(sk);
	demo_get_info(sk, &info);
	release_sock(sk);

	if (put_user(len, optlen) || copy_to_user(optval, &info, len))
		return -EFAULT;
	return 0;
}

int demo_getsockopt(struct sock *sk, int level, int optname,
		    char __user *optval, int __user *optlen)
{
	struct inet_sock *inet = inet_sk(sk);
	int val, len;

	if (level != SOL_DEMO)
		return -ENOPROTOOPT;
	if (optname == DEMO_INFO)
		return demo_getsockopt_info(sk, optval, optlen);
	if (get_user(len, optlen))
		return -EFAULT;
	if (len < (int)sizeof(int))
		return -EINVAL;

	switch (optname) {
	case DEMO_TTL:
		val = READ_ONCE(inet->uc_ttl);
		break;
	case DEMO_TOS:
		val = READ_ONCE(inet->tos);
		break;
	default:
		return -ENOPROTOOPT;
	}

	len = sizeof(int);
	if (put_user(len, optlen) || copy_to_user(optval, &val, len))
		return -EFAULT;
	return 0;
}

/*
 * The DEMOPROTO_SEQPACKET rules (docs/PROTOCOL.md): the sequence header is
 * there and its reserved field zero, the flags are known, SACK blocks come
 * with an acknowledgment only, at most DEMO_SEQ_MAX_SACK and whole (they
 * are pulled into the linear area here), SYN, FIN and RST come alone and
 * without payload, and every other segment acknowledges.
 */
static bool demo_seq_hdr_valid(struct sk_buff *skb)
{
	const struct demo_seqhdr *sh;
	unsigned int hlen;
	u16 flags, ctl;

	if (skb->len < DEMO_SEQ_HDRS || !pskb_may_pull(skb, DEMO_SEQ_HDRS))
		return false;
	flags = ntohs(demo_hdr(skb)->flags);
	sh = (const struct demo_seqhdr *)(demo_hdr(skb) + 1);
	if ((flags & ~DEMO_SEQ_FLAGS) || sh->reserved)
		return false;
	if (sh->sack_blocks > DEMO_SEQ_MAX_SACK ||
	    (sh->sack_blocks && !(flags & DEMO_SEQ_ACK)))
		return false;
	hlen = DEMO_SEQ_HDRS + sh->sack_blocks * sizeof(struct demo_sack_block);
	if (skb->len < hlen || !pskb_may_pull(skb, hlen))
		return false;

	ctl = flags & (DEMO_SEQ_SYN | DEMO_SEQ_FIN | DEMO_SEQ_RST);
	if (!ctl)
		return flags & DEMO_SEQ_ACK;
	if (ctl & (ctl - 1))
		return false;
	if (skb->len > hlen || (flags & DEMO_SEQ_EOR))
		return false;
	return ctl != DEMO_SEQ_FIN || (flags & DEMO_SEQ_ACK);
}

/**
 * demo_validate() - check everything about an incoming packet
 * @skb: the packet, data at the DEMO header, IPv4 header at the network
 *	header, as ip_local_deliver_finish() hands it over
 *
 * On success @skb is trimmed to the DEMO length and its checksum has been
 * verified; no socket may see a packet before this.
 *
 * Return: DEMO_MIB_MAX for a valid packet, else the counter its drop
 * bumps besides InErrors (DEMO_MIB_INCSUMERRORS), or DEMO_MIB_INERRORS.
 */
VISIBLE_IF_KUNIT enum demo_mib_field demo_validate(struct sk_buff *skb)
{
	struct demohdr *dh;
	unsigned int len;

	if (!pskb_may_pull(skb, sizeof(*dh)))
		return DEMO_MIB_INERRORS;

	dh = demo_hdr(skb);
	len = ntohs(dh->len);
	if (len < sizeof(*dh) || len > skb->len)
		return DEMO_MIB_INERRORS;
	/* Like UDP, bytes beyond the DEMO length are link-layer padding. */
	if (len < skb->len && pskb_trim_rcsum(skb, len))
		return DEMO_MIB_INERRORS;

	if (skb_checksum_init(skb, demo_ipproto, inet_compute_pseudo) ||
	    skb_checksum_complete(skb))
		return DEMO_MIB_INCSUMERRORS;

	dh = demo_hdr(skb);
	if (dh->version != DEMO_VERSION)
		return DEMO_MIB_INERRORS;

	switch (dh->type) {
	case DEMOPROTO_DGRAM:
		if (dh->flags)
			return DEMO_MIB_INERRORS;
		break;
	case DEMOPROTO_SEQPACKET:
		if (!demo_seq_hdr_valid(skb))
			return DEMO_MIB_INERRORS;
		break;
	default:
		return DEMO_MIB_INERRORS;
	}
	return DEMO_MIB_MAX;
}
EXPORT_SYMBOL_IF_KUNIT(demo_validate);

/* net_protocol.handler: called by IP in softirq, under rcu_read_lock(). */
static int demo_rcv(struct sk_buff *skb)
{
	struct net *net = dev_net(skb->dev);
	enum demo_mib_field bad;

	bad = demo_validate(skb);
	if (bad != DEMO_MIB_MAX) {
		trace_demo_drop(skb, bad);
		if (bad == DEMO_MIB_INCSUMERRORS)
			demo_inc_stats(net, DEMO_MIB_INCSUMERRORS);
		demo_inc_stats(net, DEMO_MIB_INERRORS);
		kfree_skb(skb);
		return 0;
	}

	demo_raw_deliver(skb);

	switch (demo_hdr(skb)->type) {
	case DEMOPROTO_DGRAM:
		demo_dgram_rcv(skb);
		break;
	case DEMOPROTO_SEQPACKET:
		demo_seq_rcv(skb);
		break;
	default:
		/* demo_validate() admits only the types handled here. */
		kfree_skb(skb);
		break;
	}
	return 0;
}

/*
 * net_protocol.err_handler: an ICMP error quoting a packet we sent. IP has
 * pulled the quoted IPv4 header and the first 8 bytes of our header, which
 * carry the ports and the type.
 */
static int demo_err(struct sk_buff *skb, u32 info)
{
	const struct iphdr *iph = (const struct iphdr *)skb->data;
	const struct demohdr *dh = (void *)skb->data + (iph->ihl << 2);
	struct net *net = dev_net(skb->dev);
	int type = icmp_hdr(skb)->type;
	int code = icmp_hdr(skb)->code;

	if (type == ICMP_DEST_UNREACH && code == ICMP_FRAG_NEEDED) {
		ipv4_update_pmtu(skb, net, info, 0, demo_ipproto);
		return 0;
	}
	if (type == ICMP_REDIRECT) {
		ipv4_redirect(skb, net, 0, demo_ipproto);
		return 0;
	}

	switch (dh->type) {
	case DEMOPROTO_DGRAM:
		return demo_dgram_err(skb, info);
	case DEMOPROTO_SEQPACKET:
		return demo_seq_err(skb, info);
	default:
		return -ENOENT;
	}
}

static struct net_protocol demo_protocol __ro_after_init = {
	.handler	= demo_rcv,
	.err_handler	= demo_err,
};

int demo_ip_register(void)
{
	if (demo_ipproto <= 0 || demo_ipproto >= MAX_INET_PROTOS ||
	    demo_ipproto == IPPROTO_RAW) {
		pr_err("IP protocol %d out of range\n", demo_ipproto);
		return -EINVAL;
	}
	/* inet_add_protocol() says only -1 when the slot is taken. */
	if (inet_add_protocol(&demo_protocol, demo_ipproto)) {
		pr_err("IP protocol %d is already registered\n", demo_ipproto);
		return -EBUSY;
	}
	return 0;
}

void demo_ip_unregister(void)
{
	/* Waits for handlers running on other CPUs (synchronize_net()). */
	inet_del_protocol(&demo_protocol, demo_ipproto);
}

static int __net_init demo_net_init(struct net *net)
{
	struct demo_net *dn = demo_pernet(net);
	int i, err;

	mutex_init(&dn->lock);
	spin_lock_init(&dn->conn_lock);
	for (i = 0; i < DEMO_HTABLE_SIZE; i++)
		INIT_HLIST_HEAD(&dn->bind_hash[i]);
	INIT_HLIST_HEAD(&dn->raw_list);

	dn->conn_hash_mask = conn_hash_size - 1;
	dn->conn_hash = kvmalloc_array(conn_hash_size, sizeof(*dn->conn_hash),
				       GFP_KERNEL);
	if (!dn->conn_hash)
		return -ENOMEM;
	dn->timewait_hash = kvmalloc_array(conn_hash_size,
					   sizeof(*dn->timewait_hash),
					   GFP_KERNEL);
	err = -ENOMEM;
	if (!dn->timewait_hash)
		goto err_free_conn;
	for (i = 0; i < conn_hash_size; i++) {
		INIT_HLIST_HEAD(&dn->conn_hash[i]);
		INIT_HLIST_HEAD(&dn->timewait_hash[i]);
	}

	dn->mib = alloc_percpu(struct demo_mib);
	if (!dn->mib)
		goto err_free_tw;

	err = demo_sysctl_init_net(net);
	if (err)
		goto err_free_mib;

	err = demo_proc_init_net(net);
	if (err)
		goto err_sysctl_exit;
	return 0;

err_sysctl_exit:
	demo_sysctl_exit_net(net);
err_free_mib:
	free_percpu(dn->mib);
err_free_tw:
	kvfree(dn->timewait_hash);
err_free_conn:
	kvfree(dn->conn_hash);
	return err;
}

static void __net_exit demo_net_exit(struct net *net)
{
	struct demo_net *dn = demo_pernet(net);
	int i;

	demo_proc_exit_net(net);
	demo_sysctl_exit_net(net);
	/* TIME_WAIT entries hold no reference: they end here. */
	demo_tw_purge(dn);
	/* Every socket holds its namespace: none can be left. */
	for (i = 0; i < DEMO_HTABLE_SIZE; i++)
		WARN_ON_ONCE(!hlist_empty(&dn->bind_hash[i]));
	for (i = 0; i <= dn->conn_hash_mask; i++)
		WARN_ON_ONCE(!hlist_empty(&dn->conn_hash[i]));
	WARN_ON_ONCE(!hlist_empty(&dn->raw_list));
	free_percpu(dn->mib);
	/* Lookups are over: no packet reaches a namespace being dismantled. */
	kvfree(dn->timewait_hash);
	kvfree(dn->conn_hash);
}

struct pernet_operations demo_net_ops = {
	.init	= demo_net_init,
	.exit	= demo_net_exit,
	.id	= &demo_net_id,
	.size	= sizeof(struct demo_net),
};
