// SPDX-License-Identifier: GPL-2.0
/*
 * AF_DEMO: raw sockets, socket(AF_DEMO, SOCK_RAW, protocol).
 *
 * A raw socket receives a copy of every valid incoming DEMO packet, DEMO
 * header included; protocol DEMOPROTO_ANY means every packet, another
 * DEMOPROTO_* only packets of that type. What it sends is the DEMO header
 * and payload exactly as the caller built them, checksum included; the
 * kernel adds the IPv4 header. Creating one needs CAP_NET_RAW.
 *
 * Like the datagram transport, raw sockets are SOCK_RCU_FREE and their
 * list is walked under RCU by the receive path.
 */

#include <linux/ip.h>
#include <linux/rculist.h>
#include <net/ip.h>
#include <net/sock.h>

#include "demo_proto.h"

/* Does raw socket @sk want the packet in @skb? */
static bool demo_raw_match(const struct sock *sk, const struct sk_buff *skb)
{
	const struct inet_sock *inet = inet_sk(sk);
	__be32 rcv_saddr = READ_ONCE(inet->inet_rcv_saddr);
	__be32 daddr = READ_ONCE(inet->inet_daddr);
	int bound_dev_if = READ_ONCE(sk->sk_bound_dev_if);
	const struct iphdr *iph = ip_hdr(skb);

	if (sk->sk_protocol != DEMOPROTO_ANY &&
	    sk->sk_protocol != demo_hdr(skb)->type)
		return false;
	if (rcv_saddr && rcv_saddr != iph->daddr)
		return false;
	if (daddr && daddr != iph->saddr)
		return false;
	if (bound_dev_if && bound_dev_if != inet_iif(skb))
		return false;
	return !(READ_ONCE(sk->sk_shutdown) & RCV_SHUTDOWN);
}

/*
 * A copy of a validated packet for every interested raw socket.
 * Context: softirq, rcu_read_lock() held.
 */
void demo_raw_deliver(struct sk_buff *skb)
{
	struct demo_net *dn = demo_pernet(dev_net(skb->dev));
	struct sk_buff *clone;
	struct sock *sk;

	sk_for_each_rcu(sk, &dn->raw_list) {
		if (!demo_raw_match(sk, skb))
			continue;
		clone = skb_clone(skb, GFP_ATOMIC);
		if (!clone) {
			atomic_inc(&sk->sk_drops);
			continue;
		}
		/* sock_queue_rcv_skb() counts sk_drops when the queue is full. */
		if (sock_queue_rcv_skb(sk, clone) < 0)
			kfree_skb(clone);
	}
}

static int demo_raw_init(struct sock *sk)
{
	struct demo_net *dn = demo_pernet(sock_net(sk));

	sock_set_flag(sk, SOCK_RCU_FREE);

	mutex_lock(&dn->lock);
	sk_add_node_rcu(sk, &dn->raw_list);
	sock_prot_inuse_add(sock_net(sk), sk->sk_prot, 1);
	mutex_unlock(&dn->lock);
	return 0;
}

static void demo_raw_unhash(struct sock *sk)
{
	struct demo_net *dn = demo_pernet(sock_net(sk));

	mutex_lock(&dn->lock);
	if (sk_del_node_init_rcu(sk))
		sock_prot_inuse_add(sock_net(sk), sk->sk_prot, -1);
	mutex_unlock(&dn->lock);
}

static void demo_raw_close(struct sock *sk, long timeout)
{
	sk_common_release(sk);
}

/* bind() on a raw socket only selects the local address it receives on. */
static int demo_raw_bind(struct sock *sk, DEMO_PROTO_SOCKADDR_ARG_T *uaddr,
			 int addr_len)
{
	struct sockaddr_demo *sa = (struct sockaddr_demo *)uaddr;
	struct inet_sock *inet = inet_sk(sk);
	__be32 addr;
	int err;

	err = demo_check_sockaddr(uaddr, addr_len);
	if (err)
		return err;

	addr = sa->sdemo_addr.s_addr;
	if (addr != htonl(INADDR_ANY) &&
	    inet_addr_type(sock_net(sk), addr) != RTN_LOCAL)
		return -EADDRNOTAVAIL;

	lock_sock(sk);
	WRITE_ONCE(inet->inet_rcv_saddr, addr);
	inet->inet_saddr = addr;
	release_sock(sk);
	return 0;
}

/* connect() on a raw socket sets the default destination and filter. */
static int demo_raw_connect(struct sock *sk,
			    DEMO_PROTO_SOCKADDR_ARG_T *uaddr, int addr_len)
{
	struct sockaddr_demo *sa = (struct sockaddr_demo *)uaddr;
	struct inet_sock *inet = inet_sk(sk);
	int err;

	if (addr_len < (int)sizeof(uaddr->sa_family))
		return -EINVAL;

	lock_sock(sk);
	if (uaddr->sa_family == AF_UNSPEC) {
		WRITE_ONCE(inet->inet_daddr, 0);
		sk->sk_state = TCP_CLOSE;
		err = 0;
	} else {
		err = demo_check_sockaddr(uaddr, addr_len);
		if (!err) {
			WRITE_ONCE(inet->inet_daddr, sa->sdemo_addr.s_addr);
			sk->sk_state = TCP_ESTABLISHED;
		}
	}
	release_sock(sk);
	return err;
}

static int demo_raw_sendmsg(struct sock *sk, struct msghdr *msg, size_t len)
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
	}

	lock_sock(sk);
	if (sa) {
		x.daddr = sa->sdemo_addr.s_addr;
	} else if (sk->sk_state == TCP_ESTABLISHED) {
		x.daddr = inet->inet_daddr;
	} else {
		release_sock(sk);
		return -EDESTADDRREQ;
	}
	x.saddr = inet->inet_saddr;
	x.ttl = inet->uc_ttl;
	x.tos = inet->tos;
	release_sock(sk);

	err = demo_xmit(sk, msg, len, &x);
	if (err >= 0)
		demo_count_sent(sk, err);
	return err;
}

/* proto.recvmsg (its prototype: demo_compat.h). */
static int demo_raw_recvmsg(DEMO_PROTO_RECVMSG_ARGS)
{
	return demo_recvmsg_common(sk, msg, len, flags);
}

struct proto demo_raw_prot = {
	.name		= "DEMO-RAW",
	.owner		= THIS_MODULE,
	.obj_size	= sizeof(struct demo_sock),
	.init		= demo_raw_init,
	.close		= demo_raw_close,
	.bind		= demo_raw_bind,
	.connect	= demo_raw_connect,
	.sendmsg	= demo_raw_sendmsg,
	.recvmsg	= demo_raw_recvmsg,
	.ioctl		= demo_queue_ioctl,
	.setsockopt	= demo_setsockopt,
	.getsockopt	= demo_getsockopt,
	.unhash		= demo_raw_unhash,
};
