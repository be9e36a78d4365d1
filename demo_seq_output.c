// SPDX-License-Identifier: GPL-2.0
/*
 * AF_DEMO: DEMOPROTO_SEQPACKET output, retransmission, timers, TIME_WAIT.
 *
 * sendmsg() cuts a message into segments of at most mss payload bytes and
 * queues them, each with its sequence number, on sk_write_queue; so do
 * SYN and FIN. demo_seq_push() transmits, as a clone, what the congestion
 * window (demo_seq_cc.c) and the peer's window admit: lost segments first,
 * then new ones. A segment leaves the queue only when the peer acknowledges
 * it cumulatively; until then the scoreboard in its skb->cb records what
 * the peer's SACK blocks reported (sacked), what is taken as lost (lost)
 * and which of those were sent again (retrans), as TCP's does:
 *
 *  - a segment is lost once the peer reported receiving one transmitted
 *    after it, DEMO_SEQ_DUPTHRESH transmissions later or more than 5/4 of
 *    an RTT ago (demo_seq_detect_loss(): RACK, RFC 8985, with a packet
 *    count beside the time for the reordering window; a retransmission is
 *    judged the same way);
 *  - a tail loss probe (RACK-TLP): when two RTTs pass without an ACK, one
 *    segment goes out (the next new one, else the last one sent again),
 *    so that the ACK it draws reveals losses at the tail of a flight;
 *  - on a retransmission timeout every segment in flight not SACKed is
 *    lost, the timeout doubles (RFC 6298) and slow start resends them;
 *    after seqpacket_retries (or seqpacket_syn_retries) timeouts in a row
 *    the connection gives up with ETIMEDOUT.
 *
 * A closed window is probed by the same timer, with the next segment.
 * RTTs are measured in microseconds from each segment's send time, never
 * from a retransmitted one (Karn).
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/jiffies.h>
#include <linux/math64.h>
#include <linux/net.h>
#include <linux/slab.h>
#include <net/ip.h>
#include <net/l3mdev.h>
#include <net/route.h>
#include <net/sock.h>

#include "demo_seqpacket.h"
#include "demo_trace.h"

/* Headroom for the link layer, IPv4 and DEMO headers, SACK blocks. */
#define DEMO_SEQ_HEADROOM	(MAX_HEADER + sizeof(struct iphdr) + DEMO_SEQ_HDRS + \
				 DEMO_SEQ_SACK_LEN(DEMO_SEQ_MAX_SACK))

static struct demo_seq_sysctl *demo_seq_ctl(const struct sock *sk)
{
	return &demo_pernet(sock_net(sk))->seq;
}

static u32 demo_ms_to_jiffies(int ms)
{
	return max_t(unsigned long, msecs_to_jiffies(ms), 1);
}

static void demo_seq_rto_bounds(const struct sock *sk, u32 *min, u32 *max)
{
	const struct demo_seq_sysctl *ctl = demo_seq_ctl(sk);

	*min = demo_ms_to_jiffies(READ_ONCE(ctl->rto_min_ms));
	*max = max(*min, demo_ms_to_jiffies(READ_ONCE(ctl->rto_max_ms)));
}

/* The route of a connected socket, looked up again once stale. */
static struct dst_entry *demo_seq_dst(struct sock *sk)
{
	struct inet_sock *inet = inet_sk(sk);
	struct dst_entry *dst;
	struct flowi4 fl4;
	struct rtable *rt;

	dst = __sk_dst_check(sk, 0);
	if (dst)
		return dst;
	rt = demo_route(sk, &fl4, inet->inet_daddr, inet->inet_saddr,
			inet->inet_dport, inet->inet_sport, inet->tos, false);
	if (IS_ERR(rt))
		return NULL;
	__sk_dst_set(sk, &rt->dst);
	return &rt->dst;
}

/**
 * demo_seq_mss() - payload bytes per segment on @sk's path
 * @sk: a socket with its peer set, owned by the caller
 *
 * Return: the path MTU (at most the largest IPv4 datagram) less the IPv4
 * and DEMO headers.
 */
u32 demo_seq_mss(struct sock *sk)
{
	struct dst_entry *dst = demo_seq_dst(sk);
	u32 mtu;

	/* No route now: keep cutting as before (or for a minimal MTU). */
	if (!dst)
		return demo_seq_sk(sk)->mss ?: 576 - sizeof(struct iphdr) -
						DEMO_SEQ_HDRS;
	mtu = min_t(u32, dst_mtu(dst), IP_MAX_MTU);
	return max_t(int, mtu - sizeof(struct iphdr) - DEMO_SEQ_HDRS, 8);
}

/* The window to advertise now; its right edge never moves back. */
static u16 demo_seq_adv_window(struct sock *sk)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);
	u32 wnd = demo_seq_rcv_window(sk);
	u32 edge = ssk->rcv_nxt + wnd;

	if (sk->sk_state == TCP_SYN_SENT)
		return wnd;
	if (demo_seq_before(edge, ssk->rcv_adv_edge))
		return min_t(u32, ssk->rcv_adv_edge - ssk->rcv_nxt, U16_MAX);
	ssk->rcv_adv_edge = edge;
	return wnd;
}

/*
 * Push the DEMO and sequence headers for segment @seq with @flags onto
 * @skb, acknowledging everything received so far, with as many SACK
 * blocks as are to report and as @room bytes take.
 */
static void demo_seq_build(struct sock *sk, struct sk_buff *skb, u32 seq,
			   u16 flags, unsigned int room)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);
	struct inet_sock *inet = inet_sk(sk);
	struct demo_sack_block *sb;
	struct demo_seqhdr *sh;
	int i, n = 0;

	if (sk->sk_state != TCP_SYN_SENT)
		flags |= DEMO_SEQ_ACK;
	if (flags & DEMO_SEQ_ACK)
		n = min_t(int, ssk->num_rcv_sacks,
			  room / sizeof(struct demo_sack_block));

	sb = skb_push(skb, DEMO_SEQ_SACK_LEN(n));
	for (i = 0; i < n; i++) {
		sb[i].start = htonl(ssk->rcv_sacks[i].start);
		sb[i].end = htonl(ssk->rcv_sacks[i].end);
	}
	sh = skb_push(skb, sizeof(*sh));
	sh->seq = htonl(seq);
	sh->ack = htonl(flags & DEMO_SEQ_ACK ? ssk->rcv_nxt : 0);
	sh->window = htons(demo_seq_adv_window(sk));
	sh->sack_blocks = n;
	sh->reserved = 0;
	skb_push(skb, sizeof(struct demohdr));
	skb_reset_transport_header(skb);
	demo_hdr_fill(skb, inet->inet_saddr, inet->inet_daddr,
		      inet->inet_sport, inet->inet_dport, DEMOPROTO_SEQPACKET,
		      flags);

	if (flags & DEMO_SEQ_ACK)
		ssk->acks_pending = 0;
}

/*
 * Send segment @skb of @sk: a clone of it when it stays queued for
 * retransmission, else @skb itself, which is consumed either way.
 * A packet a full queue below dropped counts as sent (and lost).
 */
