// SPDX-License-Identifier: GPL-2.0
/*
 * AF_DEMO: the protocol family layer.
 *
 * This file is to AF_DEMO what net/ipv4/af_inet.c is to AF_INET:
 *
 *   socket(AF_DEMO, type, protocol)
 *     __sock_create()              net/socket.c
 *       net_families[AF_DEMO]      filled by sock_register(&demo_family_ops)
 *         ->create = demo_create() looks (type, protocol) up in demo_protosw[]
 *           sk_alloc()             from the matching entry's struct proto
 *           sock_init_data()
 *           sk->sk_prot->init()
 *     sock_map_fd()
 *
 * and every later call on the socket enters through the proto_ops here,
 * which dispatch to the transport through sk->sk_prot, as inet_bind(),
 * inet_sendmsg() and friends do.
 *
 * Module init registers, in order: the transports' struct protos, the
 * per-namespace state, the protocol switch entries, the IP protocol handler
 * and finally the family, so that a socket() can only succeed once
 * everything below it works. Exit undoes it in exact reverse order.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/init.h>
#include <linux/kmod.h>
#include <linux/module.h>
#include <linux/net.h>
#include <linux/rculist.h>
#include <linux/sched/signal.h>
#include <linux/socket.h>
#include <kunit/visibility.h>
#include <net/net_namespace.h>
#include <net/sock.h>
#include <net/tcp_states.h>

#include "demo_proto.h"

static int family = AF_DEMO;
module_param(family, int, 0444);
MODULE_PARM_DESC(family, "address family number to register (default "
		 __stringify(AF_DEMO) ")");

/* The protocol switch: per socket type, a list of struct demo_protosw. */
static struct list_head demo_protosw_table[SOCK_MAX];
static DEFINE_SPINLOCK(demo_protosw_lock);

/**
 * demo_family_get() - the address family number AF_DEMO is registered as
 *
 * Return: the value of the module's family parameter, fixed at load time.
 */
int demo_family_get(void)
{
	return family;
}
EXPORT_SYMBOL_GPL(demo_family_get);

/**
 * demo_register_protosw() - add an entry to the AF_DEMO protocol switch
 * @p: the entry; it must stay valid until demo_unregister_protosw()
 *
 * After this returns, socket(AF_DEMO, @p->type, @p->protocol) creates
 * sockets from @p->prot with @p->ops. Entries are tried in order: a
 * specific protocol is kept ahead of the wildcard (DEMOPROTO_ANY) entries of
 * its type. A PERMANENT entry for the same type and protocol cannot be
 * overridden.
 *
 * Context: process context; takes a spinlock.
 * Return: 0 on success; -EINVAL for an out-of-range type or protocol, a
 * missing prot or ops, or a prot whose sockets are smaller than struct
 * demo_sock; -EPERM when a PERMANENT entry already holds the pair.
 */
int demo_register_protosw(struct demo_protosw *p)
{
	struct list_head *last_perm, *lh;
	struct demo_protosw *answer;
	int protocol = p->protocol;

	/* demo_create() treats every socket as a struct demo_sock. */
	if (p->type >= SOCK_MAX || protocol >= DEMOPROTO_MAX ||
	    !p->prot || !p->ops ||
	    p->prot->obj_size < sizeof(struct demo_sock))
		return -EINVAL;

	spin_lock_bh(&demo_protosw_lock);

	/* Permanent entries stay at the head of their type's list. */
	last_perm = &demo_protosw_table[p->type];
	list_for_each(lh, &demo_protosw_table[p->type]) {
		answer = list_entry(lh, struct demo_protosw, list);
		if (!(answer->flags & DEMO_PROTOSW_PERMANENT))
			break;
		if (protocol == answer->protocol)
			goto out_permanent;
		last_perm = lh;
	}

	/*
	 * A specific protocol goes right after the permanent entries, a
	 * wildcard at the tail, so a wildcard never shadows a protocol.
	 */
	if (protocol == DEMOPROTO_ANY)
		list_add_tail_rcu(&p->list, &demo_protosw_table[p->type]);
	else
		list_add_rcu(&p->list, last_perm);
	spin_unlock_bh(&demo_protosw_lock);
	return 0;

out_permanent:
	spin_unlock_bh(&demo_protosw_lock);
	pr_err("refusing to override permanent protosw entry type %u protocol %d\n",
	       p->type, protocol);
	return -EPERM;
}
EXPORT_SYMBOL_GPL(demo_register_protosw);

