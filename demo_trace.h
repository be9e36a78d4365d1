/* SPDX-License-Identifier: GPL-2.0 */
/*
 * AF_DEMO tracepoints, system af_demo: what include/trace/events/tcp.h and
 * sock:inet_sock_set_state show of TCP, for DEMOPROTO_SEQPACKET, and the
 * packets the family drops on receive. docs/SEQPACKET.md lists them.
 *
 * Defined (CREATE_TRACE_POINTS) in demo_trace.c only; each call site is
 * one trace_demo_*() line. Addresses are stored as tcp.h stores them,
 * four bytes in network order, ports in host order.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM af_demo

#if !defined(_DEMO_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _DEMO_TRACE_H

#include <linux/ip.h>
#include <linux/jiffies.h>
#include <linux/tracepoint.h>
#include <net/tcp_states.h>

#include "demo_seqpacket.h"

#define DEMO_TRACE_STATES			\
	EM(TCP_ESTABLISHED)			\
	EM(TCP_SYN_SENT)			\
	EM(TCP_SYN_RECV)			\
	EM(TCP_FIN_WAIT1)			\
	EM(TCP_FIN_WAIT2)			\
	EM(TCP_TIME_WAIT)			\
	EM(TCP_CLOSE)				\
	EM(TCP_CLOSE_WAIT)			\
	EM(TCP_LAST_ACK)			\
	EM(TCP_LISTEN)				\
	EMe(TCP_CLOSING)

#define DEMO_TRACE_CA_STATES			\
	EM(DEMO_CA_OPEN)			\
	EM(DEMO_CA_RECOVERY)			\
	EMe(DEMO_CA_LOSS)

#define DEMO_TRACE_RTX_REASONS			\
	EM(DEMO_RTX_LOSS)			\
	EM(DEMO_RTX_TIMEOUT)			\
	EM(DEMO_RTX_TLP)			\
	EM(DEMO_RTX_ZERO_WINDOW_PROBE)		\
	EM(DEMO_RTX_WINDOW_OPENED)		\
	EM(DEMO_RTX_SYN)			\
	EMe(DEMO_RTX_HANDSHAKE_ACK)

#define DEMO_TRACE_RST_REASONS			\
	EM(DEMO_RST_UNREAD_DATA)		\
	EM(DEMO_RST_LINGER_ZERO)		\
	EM(DEMO_RST_NO_MEMORY)			\
	EM(DEMO_RST_ORPHANS)			\
	EM(DEMO_RST_LISTENER_CLOSED)		\
	EM(DEMO_RST_DATA_AFTER_CLOSE)		\
	EM(DEMO_RST_PROTOCOL)			\
	EM(DEMO_RST_NO_SOCKET)			\
	EM(DEMO_RST_BAD_ACK)			\
	EM(DEMO_RST_CLOSED)			\
	EM(DEMO_RST_LISTEN_OVERFLOW)		\
	EMe(DEMO_RST_HANDSHAKE)

/* Drop reasons: the counter the drop bumps, or what none counts. */
#define DEMO_TRACE_DROP_REASONS			\
	EM(DEMO_MIB_NOPORTS)			\
	EM(DEMO_MIB_INERRORS)			\
	EM(DEMO_MIB_RCVBUFERRORS)		\
	EM(DEMO_MIB_INCSUMERRORS)		\
	EM(DEMO_MIB_INDUPSEGS)			\
	EM(DEMO_MIB_LISTENOVERFLOWS)		\
	EM(DEMO_MIB_LISTENDROPS)		\
	EM(DEMO_MIB_RCVMEMDROPS)		\
	EM(DEMO_DROP_NOT_HOST)			\
	EM(DEMO_DROP_OUT_OF_WINDOW)		\
	EM(DEMO_DROP_AFTER_FIN)			\
	EM(DEMO_DROP_FILTER)			\
	EM(DEMO_DROP_CLOSED)			\
	EMe(DEMO_DROP_BAD_ACK)

/* The enums' values, for the tools that parse the format files. */
#undef EM
#undef EMe
#define EM(a)	TRACE_DEFINE_ENUM(a);
#define EMe(a)	TRACE_DEFINE_ENUM(a);

DEMO_TRACE_STATES
DEMO_TRACE_CA_STATES
DEMO_TRACE_RTX_REASONS
DEMO_TRACE_RST_REASONS
DEMO_TRACE_DROP_REASONS

