// SPDX-License-Identifier: GPL-2.0
/*
 * AF_DEMO: local ports, shared by the datagram and seqpacket transports.
 *
 * Each transport has its own bindings (a socket of one sk_protocol never
 * clashes with another's), in one per-namespace hash by port. Readers
 * (softirq receive, ICMP errors, /proc) walk it under RCU; sockets are
 * SOCK_RCU_FREE so a reader never sees one freed under it. Writers (bind,
 * autobind, disconnect, close; all in process context) hold the
 * demo_net.lock mutex, and change what readers match on with WRITE_ONCE().
 */

#include <linux/random.h>
#include <linux/rculist.h>
#include <net/inet_common.h>
#include <net/ip.h>
#include <net/route.h>
#include <net/sock.h>

#include "demo_proto.h"

/* Would binding @sk to @port clash with a socket already in @dn? */
static bool demo_port_used(struct demo_net *dn, const struct sock *sk,
			   u16 port)
{
	__be32 addr = inet_sk(sk)->inet_rcv_saddr;
	struct sock *other;

	sk_for_each(other, demo_bind_bucket(dn, port)) {
		const struct inet_sock *o = inet_sk(other);

		if (o->inet_num == port && other->sk_protocol == sk->sk_protocol &&
		    (!o->inet_rcv_saddr || !addr || o->inet_rcv_saddr == addr))
			return true;
	}
	return false;
}

/**
 * demo_get_port() - give @sk a local port and hash it
 * @sk: an unbound socket
 * @port: the port, or 0 for an ephemeral one from the namespace's
 *	ip_local_port_range
 *
 * Context: process context, socket lock held.
 * Return: 0 or -EADDRINUSE.
 */
int demo_get_port(struct sock *sk, u16 port)
{
	struct demo_net *dn = demo_pernet(sock_net(sk));
	struct inet_sock *inet = inet_sk(sk);
	int low, high, remaining, offset, i;
	int err = -EADDRINUSE;

	mutex_lock(&dn->lock);
	if (port) {
		if (demo_port_used(dn, sk, port))
			goto out_unlock;
	} else {
		inet_get_local_port_range(sock_net(sk), &low, &high);
		remaining = high - low + 1;
		offset = get_random_u32_below(remaining);
		for (i = 0; i < remaining; i++) {
			port = low + (offset + i) % remaining;
			if (!demo_port_used(dn, sk, port))
				break;
			cond_resched();
		}
		if (i == remaining)
			goto out_unlock;
	}

	WRITE_ONCE(inet->inet_num, port);
	inet->inet_sport = htons(port);
	sk_add_node_rcu(sk, demo_bind_bucket(dn, port));
	sock_prot_inuse_add(sock_net(sk), sk->sk_prot, 1);
	err = 0;

out_unlock:
	mutex_unlock(&dn->lock);
	return err;
}

/**
 * demo_port_release() - give up @sk's local port, if it has one
 * @sk: the socket
 *
 * Context: process context.
 */
void demo_port_release(struct sock *sk)
{
	struct demo_net *dn = demo_pernet(sock_net(sk));
	struct inet_sock *inet = inet_sk(sk);

	mutex_lock(&dn->lock);
	if (sk_del_node_init_rcu(sk)) {
		WRITE_ONCE(inet->inet_num, 0);
		inet->inet_sport = 0;
		sock_prot_inuse_add(sock_net(sk), sk->sk_prot, -1);
	}
	mutex_unlock(&dn->lock);
}

/**
 * demo_port_unhash() - stop holding @sk's port, keeping its number
 * @sk: a connected socket that outlives its binding (a closed seqpacket
 *	socket finishing its connection)
 *
 * Context: process context.
 */
void demo_port_unhash(struct sock *sk)
{
	struct demo_net *dn = demo_pernet(sock_net(sk));

	mutex_lock(&dn->lock);
	if (sk_del_node_init_rcu(sk))
		sock_prot_inuse_add(sock_net(sk), sk->sk_prot, -1);
	mutex_unlock(&dn->lock);
}

