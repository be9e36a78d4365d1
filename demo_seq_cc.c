// SPDX-License-Identifier: GPL-2.0
/*
 * AF_DEMO: DEMOPROTO_SEQPACKET congestion control.
 *
 * Windows count segments, as sequence numbers do. demo_seq_push() sends
 * while the segments in flight (demo_seq_in_flight(): RFC 6675's pipe) are
 * fewer than cwnd, and within the peer's window. cwnd follows TCP's rules:
 *
 *   start      cwnd = DEMO_SEQ_INIT_CWND (10, RFC 6928), ssthresh unbounded
 *   slow start cwnd < ssthresh: cwnd grows by each segment ACKed
 *   avoidance  CUBIC (RFC 9438): after a reduction the window climbs back
 *              along a cubic curve centred on the window it had before
 *              (w_max), concave then convex, never slower than the
 *              Reno-friendly estimate; beta 0.7, C 0.4, fast convergence
 *   recovery   a loss found by SACK (demo_seq_output.c) sets ssthresh to
 *              beta * cwnd once; until everything in flight at the loss is
 *              acknowledged (high_seq, RFC 6675) lost segments go first,
 *              and Proportional Rate Reduction (RFC 6937) brings what is
 *              in flight down to ssthresh in step with the ACKs, rather
 *              than in one burst; cwnd is ssthresh when it ends
 *   timeout    ssthresh = beta * cwnd (once per loss episode), cwnd = 1,
 *              every unSACKed segment in flight taken as lost: slow start
 *              resends them (TCP's Loss state)
 *
 * The window grows only while it limits the sender (RFC 7661): an
 * application that sends less does not inflate it.
 */

#include <linux/math64.h>
#include <kunit/visibility.h>

#include "demo_seqpacket.h"
#include "demo_trace.h"

#define DEMO_CUBIC_BETA		717	/* beta = 0.7, << 10 */
#define DEMO_CUBIC_C		410	/* C = 0.4 segments / s^3, << 10 */
/* Time on the curve counts 1/1024 s: C * t^3 is (C << 10) * t^3 >> 40. */
#define DEMO_CUBIC_TIME_SHIFT	10
#define DEMO_CUBIC_MAX_T	BIT(17)		/* 128 s: keeps t^3 in u64 */
/* Reno-friendly increase per window, 3 * (1 - beta) / (1 + beta), << 16. */
#define DEMO_CUBIC_ALPHA	34695

/**
 * demo_seq_cubic_root() - integer cube root
 * @a: the number
 *
 * Return: the largest r with r^3 <= @a; 2^21 for any @a from 2^63 on (no
 * caller comes near: windows are 16-bit).
 */
u32 demo_seq_cubic_root(u64 a)
{
	u32 lo = 0, hi = 1U << 21, mid;

	if (a >= 1ULL << 63)
		return hi;
	while (lo < hi) {
		mid = lo + (hi - lo + 1) / 2;
		if ((u64)mid * mid * mid <= a)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}
EXPORT_SYMBOL_IF_KUNIT(demo_seq_cubic_root);

void demo_seq_cc_init(struct sock *sk)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);

	ssk->cwnd = DEMO_SEQ_INIT_CWND;
	ssk->ssthresh = DEMO_SEQ_MAX_WND;
	ssk->cwnd_cnt = 0;
	ssk->cwnd_limited = 0;
	ssk->ca_state = DEMO_CA_OPEN;
	ssk->sacked_out = 0;
	ssk->lost_out = 0;
	ssk->retrans_out = 0;
	memset(&ssk->cubic, 0, sizeof(ssk->cubic));
}

/* The window CUBIC aims at one RTT from now: ACKs per window increment. */
static u32 demo_cubic_cnt(struct demo_seq_sock *ssk, u32 acked)
{
	struct demo_cubic *c = &ssk->cubic;
	u64 now = div_u64(ktime_get_ns(), NSEC_PER_USEC);
	u32 cwnd = ssk->cwnd, target, t, d, est, cnt;
	u64 offs;

	if (!c->epoch_us) {
		c->epoch_us = now ?: 1;
		if (cwnd < c->w_max) {
			/* K = cbrt((w_max - cwnd) / C), in 1/1024 s. */
			c->k = demo_seq_cubic_root(div_u64((u64)(c->w_max - cwnd) << 40,
							   DEMO_CUBIC_C));
			c->origin = c->w_max;
		} else {
			c->k = 0;
			c->origin = cwnd;
		}
		c->w_est = (u64)cwnd << 16;
	}

	/* W_cubic(t + RTT) = origin + C * (t + RTT - K)^3 */
	t = (u32)min_t(u64, div_u64((now - c->epoch_us + (ssk->srtt_us >> 3)) <<
				    DEMO_CUBIC_TIME_SHIFT, USEC_PER_SEC),
		       U32_MAX);
	d = t < c->k ? c->k - t : min(t - c->k, DEMO_CUBIC_MAX_T);
	offs = ((u64)DEMO_CUBIC_C * d * d * d) >> 40;
	if (t < c->k)
		target = offs < c->origin ? c->origin - (u32)offs : 1;
	else
		target = c->origin + (u32)min_t(u64, offs, DEMO_SEQ_MAX_WND);
	/* At most 1.5 * cwnd one RTT later (RFC 9438 4.2). */
	target = min(target, cwnd + cwnd / 2);
	cnt = target > cwnd ? cwnd / (target - cwnd) : 100 * cwnd;

	/* The Reno-friendly region: never grow slower than Reno would. */
	c->w_est += div_u64((u64)DEMO_CUBIC_ALPHA * acked, cwnd);
	est = c->w_est >> 16;
	if (est > cwnd)
		cnt = min(cnt, cwnd / (est - cwnd));
	return max(cnt, 2U);
}

