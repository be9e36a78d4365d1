/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * AF_DEMO: a demonstration socket family carried over IPv4.
 *
 * This is the whole userspace ABI of the af_demo module: the family and
 * IP protocol numbers, the protocol numbers that select a transport
 * within the family, the socket address, the wire header and the
 * SOL_DEMO socket options.
 *
 * The family and IP protocol numbers below are the module's defaults.
 * Both can be changed with module parameters; programs that must work
 * with any configuration read the numbers in use from
 * /sys/module/af_demo/parameters/{family,ipproto}.
 */
#ifndef _UAPI_LINUX_AF_DEMO_H
#define _UAPI_LINUX_AF_DEMO_H

#include <linux/types.h>
#include <linux/socket.h>	/* __kernel_sa_family_t */
#ifdef __KERNEL__
#include <linux/in.h>
#else
#include <netinet/in.h>		/* struct in_addr, without clashing with libc */
#endif

/*
 * Default address family. AF_MAX is 46 on the kernels AF_DEMO supports, so
 * the family reuses a slot that no in-tree code registers (22 was
 * reserved for AF_SNA) and that SELinux maps to the generic socket class.
 */
#define AF_DEMO			22
#define PF_DEMO			AF_DEMO

/* Default IP protocol number (RFC 3692: for experimentation and testing). */
#define IPPROTO_DEMO		253

/* Protocols within AF_DEMO: the third argument of socket(AF_DEMO, ...). */
enum {
	DEMOPROTO_ANY		= 0,	/* default protocol for the type */
	DEMOPROTO_DGRAM		= 1,	/* unreliable datagrams, like UDP */
	DEMOPROTO_SEQPACKET	= 2,	/* reliable ordered messages, connected */
	DEMOPROTO_MAX
};

/*
 * struct sockaddr_demo - an AF_DEMO endpoint
 * @sdemo_family: AF_DEMO (the number in use)
 * @sdemo_port: port, network byte order
 * @sdemo_addr: IPv4 address, network byte order
 * @sdemo_zero: must be zero on input; zeroed on output
 *
 * Laid out exactly like struct sockaddr_in, 16 bytes.
 */
struct sockaddr_demo {
	__kernel_sa_family_t	sdemo_family;
	__be16			sdemo_port;
	struct in_addr		sdemo_addr;
	unsigned char		sdemo_zero[8];
};

/*
 * Wire format version carried in demohdr.version. Version 2 replaced the
 * sequence header's 32-bit SACK bitmap by SACK blocks; there is one version
 * on the wire, and a packet of another is dropped.
 */
#define DEMO_VERSION		2

/*
 * struct demohdr - the DEMO header, following the IPv4 header
 * @source: source port
 * @dest: destination port
 * @version: DEMO_VERSION
 * @type: DEMOPROTO_* of the transport that owns the packet
 * @len: length of header and payload in bytes
 * @check: Internet checksum over an IPv4 pseudo-header, header and payload
 * @flags: transport-specific flags; must be zero for DEMOPROTO_DGRAM,
 *	DEMO_SEQ_* for DEMOPROTO_SEQPACKET
 *
 * All fields are in network byte order. See docs/PROTOCOL.md.
 */
struct demohdr {
	__be16	source;
	__be16	dest;
	__u8	version;
	__u8	type;
	__be16	len;
	__sum16	check;
	__be16	flags;
};

/*
 * struct demo_seqhdr - DEMOPROTO_SEQPACKET header, after struct demohdr
 * @seq: sequence number of this segment; SYN, FIN and every data segment
 *	take one number each, a pure acknowledgment takes none
 * @ack: cumulative acknowledgment: the next sequence number expected
 *	(valid with DEMO_SEQ_ACK)
 * @window: segments beyond @ack the sender of this header will accept
 * @sack_blocks: number of struct demo_sack_block following this header,
 *	0..DEMO_SEQ_MAX_SACK, only with DEMO_SEQ_ACK; the payload follows them
 * @reserved: zero
 *
 * All fields are in network byte order. See docs/PROTOCOL.md.
 */
struct demo_seqhdr {
	__be32	seq;
	__be32	ack;
	__be16	window;
	__u8	sack_blocks;
	__u8	reserved;
};

/*
 * struct demo_sack_block - segments received beyond the cumulative ack
 * @start: first sequence number of the block
 * @end: sequence number after its last one
 *
 * As TCP's SACK option (RFC 2018), in segments: the first block holds the
 * segment whose arrival triggered the acknowledgment, the others the most
 * recently reported blocks.
 */
struct demo_sack_block {
	__be32	start;
	__be32	end;
};

#define DEMO_SEQ_MAX_SACK	4

/* demohdr.flags of DEMOPROTO_SEQPACKET segments. */
#define DEMO_SEQ_SYN		0x0001	/* open: first sequence number */
#define DEMO_SEQ_ACK		0x0002	/* @ack is valid */
#define DEMO_SEQ_FIN		0x0004	/* no more messages from the sender */
#define DEMO_SEQ_RST		0x0008	/* abort the connection */
#define DEMO_SEQ_EOR		0x0010	/* last segment of a message */
#define DEMO_SEQ_FLAGS		0x001f

/* Largest message a DEMOPROTO_SEQPACKET socket sends or receives. */
#define DEMO_SEQPACKET_MAX_MSG	(256 * 1024)

/* Socket options at level SOL_DEMO. */
#define SOL_DEMO		299

#define DEMO_TTL		1	/* int: IPv4 TTL, 1..255, -1 = route default */
#define DEMO_TOS		2	/* int: IPv4 TOS byte, 0..255 */
#define DEMO_INFO		3	/* struct demo_info, read only */