static int demo_seq_transmit(struct sock *sk, struct sk_buff *skb,
			     bool clone_it)
{
	struct demo_seq_cb *cb = DEMO_SEQ_CB(skb);
	struct inet_sock *inet = inet_sk(sk);
	struct dst_entry *dst;
	u16 flags = cb->flags;
	u32 seq = cb->seq;
	unsigned int mtu;
	bool df;
	int err;

	dst = demo_seq_dst(sk);
	if (!dst) {
		if (!clone_it)
			kfree_skb(skb);
		return -EHOSTUNREACH;
	}
	if (clone_it) {
		/* A clone still in flight shares the headroom: copy then. */
		skb = skb_cloned(skb) ? pskb_copy(skb, GFP_ATOMIC) :
					skb_clone(skb, GFP_ATOMIC);
		if (!skb)
			return -ENOBUFS;
	}
	/* IP output reads its control block from skb->cb. */
	memset(skb->cb, 0, sizeof(skb->cb));
	skb_set_owner_w(skb, sk);
	/* SACK blocks only where they fit: the payload was cut for the MTU. */
	mtu = dst_mtu(dst);
	demo_seq_build(sk, skb, seq, flags,
		       mtu > skb->len + sizeof(struct iphdr) + DEMO_SEQ_HDRS ?
		       mtu - skb->len - sizeof(struct iphdr) - DEMO_SEQ_HDRS : 0);

	/* DF, unless the segment was cut for a path MTU that since shrank. */
	df = skb->len + sizeof(struct iphdr) <= mtu;
	skb_dst_set(skb, dst_clone(dst));
	err = demo_ip_output(sock_net(sk), sk, skb, inet->inet_saddr,
			     inet->inet_daddr, READ_ONCE(inet->uc_ttl),
			     READ_ONCE(inet->tos), df);
	if (err == -ENOBUFS)
		err = 0;
	if (!err)
		demo_seq_sk(sk)->stats.segs_out++;
	return err;
}

/*
 * A segment with no sequence number of its own: an ACK or a RST, counted
 * in @mib (OutSegs, or RetransSegs for a repeated one).
 */
static void demo_seq_send_bare_mib(struct sock *sk, u16 flags, u32 seq,
				   enum demo_mib_field mib)
{
	struct net *net = sock_net(sk);
	struct sk_buff *skb;

	skb = alloc_skb(DEMO_SEQ_HEADROOM, GFP_ATOMIC);
	if (!skb) {
		if (!(flags & DEMO_SEQ_RST))
			demo_seq_schedule_ack(sk);
		return;
	}
	skb_reserve(skb, DEMO_SEQ_HEADROOM);
	DEMO_SEQ_CB(skb)->seq = seq;
	DEMO_SEQ_CB(skb)->flags = flags;
	if (demo_seq_transmit(sk, skb, false))
		return;
	demo_inc_stats(net, mib);
	if (flags & DEMO_SEQ_RST)
		demo_inc_stats(net, DEMO_MIB_OUTRSTS);
}

static void demo_seq_send_bare(struct sock *sk, u16 flags, u32 seq)
{
	demo_seq_send_bare_mib(sk, flags, seq, DEMO_MIB_OUTSEGS);
}

void demo_seq_send_ack(struct sock *sk)
{
	demo_seq_send_bare(sk, 0, demo_seq_sk(sk)->snd_nxt);
}

/*
 * Abort: tell the peer, at a sequence number in its window, as TCP's
 * tcp_acceptable_seq(): snd_nxt, or the window's right edge if a
 * zero-window probe took snd_nxt beyond it. The peer believes a RST at
 * its rcv_nxt only; one elsewhere in its window it challenges, and the
 * RST that answers the challenge (demo_seq_reply_reset()) is exact.
 */
void demo_seq_send_reset(struct sock *sk, enum demo_seq_rst_reason why)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);
	struct inet_sock *inet = inet_sk(sk);
	u32 seq = ssk->snd_nxt;

	if (demo_seq_after(seq, ssk->snd_wnd_edge))
		seq = ssk->snd_wnd_edge;
	trace_demo_seq_send_reset(sk, inet->inet_saddr, inet->inet_daddr,
				  inet->inet_sport, inet->inet_dport, seq,
				  ssk->rcv_nxt, why);
	demo_seq_send_bare(sk, DEMO_SEQ_RST, seq);
}

/* Acknowledge soon: at once for every second segment, else on a timer. */
void demo_seq_schedule_ack(struct sock *sk)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);

	if (!timer_pending(&ssk->delack_timer))
		sk_reset_timer(sk, &ssk->delack_timer,
			       jiffies + DEMO_SEQ_DELACK);
}

void demo_seq_ack_event(struct sock *sk)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);

	if (++ssk->acks_pending >= 2)
		demo_seq_send_ack(sk);
	else
		demo_seq_schedule_ack(sk);
}

/* Append @skb to the write queue as the next segment, with @flags. */
static void demo_seq_enqueue(struct sock *sk, struct sk_buff *skb, u16 flags)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);
	struct demo_seq_cb *cb = DEMO_SEQ_CB(skb);

	memset(cb, 0, sizeof(*cb));
	cb->seq = ssk->write_seq++;
	cb->flags = flags;
	sk_wmem_queued_add(sk, skb->truesize);
	sk_mem_charge(sk, skb->truesize);	/* scheduled by the caller */
	WRITE_ONCE(ssk->unacked_bytes, ssk->unacked_bytes + skb->len);
	__skb_queue_tail(&sk->sk_write_queue, skb);
	if (!ssk->send_head)
		ssk->send_head = skb;
}

/**
 * demo_seq_queue_ctl() - queue a SYN or FIN, which take a sequence number
 * @sk: the socket, owned
 * @flags: DEMO_SEQ_SYN or DEMO_SEQ_FIN
 * @gfp: allocation flags
 *
 * Return: 0 or -ENOMEM.
 */
int demo_seq_queue_ctl(struct sock *sk, u16 flags, gfp_t gfp)
{
	struct sk_buff *skb;

	skb = alloc_skb(DEMO_SEQ_HEADROOM, gfp);
	if (!skb)
		return -ENOMEM;
	if (!sk_wmem_schedule(sk, skb->truesize)) {
		kfree_skb(skb);
		return -ENOMEM;
	}
	skb_reserve(skb, DEMO_SEQ_HEADROOM);
	demo_seq_enqueue(sk, skb, flags);
	return 0;
}

/**
 * demo_seq_queue_msg() - cut a message into segments and queue them
 * @sk: the socket, locked by its user
 * @msg: the message
 * @len: its length, at most DEMO_SEQPACKET_MAX_MSG
 *
 * All segments are built before any is queued, so a message is queued
 * whole or not at all. An empty message is one segment with no payload.
 * They are charged to the protocol's memory account: when it refuses,
 * nothing is queued and @msg is as it was.
 *
 * Return: 0, -EAGAIN when the memory account refused, or a negative errno.
 */
int demo_seq_queue_msg(struct sock *sk, struct msghdr *msg, size_t len)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);
	size_t left = len, n, linear;
	struct sk_buff_head segs;
	unsigned int truesize = 0;
	struct sk_buff *skb;
	int err;

	ssk->mss = demo_seq_mss(sk);
	__skb_queue_head_init(&segs);
	do {
		n = min_t(size_t, left, ssk->mss);
		linear = min_t(size_t, n, SKB_MAX_HEAD(DEMO_SEQ_HEADROOM));
		skb = alloc_skb_with_frags(DEMO_SEQ_HEADROOM + linear, n - linear,
					   PAGE_ALLOC_COSTLY_ORDER, &err,
					   sk->sk_allocation);
		if (!skb)
			goto err_purge;
		skb_reserve(skb, DEMO_SEQ_HEADROOM);
		skb_put(skb, linear);
		skb->data_len = n - linear;
		skb->len += n - linear;
		err = skb_copy_datagram_from_iter(skb, 0, &msg->msg_iter, n);
		if (err) {
			kfree_skb(skb);
			goto err_purge;
		}
		__skb_queue_tail(&segs, skb);
		truesize += skb->truesize;
		left -= n;
	} while (left);

	if (!sk_wmem_schedule(sk, truesize)) {
		__skb_queue_purge(&segs);
		iov_iter_revert(&msg->msg_iter, len);
		return -EAGAIN;
	}
	while ((skb = __skb_dequeue(&segs)))
		demo_seq_enqueue(sk, skb,
				 skb_queue_empty(&segs) ? DEMO_SEQ_EOR : 0);
	ssk->stats.msgs_sent++;
	return 0;