/**
 * demo_autobind() - bind an unbound socket to an ephemeral port
 * @sk: the socket, locked
 *
 * As UDP's autobind; a socket that has a port keeps it.
 * Return: 0, or -EAGAIN when no port is free.
 */
int demo_autobind(struct sock *sk)
{
	if (inet_sk(sk)->inet_num)
		return 0;
	return demo_get_port(sk, 0) ? -EAGAIN : 0;
}

/**
 * demo_bind() - bind(2) for the AF_DEMO transports
 * @sk: the socket
 * @uaddr: a struct sockaddr_demo from the caller
 * @addr_len: its length
 *
 * Return: 0; -EINVAL/-EAFNOSUPPORT for a bad address, -EADDRNOTAVAIL for an
 * address that is not local, -EACCES for a privileged port, -EINVAL when
 * already bound, -EADDRINUSE when the port is taken.
 */
int demo_bind(struct sock *sk, DEMO_PROTO_SOCKADDR_ARG_T *uaddr, int addr_len)
{
	struct sockaddr_demo *sa = (struct sockaddr_demo *)uaddr;
	struct inet_sock *inet = inet_sk(sk);
	struct net *net = sock_net(sk);
	__be32 addr;
	u16 port;
	int err;

	err = demo_check_sockaddr(uaddr, addr_len);
	if (err)
		return err;

	addr = sa->sdemo_addr.s_addr;
	if (addr != htonl(INADDR_ANY) && inet_addr_type(net, addr) != RTN_LOCAL)
		return -EADDRNOTAVAIL;

	port = ntohs(sa->sdemo_port);
	if (port && inet_port_requires_bind_service(net, port) &&
	    !ns_capable(net->user_ns, CAP_NET_BIND_SERVICE))
		return -EACCES;

	lock_sock(sk);
	err = -EINVAL;
	if (inet->inet_num || sk->sk_state != TCP_CLOSE)
		goto out_release;

	inet->inet_rcv_saddr = addr;
	inet->inet_saddr = addr;
	err = demo_get_port(sk, port);
	if (err) {
		inet->inet_rcv_saddr = 0;
		inet->inet_saddr = 0;
		goto out_release;
	}
	if (addr)
		sk->sk_userlocks |= SOCK_BINDADDR_LOCK;
	if (port)
		sk->sk_userlocks |= SOCK_BINDPORT_LOCK;

out_release:
	release_sock(sk);
	return err;
}

/**
 * demo_set_peer() - make @sk's peer the one connect() routed to
 * @sk: the socket, locked
 * @fl4: the flow routing chose, its source address included
 * @dport: the peer's port
 *
 * As for UDP, a socket bound to any address now sends from, and receives
 * on, the source address the route chose.
 */
void demo_set_peer(struct sock *sk, const struct flowi4 *fl4, __be16 dport)
{
	struct inet_sock *inet = inet_sk(sk);

	if (!inet->inet_saddr)
		inet->inet_saddr = fl4->saddr;
	if (!inet->inet_rcv_saddr)
		WRITE_ONCE(inet->inet_rcv_saddr, fl4->saddr);
	WRITE_ONCE(inet->inet_daddr, fl4->daddr);
	WRITE_ONCE(inet->inet_dport, dport);
}

/**
 * demo_clear_peer() - forget @sk's peer and what connect() set implicitly
 * @sk: the socket, locked
 */
void demo_clear_peer(struct sock *sk)
{
	struct inet_sock *inet = inet_sk(sk);

	WRITE_ONCE(inet->inet_daddr, 0);
	WRITE_ONCE(inet->inet_dport, 0);
	if (!(sk->sk_userlocks & SOCK_BINDADDR_LOCK)) {
		inet->inet_saddr = 0;
		WRITE_ONCE(inet->inet_rcv_saddr, 0);
	}
}