/**
 * demo_unregister_protosw() - remove an entry from the protocol switch
 * @p: an entry added by demo_register_protosw()
 *
 * Waits for concurrent socket() lookups to finish, so @p may be freed on
 * return. Sockets already created from @p keep their module references and
 * are unaffected. PERMANENT entries cannot be removed.
 *
 * Context: process context; may sleep.
 */
void demo_unregister_protosw(struct demo_protosw *p)
{
	if (WARN_ON(p->flags & DEMO_PROTOSW_PERMANENT))
		return;

	spin_lock_bh(&demo_protosw_lock);
	list_del_rcu(&p->list);
	spin_unlock_bh(&demo_protosw_lock);

	synchronize_net();
}
EXPORT_SYMBOL_GPL(demo_unregister_protosw);

/**
 * demo_protosw_match() - may an entry serve socket(..., *@protocol)?
 * @entry_protocol: the entry's protocol, DEMOPROTO_ANY for a wildcard
 * @protocol: the protocol asked for; set to what the socket gets
 *
 * inet_create()'s rules, except that an exact match on DEMOPROTO_ANY
 * counts (raw sockets: protocol 0 means every packet).
 *
 * Return: true if the entry matches.
 */
VISIBLE_IF_KUNIT bool demo_protosw_match(int entry_protocol, int *protocol)
{
	/* An exact match, DEMOPROTO_ANY included. */
	if (*protocol == entry_protocol)
		return true;
	/* The caller leaves the choice to the first entry. */
	if (*protocol == DEMOPROTO_ANY) {
		*protocol = entry_protocol;
		return true;
	}
	/* A wildcard entry takes any protocol. */
	return entry_protocol == DEMOPROTO_ANY;
}
EXPORT_SYMBOL_IF_KUNIT(demo_protosw_match);

/*
 * Find the entry for (type, *protocol), copy it to @answer and pin its
 * module: the entry itself may be unregistered and freed as soon as the
 * RCU read side ends. On success *protocol holds the protocol the socket
 * gets.
 */
static int demo_protosw_get(int type, int *protocol,
			    struct demo_protosw *answer)
{
	struct demo_protosw *p;
	int err = -ESOCKTNOSUPPORT;

	rcu_read_lock();
	list_for_each_entry_rcu(p, &demo_protosw_table[type], list) {
		err = 0;
		if (demo_protosw_match(p->protocol, protocol))
			break;
		err = -EPROTONOSUPPORT;
	}
	if (!err) {
		if (try_module_get(p->prot->owner))
			*answer = *p;
		else
			err = -EPROTONOSUPPORT;
	}
	rcu_read_unlock();

	return err;
}

static void demo_sock_destruct(struct sock *sk)
{
	skb_queue_purge(&sk->sk_receive_queue);
	skb_queue_purge(&sk->sk_error_queue);
	/* A protocol with a memory account gives back what is left. */
	sk_mem_reclaim_final(sk);

	WARN_ON_ONCE(atomic_read(&sk->sk_rmem_alloc));
	WARN_ON_ONCE(sk->sk_wmem_queued);
	WARN_ON_ONCE(sk->sk_forward_alloc);
	if (sk->sk_prot->sockets_allocated)
		sk_sockets_allocated_dec(sk);
}

/**
 * demo_sock_init() - the AF_DEMO part of a new socket's initialisation
 * @sk: a socket fresh from sk_alloc() and sock_init_data()
 * @protocol: the DEMOPROTO_* it serves
 *
 * For demo_create() and for connections a seqpacket listener creates.
 * AF_DEMO sockets are IP sockets underneath: IP output reads the inet_sock
 * of skb->sk. Datagrams are never sent with DF; a transport that wants path
 * MTU discovery changes pmtudisc in its init.
 */
void demo_sock_init(struct sock *sk, int protocol)
{
	struct inet_sock *inet = inet_sk(sk);

	sk->sk_protocol = protocol;
	sk->sk_destruct = demo_sock_destruct;
	sk->sk_backlog_rcv = sk->sk_prot->backlog_rcv;
	inet->uc_ttl = -1;
	inet->pmtudisc = IP_PMTUDISC_DONT;
}

/*
 * net_proto_family.create: the analog of inet_create(). The errno rules are
 * inet_create()'s: an out-of-range protocol is EINVAL, a type with no entry
 * at all ESOCKTNOSUPPORT, a type whose entries do not match the protocol
 * EPROTONOSUPPORT (after asking for a module that might provide it), and
 * a raw socket without CAP_NET_RAW in the namespace's user namespace EPERM.
 */
