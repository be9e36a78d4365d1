/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every kernel-version difference af_demo cares about, in one place.
 *
 * Where a distribution may backport an interface, the build detects it from
 * the kernel headers (see Kbuild: DEMO_HAVE_*), never from version numbers.
 *
 * Supported: Linux 6.1 through 7.x, PREEMPT_RT included.  Built W=1
 * -Werror clean on Debian's 6.1, 6.12 and 6.12 PREEMPT_RT kernels, the
 * debug kernel (6.12) and the newest mainline kernel (7.3), and sparse
 * clean on each (7.x through Debian sid's sparse: scripts/sparse.sh).
 */
#ifndef _DEMO_COMPAT_H
#define _DEMO_COMPAT_H

#include <linux/net.h>
#include <linux/sysctl.h>
#include <linux/timer.h>
#include <linux/slab.h>
#include <net/inet_common.h>
#include <net/net_namespace.h>
#include <net/sock.h>
#ifdef DEMO_HAVE_PROTO_MEMORY_H
/* 6.10: the proto memory helpers left sock.h. */
#include <net/proto_memory.h>
#endif

/*
 * 6.5 moved struct proto's ioctl to a kernel-pointer argument, with
 * sk_ioctl() doing the user copy.
 */
#ifdef DEMO_HAVE_SK_IOCTL
#define DEMO_IOCTL_ARG_T	int *

static inline int demo_compat_sk_ioctl(struct sock *sk, unsigned int cmd,
				       unsigned long arg)
{
	return sk_ioctl(sk, cmd, (void __user *)arg);
}

static inline int demo_compat_ioctl_ret(int *karg, int val)
{
	*karg = val;
	return 0;
}
#else
#define DEMO_IOCTL_ARG_T	unsigned long

static inline int demo_compat_sk_ioctl(struct sock *sk, unsigned int cmd,
				       unsigned long arg)
{
	if (!sk->sk_prot->ioctl)
		return -ENOIOCTLCMD;
	return sk->sk_prot->ioctl(sk, cmd, arg);
}

static inline int demo_compat_ioctl_ret(unsigned long karg, int val)
{
	return put_user(val, (int __user *)karg);
}
#endif

/* 6.5: splice() hands sendmsg() pages with MSG_SPLICE_PAGES. */
#ifndef MSG_SPLICE_PAGES
#define MSG_SPLICE_PAGES	0
#endif

/* 6.10: proto_ops.accept takes struct proto_accept_arg. */
#ifdef DEMO_HAVE_PROTO_ACCEPT_ARG
#define DEMO_ACCEPT_ARGS	struct proto_accept_arg *arg
#define DEMO_ACCEPT_FLAGS	(arg->flags)
#define DEMO_ACCEPT_KERN	(arg->kern)
#else
#define DEMO_ACCEPT_ARGS	int flags, bool kern
#define DEMO_ACCEPT_FLAGS	flags
#define DEMO_ACCEPT_KERN	kern
#endif

/* 6.19: bind and connect take struct sockaddr_unsized. */
#ifdef DEMO_HAVE_SOCKADDR_UNSIZED
#define DEMO_SOCKADDR_ARG_T	struct sockaddr_unsized
#else
#define DEMO_SOCKADDR_ARG_T	struct sockaddr
#endif

/* 6.19: struct proto's bind and connect take struct sockaddr_unsized too. */
#ifdef DEMO_HAVE_PROTO_SOCKADDR_UNSIZED
#define DEMO_PROTO_SOCKADDR_ARG_T	struct sockaddr_unsized
#else
#define DEMO_PROTO_SOCKADDR_ARG_T	struct sockaddr
#endif

/*
 * 7.1: struct proto's recvmsg lost its int *addr_len argument.  The
 * handlers set msg->msg_namelen themselves, on every kernel, and take
 * DEMO_PROTO_RECVMSG_ARGS; demo_compat_prot_recvmsg() calls them.
 */
#ifdef DEMO_HAVE_PROTO_RECVMSG_ADDR_LEN
#define DEMO_PROTO_RECVMSG_ARGS	struct sock *sk, struct msghdr *msg, \
				size_t len, int flags, int *addr_len

static inline int demo_compat_prot_recvmsg(struct sock *sk,
					   struct msghdr *msg, size_t len,
					   int flags)
{
	int addr_len = 0;

	return sk->sk_prot->recvmsg(sk, msg, len, flags, &addr_len);
}
#else
#define DEMO_PROTO_RECVMSG_ARGS	struct sock *sk, struct msghdr *msg, \
				size_t len, int flags

static inline int demo_compat_prot_recvmsg(struct sock *sk,
					   struct msghdr *msg, size_t len,
					   int flags)
{
	return sk->sk_prot->recvmsg(sk, msg, len, flags);
}
#endif

/* 6.17: sock_i_uid() became sk_uid(). */
#ifdef DEMO_HAVE_SK_UID
static inline kuid_t demo_compat_sk_uid(struct sock *sk)
{
	return sk_uid(sk);
}
#else
static inline kuid_t demo_compat_sk_uid(struct sock *sk)
{
	return sock_i_uid(sk);
}
#endif

/*
 * 7.x: sk_stream_wait_close() is no longer exported (TCP and MPTCP, built
 * in, are its only users): where it is not, the same wait, for a socket
 * leaving FIN_WAIT1, CLOSING or LAST_ACK, or the timeout.
 */
#ifdef DEMO_HAVE_SK_STREAM_WAIT_CLOSE_EXPORT
static inline void demo_compat_stream_wait_close(struct sock *sk,
						 long timeout)
{
	sk_stream_wait_close(sk, timeout);
}
#else
static inline bool demo_compat_stream_closing(const struct sock *sk)
{
	return (1 << READ_ONCE(sk->sk_state)) &
	       (TCPF_FIN_WAIT1 | TCPF_CLOSING | TCPF_LAST_ACK);
}

static inline void demo_compat_stream_wait_close(struct sock *sk,
						 long timeout)
{
	DEFINE_WAIT_FUNC(wait, woken_wake_function);

	if (!timeout)
		return;
	add_wait_queue(sk_sleep(sk), &wait);
	do {
		if (sk_wait_event(sk, &timeout,
				  !demo_compat_stream_closing(sk), &wait))
			break;
	} while (!signal_pending(current) && timeout);
	remove_wait_queue(sk_sleep(sk), &wait);
}
#endif

/* 6.16: from_timer() became timer_container_of(). */
#ifndef timer_container_of
#define timer_container_of(var, timer, field) from_timer(var, timer, field)
#endif

/* 6.13: MODULE_IMPORT_NS() takes a string literal, not an identifier. */
#ifdef DEMO_HAVE_IMPORT_NS_IDENT
#define DEMO_IMPORT_KUNIT_NS()	MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING)
#else
#define DEMO_IMPORT_KUNIT_NS()	MODULE_IMPORT_NS("EXPORTED_FOR_KUNIT_TESTING")
#endif

/*
 * 6.6: register_net_sysctl_sz() takes the table's size; before, a table
 * ended with an empty entry.
 */
#ifdef DEMO_HAVE_REGISTER_NET_SYSCTL_SZ
#define DEMO_CTL_TABLE_END

static inline struct ctl_table_header *
demo_compat_register_net_sysctl(struct net *net, const char *path,
				struct ctl_table *table, size_t size)
{
	return register_net_sysctl_sz(net, path, table, size);
}
#else
#define DEMO_CTL_TABLE_END	{ }

static inline struct ctl_table_header *
demo_compat_register_net_sysctl(struct net *net, const char *path,
				struct ctl_table *table, size_t size)
{
	return register_net_sysctl(net, path, table);
}
#endif

/*
 * 6.0: struct proto's per-CPU reserve of memory_allocated, which the
 * socket memory helpers use when the protocol provides it.
 */
#ifdef DEMO_HAVE_PER_CPU_FW_ALLOC
#define DEMO_SEQ_PER_CPU_FW_ALLOC \
	.per_cpu_fw_alloc = &demo_seq_memory_per_cpu_fw_alloc,
#else
#define DEMO_SEQ_PER_CPU_FW_ALLOC
#endif

/*
 * 6.12: the accepted socket's own object is charged to the memory cgroup
 * of the task accepting it, as inet_csk_accept() does with
 * kmem_cache_charge(); before, nothing charges it.
 */
#ifdef DEMO_HAVE_KMEM_CACHE_CHARGE_EXPORT
static inline void demo_compat_kmem_cache_charge(struct sock *sk)
{
	kmem_cache_charge(sk, GFP_KERNEL | __GFP_NOFAIL);
}
#else
static inline void demo_compat_kmem_cache_charge(struct sock *sk)
{
}
#endif

/*
 * accept(): the new socket goes to the memory cgroup of the accepting task,
 * with the memory it already holds, as TCP's are. 7.x does that in the
 * exported __inet_accept() (mem_cgroup_sk_alloc() and __sk_charge()).
 * Before, it is inet_csk_accept()'s work, through mem_cgroup_sk_alloc() and
 * mem_cgroup_charge_skmem(), which are not exported:
 * demo_seq_accept_memcg() (demo_seqpacket.c) does it through exported
 * paths.
 */
#ifdef DEMO_HAVE_INET_ACCEPT_MEMCG
#define DEMO_ACCEPT_CHARGES_MEMCG	1

static inline void demo_compat_accept_graft(struct socket *sock,
					    struct socket *newsock,
					    struct sock *newsk)
{
	__inet_accept(sock, newsock, newsk);
}
#else
#define DEMO_ACCEPT_CHARGES_MEMCG	0

void demo_seq_accept_memcg(struct sock *sk);

static inline void demo_compat_accept_graft(struct socket *sock,
					    struct socket *newsock,
					    struct sock *newsk)
{
	demo_seq_accept_memcg(newsk);
	sock_graft(newsk, newsock);
	newsock->state = SS_CONNECTED;
}
#endif

#endif /* _DEMO_COMPAT_H */