err_purge:
	__skb_queue_purge(&segs);
	return err;
}

void demo_seq_purge_write_queue(struct sock *sk)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);
	struct sk_buff *skb;

	while ((skb = __skb_dequeue(&sk->sk_write_queue))) {
		sk_wmem_queued_add(sk, -skb->truesize);
		sk_mem_uncharge(sk, skb->truesize);
		kfree_skb(skb);
	}
	ssk->send_head = NULL;
	ssk->sack_hint = NULL;
	ssk->rtx_hint = NULL;
	ssk->sacked_out = 0;
	ssk->lost_out = 0;
	ssk->retrans_out = 0;
	WRITE_ONCE(ssk->unacked_bytes, 0);
}

/*
 * The send buffer follows the congestion window, as TCP's
 * tcp_sndbuf_expand(): room for two windows of segments, up to
 * seqpacket_wmem_max, unless SO_SNDBUF set it.
 */
static void demo_seq_sndbuf_expand(struct sock *sk)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);
	int max = READ_ONCE(demo_seq_ctl(sk)->wmem_max);
	u64 want;

	if (sk->sk_userlocks & SOCK_SNDBUF_LOCK)
		return;
	want = 2ULL * ssk->cwnd * SKB_TRUESIZE(ssk->mss + DEMO_SEQ_HEADROOM);
	want = min_t(u64, want, max);
	if (want > READ_ONCE(sk->sk_sndbuf))
		WRITE_ONCE(sk->sk_sndbuf, want);
}

/* First transmission of the segment at send_head. */
static int demo_seq_send_head(struct sock *sk)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);
	struct sk_buff *skb = ssk->send_head;
	u32 now = demo_seq_clock_us();
	int err;

	/*
	 * Stamped before the transmission, as TCP's skb_mstamp_ns: the
	 * transmit path may run softirqs (the peer's receive over veth, its
	 * ACK) for milliseconds, which a later stamp would take off the RTT.
	 */
	err = demo_seq_transmit(sk, skb, true);
	if (err)
		return err;
	DEMO_SEQ_CB(skb)->sent = now;
	DEMO_SEQ_CB(skb)->tx = ++ssk->tx_count;
	ssk->snd_nxt = DEMO_SEQ_CB(skb)->seq + 1;
	ssk->send_head = skb_queue_is_last(&sk->sk_write_queue, skb) ?
			 NULL : skb->next;
	ssk->stats.data_segs_out++;
	ssk->stats.bytes_sent += skb->len;
	demo_inc_stats(sock_net(sk), DEMO_MIB_OUTSEGS);
	return 0;
}

/*
 * Send @skb, already sent once, again, for reason @why; it stays queued.
 * Counted as a zero-window probe or as a retransmission.
 */
static int demo_seq_retransmit(struct sock *sk, struct sk_buff *skb,
			       enum demo_seq_rtx_reason why)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);
	struct demo_seq_cb *cb = DEMO_SEQ_CB(skb);
	u32 now = demo_seq_clock_us();	/* before: see demo_seq_send_head() */
	int err;

	err = demo_seq_transmit(sk, skb, true);
	if (err)
		return err;
	trace_demo_seq_retransmit(sk, cb->seq, why);
	cb->retransmitted = 1;
	cb->sent = now;
	cb->tx = ++ssk->tx_count;
	ssk->stats.data_segs_out++;
	ssk->stats.total_retrans++;
	ssk->stats.bytes_sent += skb->len;
	ssk->stats.bytes_retrans += skb->len;
	demo_inc_stats(sock_net(sk),
		       why == DEMO_RTX_ZERO_WINDOW_PROBE ||
		       why == DEMO_RTX_WINDOW_OPENED ?
		       DEMO_MIB_ZEROWINDOWPROBES : DEMO_MIB_RETRANSSEGS);
	return 0;
}

/* The first segment taken as lost and not yet sent again, or NULL. */
static struct sk_buff *demo_seq_next_lost(struct sock *sk)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);
	struct sk_buff *skb = ssk->rtx_hint ?: skb_peek(&sk->sk_write_queue);

	for (; skb && skb != ssk->send_head;
	     skb = skb_queue_is_last(&sk->sk_write_queue, skb) ? NULL :
								  skb->next) {
		const struct demo_seq_cb *cb = DEMO_SEQ_CB(skb);

		if (cb->lost && !cb->retrans) {
			ssk->rtx_hint = skb;
			return skb;
		}
	}
	ssk->rtx_hint = NULL;
	return NULL;
}

/**
 * demo_seq_push() - transmit what the windows admit
 * @sk: the socket, owned
 *
 * Lost segments go first, then new ones, while fewer than cwnd segments
 * are in flight; new ones only within the peer's window. The SYN is sent
 * whatever the windows say.
 */
void demo_seq_push(struct sock *sk)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);
	struct sk_buff *skb;

	ssk->cwnd_limited = 0;
	while (ssk->send_head || ssk->lost_out > ssk->retrans_out) {
		skb = ssk->send_head;
		if (skb && (DEMO_SEQ_CB(skb)->flags & DEMO_SEQ_SYN)) {
			if (demo_seq_send_head(sk))
				break;
			continue;
		}
		if (demo_seq_in_flight(ssk) >= ssk->cwnd) {
			ssk->cwnd_limited = 1;
			break;
		}
		if (ssk->lost_out > ssk->retrans_out) {
			skb = demo_seq_next_lost(sk);
			if (skb) {
				if (demo_seq_retransmit(sk, skb,
							ssk->ca_state == DEMO_CA_LOSS ?
							DEMO_RTX_TIMEOUT :
							DEMO_RTX_LOSS))
					break;
				DEMO_SEQ_CB(skb)->retrans = 1;
				ssk->retrans_out++;
				ssk->prr_out++;
				continue;
			}
		}
		skb = ssk->send_head;
		if (!skb || !demo_seq_before(DEMO_SEQ_CB(skb)->seq,
					     ssk->snd_wnd_edge))
			break;
		if (demo_seq_send_head(sk))
			break;
		ssk->prr_out++;		/* PRR counts from recovery on */
	}
	demo_seq_arm_rtx(sk);
}

/*
 * Start the retransmission timer over for what is in flight: as a tail
 * loss probe two RTTs out (plus the peer's delayed ACK if one segment is in
 * flight), when no probe went out since the last progress and that comes
 * before the RTO, else at the RTO.
 */
static void demo_seq_rtx_restart(struct sock *sk)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);
	unsigned long pto;
	u32 pto_us;

	ssk->tlp_pending = 0;
	if (ssk->srtt_us && !ssk->tlp_sent && !ssk->retries &&
	    ssk->ca_state == DEMO_CA_OPEN && ssk->snd_una != ssk->snd_nxt &&
	    ((1 << sk->sk_state) & (TCPF_ESTABLISHED | TCPF_CLOSE_WAIT))) {
		pto_us = ssk->srtt_us >> 2;
		if (ssk->snd_nxt - ssk->snd_una == 1)
			pto_us += DEMO_SEQ_WC_DELACK_US;
		pto = usecs_to_jiffies(pto_us) + 1;
		if (pto < ssk->rto) {
			ssk->tlp_pending = 1;
			sk_reset_timer(sk, &ssk->rtx_timer, jiffies + pto);
			return;
		}
	}
	sk_reset_timer(sk, &ssk->rtx_timer, jiffies + ssk->rto);
}