static int demo_create(struct net *net, struct socket *sock, int protocol,
		       int kern)
{
	struct demo_protosw answer;
	int try_loading_module = 0;
	struct sock *sk;
	int err;

	if (protocol < 0 || protocol >= DEMOPROTO_MAX)
		return -EINVAL;

	sock->state = SS_UNCONNECTED;

lookup_protocol:
	err = demo_protosw_get(sock->type, &protocol, &answer);
	if (err) {
		if (try_loading_module < 2) {
			if (++try_loading_module == 1)
				request_module("net-pf-%d-proto-%d-type-%d",
					       family, protocol, sock->type);
			else
				request_module("net-pf-%d-proto-%d",
					       family, protocol);
			goto lookup_protocol;
		}
		return err;
	}

	err = -EPERM;
	if (sock->type == SOCK_RAW && !kern &&
	    !ns_capable(net->user_ns, CAP_NET_RAW))
		goto out_module_put;

	err = -ENOMEM;
	sk = sk_alloc(net, family, GFP_KERNEL, answer.prot, kern);
	if (!sk)
		goto out_module_put;

	sock->ops = answer.ops;
	sock_init_data(sock, sk);
	if (answer.flags & DEMO_PROTOSW_REUSE)
		sk->sk_reuse = SK_CAN_REUSE;
	demo_sock_init(sk, protocol);

	err = 0;
	if (sk->sk_prot->init) {
		err = sk->sk_prot->init(sk);
		if (err) {
			sk_common_release(sk);
			sock->sk = NULL;
		}
	}

out_module_put:
	/* The socket, if any, now holds its own reference. */
	module_put(answer.prot->owner);
	return err;
}

/*
 * The socket-level operations. Each one is the family's entry point for a
 * system call and hands the work to the transport, sk->sk_prot.
 */

static int demo_release(struct socket *sock)
{
	struct sock *sk = sock->sk;

	if (!sk)
		return 0;

	sk->sk_prot->close(sk, sock_flag(sk, SOCK_LINGER) ?
			   sk->sk_lingertime : 0);
	sock->sk = NULL;
	return 0;
}

static int demo_bind_ops(struct socket *sock, DEMO_SOCKADDR_ARG_T *uaddr,
			 int addr_len)
{
	struct sock *sk = sock->sk;

	if (!sk->sk_prot->bind)
		return -EOPNOTSUPP;
	return sk->sk_prot->bind(sk, (DEMO_PROTO_SOCKADDR_ARG_T *)uaddr,
				 addr_len);
}

static int demo_dgram_connect(struct socket *sock, DEMO_SOCKADDR_ARG_T *uaddr,
			      int addr_len, int flags)
{
	struct sock *sk = sock->sk;

	if (!sk->sk_prot->connect)
		return -EOPNOTSUPP;
	return sk->sk_prot->connect(sk, (DEMO_PROTO_SOCKADDR_ARG_T *)uaddr,
				    addr_len);
}

static int demo_getname(struct socket *sock, struct sockaddr *uaddr,
			int peer)
{
	struct sockaddr_demo *sa = (struct sockaddr_demo *)uaddr;
	struct sock *sk = sock->sk;
	struct inet_sock *inet = inet_sk(sk);

	lock_sock(sk);
	if (peer) {
		if (!inet->inet_dport ||
		    ((1 << sk->sk_state) & (TCPF_CLOSE | TCPF_SYN_SENT))) {
			release_sock(sk);
			return -ENOTCONN;
		}
		demo_fill_sockaddr(sa, inet->inet_daddr, inet->inet_dport);
	} else {
		demo_fill_sockaddr(sa, inet->inet_saddr ?: inet->inet_rcv_saddr, inet->inet_sport);
	}
	release_sock(sk);

	return sizeof(*sa);
}

static int demo_sendmsg(struct socket *sock, struct msghdr *msg, size_t len)
{
	struct sock *sk = sock->sk;

	return sk->sk_prot->sendmsg(sk, msg, len);
}

static int demo_recvmsg(struct socket *sock, struct msghdr *msg, size_t len,
			int flags)
{
	return demo_compat_prot_recvmsg(sock->sk, msg, len, flags);
}

