/* SPDX-License-Identifier: GPL-2.0 */
/*
 * DEMOPROTO_SEQPACKET internals, shared by its three files:
 *
 *   demo_seqpacket.c   the socket calls: connect, listen, accept, sendmsg,
 *                      recvmsg, poll, shutdown, close
 *   demo_seq_input.c   segments arriving from demo_rcv(): connection and
 *                      listener lookup, the handshake, acknowledgments,
 *                      reassembly, FIN and RST
 *   demo_seq_output.c  segments leaving: transmit, the SACK scoreboard,
 *                      retransmission, the timers and TIME_WAIT
 *   demo_seq_cc.c      congestion control: slow start, CUBIC, recovery
 *
 * Locking follows TCP. Segments arrive in softirq and are processed under
 * bh_lock_sock() when no task owns the socket, else queued to the socket
 * backlog and processed by release_sock() (sk_backlog_rcv). Timers do the
 * same and defer to release_cb. Every field below is changed only by the
 * socket's owner in that sense, unless it says otherwise.
 */
#ifndef _DEMO_SEQPACKET_H
#define _DEMO_SEQPACKET_H

#include <linux/ktime.h>
#include <linux/skbuff.h>
#include <linux/timer.h>
#include <net/tcp_states.h>

#include "demo_proto.h"

/* Sequence space arithmetic, as TCP's before()/after(). */
static inline bool demo_seq_before(u32 seq1, u32 seq2)
{
	return (s32)(seq1 - seq2) < 0;
}

#define demo_seq_after(seq2, seq1)	demo_seq_before(seq1, seq2)

#define DEMO_SEQ_RTO_INIT	HZ		/* RFC 6298 initial RTO */
#define DEMO_SEQ_DELACK		(HZ / 25)	/* delayed ACK, 40 ms */
#define DEMO_SEQ_DUPTHRESH	3		/* later sends delivered: lost */
#define DEMO_SEQ_WC_DELACK_US	(USEC_PER_SEC / 25) /* the peer's delayed ACK */
#define DEMO_SEQ_INIT_CWND	10		/* RFC 6928 initial window */
#define DEMO_SEQ_MAX_WND	U16_MAX		/* the window field's range */
/* SACK blocks a segment carries: the header's count and the room left. */
#define DEMO_SEQ_SACK_LEN(n)	((n) * sizeof(struct demo_sack_block))

/*
 * Congestion control states (demo_seq_cc.c), as TCP's Open/Recovery/Loss;
 * DEMO_INFO reports them as they are.
 */
enum demo_ca_state {
	DEMO_CA_OPEN = DEMOI_CA_OPEN,	/* no loss outstanding: window grows */
	DEMO_CA_RECOVERY = DEMOI_CA_RECOVERY,	/* SACK recovery, until high_seq */
	DEMO_CA_LOSS = DEMOI_CA_LOSS,	/* after a retransmission timeout */
};

/* Why a segment is sent again (trace event demo_seq_retransmit). */
enum demo_seq_rtx_reason {
	DEMO_RTX_LOSS,			/* SACK recovery: taken as lost */
	DEMO_RTX_TIMEOUT,		/* after a retransmission timeout */
	DEMO_RTX_TLP,			/* tail loss probe (RFC 8985) */
	DEMO_RTX_ZERO_WINDOW_PROBE,	/* probe of the peer's closed window */
	DEMO_RTX_WINDOW_OPENED,		/* a probe the peer dropped, at once */
	DEMO_RTX_SYN,			/* the SYN, unanswered */
	DEMO_RTX_HANDSHAKE_ACK,		/* our handshake ACK, maybe lost */
};

/* Why a RST is sent (trace event demo_seq_send_reset). */
enum demo_seq_rst_reason {
	DEMO_RST_UNREAD_DATA,		/* closed with messages unread */
	DEMO_RST_LINGER_ZERO,		/* closed with SO_LINGER of 0 */
	DEMO_RST_NO_MEMORY,		/* no memory for a FIN */
	DEMO_RST_ORPHANS,		/* beyond seqpacket_max_orphans */
	DEMO_RST_LISTENER_CLOSED,	/* never accepted, the listener closed */
	DEMO_RST_DATA_AFTER_CLOSE,	/* new data for a closed socket */
	DEMO_RST_PROTOCOL,		/* the peer broke the protocol */
	DEMO_RST_NO_SOCKET,		/* a segment for no socket */
	DEMO_RST_BAD_ACK,		/* acknowledges what was never sent */
	DEMO_RST_CLOSED,		/* a segment for a closed connection */
	DEMO_RST_LISTEN_OVERFLOW,	/* the accept queue is full */
	DEMO_RST_HANDSHAKE,		/* a handshake that cannot be right */
};