#undef EM
#undef EMe
#define EM(a)	{ a, #a },
#define EMe(a)	{ a, #a }

#define demo_show_state(v)	__print_symbolic(v, DEMO_TRACE_STATES)
#define demo_show_ca_state(v)	__print_symbolic(v, DEMO_TRACE_CA_STATES)
#define demo_show_rtx_reason(v)	__print_symbolic(v, DEMO_TRACE_RTX_REASONS)
#define demo_show_rst_reason(v)	__print_symbolic(v, DEMO_TRACE_RST_REASONS)
#define demo_show_drop_reason(v) __print_symbolic(v, DEMO_TRACE_DROP_REASONS)

/* The four addressing fields of a connected socket. */
#define DEMO_TRACE_STORE_SK(__entry, sk)				\
	do {								\
		const struct inet_sock *__inet = inet_sk(sk);		\
									\
		__entry->sport = ntohs(__inet->inet_sport);		\
		__entry->dport = ntohs(__inet->inet_dport);		\
		memcpy(__entry->saddr, &__inet->inet_saddr, 4);		\
		memcpy(__entry->daddr, &__inet->inet_daddr, 4);		\
	} while (0)

/* sock:inet_sock_set_state for a seqpacket socket. */
TRACE_EVENT(demo_seq_state,

	TP_PROTO(const struct sock *sk, int oldstate, int newstate),

	TP_ARGS(sk, oldstate, newstate),

	TP_STRUCT__entry(
		__field(const void *, skaddr)
		__field(int, oldstate)
		__field(int, newstate)
		__field(__u16, sport)
		__field(__u16, dport)
		__array(__u8, saddr, 4)
		__array(__u8, daddr, 4)
	),

	TP_fast_assign(
		__entry->skaddr = sk;
		__entry->oldstate = oldstate;
		__entry->newstate = newstate;
		DEMO_TRACE_STORE_SK(__entry, sk);
	),

	TP_printk("skaddr=%p sport=%hu dport=%hu saddr=%pI4 daddr=%pI4 oldstate=%s newstate=%s",
		  __entry->skaddr, __entry->sport, __entry->dport,
		  __entry->saddr, __entry->daddr,
		  demo_show_state(__entry->oldstate),
		  demo_show_state(__entry->newstate))
);

/* tcp:tcp_retransmit_skb, with why: a segment sent again, or a probe. */
TRACE_EVENT(demo_seq_retransmit,

	TP_PROTO(const struct sock *sk, u32 seq, int reason),

	TP_ARGS(sk, seq, reason),

	TP_STRUCT__entry(
		__field(const void *, skaddr)
		__field(int, state)
		__field(__u16, sport)
		__field(__u16, dport)
		__array(__u8, saddr, 4)
		__array(__u8, daddr, 4)
		__field(__u32, seq)
		__field(__u32, snd_una)
		__field(__u32, snd_nxt)
		__field(__u32, cwnd)
		__field(__u32, rto_us)
		__field(__u8, retries)
		__field(int, reason)
	),

	TP_fast_assign(
		const struct demo_seq_sock *ssk = demo_seq_sk(sk);

		__entry->skaddr = sk;
		__entry->state = sk->sk_state;
		DEMO_TRACE_STORE_SK(__entry, sk);
		__entry->seq = seq;
		__entry->snd_una = ssk->snd_una;
		__entry->snd_nxt = ssk->snd_nxt;
		__entry->cwnd = ssk->cwnd;
		__entry->rto_us = jiffies_to_usecs(ssk->rto);
		__entry->retries = ssk->retries;
		__entry->reason = reason;
	),

	TP_printk("skaddr=%p sport=%hu dport=%hu saddr=%pI4 daddr=%pI4 state=%s seq=%u snd_una=%u snd_nxt=%u cwnd=%u rto_us=%u retries=%u reason=%s",
		  __entry->skaddr, __entry->sport, __entry->dport,
		  __entry->saddr, __entry->daddr,
		  demo_show_state(__entry->state), __entry->seq,
		  __entry->snd_una, __entry->snd_nxt, __entry->cwnd,
		  __entry->rto_us, __entry->retries,
		  demo_show_rtx_reason(__entry->reason))
);

/*
 * The congestion state changed (loss recovery or a timeout began, or
 * ended): the window and threshold it left behind.
 */