static int demo_shutdown(struct socket *sock, int how)
{
	struct sock *sk = sock->sk;

	/* SHUT_RD/SHUT_WR/SHUT_RDWR to RCV_SHUTDOWN/SEND_SHUTDOWN bits. */
	how++;
	if (how < RCV_SHUTDOWN || how > SHUTDOWN_MASK)
		return -EINVAL;

	lock_sock(sk);
	WRITE_ONCE(sk->sk_shutdown, sk->sk_shutdown | how);
	if (sk->sk_prot->shutdown)
		sk->sk_prot->shutdown(sk, how);
	/* Wake up anyone sleeping in poll or in a blocking call. */
	sk->sk_state_change(sk);
	release_sock(sk);

	return 0;
}

static int demo_ioctl(struct socket *sock, unsigned int cmd,
		      unsigned long arg)
{
	return demo_compat_sk_ioctl(sock->sk, cmd, arg);
}

static int demo_setsockopt_ops(struct socket *sock, int level, int optname,
			       sockptr_t optval, unsigned int optlen)
{
	struct sock *sk = sock->sk;

	return sk->sk_prot->setsockopt(sk, level, optname, optval, optlen);
}

static int demo_getsockopt_ops(struct socket *sock, int level, int optname,
			       char __user *optval, int __user *optlen)
{
	struct sock *sk = sock->sk;

	return sk->sk_prot->getsockopt(sk, level, optname, optval, optlen);
}

/*
 * Datagram-style sockets: DEMOPROTO_DGRAM and raw. Not const: .family is
 * the family parameter, set in demo_init(); read-only after that.
 */
static struct proto_ops demo_dgram_ops __ro_after_init = {
	/* .family is set at load time from the family parameter. */
	.owner		= THIS_MODULE,
	.release	= demo_release,
	.bind		= demo_bind_ops,
	.connect	= demo_dgram_connect,
	.socketpair	= sock_no_socketpair,
	.accept		= sock_no_accept,
	.getname	= demo_getname,
	.poll		= datagram_poll,
	.ioctl		= demo_ioctl,
	.gettstamp	= sock_gettstamp,
	.listen		= sock_no_listen,
	.shutdown	= demo_shutdown,
	.setsockopt	= demo_setsockopt_ops,
	.getsockopt	= demo_getsockopt_ops,
	.sendmsg	= demo_sendmsg,
	.recvmsg	= demo_recvmsg,
	.mmap		= sock_no_mmap,
};

/*
 * Connection-oriented sockets (DEMOPROTO_SEQPACKET), as inet_stream_ops:
 * the socket state (SS_*) is kept here, the connection state (TCP_*) by
 * the transport.
 */

/*
 * The analog of __inet_stream_connect(), with its rules: EISCONN when
 * connected, EALREADY while a non-blocking connect is in progress (its
 * outcome then reported once by the next connect()), EINPROGRESS for a
 * non-blocking start, and the connection's error once it failed.
 */
static int demo_stream_connect(struct socket *sock, DEMO_SOCKADDR_ARG_T *uaddr,
			       int addr_len, int flags)
{
	struct sock *sk = sock->sk;
	long timeo;
	int err;

	lock_sock(sk);
	switch (sock->state) {
	case SS_CONNECTED:
		err = -EISCONN;
		goto out_release;
	case SS_CONNECTING:
		err = -EALREADY;
		break;
	case SS_UNCONNECTED:
		err = -EISCONN;
		if (sk->sk_state != TCP_CLOSE)
			goto out_release;
		err = sk->sk_prot->connect(sk,
					   (DEMO_PROTO_SOCKADDR_ARG_T *)uaddr,
					   addr_len);
		if (err < 0)
			goto out_release;
		sock->state = SS_CONNECTING;
		err = -EINPROGRESS;
		break;
	default:
		err = -EINVAL;
		goto out_release;
	}

	timeo = sock_sndtimeo(sk, flags & O_NONBLOCK);
	if (sk->sk_state == TCP_SYN_SENT) {
		/* err stays EINPROGRESS or EALREADY if time runs out. */
		if (!timeo || !demo_seq_wait_connect(sk, timeo))
			goto out_release;
		err = sock_intr_errno(timeo);
		if (signal_pending(current))
			goto out_release;
	}

	if (sk->sk_state == TCP_CLOSE) {
		/* Refused, timed out or reset: the socket may connect again. */
		err = sock_error(sk) ?: -ECONNABORTED;
		sock->state = SS_UNCONNECTED;
		if (sk->sk_prot->disconnect(sk, flags))
			sock->state = SS_DISCONNECTING;
		goto out_release;
	}
	sock->state = SS_CONNECTED;
	err = 0;

out_release:
	release_sock(sk);
	return err;
}

