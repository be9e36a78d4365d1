// SPDX-License-Identifier: GPL-2.0
/*
 * AF_DEMO: sock_diag(7), SOCK_DIAG_BY_FAMILY dumps over NETLINK_SOCK_DIAG
 * (include/uapi/linux/af_demo_diag.h), as inet_diag for TCP and vsock_diag
 * for AF_VSOCK.
 *
 * Part of af_demo.ko rather than a module of its own (as vsock_diag.ko is):
 * the family number is af_demo's load-time parameter, which a module alias
 * (net-pf-16-proto-4-type-<family>) cannot follow, and there are no AF_DEMO
 * sockets to list before af_demo is loaded; the handler is registered with
 * the family af_demo registered, for exactly as long as it is, and reads the
 * tables directly rather than through exports.
 *
 * A dump walks the requester's namespace's tables as /proc/net/demo does,
 * under RCU (sockets are SOCK_RCU_FREE, TIME_WAIT entries kfree_rcu()): the
 * bind hash (datagram sockets, seqpacket listeners and sockets not yet
 * connected), the connection hash, then the TIME_WAIT hash. Each netlink
 * message of the dump carries whole buckets, so a socket that comes or goes
 * between two messages cannot shift what the next one resumes from: where
 * a bucket does not fit after others, the message ends before it. Only a
 * bucket too large for a message on its own (some hundred sockets with
 * every attribute) is split, and resumed by its position: a socket added
 * to or removed from that bucket between the two messages can then make
 * the dump list another twice or miss one, as inet_diag's resumption by
 * position can. A socket may also be listed twice when it moves to another
 * table during the dump (connect(), TIME_WAIT), in its two states, as TCP
 * sockets may be by inet_diag.
 */

#include <linux/jiffies.h>
#include <linux/rculist.h>
#include <linux/sock_diag.h>
#include <linux/uidgid.h>
#include <net/netlink.h>
#include <net/sock.h>
#include <uapi/linux/af_demo_diag.h>

#include "demo_seqpacket.h"

/* The tables of a dump, in order; cb->args[0]. */
enum {
	DEMO_DIAG_BIND,
	DEMO_DIAG_CONN,
	DEMO_DIAG_TW,
	DEMO_DIAG_TABLES
};

/* A dump's position, in netlink_callback.args[]. */
enum {
	DEMO_DIAG_ARG_TABLE,
	DEMO_DIAG_ARG_BUCKET,
	DEMO_DIAG_ARG_SKIP,	/* entries of the bucket already sent */
};

/* What every message of one dump needs. */
struct demo_diag_ctx {
	const struct demo_diag_req	*req;
	struct user_namespace		*user_ns;
	u32				portid;
	u32				seq;
};

static bool demo_diag_match(const struct demo_diag_req *req, int protocol,
			    int state, __be16 sport, __be16 dport)
{
	if (req->sdiag_protocol != DEMOPROTO_ANY &&
	    req->sdiag_protocol != protocol)
		return false;
	if (!(req->ddiag_states & (1U << state)))
		return false;
	if (req->ddiag_sport && req->ddiag_sport != sport)
		return false;
	return !req->ddiag_dport || req->ddiag_dport == dport;
}

/* Milliseconds until @timer fires, 0 if it is not pending. */
static u32 demo_diag_expires(const struct timer_list *timer)
{
	long delta;

	if (!timer_pending(timer))
		return 0;
	delta = (long)(READ_ONCE(timer->expires) - jiffies);
	return delta > 0 ? jiffies_to_msecs(delta) : 0;
}

static int demo_diag_put_attrs(struct sk_buff *skb, struct sock *sk,
			       int state, u32 show)
{
	struct demo_info info;
	struct demo_diag_rqlen rql;
	bool seq = sk->sk_prot == &demo_seq_prot;

	if ((show & DEMO_SHOW_MEMINFO) &&
	    sock_diag_put_meminfo(sk, skb, DEMO_DIAG_MEMINFO))
		return -EMSGSIZE;

	if (show & DEMO_SHOW_RQLEN) {
		/* What /proc/net/demo shows as rx_queue and tx_queue. */
		if (state == TCP_LISTEN) {
			rql.rqueue = READ_ONCE(sk->sk_ack_backlog);
			rql.wqueue = READ_ONCE(sk->sk_max_ack_backlog);
		} else if (seq) {
			rql.rqueue = sk_rmem_alloc_get(sk);
			rql.wqueue = READ_ONCE(demo_seq_sk(sk)->unacked_bytes);
		} else {
			rql.rqueue = sk_rmem_alloc_get(sk);
			rql.wqueue = sk_wmem_alloc_get(sk);
		}
		if (nla_put(skb, DEMO_DIAG_RQLEN, sizeof(rql), &rql))
			return -EMSGSIZE;
	}

	if (show & DEMO_SHOW_INFO) {
		/*
		 * DEMO_INFO's struct, unlocked (under rcu_read_lock() only):
		 * a racy snapshot, as a tcp_info in an inet_diag dump; on a
		 * 32-bit machine a 64-bit counter may read torn.
		 */
		demo_get_info(sk, &info);
		if (nla_put(skb, DEMO_DIAG_INFO, sizeof(info), &info))
			return -EMSGSIZE;
	}
	return 0;
}