/* The tail loss probe's one segment; Return: false if there was none. */
static bool demo_seq_send_probe(struct sock *sk)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);
	struct sk_buff *skb = ssk->send_head;

	if (skb && demo_seq_before(DEMO_SEQ_CB(skb)->seq, ssk->snd_wnd_edge))
		return !demo_seq_send_head(sk);
	/* The last segment sent, again. */
	skb = skb ? skb->prev : skb_peek_tail(&sk->sk_write_queue);
	if (!skb || DEMO_SEQ_CB(skb)->sacked)
		return false;
	return !demo_seq_retransmit(sk, skb, DEMO_RTX_TLP);
}

/**
 * demo_seq_arm_rtx() - make sure the retransmission timer runs if needed
 * @sk: the socket, owned
 *
 * It runs while segments are in flight or wait for a window, and for an
 * orphan in FIN_WAIT2, for seqpacket_fin_timeout_ms.
 */
void demo_seq_arm_rtx(struct sock *sk)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);
	unsigned long when;

	if (sk->sk_state == TCP_CLOSE)
		return;
	if (ssk->snd_una != ssk->snd_nxt || ssk->send_head ||
	    ssk->hs_pending) {
		if (!timer_pending(&ssk->rtx_timer))
			demo_seq_rtx_restart(sk);
		return;
	}
	ssk->tlp_pending = 0;
	if (sk->sk_state == TCP_FIN_WAIT2 && sock_flag(sk, SOCK_DEAD)) {
		/* Started once: a peer that keeps talking does not extend it. */
		when = demo_ms_to_jiffies(READ_ONCE(demo_seq_ctl(sk)->fin_timeout_ms));
		if (!timer_pending(&ssk->rtx_timer))
			sk_reset_timer(sk, &ssk->rtx_timer, jiffies + when);
		return;
	}
	sk_stop_timer(sk, &ssk->rtx_timer);
}

/* The timeout from the RTT estimate alone, without backoff. */
void demo_seq_rto_reset(struct sock *sk)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);
	u32 rto_min, rto_max, rto;

	demo_seq_rto_bounds(sk, &rto_min, &rto_max);
	/* RFC 6298: SRTT + 4 * RTTVAR, the clock granularity a jiffy. */
	rto = ssk->srtt_us ? usecs_to_jiffies((ssk->srtt_us >> 3) +
					      ssk->rttvar_us) + 1 :
			     DEMO_SEQ_RTO_INIT;
	ssk->rto = clamp_t(u32, rto, rto_min, rto_max);
}

/**
 * demo_seq_rtt_sample() - RFC 6298's estimator, fed in microseconds
 * @sk: the socket, owned
 * @rtt_us: the sample
 *
 * srtt_us holds SRTT << 3 and rttvar_us 4 * RTTVAR << 0, as TCP's srtt_us
 * and mdev_us.
 */
void demo_seq_rtt_sample(struct sock *sk, u32 rtt_us)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);
	long m = rtt_us;

	if (!ssk->srtt_us) {
		ssk->srtt_us = max_t(u32, rtt_us << 3, 1);
		ssk->rttvar_us = rtt_us << 1;
	} else {
		m -= ssk->srtt_us >> 3;
		ssk->srtt_us = max_t(long, (long)ssk->srtt_us + m, 1);
		if (m < 0)
			m = -m;
		m -= ssk->rttvar_us >> 2;
		ssk->rttvar_us = max_t(long, (long)ssk->rttvar_us + m, 1);
	}
	ssk->stats.rtt_last_us = rtt_us;
	if (!ssk->stats.rtt_min_us || rtt_us < ssk->stats.rtt_min_us)
		ssk->stats.rtt_min_us = max(rtt_us, 1U);
	demo_seq_rto_reset(sk);
	trace_demo_seq_rtt(sk, rtt_us);
}

/* The peer has segment @cb, sent as transmission cb->tx. */
static void demo_seq_delivered(struct demo_seq_sock *ssk,
			       const struct demo_seq_cb *cb)
{
	if (demo_seq_after(cb->tx, ssk->delivered_tx))
		ssk->delivered_tx = cb->tx;
}

/* A write queue segment leaves the scoreboard's counts. */
static void demo_seq_unscore(struct demo_seq_sock *ssk, struct demo_seq_cb *cb)
{
	if (cb->sacked)
		ssk->sacked_out--;
	if (cb->lost)
		ssk->lost_out--;
	if (cb->retrans)
		ssk->retrans_out--;
	cb->sacked = 0;
	cb->lost = 0;
	cb->retrans = 0;
}

/* Take @cb as lost (again, if it was retransmitted). */
static void demo_seq_mark_lost(struct demo_seq_sock *ssk, struct demo_seq_cb *cb)
{
	if (cb->retrans) {
		cb->retrans = 0;
		ssk->retrans_out--;
	}
	if (!cb->lost) {
		cb->lost = 1;
		ssk->lost_out++;
	}
	/* Resend it, though it comes before where the last resend was. */
	ssk->rtx_hint = NULL;
}

/* The write queue segment with sequence number @seq, or NULL. */
static struct sk_buff *demo_seq_skb_at(struct sock *sk, u32 seq)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);
	struct sk_buff *skb = ssk->sack_hint;

	if (!skb || demo_seq_before(seq, DEMO_SEQ_CB(skb)->seq))
		skb = skb_peek(&sk->sk_write_queue);
	while (skb && DEMO_SEQ_CB(skb)->seq != seq)
		skb = skb_queue_is_last(&sk->sk_write_queue, skb) ? NULL :
								     skb->next;
	return skb;
}

/*
 * Mark what the peer's SACK blocks report received. Blocks are checked:
 * within (snd_una, snd_nxt], else ignored. What the previous ACK reported
 * already is skipped, so a growing block costs only its growth.
 * Return: segments newly SACKed; *@rtt_us the RTT of the newest of them
 * sent once, or -1.
 */
static u32 demo_seq_sack_tag(struct sock *sk, u32 ack,
			     const struct demo_sack_block *sacks, int n,
			     long *rtt_us)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);
	struct demo_seq_range cache[DEMO_SEQ_MAX_SACK];
	int i, j, ncache = ssk->num_sack_cache;
	u32 now = demo_seq_clock_us();
	u32 newly = 0, start, end;
	struct sk_buff *skb;

	memcpy(cache, ssk->sack_cache, sizeof(cache));
	ssk->num_sack_cache = 0;
	for (i = 0; i < n; i++) {
		start = ntohl(sacks[i].start);
		end = ntohl(sacks[i].end);
		if (!demo_seq_before(start, end) ||
		    demo_seq_before(start, ack) ||
		    demo_seq_after(end, ssk->snd_nxt))
			continue;
		ssk->sack_cache[ssk->num_sack_cache++] =
			(struct demo_seq_range){ start, end };

		for (j = 0; j < ncache; j++)
			if (!demo_seq_before(start, cache[j].start) &&
			    demo_seq_before(start, cache[j].end))
				start = cache[j].end;
		if (!demo_seq_before(start, end))
			continue;

		for (skb = demo_seq_skb_at(sk, start);
		     skb && skb != ssk->send_head &&
		     demo_seq_before(DEMO_SEQ_CB(skb)->seq, end);
		     skb = skb_queue_is_last(&sk->sk_write_queue, skb) ?
			   NULL : skb->next) {
			struct demo_seq_cb *cb = DEMO_SEQ_CB(skb);

			if (cb->sacked)
				continue;
			demo_seq_unscore(ssk, cb);
			cb->sacked = 1;
			ssk->sacked_out++;
			newly++;
			demo_seq_delivered(ssk, cb);
			if (!cb->retransmitted)
				*rtt_us = (u32)(now - cb->sent);
		}
		ssk->sack_hint = skb;
	}
	return newly;
}