/**
 * struct demo_seq_stats - a connection's counters, for DEMO_INFO
 * @bytes_sent: payload bytes transmitted, retransmissions included
 * @bytes_retrans: payload bytes retransmitted
 * @bytes_acked: payload bytes cumulatively acknowledged
 * @bytes_received: payload bytes received in sequence
 * @segs_out: segments sent, pure ACKs and RSTs included
 * @segs_in: segments the connection processed
 * @data_segs_out: segments taking a sequence number sent, again included
 * @data_segs_in: segments with payload received
 * @total_retrans: segments retransmitted
 * @msgs_sent: messages queued by sendmsg()
 * @msgs_received: messages received whole
 * @rtt_last_us: the latest RTT sample, microseconds
 * @rtt_min_us: the smallest, 0 before the first
 *
 * Zero when the connection begins (demo_seq_init_conn()).
 */
struct demo_seq_stats {
	u64	bytes_sent;
	u64	bytes_retrans;
	u64	bytes_acked;
	u64	bytes_received;
	u32	segs_out;
	u32	segs_in;
	u32	data_segs_out;
	u32	data_segs_in;
	u32	total_retrans;
	u32	msgs_sent;
	u32	msgs_received;
	u32	rtt_last_us;
	u32	rtt_min_us;
};

/* A range of sequence numbers [start, end), as a SACK block reports. */
struct demo_seq_range {
	u32	start;
	u32	end;
};

/* Bits of demo_seq_sock.deferred: timer work left to release_sock(). */
enum {
	DEMO_SEQ_RTX_DEFERRED,
	DEMO_SEQ_DELACK_DEFERRED,
	DEMO_SEQ_KEEPALIVE_DEFERRED,
};

struct demo_seq_reqs;