static int demo_listen(struct socket *sock, int backlog)
{
	struct sock *sk = sock->sk;
	int err = -EINVAL;

	lock_sock(sk);
	if (sock->state == SS_UNCONNECTED)
		err = demo_seq_listen(sk, backlog);
	release_sock(sk);
	return err;
}

/* The analog of inet_accept(): the transport hands over a connected sock. */
static int demo_accept(struct socket *sock, struct socket *newsock,
		       DEMO_ACCEPT_ARGS)
{
	struct sock *newsk;
	int err;

	newsk = demo_seq_accept(sock->sk, DEMO_ACCEPT_FLAGS, &err,
				DEMO_ACCEPT_KERN);
	if (!newsk)
		return err;

	lock_sock(newsk);
	/* As inet_accept(): grafted, and charged to the memory cgroup. */
	demo_compat_accept_graft(sock, newsock, newsk);
	release_sock(newsk);
	return 0;
}

static int demo_stream_shutdown(struct socket *sock, int how)
{
	struct sock *sk = sock->sk;
	int err = 0;

	how++;
	if (how < RCV_SHUTDOWN || how > SHUTDOWN_MASK)
		return -EINVAL;

	lock_sock(sk);
	if ((1 << sk->sk_state) & (TCPF_CLOSE | TCPF_SYN_SENT)) {
		err = -ENOTCONN;
	} else {
		WRITE_ONCE(sk->sk_shutdown, sk->sk_shutdown | how);
		sk->sk_prot->shutdown(sk, how);
	}
	sk->sk_state_change(sk);
	release_sock(sk);
	return err;
}

static struct proto_ops demo_stream_ops __ro_after_init = {
	/* .family is set at load time from the family parameter. */
	.owner		= THIS_MODULE,
	.release	= demo_release,
	.bind		= demo_bind_ops,
	.connect	= demo_stream_connect,
	.socketpair	= sock_no_socketpair,
	.accept		= demo_accept,
	.getname	= demo_getname,
	.poll		= demo_seq_poll,
	.ioctl		= demo_ioctl,
	.gettstamp	= sock_gettstamp,
	.listen		= demo_listen,
	.shutdown	= demo_stream_shutdown,
	.setsockopt	= demo_setsockopt_ops,
	.getsockopt	= demo_getsockopt_ops,
	.sendmsg	= demo_sendmsg,
	.recvmsg	= demo_recvmsg,
	.mmap		= sock_no_mmap,
};

/* The built-in entries, like inetsw_array[]. */
static struct demo_protosw demo_protosw_builtin[] = {
	{
		.type		= SOCK_DGRAM,
		.protocol	= DEMOPROTO_DGRAM,
		.prot		= &demo_dgram_prot,
		.ops		= &demo_dgram_ops,
		.flags		= DEMO_PROTOSW_PERMANENT,
	},
	{
		.type		= SOCK_SEQPACKET,
		.protocol	= DEMOPROTO_SEQPACKET,
		.prot		= &demo_seq_prot,
		.ops		= &demo_stream_ops,
		.flags		= DEMO_PROTOSW_PERMANENT,
	},
	{
		.type		= SOCK_RAW,
		.protocol	= DEMOPROTO_ANY,	/* wildcard */
		.prot		= &demo_raw_prot,
		.ops		= &demo_dgram_ops,
		.flags		= DEMO_PROTOSW_REUSE,
	},
};

static struct net_proto_family demo_family_ops __ro_after_init = {
	/* .family is set at load time from the family parameter. */
	.create	= demo_create,
	.owner	= THIS_MODULE,
};

static struct proto *const demo_protos[] = {
	&demo_dgram_prot,
	&demo_seq_prot,
	&demo_raw_prot,
};

static void demo_protos_unregister(int count)
{
	while (count-- > 0)
		proto_unregister(demo_protos[count]);
}

static int demo_protos_register(void)
{
	int i, err;

	for (i = 0; i < ARRAY_SIZE(demo_protos); i++) {
		err = proto_register(demo_protos[i], 1);
		if (err) {
			demo_protos_unregister(i);
			return err;
		}
	}
	return 0;
}