/*
 * A segment not SACKed is lost once one transmitted DEMO_SEQ_DUPTHRESH
 * transmissions after it was delivered; so is a retransmission. Only
 * with SACK information: then the peer holds later segments.
 */
static void demo_seq_detect_loss(struct sock *sk)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);
	u32 reo_us = (ssk->srtt_us >> 3) + (ssk->srtt_us >> 5);
	u32 now = demo_seq_clock_us();
	u32 lost = ssk->lost_out;
	struct sk_buff *skb;

	if (!ssk->sacked_out)
		return;
	skb_queue_walk(&sk->sk_write_queue, skb) {
		struct demo_seq_cb *cb = DEMO_SEQ_CB(skb);
		u32 d = ssk->delivered_tx - cb->tx;

		if (skb == ssk->send_head)
			break;
		if (cb->sacked || (cb->lost && !cb->retrans))
			continue;
		/* Something sent later arrived: this is reordered, or lost. */
		if (!d || d >= (1U << 31))
			continue;
		if (d >= DEMO_SEQ_DUPTHRESH ||
		    (reo_us && (u32)(now - cb->sent) > reo_us))
			demo_seq_mark_lost(ssk, cb);
	}
	if (ssk->lost_out > lost)
		demo_seq_cc_enter_recovery(sk);
}

/**
 * demo_seq_clean_acked() - the peer acknowledged up to @ack, and SACKed
 * @sk: the socket, owned
 * @ack: cumulative acknowledgment, not beyond snd_nxt
 * @sacks: the SACK blocks that came with it, as on the wire
 * @nsacks: how many
 */
void demo_seq_clean_acked(struct sock *sk, u32 ack,
			  const struct demo_sack_block *sacks, int nsacks)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);
	long rtt = -1, sack_rtt = -1;
	bool freed = false, rexmit = false;
	struct sk_buff *skb;
	u32 newly = 0;

	while ((skb = skb_peek(&sk->sk_write_queue)) &&
	       demo_seq_before(DEMO_SEQ_CB(skb)->seq, ack)) {
		struct demo_seq_cb *cb = DEMO_SEQ_CB(skb);

		demo_seq_delivered(ssk, cb);
		if (!cb->sacked)
			newly++;
		/*
		 * RTT from the newest segment this ACK covers, if it was sent
		 * once (Karn) and not reported before: else the ACK may be for
		 * a retransmission, or the segment arrived long ago.
		 */
		rexmit |= cb->retransmitted;
		rtt = cb->retransmitted || cb->sacked ? -1 :
		      (long)(u32)(demo_seq_clock_us() - cb->sent);
		demo_seq_unscore(ssk, cb);
		if (skb == ssk->sack_hint)
			ssk->sack_hint = NULL;
		if (skb == ssk->rtx_hint)
			ssk->rtx_hint = NULL;
		WRITE_ONCE(ssk->unacked_bytes, ssk->unacked_bytes - skb->len);
		ssk->stats.bytes_acked += skb->len;
		__skb_unlink(skb, &sk->sk_write_queue);
		sk_wmem_queued_add(sk, -skb->truesize);
		sk_mem_uncharge(sk, skb->truesize);
		consume_skb(skb);
		freed = true;
	}

	if (nsacks)
		newly += demo_seq_sack_tag(sk, ack, sacks, nsacks, &sack_rtt);
	else
		ssk->num_sack_cache = 0;
	demo_seq_detect_loss(sk);

	if (demo_seq_after(ack, ssk->snd_una)) {
		ssk->snd_una = ack;
		ssk->retries = 0;
		ssk->tlp_sent = 0;
		if (rtt >= 0 && !rexmit)
			demo_seq_rtt_sample(sk, rtt);
		else if (sack_rtt >= 0)
			demo_seq_rtt_sample(sk, sack_rtt);
		else
			demo_seq_rto_reset(sk);
		demo_seq_cc_check_exit(sk);
		/* Progress restarts the clock of what is still in flight. */
		if (ssk->snd_una != ssk->snd_nxt)
			demo_seq_rtx_restart(sk);
		else
			sk_stop_timer(sk, &ssk->rtx_timer);
	} else if (sack_rtt >= 0) {
		demo_seq_rtt_sample(sk, sack_rtt);
	}
	demo_seq_cc_ack(sk, newly);
	trace_demo_seq_probe(sk, newly);
	demo_seq_sndbuf_expand(sk);

	if (freed && !sock_flag(sk, SOCK_DEAD))
		sk->sk_write_space(sk);
}

/**
 * demo_seq_window_opened() - the peer's closed window opened again
 * @sk: the socket, owned
 *
 * A segment sent while it was closed was a probe the peer dropped: send it
 * again now rather than when its backed-off timer expires.
 */
void demo_seq_window_opened(struct sock *sk)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);

	if (ssk->snd_una == ssk->snd_nxt)
		return;
	demo_seq_retransmit(sk, skb_peek(&sk->sk_write_queue),
			    DEMO_RTX_WINDOW_OPENED);
	demo_seq_rto_reset(sk);
	ssk->tlp_pending = 0;
	sk_reset_timer(sk, &ssk->rtx_timer, jiffies + ssk->rto);
}

/* A timeout with data in flight: all of it not SACKed is lost. */
static void demo_seq_timeout_lost(struct sock *sk)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);
	struct sk_buff *skb;

	demo_seq_cc_timeout(sk);
	skb_queue_walk(&sk->sk_write_queue, skb) {
		struct demo_seq_cb *cb = DEMO_SEQ_CB(skb);

		if (skb == ssk->send_head)
			break;
		if (!cb->sacked)
			demo_seq_mark_lost(ssk, cb);
	}
	demo_seq_push(sk);
}

