// SPDX-License-Identifier: GPL-2.0
/*
 * AF_DEMO: DEMOPROTO_DGRAM, unreliable datagrams with UDP's semantics.
 *
 * Sockets are found by local port in the namespace's bind hash
 * (demo_port.c), under RCU.
 */

#include <linux/icmp.h>
#include <linux/ip.h>
#include <linux/rculist.h>
#include <net/icmp.h>
#include <net/ip.h>
#include <net/route.h>
#include <net/sock.h>

#include "demo_proto.h"
#include "demo_trace.h"

/* connect(AF_UNSPEC): forget the peer, and what connect() set implicitly. */
static int demo_dgram_disconnect(struct sock *sk, int flags)
{
	sk->sk_state = TCP_CLOSE;
	demo_clear_peer(sk);
	if (!(sk->sk_userlocks & SOCK_BINDPORT_LOCK))
		demo_port_release(sk);
	sk_dst_reset(sk);
	return 0;
}

static int demo_dgram_connect(struct sock *sk,
			      DEMO_PROTO_SOCKADDR_ARG_T *uaddr, int addr_len)
{
	struct sockaddr_demo *sa = (struct sockaddr_demo *)uaddr;
	struct inet_sock *inet = inet_sk(sk);
	struct flowi4 fl4;
	struct rtable *rt;
	int err;

	if (addr_len < (int)sizeof(uaddr->sa_family))
		return -EINVAL;
	if (uaddr->sa_family == AF_UNSPEC) {
		lock_sock(sk);
		demo_dgram_disconnect(sk, 0);
		release_sock(sk);
		return 0;
	}
	err = demo_check_sockaddr(uaddr, addr_len);
	if (err)
		return err;
	if (!sa->sdemo_port)
		return -EINVAL;

	lock_sock(sk);
	/* Find the source address now, as UDP does, and fail early. */
	rt = demo_route(sk, &fl4, sa->sdemo_addr.s_addr, inet->inet_saddr,
			sa->sdemo_port, inet->inet_sport, inet->tos, false);
	if (IS_ERR(rt)) {
		err = PTR_ERR(rt);
		goto out_release;
	}

	err = demo_autobind(sk);
	if (err)
		goto out_rt;

	demo_set_peer(sk, &fl4, sa->sdemo_port);
	sk->sk_state = TCP_ESTABLISHED;

out_rt:
	ip_rt_put(rt);
out_release:
	release_sock(sk);
	return err;
}

static int demo_dgram_sendmsg(struct sock *sk, struct msghdr *msg, size_t len)
{
	DECLARE_SOCKADDR(struct sockaddr_demo *, sa, msg->msg_name);
	struct inet_sock *inet = inet_sk(sk);
	struct demo_xmit x = {};
	int err;

	if (READ_ONCE(sk->sk_shutdown) & SEND_SHUTDOWN)
		return -EPIPE;

	if (sa) {
		err = demo_check_sockaddr(sa, msg->msg_namelen);
		if (err)
			return err;
		if (!sa->sdemo_port)
			return -EINVAL;
	}

	lock_sock(sk);
	if (sa) {
		x.daddr = sa->sdemo_addr.s_addr;
		x.dport = sa->sdemo_port;
	} else if (sk->sk_state == TCP_ESTABLISHED) {
		x.daddr = inet->inet_daddr;
		x.dport = inet->inet_dport;
	} else {
		release_sock(sk);
		return -EDESTADDRREQ;
	}
	err = demo_autobind(sk);
	x.saddr = inet->inet_saddr;
	x.sport = inet->inet_sport;
	x.ttl = inet->uc_ttl;
	x.tos = inet->tos;
	release_sock(sk);
	if (err)
		return err;

	x.hdr_type = DEMOPROTO_DGRAM;
	err = demo_xmit(sk, msg, len, &x);
	if (err >= 0) {
		demo_inc_stats(sock_net(sk), DEMO_MIB_OUTDATAGRAMS);
		demo_count_sent(sk, err);
	}
	return err;
}

/*
 * The socket for a packet from raddr:rport to laddr:lport: a socket bound
 * to laddr beats one bound to any address; a connected socket only takes
 * packets from its peer.
 * Context: rcu_read_lock() held.
 */