static void demo_protosw_unregister_builtin(int count)
{
	/* Built-in entries are PERMANENT only while the module is loaded. */
	spin_lock_bh(&demo_protosw_lock);
	while (count-- > 0)
		list_del_rcu(&demo_protosw_builtin[count].list);
	spin_unlock_bh(&demo_protosw_lock);
	synchronize_net();
}

static int demo_protosw_register_builtin(void)
{
	int i, err;

	for (i = 0; i < SOCK_MAX; i++)
		INIT_LIST_HEAD(&demo_protosw_table[i]);

	for (i = 0; i < ARRAY_SIZE(demo_protosw_builtin); i++) {
		err = demo_register_protosw(&demo_protosw_builtin[i]);
		if (err) {
			demo_protosw_unregister_builtin(i);
			return err;
		}
	}
	return 0;
}

static int __init demo_init(void)
{
	int err;

	/* The uapi address must read like sockaddr_in to generic tools. */
	BUILD_BUG_ON(sizeof(struct sockaddr_demo) != sizeof(struct sockaddr_in));
	BUILD_BUG_ON(offsetof(struct sockaddr_demo, sdemo_port) !=
		     offsetof(struct sockaddr_in, sin_port));
	BUILD_BUG_ON(offsetof(struct sockaddr_demo, sdemo_addr) !=
		     offsetof(struct sockaddr_in, sin_addr));
	BUILD_BUG_ON(sizeof(struct demohdr) != 12);
	/* The ICMP error handler sees only the first 8 bytes of the header. */
	BUILD_BUG_ON(offsetofend(struct demohdr, type) > 8);

	if (family <= AF_UNSPEC || family >= NPROTO) {
		pr_err("family %d out of range 1..%d\n", family, NPROTO - 1);
		return -EINVAL;
	}
	demo_dgram_ops.family = family;
	demo_stream_ops.family = family;
	demo_family_ops.family = family;
	demo_seq_init();
	err = demo_conn_hash_init();
	if (err)
		return err;
	err = demo_seq_mem_init();
	if (err)
		return err;

	err = demo_protos_register();
	if (err)
		goto err_mem_exit;

	err = register_pernet_subsys(&demo_net_ops);
	if (err)
		goto err_protos_unregister;

	err = demo_protosw_register_builtin();
	if (err)
		goto err_pernet_unregister;

	err = demo_ip_register();
	if (err)
		goto err_protosw_unregister;

	err = sock_register(&demo_family_ops);
	if (err) {
		/*
		 * EEXIST from a module's init tells insmod and modprobe that
		 * the module is already loaded (7.x turns it into EBUSY):
		 * a taken family is EBUSY on every kernel, as a taken IP
		 * protocol is.
		 */
		if (err == -EEXIST) {
			pr_err("address family %d is already registered\n",
			       family);
			err = -EBUSY;
		}
		goto err_ip_unregister;
	}

	/*
	 * Last, and not allowed to fail: a sock_diag request holds the
	 * module, which a failed init would free under a dump it started.
	 * A family whose sock_diag slot is taken (by the diag module of an
	 * in-tree family not loaded) works without listing.
	 */
	if (demo_diag_init(family))
		pr_warn("sock_diag of family %d is taken: no socket listing\n",
			family);

	pr_info("registered address family %d, IP protocol %d\n",
		family, demo_ipproto);
	return 0;

err_ip_unregister:
	demo_ip_unregister();
err_protosw_unregister:
	demo_protosw_unregister_builtin(ARRAY_SIZE(demo_protosw_builtin));
err_pernet_unregister:
	unregister_pernet_subsys(&demo_net_ops);
err_protos_unregister:
	demo_protos_unregister(ARRAY_SIZE(demo_protos));
err_mem_exit:
	demo_seq_mem_exit();
	return err;
}

static void __exit demo_exit(void)
{
	demo_diag_exit();
	sock_unregister(family);
	demo_ip_unregister();
	demo_protosw_unregister_builtin(ARRAY_SIZE(demo_protosw_builtin));
	unregister_pernet_subsys(&demo_net_ops);
	demo_protos_unregister(ARRAY_SIZE(demo_protos));
	demo_seq_mem_exit();
}

module_init(demo_init);
module_exit(demo_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("af_demo developers");
MODULE_DESCRIPTION("AF_DEMO: a demonstration socket family over IPv4");
MODULE_VERSION(DEMO_MODULE_VERSION);
MODULE_ALIAS_NETPROTO(AF_DEMO);