/*
 * RFC 6937's Proportional Rate Reduction, with its slow-start reduction
 * bound: each ACK in recovery lets as many segments go as keep what is in
 * flight on a straight line from where recovery began down to ssthresh;
 * once in flight is below ssthresh, it grows back by at most what was
 * delivered, plus one. cwnd is set to what that allows.
 */
static void demo_seq_prr(struct demo_seq_sock *ssk, u32 delivered)
{
	u32 pipe = demo_seq_in_flight(ssk);
	long sndcnt;

	ssk->prr_delivered += delivered;
	if (pipe > ssk->ssthresh) {
		sndcnt = (long)DIV_ROUND_UP_ULL((u64)ssk->prr_delivered * ssk->ssthresh,
						ssk->prr_recover_fs) -
			 ssk->prr_out;
	} else {
		sndcnt = max_t(long, (long)ssk->prr_delivered - ssk->prr_out,
			       delivered) + 1;
		sndcnt = min_t(long, sndcnt, ssk->ssthresh - pipe);
	}
	/* The first retransmission goes at once (RFC 6937: fast retransmit). */
	if (sndcnt <= 0 && !ssk->prr_out)
		sndcnt = 1;
	ssk->cwnd = pipe + max_t(long, sndcnt, 0);
}

/**
 * demo_seq_cc_ack() - segments were newly delivered
 * @sk: the socket, owned
 * @acked: how many, cumulatively or by SACK
 */
void demo_seq_cc_ack(struct sock *sk, u32 acked)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);
	u32 cnt, n;

	if (ssk->ca_state == DEMO_CA_RECOVERY) {
		demo_seq_prr(ssk, acked);
		return;
	}
	if (!acked || !ssk->cwnd_limited)
		return;
	if (ssk->cwnd < ssk->ssthresh) {
		n = min(acked, ssk->ssthresh - ssk->cwnd);
		ssk->cwnd += n;
		acked -= n;
		if (!acked || ssk->ca_state == DEMO_CA_LOSS)
			goto out;
	}
	cnt = demo_cubic_cnt(ssk, acked);
	ssk->cwnd_cnt += acked;
	if (ssk->cwnd_cnt >= cnt) {
		n = ssk->cwnd_cnt / cnt;
		ssk->cwnd_cnt -= n * cnt;
		ssk->cwnd += n;
	}
out:
	ssk->cwnd = min_t(u32, ssk->cwnd, DEMO_SEQ_MAX_WND);
}

/* A loss: the multiplicative decrease, and CUBIC's new plateau. */
static void demo_seq_cc_reduce(struct demo_seq_sock *ssk)
{
	struct demo_cubic *c = &ssk->cubic;
	u32 cwnd = ssk->cwnd;

	c->epoch_us = 0;
	/* Fast convergence: below the last plateau, release bandwidth. */
	if (cwnd < c->w_max)
		c->w_max = (cwnd * (1024 + DEMO_CUBIC_BETA)) >> 11;
	else
		c->w_max = cwnd;
	ssk->ssthresh = max((cwnd * DEMO_CUBIC_BETA) >> 10, 2U);
	ssk->cwnd_cnt = 0;
}

/* Congestion state @ca, the window already set for it. */
static void demo_seq_ca_set(struct sock *sk, u8 ca)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);

	trace_demo_seq_cong(sk, ssk->ca_state, ca);
	ssk->ca_state = ca;
}

/**
 * demo_seq_cc_enter_recovery() - SACK showed a loss
 * @sk: the socket, owned
 *
 * The window is reduced once per round of losses: losses found during
 * recovery belong to it.
 */
void demo_seq_cc_enter_recovery(struct sock *sk)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);

	if (ssk->ca_state != DEMO_CA_OPEN)
		return;
	demo_seq_cc_reduce(ssk);
	ssk->high_seq = ssk->snd_nxt;
	ssk->prr_recover_fs = max(ssk->snd_nxt - ssk->snd_una, 1U);
	ssk->prr_delivered = 0;
	ssk->prr_out = 0;
	demo_seq_ca_set(sk, DEMO_CA_RECOVERY);
}

/**
 * demo_seq_cc_timeout() - the retransmission timer expired with data out
 * @sk: the socket, owned
 */
void demo_seq_cc_timeout(struct sock *sk)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);

	/* Backed-off timeouts of one episode reduce ssthresh once. */
	if (ssk->ca_state != DEMO_CA_LOSS)
		demo_seq_cc_reduce(ssk);
	ssk->cwnd = 1;
	ssk->cwnd_cnt = 0;
	ssk->high_seq = ssk->snd_nxt;
	demo_seq_ca_set(sk, DEMO_CA_LOSS);
}

/**
 * demo_seq_cc_check_exit() - recovery ends once high_seq is acknowledged
 * @sk: the socket, owned
 */
void demo_seq_cc_check_exit(struct sock *sk)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);

	if (ssk->ca_state == DEMO_CA_OPEN ||
	    demo_seq_before(ssk->snd_una, ssk->high_seq))
		return;
	if (ssk->ca_state == DEMO_CA_RECOVERY)
		ssk->cwnd = ssk->ssthresh;
	demo_seq_ca_set(sk, DEMO_CA_OPEN);
}