static void demo_seq_rtx_fire(struct sock *sk)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);
	const struct demo_seq_sysctl *ctl = demo_seq_ctl(sk);
	struct net *net = sock_net(sk);
	u32 rto_min, rto_max;
	int limit;

	switch (sk->sk_state) {
	case TCP_CLOSE:
	case TCP_LISTEN:
		return;
	case TCP_FIN_WAIT2:
		/* An orphan whose peer never sends its FIN. */
		if (sock_flag(sk, SOCK_DEAD)) {
			demo_seq_done(sk);
			return;
		}
		break;
	}
	if (ssk->snd_una == ssk->snd_nxt && !ssk->send_head &&
	    !ssk->hs_pending)
		return;

	if (ssk->tlp_pending) {
		/* A tail loss probe: no backoff, no retry counted. */
		ssk->tlp_pending = 0;
		if (ssk->snd_una != ssk->snd_nxt && demo_seq_send_probe(sk)) {
			ssk->tlp_sent = 1;
			sk_reset_timer(sk, &ssk->rtx_timer, jiffies + ssk->rto);
			return;
		}
	}

	limit = sk->sk_state == TCP_SYN_SENT ? READ_ONCE(ctl->syn_retries) :
					       READ_ONCE(ctl->retries);
	if (ssk->retries >= limit) {
		demo_inc_stats(net, DEMO_MIB_TIMEOUTS);
		net_dbg_ratelimited("%pI4:%u -> %pI4:%u: no answer after %u retransmissions, aborting\n",
				    &inet_sk(sk)->inet_saddr,
				    ntohs(inet_sk(sk)->inet_sport),
				    &inet_sk(sk)->inet_daddr,
				    ntohs(inet_sk(sk)->inet_dport), ssk->retries);
		if (sk->sk_state == TCP_SYN_SENT)
			demo_inc_stats(net, DEMO_MIB_ATTEMPTFAILS);
		demo_seq_abort(sk, ETIMEDOUT);
		return;
	}
	ssk->retries++;

	if (ssk->snd_una == ssk->snd_nxt && !ssk->send_head) {
		/*
		 * Our handshake ACK may be lost: probe, one behind; the ACK
		 * again, counted once, as a retransmission.
		 */
		trace_demo_seq_retransmit(sk, ssk->snd_nxt - 1,
					  DEMO_RTX_HANDSHAKE_ACK);
		demo_seq_send_bare_mib(sk, 0, ssk->snd_nxt - 1,
				       DEMO_MIB_RETRANSSEGS);
	} else if (ssk->snd_una == ssk->snd_nxt) {
		/* Nothing in flight, the window closed: probe it. */
		if (!demo_seq_send_head(sk)) {
			demo_inc_stats(net, DEMO_MIB_ZEROWINDOWPROBES);
			trace_demo_seq_retransmit(sk, ssk->snd_nxt - 1,
						  DEMO_RTX_ZERO_WINDOW_PROBE);
		}
	} else if (!demo_seq_before(ssk->snd_una, ssk->snd_wnd_edge)) {
		/* Into a closed window: a probe. */
		demo_seq_retransmit(sk, skb_peek(&sk->sk_write_queue),
				    DEMO_RTX_ZERO_WINDOW_PROBE);
	} else if (sk->sk_state == TCP_SYN_SENT) {
		/* The SYN again: it takes no congestion window. */
		demo_seq_retransmit(sk, skb_peek(&sk->sk_write_queue),
				    DEMO_RTX_SYN);
	} else {
		/* Nothing came back for a whole timeout. */
		demo_seq_timeout_lost(sk);
	}

	demo_seq_rto_bounds(sk, &rto_min, &rto_max);
	ssk->rto = min(ssk->rto * 2, rto_max);
	sk_reset_timer(sk, &ssk->rtx_timer, jiffies + ssk->rto);
}

/**
 * demo_seq_keepalive_reset() - probe after seqpacket_keepalive_time_ms
 * @sk: the socket, owned, SO_KEEPALIVE set
 */
void demo_seq_keepalive_reset(struct sock *sk)
{
	u32 when = demo_ms_to_jiffies(READ_ONCE(demo_seq_ctl(sk)->keepalive_time_ms));

	sk_reset_timer(sk, &sk->sk_timer, jiffies + when);
}

/**
 * demo_seq_keepalive() - proto.keepalive: SO_KEEPALIVE set or cleared
 * @sk: the socket, locked by its user
 * @valbool: set
 *
 * Called before sock_setsockopt() changes SOCK_KEEPOPEN. A connection
 * starts its keepalive timer when established (demo_seq_input.c).
 */
void demo_seq_keepalive(struct sock *sk, int valbool)
{
	if ((1 << sk->sk_state) & (TCPF_CLOSE | TCPF_LISTEN | TCPF_SYN_SENT))
		return;
	if (valbool && !sock_flag(sk, SOCK_KEEPOPEN))
		demo_seq_keepalive_reset(sk);
	else if (!valbool)
		sk_stop_timer(sk, &sk->sk_timer);
}

/*
 * The keepalive timer, as TCP's tcp_keepalive_timer(): after
 * seqpacket_keepalive_time_ms without a segment from the peer, a probe (a
 * pure ACK one behind snd_nxt, which the peer answers, rate limited, as
 * the handshake probe) every seqpacket_keepalive_intvl_ms; after
 * seqpacket_keepalive_probes unanswered ones, ETIMEDOUT. While segments
 * are in flight or wait for a window, the retransmission timer watches
 * the peer instead.
 */
static void demo_seq_keepalive_fire(struct sock *sk)
{
	const struct demo_seq_sysctl *ctl = demo_seq_ctl(sk);
	struct demo_seq_sock *ssk = demo_seq_sk(sk);
	struct net *net = sock_net(sk);
	unsigned long idle, when;

	if (!sock_flag(sk, SOCK_KEEPOPEN) ||
	    ((1 << sk->sk_state) & (TCPF_CLOSE | TCPF_LISTEN | TCPF_SYN_SENT)))
		return;
	when = demo_ms_to_jiffies(READ_ONCE(ctl->keepalive_time_ms));
	if (ssk->snd_una != ssk->snd_nxt || ssk->send_head)
		goto resched;

	idle = jiffies - ssk->rcv_tstamp;
	if (idle < when) {
		when -= idle;
		goto resched;
	}
	if (ssk->ka_probes >= READ_ONCE(ctl->keepalive_probes)) {
		demo_inc_stats(net, DEMO_MIB_TIMEOUTS);
		net_dbg_ratelimited("%pI4:%u -> %pI4:%u: %u keepalive probes unanswered, aborting\n",
				    &inet_sk(sk)->inet_saddr,
				    ntohs(inet_sk(sk)->inet_sport),
				    &inet_sk(sk)->inet_daddr,
				    ntohs(inet_sk(sk)->inet_dport), ssk->ka_probes);
		demo_seq_abort(sk, ETIMEDOUT);
		return;
	}
	demo_seq_send_bare(sk, 0, ssk->snd_nxt - 1);
	demo_inc_stats(net, DEMO_MIB_KEEPALIVES);
	ssk->ka_probes++;
	when = demo_ms_to_jiffies(READ_ONCE(ctl->keepalive_intvl_ms));
resched:
	sk_reset_timer(sk, &sk->sk_timer, jiffies + when);
}

static void demo_seq_delack_fire(struct sock *sk)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);

	if (ssk->acks_pending &&
	    ((1 << sk->sk_state) & (TCPF_ESTABLISHED | TCPF_FIN_WAIT1 |
				    TCPF_FIN_WAIT2 | TCPF_CLOSE_WAIT)))
		demo_seq_send_ack(sk);
}

/*
 * The timers hold a socket reference while pending (sk_reset_timer()).
 * A task owning the socket defers their work to release_sock(), which
 * calls demo_seq_release_cb(); the deferral holds its own reference.
 */
static void demo_seq_rtx_timer(struct timer_list *t)
{
	struct demo_seq_sock *ssk = timer_container_of(ssk, t, rtx_timer);
	struct sock *sk = &ssk->dsk.inet.sk;

	bh_lock_sock(sk);
	if (!sock_owned_by_user(sk))
		demo_seq_rtx_fire(sk);
	else if (!test_and_set_bit(DEMO_SEQ_RTX_DEFERRED, &ssk->deferred))
		sock_hold(sk);
	bh_unlock_sock(sk);
	sock_put(sk);
}

static void demo_seq_delack_timer(struct timer_list *t)
{
	struct demo_seq_sock *ssk = timer_container_of(ssk, t, delack_timer);
	struct sock *sk = &ssk->dsk.inet.sk;

	bh_lock_sock(sk);
	if (!sock_owned_by_user(sk))
		demo_seq_delack_fire(sk);
	else if (!test_and_set_bit(DEMO_SEQ_DELACK_DEFERRED, &ssk->deferred))
		sock_hold(sk);
	bh_unlock_sock(sk);
	sock_put(sk);
}