static int demo_diag_fill_sk(struct sk_buff *skb, struct sock *sk,
			     const struct demo_diag_ctx *ctx)
{
	const struct inet_sock *inet = inet_sk(sk);
	int state = inet_sk_state_load(sk);
	struct demo_diag_msg *r;
	struct nlmsghdr *nlh;

	if (!demo_diag_match(ctx->req, sk->sk_protocol, state,
			     inet->inet_sport, inet->inet_dport))
		return 0;

	nlh = nlmsg_put(skb, ctx->portid, ctx->seq, SOCK_DIAG_BY_FAMILY,
			sizeof(*r), NLM_F_MULTI);
	if (!nlh)
		return -EMSGSIZE;
	r = nlmsg_data(nlh);
	memset(r, 0, sizeof(*r));
	r->ddiag_family = sk->sk_family;
	r->ddiag_type = sk->sk_type;
	r->ddiag_protocol = sk->sk_protocol;
	r->ddiag_state = state;
	r->ddiag_shutdown = READ_ONCE(sk->sk_shutdown) & SHUTDOWN_MASK;
	r->ddiag_sport = inet->inet_sport;
	r->ddiag_dport = inet->inet_dport;
	r->ddiag_src = inet->inet_rcv_saddr;
	r->ddiag_dst = inet->inet_daddr;
	r->ddiag_uid = from_kuid_munged(ctx->user_ns, demo_compat_sk_uid(sk));
	r->ddiag_ino = sock_i_ino(sk);
	if (sk->sk_prot == &demo_seq_prot)
		r->ddiag_expires = demo_diag_expires(&demo_seq_sk(sk)->rtx_timer);
	sock_diag_save_cookie(sk, r->ddiag_cookie);

	if (demo_diag_put_attrs(skb, sk, state, ctx->req->ddiag_show)) {
		nlmsg_cancel(skb, nlh);
		return -EMSGSIZE;
	}
	nlmsg_end(skb, nlh);
	return 0;
}

static int demo_diag_fill_tw(struct sk_buff *skb, const struct demo_tw *tw,
			     const struct demo_diag_ctx *ctx)
{
	struct demo_diag_msg *r;
	struct nlmsghdr *nlh;

	if (!demo_diag_match(ctx->req, DEMOPROTO_SEQPACKET, TCP_TIME_WAIT,
			     tw->lport, tw->rport))
		return 0;

	nlh = nlmsg_put(skb, ctx->portid, ctx->seq, SOCK_DIAG_BY_FAMILY,
			sizeof(*r), NLM_F_MULTI);
	if (!nlh)
		return -EMSGSIZE;
	r = nlmsg_data(nlh);
	memset(r, 0, sizeof(*r));
	r->ddiag_family = demo_family_get();
	r->ddiag_type = SOCK_SEQPACKET;
	r->ddiag_protocol = DEMOPROTO_SEQPACKET;
	r->ddiag_state = TCP_TIME_WAIT;
	r->ddiag_shutdown = SHUTDOWN_MASK;
	r->ddiag_sport = tw->lport;
	r->ddiag_dport = tw->rport;
	r->ddiag_src = tw->laddr;
	r->ddiag_dst = tw->raddr;
	r->ddiag_expires = demo_diag_expires(&tw->timer);
	/* No attributes: a TIME_WAIT entry has no memory, queue or transport. */
	nlmsg_end(skb, nlh);
	return 0;
}

/* A seqpacket socket of the bind hash that the connection hash lists. */
static bool demo_diag_listed_later(struct sock *sk)
{
	return sk->sk_prot == &demo_seq_prot &&
	       !hlist_unhashed_lockless(&demo_seq_sk(sk)->conn_node);
}

/*
 * Put the entries of one bucket from the @skip'th on into @skb, counting
 * in *@num those done (sent, filtered out or skipped).
 * Context: rcu_read_lock() held.
 * Return: 0, or -EMSGSIZE when the bucket did not fit; *@num tells how far
 * it got.
 */
static int demo_diag_bucket(struct sk_buff *skb, const struct demo_diag_ctx *ctx,
			    struct demo_net *dn, int table, unsigned int bucket,
			    unsigned int skip, unsigned int *num)
{
	struct demo_seq_sock *ssk;
	struct demo_tw *tw;
	struct sock *sk;
	int err = 0;

	*num = 0;
	switch (table) {
	case DEMO_DIAG_BIND:
		sk_for_each_rcu(sk, &dn->bind_hash[bucket]) {
			if (demo_diag_listed_later(sk))
				continue;
			if (*num >= skip) {
				err = demo_diag_fill_sk(skb, sk, ctx);
				if (err)
					return err;
			}
			++*num;
		}
		break;
	case DEMO_DIAG_CONN:
		hlist_for_each_entry_rcu(ssk, &dn->conn_hash[bucket], conn_node) {
			if (*num >= skip) {
				err = demo_diag_fill_sk(skb, &ssk->dsk.inet.sk, ctx);
				if (err)
					return err;
			}
			++*num;
		}
		break;
	default:
		hlist_for_each_entry_rcu(tw, &dn->timewait_hash[bucket], node) {
			if (*num >= skip) {
				err = demo_diag_fill_tw(skb, tw, ctx);
				if (err)
					return err;
			}
			++*num;
		}
		break;
	}
	return 0;
}