/**
 * struct demo_seq_sock - a DEMOPROTO_SEQPACKET socket
 * @dsk: the AF_DEMO socket it is; first
 * @conn_node: link in demo_net.conn_hash (4-tuple), once connected;
 *	protected by demo_net.conn_lock, read under RCU
 * @accept_lock: (listener) protects @accept_queue and the LISTEN state
 *	against the softirq that adds connections
 * @accept_queue: (listener) connections waiting for accept()
 * @accept_node: (connection) link in its listener's @accept_queue
 * @reqs: (listener) its handshakes in progress, under @accept_lock
 * @synq_overflow: (listener) jiffies when @reqs was last full, 0 never;
 *	SYN cookies are believed for a while after it, under @accept_lock
 * @snd_una: oldest unacknowledged sequence number
 * @snd_nxt: next sequence number to transmit for the first time
 * @write_seq: sequence number of the next segment queued
 * @snd_wnd_edge: first sequence number the peer does not accept yet
 * @max_wnd: largest window the peer offered, for the acceptable ACKs
 * @send_head: first never-transmitted segment of sk_write_queue, or NULL
 * @unacked_bytes: payload bytes queued and not acknowledged (SIOCOUTQ)
 * @tx_count: transmissions so far, to order them
 * @delivered_tx: the latest transmission the peer reported received
 * @rcv_nxt: next sequence number expected from the peer
 * @rcv_adv_edge: right edge of the window last advertised; never moves back
 * @rcv_mss: largest payload received in one segment, for the window
 * @rcv_truesize: largest truesize of a segment received, for the bound on
 *	receive memory (demo_seq_rmem_bound())
 * @reasm_queue: in-order segments of the message being received
 * @reasm_bytes: their payload bytes
 * @ooo_queue: segments received beyond @rcv_nxt, by sequence number
 * @acks_pending: data segments received and not yet acknowledged
 * @rcv_sacks: (receiver) the SACK blocks to report, most recent first
 * @num_rcv_sacks: how many of @rcv_sacks are valid
 * @rcvbuf_round_seq: (receiver) rcv_nxt when the current auto-tuning round
 *	(a window of data) began
 * @rcvbuf_round_len: (receiver) its length, segments
 * @rcv_copied: (receiver) segments the user has read, ever; written under
 *	the socket lock by recvmsg, read by the owner
 * @rcvbuf_copied: @rcv_copied when the current auto-tuning round began
 * @sacked_out: segments in flight the peer reported by SACK
 * @lost_out: segments in flight taken as lost, not SACKed
 * @retrans_out: lost segments retransmitted and not yet SACKed or lost again
 * @sack_cache: the SACK blocks of the previous ACK, whose news is processed
 * @num_sack_cache: how many of @sack_cache are valid
 * @sack_hint: write queue segment after the last one SACK marked, or NULL
 * @rtx_hint: write queue segment from which lost ones are resent, or NULL
 * @cwnd: congestion window, segments in flight
 * @ssthresh: slow start threshold
 * @cwnd_cnt: ACKed segments counted toward the next window increase
 * @cwnd_limited: the last push stopped for the congestion window
 * @ca_state: enum demo_ca_state
 * @high_seq: snd_nxt when recovery or loss began: its end
 * @prr_recover_fs: (recovery) segments in flight when it began
 * @prr_delivered: (recovery) segments delivered since it began
 * @prr_out: (recovery) segments sent since it began
 * @cubic: CUBIC's state (demo_seq_cc.c)
 * @mss: payload bytes per segment, from the path MTU
 * @srtt_us: smoothed RTT, microseconds << 3 (0 before the first sample)
 * @rttvar_us: RTT variation, microseconds << 2
 * @rto: current retransmission timeout, jiffies, backoff included
 * @retries: consecutive timeouts without progress
 * @tlp_pending: the retransmission timer is armed as a tail loss probe
 * @tlp_sent: a tail loss probe went out since snd_una last moved
 * @hs_pending: (client) established, but nothing from the peer yet shows
 *	that our handshake ACK arrived: the retransmission timer resends it
 * @rtx_timer: retransmission, SYN retries, zero-window probe, FIN_WAIT2
 * @delack_timer: delayed acknowledgment
 * @deferred: DEMO_SEQ_*_DEFERRED bits, set by timers, atomic
 * @last_oow_ack: jiffies of the last ACK answering a segment that cannot
 *	be right (see demo_seq_send_oow_ack()), 0 if none yet
 * @orphan: counted in demo_net.orphans, until the connection ends
 *
 * A connection is cloned from its listener (demo_seq_child()): everything
 * after @dsk starts at zero there and is then set by
 * demo_seq_init_private(), as in a new socket. A field that must not
 * start at zero is initialised in demo_seq_init_private().
 * @rcv_tstamp: jiffies of the last acceptable segment from the peer
 * @ka_probes: keepalive probes sent since then (SO_KEEPALIVE, whose timer
 *	is sk->sk_timer)
 * @stats: counters for DEMO_INFO
 */
struct demo_seq_sock {
	struct demo_sock	dsk;

	struct hlist_node	conn_node;
	spinlock_t		accept_lock;	/* accept_queue, LISTEN state */
	struct list_head	accept_queue;
	struct list_head	accept_node;
	struct demo_seq_reqs	*reqs;
	unsigned long		synq_overflow;

	u32			snd_una;
	u32			snd_nxt;
	u32			write_seq;
	u32			snd_wnd_edge;
	u32			max_wnd;
	struct sk_buff		*send_head;
	u32			unacked_bytes;
	u32			tx_count;
	u32			delivered_tx;

	u32			rcv_nxt;
	u32			rcv_adv_edge;
	u32			rcv_mss;
	u32			rcv_truesize;
	struct sk_buff_head	reasm_queue;
	u32			reasm_bytes;
	struct sk_buff_head	ooo_queue;
	u16			acks_pending;
	u8			num_rcv_sacks;
	struct demo_seq_range	rcv_sacks[DEMO_SEQ_MAX_SACK];
	u32			rcvbuf_round_seq;
	u32			rcvbuf_round_len;
	u32			rcv_copied;
	u32			rcvbuf_copied;

	u32			sacked_out;
	u32			lost_out;
	u32			retrans_out;
	u8			num_sack_cache;
	struct demo_seq_range	sack_cache[DEMO_SEQ_MAX_SACK];
	struct sk_buff		*sack_hint;
	struct sk_buff		*rtx_hint;