static void demo_seq_keepalive_timer(struct timer_list *t)
{
	struct sock *sk = timer_container_of(sk, t, sk_timer);
	struct demo_seq_sock *ssk = demo_seq_sk(sk);

	bh_lock_sock(sk);
	if (!sock_owned_by_user(sk))
		demo_seq_keepalive_fire(sk);
	else if (!test_and_set_bit(DEMO_SEQ_KEEPALIVE_DEFERRED, &ssk->deferred))
		sock_hold(sk);
	bh_unlock_sock(sk);
	sock_put(sk);
}

/* proto.release_cb: timer work deferred while a task owned the socket. */
void demo_seq_release_cb(struct sock *sk)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);

	if (test_and_clear_bit(DEMO_SEQ_RTX_DEFERRED, &ssk->deferred)) {
		/* Stale if what the owner did meanwhile re-armed the timer. */
		if (!timer_pending(&ssk->rtx_timer))
			demo_seq_rtx_fire(sk);
		__sock_put(sk);
	}
	if (test_and_clear_bit(DEMO_SEQ_DELACK_DEFERRED, &ssk->deferred)) {
		demo_seq_delack_fire(sk);
		__sock_put(sk);
	}
	if (test_and_clear_bit(DEMO_SEQ_KEEPALIVE_DEFERRED, &ssk->deferred)) {
		if (!timer_pending(&sk->sk_timer))
			demo_seq_keepalive_fire(sk);
		__sock_put(sk);
	}
}

void demo_seq_init_timers(struct sock *sk)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);

	timer_setup(&ssk->rtx_timer, demo_seq_rtx_timer, 0);
	timer_setup(&ssk->delack_timer, demo_seq_delack_timer, 0);
	timer_setup(&sk->sk_timer, demo_seq_keepalive_timer, 0);
}

/* Stop the timers, dropping their references; the caller holds one. */
void demo_seq_clear_timers(struct sock *sk)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);

	sk_stop_timer(sk, &ssk->rtx_timer);
	sk_stop_timer(sk, &ssk->delack_timer);
	sk_stop_timer(sk, &sk->sk_timer);
}

/**
 * demo_seq_send_ctl() - send a segment that belongs to no socket
 * @net: the namespace
 * @saddr: local address
 * @daddr: remote address
 * @sport: local port
 * @dport: remote port
 * @seq: sequence number
 * @ack: acknowledgment number
 * @flags: DEMO_SEQ_*
 * @window: window to advertise
 * @oif: the device to route through (demo_seq_reply_oif()), 0 for any
 * @mark: the mark to route and send with
 *
 * A listener's SYN-ACK, a reset for a segment that matches nothing, an ACK
 * from TIME_WAIT. Routed as the socket it answers for would route: through
 * its bound device or VRF, with its mark (policy routing), as TCP's
 * ip_send_unicast_reply() does.
 *
 * Return: 0 or a negative errno.
 */
int demo_seq_send_ctl(struct net *net, __be32 saddr, __be32 daddr,
		      __be16 sport, __be16 dport, u32 seq, u32 ack, u16 flags,
		      u16 window, int oif, u32 mark)
{
	struct demo_seqhdr *sh;
	struct sk_buff *skb;
	struct flowi4 fl4;
	struct rtable *rt;
	int err;

	flowi4_init_output(&fl4, oif, mark, 0, RT_SCOPE_UNIVERSE, demo_ipproto,
			   0, daddr, saddr, dport, sport,
			   sock_net_uid(net, NULL));
	rt = ip_route_output_key(net, &fl4);
	if (IS_ERR(rt))
		return PTR_ERR(rt);
	skb = alloc_skb(DEMO_SEQ_HEADROOM, GFP_ATOMIC);
	if (!skb) {
		ip_rt_put(rt);
		return -ENOMEM;
	}
	skb_reserve(skb, DEMO_SEQ_HEADROOM);
	skb->mark = mark;

	sh = skb_push(skb, sizeof(*sh));
	sh->seq = htonl(seq);
	sh->ack = htonl(ack);
	sh->window = htons(window);
	sh->sack_blocks = 0;
	sh->reserved = 0;
	skb_push(skb, sizeof(struct demohdr));
	skb_reset_transport_header(skb);
	demo_hdr_fill(skb, fl4.saddr, fl4.daddr, sport, dport,
		      DEMOPROTO_SEQPACKET, flags);

	skb_dst_set(skb, &rt->dst);
	err = demo_ip_output(net, NULL, skb, fl4.saddr, fl4.daddr, -1, 0, true);
	if (err && err != -ENOBUFS)
		return err;
	demo_inc_stats(net, DEMO_MIB_OUTSEGS);
	if (flags & DEMO_SEQ_RST)
		demo_inc_stats(net, DEMO_MIB_OUTRSTS);
	return 0;
}

/**
 * demo_seq_reply_oif() - the device a reply to @skb is routed through
 * @net: the namespace
 * @bound_dev_if: the bound device of the socket (or TIME_WAIT entry) that
 *	answers, 0 if none or no socket
 * @skb: the segment answered
 *
 * The bound device; failing that the VRF (L3 master device) @skb came in
 * through, so that a reply leaves by the VRF's routing table, as TCP's
 * inet_request_bound_dev_if() and ip_send_unicast_reply() choose.
 *
 * Return: an interface index, or 0 to let routing choose.
 */
int demo_seq_reply_oif(struct net *net, int bound_dev_if,
		       const struct sk_buff *skb)
{
	return bound_dev_if ?: l3mdev_master_ifindex_by_index(net,
							      skb->skb_iif);
}

/**
 * demo_seq_reply_reset() - answer a segment with RST
 * @net: the namespace
 * @sk: the socket that refuses it (a listener, a connecting socket), or
 *	NULL when it matches nothing
 * @skb: the segment, its headers pulled, sequence fields in its cb
 * @why: why, for the trace event demo_seq_send_reset
 *
 * RFC 793's rule: a segment carrying an acknowledgment gets a reset with
 * that sequence number; another gets one acknowledging it. It is routed
 * with @sk's bound device and mark; without a socket, through the VRF the
 * segment came in by and with its mark if net.ipv4.fwmark_reflect says so.
 */
void demo_seq_reply_reset(struct net *net, const struct sock *sk,
			  struct sk_buff *skb, enum demo_seq_rst_reason why)
{
	const struct demo_seq_cb *cb = DEMO_SEQ_CB(skb);
	const struct demohdr *dh = demo_hdr(skb);
	const struct iphdr *iph = ip_hdr(skb);
	u32 seq = 0, ack = 0;
	u16 flags = DEMO_SEQ_RST;

	if ((cb->flags & DEMO_SEQ_RST) || skb->pkt_type != PACKET_HOST)
		return;
	if (cb->flags & DEMO_SEQ_ACK) {
		seq = cb->ack;
	} else {
		flags |= DEMO_SEQ_ACK;
		ack = cb->seq + 1;
	}
	trace_demo_seq_send_reset(sk, iph->daddr, iph->saddr, dh->dest,
				  dh->source, seq, ack, why);
	demo_seq_send_ctl(net, iph->daddr, iph->saddr, dh->dest, dh->source,
			  seq, ack, flags, 0,
			  demo_seq_reply_oif(net, sk ?
					     READ_ONCE(sk->sk_bound_dev_if) : 0,
					     skb),
			  sk ? READ_ONCE(sk->sk_mark) :
			       IP4_REPLY_MARK(net, skb->mark));
}