TRACE_EVENT(demo_seq_cong,

	TP_PROTO(const struct sock *sk, int old_ca, int new_ca),

	TP_ARGS(sk, old_ca, new_ca),

	TP_STRUCT__entry(
		__field(const void *, skaddr)
		__field(__u16, sport)
		__field(__u16, dport)
		__array(__u8, saddr, 4)
		__array(__u8, daddr, 4)
		__field(int, old_ca)
		__field(int, new_ca)
		__field(__u32, cwnd)
		__field(__u32, ssthresh)
		__field(__u32, in_flight)
		__field(__u32, snd_una)
		__field(__u32, snd_nxt)
		__field(__u32, sacked)
		__field(__u32, lost)
	),

	TP_fast_assign(
		const struct demo_seq_sock *ssk = demo_seq_sk(sk);

		__entry->skaddr = sk;
		DEMO_TRACE_STORE_SK(__entry, sk);
		__entry->old_ca = old_ca;
		__entry->new_ca = new_ca;
		__entry->cwnd = ssk->cwnd;
		__entry->ssthresh = ssk->ssthresh;
		__entry->in_flight = demo_seq_in_flight(ssk);
		__entry->snd_una = ssk->snd_una;
		__entry->snd_nxt = ssk->snd_nxt;
		__entry->sacked = ssk->sacked_out;
		__entry->lost = ssk->lost_out;
	),

	TP_printk("skaddr=%p sport=%hu dport=%hu saddr=%pI4 daddr=%pI4 old=%s new=%s cwnd=%u ssthresh=%u in_flight=%u snd_una=%u snd_nxt=%u sacked=%u lost=%u",
		  __entry->skaddr, __entry->sport, __entry->dport,
		  __entry->saddr, __entry->daddr,
		  demo_show_ca_state(__entry->old_ca),
		  demo_show_ca_state(__entry->new_ca), __entry->cwnd,
		  __entry->ssthresh, __entry->in_flight, __entry->snd_una,
		  __entry->snd_nxt, __entry->sacked, __entry->lost)
);

/* tcp:tcp_probe: the sender's state after each acknowledgment. */
TRACE_EVENT(demo_seq_probe,

	TP_PROTO(const struct sock *sk, u32 acked),

	TP_ARGS(sk, acked),

	TP_STRUCT__entry(
		__field(const void *, skaddr)
		__field(__u16, sport)
		__field(__u16, dport)
		__array(__u8, saddr, 4)
		__array(__u8, daddr, 4)
		__field(__u32, acked)
		__field(__u32, snd_una)
		__field(__u32, snd_nxt)
		__field(__u32, snd_wnd)
		__field(__u32, cwnd)
		__field(__u32, ssthresh)
		__field(__u32, in_flight)
		__field(__u32, srtt_us)
		__field(__u32, rto_us)
		__field(int, ca_state)
	),

	TP_fast_assign(
		const struct demo_seq_sock *ssk = demo_seq_sk(sk);

		__entry->skaddr = sk;
		DEMO_TRACE_STORE_SK(__entry, sk);
		__entry->acked = acked;
		__entry->snd_una = ssk->snd_una;
		__entry->snd_nxt = ssk->snd_nxt;
		__entry->snd_wnd = ssk->snd_wnd_edge - ssk->snd_una;
		__entry->cwnd = ssk->cwnd;
		__entry->ssthresh = ssk->ssthresh;
		__entry->in_flight = demo_seq_in_flight(ssk);
		__entry->srtt_us = ssk->srtt_us >> 3;
		__entry->rto_us = jiffies_to_usecs(ssk->rto);
		__entry->ca_state = ssk->ca_state;
	),

	TP_printk("skaddr=%p sport=%hu dport=%hu saddr=%pI4 daddr=%pI4 acked=%u snd_una=%u snd_nxt=%u snd_wnd=%u cwnd=%u ssthresh=%u in_flight=%u srtt_us=%u rto_us=%u ca=%s",
		  __entry->skaddr, __entry->sport, __entry->dport,
		  __entry->saddr, __entry->daddr, __entry->acked,
		  __entry->snd_una, __entry->snd_nxt, __entry->snd_wnd,
		  __entry->cwnd, __entry->ssthresh, __entry->in_flight,
		  __entry->srtt_us, __entry->rto_us,
		  demo_show_ca_state(__entry->ca_state))
);