	u32			cwnd;
	u32			ssthresh;
	u32			cwnd_cnt;
	u8			cwnd_limited;
	u8			ca_state;
	u32			high_seq;
	u32			prr_recover_fs;
	u32			prr_delivered;
	u32			prr_out;
	struct demo_cubic {
		u64	epoch_us;	/* start of this growth epoch, 0: none */
		u32	w_max;		/* window before the last reduction */
		u32	origin;		/* the curve's plateau this epoch */
		u32	k;		/* time to the plateau, 1/1024 s */
		u64	w_est;		/* Reno-friendly window, << 16 */
	} cubic;

	u16			mss;
	u32			srtt_us;
	u32			rttvar_us;
	u32			rto;
	u8			retries;
	u8			tlp_pending;
	u8			tlp_sent;
	u8			hs_pending;

	struct timer_list	rtx_timer;
	struct timer_list	delack_timer;
	unsigned long		deferred;
	unsigned long		last_oow_ack;
	u8			orphan;
	unsigned long		rcv_tstamp;
	u8			ka_probes;
	struct demo_seq_stats	stats;
};

static inline struct demo_seq_sock *demo_seq_sk(const struct sock *sk)
{
	return container_of(sk, struct demo_seq_sock, dsk.inet.sk);
}

/**
 * struct demo_seq_cb - what a segment carries in skb->cb
 * @seq: its sequence number
 * @ack: (received) acknowledgment number
 * @sent: (write queue) demo_seq_clock_us() of the last transmission
 * @tx: (write queue) demo_seq_sock.tx_count at its last transmission
 * @window: (received) window
 * @flags: DEMO_SEQ_SYN/FIN/EOR (write queue); header flags (received)
 * @sack_blocks: (received) SACK blocks after the sequence header
 * @sacked: (write queue) the peer reported it received
 * @lost: (write queue) taken as lost and not SACKed since
 * @retrans: (write queue) lost and sent again, that copy still in flight
 * @retransmitted: (write queue) sent more than once: no RTT sample (Karn)
 */
struct demo_seq_cb {
	u32	seq;
	u32	ack;
	u32	sent;
	u32	tx;
	u16	window;
	u16	flags;
	u8	sack_blocks;
	u8	sacked:1,
		lost:1,
		retrans:1,
		retransmitted:1;
};

#define DEMO_SEQ_CB(skb)	((struct demo_seq_cb *)&((skb)->cb[0]))

/**
 * struct demo_tw - a connection in TIME_WAIT, after its socket is gone
 * @node: link in demo_net.timewait_hash, protected by demo_net.conn_lock
 * @timer: ends it
 * @refcnt: one for @node, one while @timer is pending
 * @net: its namespace; the entry holds no reference, the namespace's exit
 *	removes every entry first
 * @laddr: local address
 * @raddr: remote address
 * @lport: local port
 * @rport: remote port
 * @snd_nxt: sequence number after our FIN
 * @rcv_nxt: sequence number after the peer's FIN
 * @bound_dev_if: the socket's bound device, for the ACKs it still sends
 * @mark: the socket's mark, likewise
 * @rcu: for freeing
 *
 * A TIME_WAIT entry is not a socket: it holds neither the module nor the
 * namespace, so rmmod and namespace teardown are not delayed by it.
 */
struct demo_tw {
	struct hlist_node	node;
	struct timer_list	timer;
	refcount_t		refcnt;
	struct net		*net;
	__be32			laddr;
	__be32			raddr;
	__be16			lport;
	__be16			rport;
	u32			snd_nxt;
	u32			rcv_nxt;
	int			bound_dev_if;
	u32			mark;
	struct rcu_head		rcu;
};

/* The clock of RTT samples and send times: microseconds, wrapping. */
static inline u32 demo_seq_clock_us(void)
{
	return (u32)div_u64(ktime_get_ns(), NSEC_PER_USEC);
}

/* Segments in flight, as RFC 6675's pipe and TCP's packets_in_flight(). */
static inline u32 demo_seq_in_flight(const struct demo_seq_sock *ssk)
{
	return ssk->snd_nxt - ssk->snd_una - ssk->sacked_out - ssk->lost_out +
	       ssk->retrans_out;
}