static unsigned int demo_diag_buckets(const struct demo_net *dn, int table)
{
	return table == DEMO_DIAG_BIND ? DEMO_HTABLE_SIZE :
					 dn->conn_hash_mask + 1;
}

static int demo_diag_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct net *net = sock_net(skb->sk);
	struct demo_net *dn = demo_pernet(net);
	unsigned long table = cb->args[DEMO_DIAG_ARG_TABLE];
	unsigned long bucket = cb->args[DEMO_DIAG_ARG_BUCKET];
	unsigned int skip = cb->args[DEMO_DIAG_ARG_SKIP];
	struct demo_diag_ctx ctx = {
		.req		= nlmsg_data(cb->nlh),
		.user_ns	= sk_user_ns(NETLINK_CB(cb->skb).sk),
		.portid		= NETLINK_CB(cb->skb).portid,
		.seq		= cb->nlh->nlmsg_seq,
	};
	unsigned char *mark;
	unsigned int num;

	rcu_read_lock();
	for (; table < DEMO_DIAG_TABLES; table++, bucket = 0) {
		for (; bucket < demo_diag_buckets(dn, table); bucket++, skip = 0) {
			mark = skb_tail_pointer(skb);
			if (!demo_diag_bucket(skb, &ctx, dn, table, bucket,
					      skip, &num))
				continue;
			/*
			 * Full. After other buckets, this one goes whole into
			 * the next message; alone, it is split where it
			 * stopped (it made progress: a message holds one
			 * entry at least).
			 */
			if (mark != skb->data)
				nlmsg_trim(skb, mark);
			else
				skip = num;
			goto out;
		}
	}
out:
	rcu_read_unlock();
	cb->args[DEMO_DIAG_ARG_TABLE] = table;
	cb->args[DEMO_DIAG_ARG_BUCKET] = bucket;
	cb->args[DEMO_DIAG_ARG_SKIP] = skip;
	return skb->len;
}

static int demo_diag_handler_dump(struct sk_buff *skb, struct nlmsghdr *nlh)
{
	struct net *net = sock_net(skb->sk);
	const struct demo_diag_req *req;
	struct netlink_dump_control c = {
		.dump = demo_diag_dump,
	};

	if (nlmsg_len(nlh) < (int)sizeof(*req))
		return -EINVAL;
	req = nlmsg_data(nlh);
	/* Reserved fields are zero, so that they can mean something later. */
	if (req->sdiag_protocol >= DEMOPROTO_MAX || req->pad ||
	    (req->ddiag_show & ~DEMO_SHOW_ALL) ||
	    req->ddiag_reserved[0] || req->ddiag_reserved[1])
		return -EINVAL;
	if (!(nlh->nlmsg_flags & NLM_F_DUMP))
		return -EOPNOTSUPP;
	/* netlink_dump_start() holds this module until the dump ends. */
	return netlink_dump_start(net->diag_nlsk, skb, nlh, &c);
}

static bool demo_diag_registered __ro_after_init;

/* Not const: .family is the family parameter, set by demo_diag_init(). */
static struct sock_diag_handler demo_diag_handler __ro_after_init = {
	.owner	= THIS_MODULE,
	.dump	= demo_diag_handler_dump,
};

/**
 * demo_diag_init() - answer sock_diag requests for AF_DEMO
 * @family: the address family AF_DEMO is registered as
 *
 * Context: module init, the last step: nothing may fail after it.
 * Return: 0, or -EBUSY if another handler serves @family (then
 * demo_diag_exit() does nothing).
 */
int __init demo_diag_init(int family)
{
	int err;

	/* A request begins as struct sock_diag_req, which routes it. */
	BUILD_BUG_ON(offsetof(struct demo_diag_req, sdiag_family) !=
		     offsetof(struct sock_diag_req, sdiag_family));
	BUILD_BUG_ON(offsetof(struct demo_diag_req, sdiag_protocol) !=
		     offsetof(struct sock_diag_req, sdiag_protocol));
	demo_diag_handler.family = family;
	err = sock_diag_register(&demo_diag_handler);
	demo_diag_registered = !err;
	return err;
}

/**
 * demo_diag_exit() - stop answering sock_diag requests
 *
 * A request that found the handler holds the module (sock_diag takes a
 * reference on .owner, netlink_dump_start() another for the dump), so none
 * is running by the time the module's exit calls this.
 */
void demo_diag_exit(void)
{
	if (demo_diag_registered)
		sock_diag_unregister(&demo_diag_handler);
}
