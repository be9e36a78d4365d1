/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * AF_DEMO sock_diag(7) interface: listing the sockets of a network namespace
 * over NETLINK_SOCK_DIAG, as inet_diag does for TCP and vsock_diag for
 * AF_VSOCK.
 *
 * A request is a SOCK_DIAG_BY_FAMILY message with NLM_F_REQUEST | NLM_F_DUMP
 * carrying a struct demo_diag_req; the answer is one SOCK_DIAG_BY_FAMILY
 * message per socket, a struct demo_diag_msg followed by the attributes the
 * request asked for (DEMO_DIAG_*), then NLMSG_DONE. The sockets listed are
 * those of the requester's network namespace that have a port: bound
 * datagram sockets, seqpacket listeners and connections, and TIME_WAIT
 * entries. Raw and unbound sockets are not listed, as in /proc/net/demo.
 *
 * The family number is the af_demo module's parameter: programs read it from
 * /sys/module/af_demo/parameters/family (AF_DEMO is only the default).
 */
#ifndef _UAPI_LINUX_AF_DEMO_DIAG_H
#define _UAPI_LINUX_AF_DEMO_DIAG_H

#include <linux/types.h>

/*
 * struct demo_diag_req - what to list
 * @sdiag_family: the AF_DEMO number in use
 * @sdiag_protocol: DEMOPROTO_DGRAM or DEMOPROTO_SEQPACKET, DEMOPROTO_ANY (0)
 *	for both
 * @pad: zero
 * @ddiag_states: the states to list, a bitmap of 1 << TCP_* (datagram
 *	sockets are TCP_CLOSE when bound only, TCP_ESTABLISHED when connected);
 *	DEMO_DIAG_ALL_STATES for all
 * @ddiag_show: DEMO_SHOW_* bits: the attributes each reply carries
 * @ddiag_sport: local port to match, network byte order, 0 for any
 * @ddiag_dport: remote port to match, network byte order, 0 for any
 * @ddiag_reserved: zero
 *
 * The first two fields are struct sock_diag_req's.
 */
struct demo_diag_req {
	__u8	sdiag_family;
	__u8	sdiag_protocol;
	__u16	pad;
	__u32	ddiag_states;
	__u32	ddiag_show;
	__be16	ddiag_sport;
	__be16	ddiag_dport;
	__u32	ddiag_reserved[2];
};

#define DEMO_DIAG_ALL_STATES	0xffffffffU

/* ddiag_show: the attributes wanted in each reply. */
#define DEMO_SHOW_MEMINFO	0x00000001	/* DEMO_DIAG_MEMINFO */
#define DEMO_SHOW_RQLEN		0x00000002	/* DEMO_DIAG_RQLEN */
#define DEMO_SHOW_INFO		0x00000004	/* DEMO_DIAG_INFO */
#define DEMO_SHOW_ALL		0x00000007

/*
 * struct demo_diag_msg - one socket
 * @ddiag_family: the AF_DEMO number in use
 * @ddiag_type: SOCK_DGRAM or SOCK_SEQPACKET
 * @ddiag_protocol: DEMOPROTO_*
 * @ddiag_state: TCP_* (net/tcp_states.h numbers, as TCP's)
 * @ddiag_shutdown: RCV_SHUTDOWN (1) | SEND_SHUTDOWN (2), as the user set
 * @ddiag_pad: zero
 * @ddiag_sport: local port, network byte order
 * @ddiag_dport: remote port, network byte order, 0 when not connected
 * @ddiag_src: local address, network byte order, 0 when bound to any
 * @ddiag_dst: remote address, network byte order, 0 when not connected
 * @ddiag_uid: owner, in the requester's user namespace (overflowuid if it
 *	has no mapping there)
 * @ddiag_ino: inode of the socket, 0 once the socket is closed (an orphaned
 *	connection, a TIME_WAIT entry)
 * @ddiag_expires: milliseconds until the socket's pending timer fires
 *	(retransmission of a seqpacket connection, the end of TIME_WAIT), 0
 *	when none is pending
 * @ddiag_cookie: the socket's cookie (SO_COOKIE), low word first; 0 for a
 *	TIME_WAIT entry, which is not a socket
 */
struct demo_diag_msg {
	__u8	ddiag_family;
	__u8	ddiag_type;
	__u8	ddiag_protocol;
	__u8	ddiag_state;
	__u8	ddiag_shutdown;
	__u8	ddiag_pad[3];
	__be16	ddiag_sport;
	__be16	ddiag_dport;
	__be32	ddiag_src;
	__be32	ddiag_dst;
	__u32	ddiag_uid;
	__u32	ddiag_ino;
	__u32	ddiag_expires;
	__u32	ddiag_cookie[2];
};

/* Netlink attributes after struct demo_diag_msg. */
enum {
	DEMO_DIAG_NONE,
	DEMO_DIAG_MEMINFO,	/* __u32[SK_MEMINFO_VARS], as SO_MEMINFO */
	DEMO_DIAG_RQLEN,	/* struct demo_diag_rqlen */
	DEMO_DIAG_INFO,		/* struct demo_info (af_demo.h) */
	__DEMO_DIAG_MAX,
};

#define DEMO_DIAG_MAX	(__DEMO_DIAG_MAX - 1)

/*
 * struct demo_diag_rqlen - queue lengths
 * @rqueue: bytes received and not read (a listener: connections waiting
 *	for accept())
 * @wqueue: bytes sent and not yet acknowledged by the peer (seqpacket) or
 *	not yet handed to the device (datagram); a listener: its backlog
 */
struct demo_diag_rqlen {
	__u32	rqueue;
	__u32	wqueue;
};

#endif /* _UAPI_LINUX_AF_DEMO_DIAG_H */