/* The bucket of a pair in demo_net.conn_hash and timewait_hash. */
static inline u32 demo_conn_hashfn(const struct net *net, __be32 laddr,
				   __be16 lport, __be32 raddr, __be16 rport)
{
	return demo_conn_hash(net, laddr, lport, raddr, rport) &
	       demo_pernet(net)->conn_hash_mask;
}

/* demo_seqpacket.c */
void demo_seq_set_state(struct sock *sk, int state);
void demo_seq_get_info(struct sock *sk, struct demo_info *info);
void demo_seq_done(struct sock *sk);
void demo_seq_abort(struct sock *sk, int err);
int demo_seq_hash_conn(struct sock *sk);
void demo_seq_unhash_conn(struct sock *sk);
void demo_seq_init_conn(struct sock *sk);
void demo_seq_init_private(struct sock *sk);
void demo_seq_purge_rcv(struct sock *sk, bool all);

/* demo_seq_input.c */
int demo_seq_do_rcv(struct sock *sk, struct sk_buff *skb);
u16 demo_seq_rcv_window(struct sock *sk);
bool demo_seq_cookie_check(const struct net *net, __be32 saddr, __be32 daddr,
			   __be16 sport, __be16 dport, u32 cisn, u32 cookie);
u32 demo_seq_cookie(const struct net *net, __be32 saddr, __be32 daddr,
		    __be16 sport, __be16 dport, u32 cisn);
u32 demo_seq_isn(const struct net *net, __be32 saddr, __be32 daddr,
		 __be16 sport, __be16 dport);
int demo_seq_reqs_alloc(struct sock *lsk, int backlog);
void demo_seq_reqs_free(struct sock *lsk);

/* demo_seq_output.c */
void demo_seq_init_timers(struct sock *sk);
void demo_seq_clear_timers(struct sock *sk);
int demo_seq_queue_msg(struct sock *sk, struct msghdr *msg, size_t len);
int demo_seq_queue_ctl(struct sock *sk, u16 flags, gfp_t gfp);
void demo_seq_push(struct sock *sk);
void demo_seq_send_ack(struct sock *sk);
void demo_seq_send_reset(struct sock *sk, enum demo_seq_rst_reason why);
void demo_seq_keepalive(struct sock *sk, int valbool);
void demo_seq_keepalive_reset(struct sock *sk);
void demo_seq_ack_event(struct sock *sk);
void demo_seq_schedule_ack(struct sock *sk);
void demo_seq_clean_acked(struct sock *sk, u32 ack,
			  const struct demo_sack_block *sacks, int nsacks);
void demo_seq_arm_rtx(struct sock *sk);
void demo_seq_window_opened(struct sock *sk);
void demo_seq_rto_reset(struct sock *sk);
void demo_seq_purge_write_queue(struct sock *sk);
void demo_seq_rtt_sample(struct sock *sk, u32 rtt_us);
void demo_seq_release_cb(struct sock *sk);
int demo_seq_send_ctl(struct net *net, __be32 saddr, __be32 daddr,
		      __be16 sport, __be16 dport, u32 seq, u32 ack, u16 flags,
		      u16 window, int oif, u32 mark);
int demo_seq_reply_oif(struct net *net, int bound_dev_if,
		       const struct sk_buff *skb);
void demo_seq_reply_reset(struct net *net, const struct sock *sk,
			  struct sk_buff *skb, enum demo_seq_rst_reason why);
void demo_seq_time_wait(struct sock *sk);
struct demo_tw *demo_tw_lookup(struct net *net, __be32 raddr, __be16 rport,
			       __be32 laddr, __be16 lport);
bool demo_tw_kill(struct demo_net *dn, struct demo_tw *tw);
void demo_tw_rcv(struct demo_tw *tw, struct sk_buff *skb);
u32 demo_seq_mss(struct sock *sk);

/* demo_seq_cc.c */
void demo_seq_cc_init(struct sock *sk);
void demo_seq_cc_ack(struct sock *sk, u32 acked);
void demo_seq_cc_enter_recovery(struct sock *sk);
void demo_seq_cc_timeout(struct sock *sk);
void demo_seq_cc_check_exit(struct sock *sk);
u32 demo_seq_cubic_root(u64 a);

#endif /* _DEMO_SEQPACKET_H */