/* An RTT sample, and the estimator after it (RFC 6298). */
TRACE_EVENT(demo_seq_rtt,

	TP_PROTO(const struct sock *sk, u32 rtt_us),

	TP_ARGS(sk, rtt_us),

	TP_STRUCT__entry(
		__field(const void *, skaddr)
		__field(__u16, sport)
		__field(__u16, dport)
		__array(__u8, saddr, 4)
		__array(__u8, daddr, 4)
		__field(__u32, rtt_us)
		__field(__u32, srtt_us)
		__field(__u32, rttvar_us)
		__field(__u32, rto_us)
	),

	TP_fast_assign(
		const struct demo_seq_sock *ssk = demo_seq_sk(sk);

		__entry->skaddr = sk;
		DEMO_TRACE_STORE_SK(__entry, sk);
		__entry->rtt_us = rtt_us;
		__entry->srtt_us = ssk->srtt_us >> 3;
		__entry->rttvar_us = ssk->rttvar_us >> 2;
		__entry->rto_us = jiffies_to_usecs(ssk->rto);
	),

	TP_printk("skaddr=%p sport=%hu dport=%hu saddr=%pI4 daddr=%pI4 rtt_us=%u srtt_us=%u rttvar_us=%u rto_us=%u",
		  __entry->skaddr, __entry->sport, __entry->dport,
		  __entry->saddr, __entry->daddr, __entry->rtt_us,
		  __entry->srtt_us, __entry->rttvar_us, __entry->rto_us)
);

/*
 * tcp:tcp_send_reset: a RST sent by a connection, or in answer to a
 * segment (@sk the listener or connecting socket refusing it, or NULL
 * when nothing matches). Addresses as on the wire: ours first.
 */
TRACE_EVENT(demo_seq_send_reset,

	TP_PROTO(const struct sock *sk, __be32 saddr, __be32 daddr,
		 __be16 sport, __be16 dport, u32 seq, u32 ack, int reason),

	TP_ARGS(sk, saddr, daddr, sport, dport, seq, ack, reason),

	TP_STRUCT__entry(
		__field(const void *, skaddr)
		__field(int, state)
		__field(__u16, sport)
		__field(__u16, dport)
		__array(__u8, saddr, 4)
		__array(__u8, daddr, 4)
		__field(__u32, seq)
		__field(__u32, ack)
		__field(int, reason)
	),

	TP_fast_assign(
		__entry->skaddr = sk;
		__entry->state = sk ? sk->sk_state : TCP_CLOSE;
		__entry->sport = ntohs(sport);
		__entry->dport = ntohs(dport);
		memcpy(__entry->saddr, &saddr, 4);
		memcpy(__entry->daddr, &daddr, 4);
		__entry->seq = seq;
		__entry->ack = ack;
		__entry->reason = reason;
	),

	TP_printk("skaddr=%p sport=%hu dport=%hu saddr=%pI4 daddr=%pI4 state=%s seq=%u ack=%u reason=%s",
		  __entry->skaddr, __entry->sport, __entry->dport,
		  __entry->saddr, __entry->daddr,
		  demo_show_state(__entry->state), __entry->seq,
		  __entry->ack, demo_show_rst_reason(__entry->reason))
);

/* tcp:tcp_receive_reset: a RST believed, which ends the connection. */
TRACE_EVENT(demo_seq_receive_reset,

	TP_PROTO(const struct sock *sk, u32 seq),

	TP_ARGS(sk, seq),

	TP_STRUCT__entry(
		__field(const void *, skaddr)
		__field(int, state)
		__field(__u16, sport)
		__field(__u16, dport)
		__array(__u8, saddr, 4)
		__array(__u8, daddr, 4)
		__field(__u32, seq)
	),

	TP_fast_assign(
		__entry->skaddr = sk;
		__entry->state = sk->sk_state;
		DEMO_TRACE_STORE_SK(__entry, sk);
		__entry->seq = seq;
	),

	TP_printk("skaddr=%p sport=%hu dport=%hu saddr=%pI4 daddr=%pI4 state=%s seq=%u",
		  __entry->skaddr, __entry->sport, __entry->dport,
		  __entry->saddr, __entry->daddr,
		  demo_show_state(__entry->state), __entry->seq)
);