/* demo_info.demoi_ca_state: the sender's congestion control state. */
#define DEMOI_CA_OPEN		0	/* no loss outstanding */
#define DEMOI_CA_RECOVERY	1	/* SACK loss recovery */
#define DEMOI_CA_LOSS		2	/* after a retransmission timeout */

/*
 * struct demo_info - an AF_DEMO socket, as TCP_INFO's tcp_info
 *
 * getsockopt(fd, SOL_DEMO, DEMO_INFO, &info, &len) copies the first
 * min(len, sizeof(struct demo_info)) bytes and sets len to that: a program
 * built against an older, shorter struct gets the prefix it knows, and a
 * newer kernel only ever appends fields. Sequence numbers count segments,
 * so windows and in-flight figures are segments; times are microseconds.
 * A seqpacket socket fills every field. A datagram or raw socket fills the
 * fields that apply, the others are zero: its state (TCP_CLOSE, or
 * TCP_ESTABLISHED once connected), demoi_msgs_sent and demoi_bytes_sent
 * (datagrams sent), demoi_msgs_received and demoi_bytes_received
 * (datagrams read by recvmsg(), MSG_PEEK not counted), demoi_drops and the
 * memory fields (demoi_wmem_queued: send memory not yet freed by the
 * device); a raw socket's bytes include the DEMO headers it wrote and read.
 *
 * @demoi_state: TCP_* state (netinet/tcp.h numbering)
 * @demoi_ca_state: DEMOI_CA_*
 * @demoi_retransmits: timeouts in a row without progress
 * @demoi_probes: keepalive probes unanswered
 * @demoi_rto_us: retransmission timeout, backoff included
 * @demoi_srtt_us: smoothed RTT (RFC 6298), 0 before the first sample
 * @demoi_rttvar_us: RTT variation
 * @demoi_rtt_last_us: the latest RTT sample
 * @demoi_rtt_min_us: the smallest RTT sample
 * @demoi_snd_mss: payload bytes per segment sent
 * @demoi_rcv_mss: largest payload received in one segment
 * @demoi_snd_cwnd: congestion window, segments
 * @demoi_snd_ssthresh: slow start threshold, segments
 * @demoi_snd_wnd: the peer's window from snd_una on, segments
 * @demoi_rcv_wnd: our window last advertised, beyond what we received
 * @demoi_unacked: segments sent and not cumulatively acknowledged
 * @demoi_in_flight: segments in the network (RFC 6675's pipe)
 * @demoi_sacked: segments the peer reported by SACK
 * @demoi_lost: segments taken as lost
 * @demoi_retrans: lost segments retransmitted, still in flight
 * @demoi_total_retrans: segments retransmitted, ever
 * @demoi_segs_out: segments sent, acknowledgments and resets included
 * @demoi_segs_in: segments received
 * @demoi_data_segs_out: segments with a sequence number sent, again too
 * @demoi_data_segs_in: segments with payload received
 * @demoi_msgs_sent: messages queued by send()
 * @demoi_msgs_received: messages received whole
 * @demoi_drops: segments the socket dropped (SO_MEMINFO's drops)
 * @demoi_sndq_bytes: payload bytes queued and not acknowledged (SIOCOUTQ)
 * @demoi_rmem_alloc: receive memory in use, bytes
 * @demoi_wmem_queued: send memory in use, bytes
 * @demoi_rcvbuf: receive buffer limit, bytes
 * @demoi_sndbuf: send buffer limit, bytes
 * @demoi_bytes_sent: payload bytes sent, retransmissions included
 * @demoi_bytes_retrans: payload bytes retransmitted
 * @demoi_bytes_acked: payload bytes cumulatively acknowledged
 * @demoi_bytes_received: payload bytes received in sequence
 *
 * At the end of a transfer without loss of the connection,
 * demoi_bytes_acked == demoi_bytes_sent - demoi_bytes_retrans (every byte
 * sent was acknowledged once), and the peer's demoi_bytes_received is the
 * same figure.
 */
struct demo_info {
	__u8	demoi_state;
	__u8	demoi_ca_state;
	__u8	demoi_retransmits;
	__u8	demoi_probes;
	__u32	demoi_rto_us;
	__u32	demoi_srtt_us;
	__u32	demoi_rttvar_us;
	__u32	demoi_rtt_last_us;
	__u32	demoi_rtt_min_us;
	__u32	demoi_snd_mss;
	__u32	demoi_rcv_mss;
	__u32	demoi_snd_cwnd;
	__u32	demoi_snd_ssthresh;
	__u32	demoi_snd_wnd;
	__u32	demoi_rcv_wnd;
	__u32	demoi_unacked;
	__u32	demoi_in_flight;
	__u32	demoi_sacked;
	__u32	demoi_lost;
	__u32	demoi_retrans;
	__u32	demoi_total_retrans;
	__u32	demoi_segs_out;
	__u32	demoi_segs_in;
	__u32	demoi_data_segs_out;
	__u32	demoi_data_segs_in;
	__u32	demoi_msgs_sent;
	__u32	demoi_msgs_received;
	__u32	demoi_drops;
	__u32	demoi_sndq_bytes;
	__u32	demoi_rmem_alloc;
	__u32	demoi_wmem_queued;
	__u32	demoi_rcvbuf;
	__u32	demoi_sndbuf;
	__u64	demoi_bytes_sent;
	__u64	demoi_bytes_retrans;
	__u64	demoi_bytes_acked;
	__u64	demoi_bytes_received;
};

#endif /* _UAPI_LINUX_AF_DEMO_H */
