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

#endif /* _UAPI_LINUX_AF_DEMO_H */