/* TIME_WAIT: what remains of a connection closed first on this side. */

static void demo_tw_put(struct demo_tw *tw)
{
	if (refcount_dec_and_test(&tw->refcnt)) {
		atomic_dec(&demo_pernet(tw->net)->tw_count);
		kfree_rcu(tw, rcu);
	}
}

/* Unhash @tw if it still is; true if this call did it. */
static bool demo_tw_unhash(struct demo_net *dn, struct demo_tw *tw)
{
	bool hashed;

	spin_lock_bh(&dn->conn_lock);
	hashed = !hlist_unhashed(&tw->node);
	if (hashed)
		hlist_del_init_rcu(&tw->node);
	spin_unlock_bh(&dn->conn_lock);
	return hashed;
}

static void demo_tw_timer(struct timer_list *t)
{
	struct demo_tw *tw = timer_container_of(tw, t, timer);

	if (demo_tw_unhash(demo_pernet(tw->net), tw))
		demo_tw_put(tw);
	demo_tw_put(tw);	/* the timer's */
}

/**
 * demo_seq_time_wait() - replace connection @sk by a TIME_WAIT entry
 * @sk: the socket, owned; its connection has ended both ways
 *
 * The entry answers a retransmitted FIN for seqpacket_time_wait_ms and keeps
 * old segments of the pair from meeting a new connection. Without memory
 * for it, or beyond seqpacket_max_tw entries in the namespace (counted as
 * TimeWaitOverflow), the connection just ends.
 */
void demo_seq_time_wait(struct sock *sk)
{
	struct demo_net *dn = demo_pernet(sock_net(sk));
	struct demo_seq_sock *ssk = demo_seq_sk(sk);
	struct inet_sock *inet = inet_sk(sk);
	struct demo_tw *tw = NULL;
	u32 h;

	if (atomic_inc_return(&dn->tw_count) > READ_ONCE(dn->seq.max_tw)) {
		demo_inc_stats(sock_net(sk), DEMO_MIB_TIMEWAITOVERFLOW);
		net_dbg_ratelimited("TIME_WAIT table full (seqpacket_max_tw): %pI4:%u closes without it\n",
				    &inet->inet_saddr, ntohs(inet->inet_sport));
	} else {
		tw = kmalloc(sizeof(*tw), GFP_ATOMIC);
	}
	if (!tw)
		atomic_dec(&dn->tw_count);
	if (tw) {
		tw->net = sock_net(sk);
		tw->laddr = inet->inet_rcv_saddr;
		tw->raddr = inet->inet_daddr;
		tw->lport = inet->inet_sport;
		tw->rport = inet->inet_dport;
		tw->snd_nxt = ssk->snd_nxt;
		tw->rcv_nxt = ssk->rcv_nxt;
		tw->bound_dev_if = sk->sk_bound_dev_if;
		tw->mark = READ_ONCE(sk->sk_mark);
		refcount_set(&tw->refcnt, 2);	/* hash and timer */
		timer_setup(&tw->timer, demo_tw_timer, 0);
		h = demo_conn_hashfn(tw->net, tw->laddr, tw->lport, tw->raddr,
				     tw->rport);

		/* Lookups find the connection or its TIME_WAIT, never neither. */
		spin_lock_bh(&dn->conn_lock);
		hlist_add_head_rcu(&tw->node, &dn->timewait_hash[h]);
		if (!hlist_unhashed(&ssk->conn_node)) {
			hlist_del_init_rcu(&ssk->conn_node);
			__sock_put(sk);
		}
		mod_timer(&tw->timer, jiffies +
			  demo_ms_to_jiffies(READ_ONCE(dn->seq.time_wait_ms)));
		spin_unlock_bh(&dn->conn_lock);
		/* The pair lives on in TIME_WAIT; the socket closes. */
		demo_seq_set_state(sk, TCP_TIME_WAIT);
	}
	demo_seq_done(sk);
}

/**
 * demo_tw_lookup() - the TIME_WAIT entry of a pair
 * @net: the namespace
 * @raddr: remote address
 * @rport: remote port
 * @laddr: local address
 * @lport: local port
 *
 * Context: rcu_read_lock() held; the entry stays valid until it is dropped.
 * Return: the entry or NULL.
 */
struct demo_tw *demo_tw_lookup(struct net *net, __be32 raddr, __be16 rport,
			       __be32 laddr, __be16 lport)
{
	struct demo_net *dn = demo_pernet(net);
	struct demo_tw *tw;
	u32 h = demo_conn_hashfn(net, laddr, lport, raddr, rport);

	hlist_for_each_entry_rcu(tw, &dn->timewait_hash[h], node)
		if (tw->laddr == laddr && tw->lport == lport &&
		    tw->raddr == raddr && tw->rport == rport)
			return tw;
	return NULL;
}

/* End @tw before its time; false if its timer or another CPU was first. */
bool demo_tw_kill(struct demo_net *dn, struct demo_tw *tw)
{
	if (!demo_tw_unhash(dn, tw))
		return false;
	if (timer_delete(&tw->timer))
		demo_tw_put(tw);
	demo_tw_put(tw);
	return true;
}

/**
 * demo_tw_rcv() - a segment for a pair in TIME_WAIT
 * @tw: the entry, from demo_tw_lookup()
 * @skb: the segment; consumed
 *
 * A retransmitted FIN means our last ACK was lost: ACK again and restart
 * the wait. A reset at the next sequence number ends the entry. Anything
 * else, a FIN or reset at another sequence number and a SYN not after
 * rcv_nxt included, is old or forged and dropped (answering such a SYN
 * would let a blind attacker end the entry through the peer's reset).
 */
void demo_tw_rcv(struct demo_tw *tw, struct sk_buff *skb)
{
	const struct demo_seq_cb *cb = DEMO_SEQ_CB(skb);
	struct demo_net *dn = demo_pernet(tw->net);

	if (cb->flags & DEMO_SEQ_RST) {
		if (cb->seq == tw->rcv_nxt)
			demo_tw_kill(dn, tw);
	} else if ((cb->flags & DEMO_SEQ_FIN) && cb->seq + 1 == tw->rcv_nxt) {
		demo_seq_send_ctl(tw->net, tw->laddr, tw->raddr, tw->lport,
				  tw->rport, tw->snd_nxt, tw->rcv_nxt,
				  DEMO_SEQ_ACK, 0,
				  demo_seq_reply_oif(tw->net, tw->bound_dev_if,
						     skb),
				  tw->mark);
		mod_timer_pending(&tw->timer, jiffies +
				  demo_ms_to_jiffies(READ_ONCE(dn->seq.time_wait_ms)));
	}
	consume_skb(skb);
}

/*
 * The namespace is going away: end every TIME_WAIT entry, waiting for
 * timers that are running. Context: process context, no packets arrive.
 */
void demo_tw_purge(struct demo_net *dn)
{
	struct demo_tw *tw;
	int i;

	for (i = 0; i <= dn->conn_hash_mask; i++) {
		for (;;) {
			spin_lock_bh(&dn->conn_lock);
			tw = hlist_entry_safe(dn->timewait_hash[i].first,
					      struct demo_tw, node);
			if (tw)
				hlist_del_init_rcu(&tw->node);
			spin_unlock_bh(&dn->conn_lock);
			if (!tw)
				break;
			/* The hash's reference keeps it while we wait. */
			if (timer_delete_sync(&tw->timer))
				demo_tw_put(tw);
			demo_tw_put(tw);
		}
	}
}