/*
 * A received segment a seqpacket socket (connection or listener) drops,
 * and why: @reason is the demo_mib_field counter the drop bumps, or a
 * DEMO_DROP_* that no counter of its own counts.
 */
TRACE_EVENT(demo_seq_drop,

	TP_PROTO(const struct sock *sk, const struct sk_buff *skb, int reason),

	TP_ARGS(sk, skb, reason),

	TP_STRUCT__entry(
		__field(const void *, skaddr)
		__field(const void *, skbaddr)
		__field(int, state)
		__field(__u16, sport)
		__field(__u16, dport)
		__array(__u8, saddr, 4)
		__array(__u8, daddr, 4)
		__field(__u32, seq)
		__field(__u32, rcv_nxt)
		__field(__u32, rcv_wnd)
		__field(__u16, flags)
		__field(__u32, len)
		__field(int, reason)
	),

	TP_fast_assign(
		const struct demo_seq_sock *ssk = demo_seq_sk(sk);

		__entry->skaddr = sk;
		__entry->skbaddr = skb;
		__entry->state = sk->sk_state;
		/* A listener has no peer: the segment's addresses. */
		__entry->sport = ntohs(demo_hdr(skb)->dest);
		__entry->dport = ntohs(demo_hdr(skb)->source);
		memcpy(__entry->saddr, &ip_hdr(skb)->daddr, 4);
		memcpy(__entry->daddr, &ip_hdr(skb)->saddr, 4);
		__entry->seq = DEMO_SEQ_CB(skb)->seq;
		__entry->rcv_nxt = ssk->rcv_nxt;
		__entry->rcv_wnd = ssk->rcv_adv_edge - ssk->rcv_nxt;
		__entry->flags = DEMO_SEQ_CB(skb)->flags;
		__entry->len = skb->len;
		__entry->reason = reason;
	),

	TP_printk("skaddr=%p skbaddr=%p sport=%hu dport=%hu saddr=%pI4 daddr=%pI4 state=%s seq=%u rcv_nxt=%u rcv_wnd=%u flags=%#x len=%u reason=%s",
		  __entry->skaddr, __entry->skbaddr, __entry->sport,
		  __entry->dport, __entry->saddr, __entry->daddr,
		  demo_show_state(__entry->state), __entry->seq,
		  __entry->rcv_nxt, __entry->rcv_wnd, __entry->flags,
		  __entry->len, demo_show_drop_reason(__entry->reason))
);

/*
 * A received packet the family drops before any socket has it: invalid
 * (checksum, length, version, type, header rules), not for this host, or
 * for no socket. The DEMO header may be incomplete: the ports and type
 * are read only when the linear data holds them.
 */
TRACE_EVENT(demo_drop,

	TP_PROTO(const struct sk_buff *skb, int reason),

	TP_ARGS(skb, reason),

	TP_STRUCT__entry(
		__field(const void *, skbaddr)
		__field(__u16, sport)
		__field(__u16, dport)
		__array(__u8, saddr, 4)
		__array(__u8, daddr, 4)
		__field(__u8, type)
		__field(__u32, len)
		__field(int, reason)
	),

	TP_fast_assign(
		const struct demohdr *dh = demo_hdr(skb);
		const struct iphdr *iph = ip_hdr(skb);

		__entry->skbaddr = skb;
		memcpy(__entry->saddr, &iph->saddr, 4);
		memcpy(__entry->daddr, &iph->daddr, 4);
		if (skb_tail_pointer(skb) - (const unsigned char *)dh >=
		    (long)sizeof(*dh)) {
			__entry->sport = ntohs(dh->source);
			__entry->dport = ntohs(dh->dest);
			__entry->type = dh->type;
		} else {
			__entry->sport = 0;
			__entry->dport = 0;
			__entry->type = 0;
		}
		__entry->len = ntohs(iph->tot_len);
		__entry->reason = reason;
	),

	TP_printk("skbaddr=%p sport=%hu dport=%hu saddr=%pI4 daddr=%pI4 type=%u len=%u reason=%s",
		  __entry->skbaddr, __entry->sport, __entry->dport,
		  __entry->saddr, __entry->daddr, __entry->type, __entry->len,
		  demo_show_drop_reason(__entry->reason))
);

#endif /* _DEMO_TRACE_H */

/* Out of the kernel tree: this directory, found through -I$(src). */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE demo_trace
#include <trace/define_trace.h>