static struct sock *demo_dgram_lookup(struct net *net, __be32 raddr,
				      __be16 rport, __be32 laddr,
				      __be16 lport, int dif)
{
	struct demo_net *dn = demo_pernet(net);
	u16 port = ntohs(lport);
	struct sock *sk, *result = NULL;

	sk_for_each_rcu(sk, demo_bind_bucket(dn, port)) {
		const struct inet_sock *inet = inet_sk(sk);
		__be32 rcv_saddr = READ_ONCE(inet->inet_rcv_saddr);
		__be16 dport = READ_ONCE(inet->inet_dport);
		int bound_dev_if = READ_ONCE(sk->sk_bound_dev_if);

		/* Fields change under the socket lock while we look. */
		if (READ_ONCE(inet->inet_num) != port ||
		    sk->sk_protocol != DEMOPROTO_DGRAM)
			continue;
		if (rcv_saddr && rcv_saddr != laddr)
			continue;
		if (dport && (dport != rport ||
			      READ_ONCE(inet->inet_daddr) != raddr))
			continue;
		if (bound_dev_if && bound_dev_if != dif)
			continue;
		if (rcv_saddr)
			return sk;
		result = sk;
	}
	return result;
}

/* A validated DGRAM packet from demo_rcv(), in softirq under RCU. */
void demo_dgram_rcv(struct sk_buff *skb)
{
	const struct demohdr *dh = demo_hdr(skb);
	const struct iphdr *iph = ip_hdr(skb);
	struct net *net = dev_net(skb->dev);
	struct sock *sk;
	int err;

	sk = demo_dgram_lookup(net, iph->saddr, dh->source, iph->daddr,
			       dh->dest, inet_iif(skb));
	if (!sk) {
		demo_inc_stats(net, DEMO_MIB_NOPORTS);
		trace_demo_drop(skb, DEMO_MIB_NOPORTS);
		icmp_send(skb, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0);
		kfree_skb(skb);
		return;
	}

	/* The queue holds the payload; the header stays reachable. */
	__skb_pull(skb, sizeof(*dh));
	err = sock_queue_rcv_skb(sk, skb);
	if (err < 0) {
		if (err == -ENOMEM)
			demo_inc_stats(net, DEMO_MIB_RCVBUFERRORS);
		demo_inc_stats(net, DEMO_MIB_INERRORS);
		trace_demo_drop(skb, err == -ENOMEM ? DEMO_MIB_RCVBUFERRORS :
						      DEMO_DROP_FILTER);
		kfree_skb(skb);
	}
}

/*
 * An ICMP error about a datagram we sent. As for UDP without IP_RECVERR,
 * only a connected socket hears of it, and only of hard errors.
 * Context: softirq, rcu_read_lock() held.
 */
int demo_dgram_err(struct sk_buff *skb, u32 info)
{
	const struct iphdr *iph = (const struct iphdr *)skb->data;
	const struct demohdr *dh = (void *)skb->data + (iph->ihl << 2);
	int type = icmp_hdr(skb)->type;
	int code = icmp_hdr(skb)->code;
	bool harderr = false;
	struct sock *sk;
	int err = 0;

	sk = demo_dgram_lookup(dev_net(skb->dev), iph->daddr, dh->dest,
			       iph->saddr, dh->source, inet_iif(skb));
	if (!sk)
		return -ENOENT;

	switch (type) {
	case ICMP_DEST_UNREACH:
		if (code > NR_ICMP_UNREACH)
			break;
		err = icmp_err_convert[code].errno;
		/*
		 * UDP reports net and host unreachable only with IP_RECVERR;
		 * DEMO has no error queue and tells connected sockets.
		 */
		harderr = icmp_err_convert[code].fatal ||
			  code == ICMP_NET_UNREACH || code == ICMP_HOST_UNREACH;
		break;
	case ICMP_TIME_EXCEEDED:
		err = EHOSTUNREACH;
		break;
	case ICMP_PARAMETERPROB:
		err = EPROTO;
		harderr = true;
		break;
	}

	if (!err || !harderr || sk->sk_state != TCP_ESTABLISHED)
		return 0;

	WRITE_ONCE(sk->sk_err, err);
	sk_error_report(sk);
	return 0;
}

static int demo_dgram_init(struct sock *sk)
{
	/* Receive-side lookups run under RCU without taking references. */
	sock_set_flag(sk, SOCK_RCU_FREE);
	return 0;
}

static void demo_dgram_close(struct sock *sk, long timeout)
{
	sk_common_release(sk);
}

/* proto.recvmsg (its prototype: demo_compat.h). */
static int demo_dgram_recvmsg(DEMO_PROTO_RECVMSG_ARGS)
{
	return demo_recvmsg_common(sk, msg, len, flags);
}

struct proto demo_dgram_prot = {
	.name		= "DEMO",
	.owner		= THIS_MODULE,
	.obj_size	= sizeof(struct demo_sock),
	.init		= demo_dgram_init,
	.close		= demo_dgram_close,
	.bind		= demo_bind,
	.connect	= demo_dgram_connect,
	.disconnect	= demo_dgram_disconnect,
	.sendmsg	= demo_dgram_sendmsg,
	.recvmsg	= demo_dgram_recvmsg,
	.ioctl		= demo_queue_ioctl,
	.setsockopt	= demo_setsockopt,
	.getsockopt	= demo_getsockopt,
	.unhash		= demo_port_release,
};
