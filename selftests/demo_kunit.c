// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suites for af_demo's pure logic: the protocol switch's matching
 * rules and socket() errno matrix, the wire format (header build,
 * checksum, receive validation), and DEMOPROTO_SEQPACKET's sequence
 * arithmetic, segment validation and handshake cookies.
 *
 * Built only against kernels with CONFIG_KUNIT (the debug kernel); the
 * suites run when the module is loaded, after af_demo.
 */

#include <kunit/test.h>
#include <linux/ip.h>
#include <linux/module.h>
#include <linux/net.h>
#include <linux/skbuff.h>
#include <net/net_namespace.h>
#include <net/netns/hash.h>
#include <net/sock.h>

#include "../demo_seqpacket.h"

/* Protocol switch */

static void demo_protosw_match_rules(struct kunit *test)
{
	static const struct {
		int entry, asked, match, got;
	} cases[] = {
		/* Exact matches, the wildcard included. */
		{ DEMOPROTO_DGRAM, DEMOPROTO_DGRAM, true, DEMOPROTO_DGRAM },
		{ DEMOPROTO_ANY, DEMOPROTO_ANY, true, DEMOPROTO_ANY },
		/* Protocol 0 takes the entry's protocol. */
		{ DEMOPROTO_DGRAM, DEMOPROTO_ANY, true, DEMOPROTO_DGRAM },
		/* A wildcard entry takes any protocol. */
		{ DEMOPROTO_ANY, DEMOPROTO_SEQPACKET, true, DEMOPROTO_SEQPACKET },
		/* Two different specific protocols do not match. */
		{ DEMOPROTO_DGRAM, DEMOPROTO_SEQPACKET, false, DEMOPROTO_SEQPACKET },
		{ DEMOPROTO_SEQPACKET, DEMOPROTO_DGRAM, false, DEMOPROTO_DGRAM },
	};
	int i, protocol;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		protocol = cases[i].asked;
		KUNIT_EXPECT_EQ_MSG(test,
				    demo_protosw_match(cases[i].entry, &protocol),
				    (bool)cases[i].match, "case %d", i);
		KUNIT_EXPECT_EQ_MSG(test, protocol, cases[i].got, "case %d", i);
	}
}

static struct proto demo_kunit_prot = {
	.name		= "DEMO-KUNIT",
	.owner		= THIS_MODULE,
	.obj_size	= sizeof(struct demo_sock),
};

static const struct proto_ops demo_kunit_ops = {
	.owner		= THIS_MODULE,
};

static void demo_protosw_register_rules(struct kunit *test)
{
	struct demo_protosw p = {
		.type		= SOCK_DGRAM,
		.protocol	= DEMOPROTO_DGRAM,
		.prot		= &demo_kunit_prot,
		.ops		= &demo_kunit_ops,
	};

	/* The built-in datagram entry is PERMANENT. */
	KUNIT_EXPECT_EQ(test, demo_register_protosw(&p), -EPERM);

	p.type = SOCK_MAX;
	KUNIT_EXPECT_EQ(test, demo_register_protosw(&p), -EINVAL);
	p.type = SOCK_RDM;
	p.protocol = DEMOPROTO_MAX;
	KUNIT_EXPECT_EQ(test, demo_register_protosw(&p), -EINVAL);
	p.protocol = DEMOPROTO_DGRAM;
	p.prot = NULL;
	KUNIT_EXPECT_EQ(test, demo_register_protosw(&p), -EINVAL);
}

/* socket() through net_families[], as a kernel socket (no CAP checks). */
static int demo_kunit_sock_create(int type, int protocol, int *got)
{
	struct socket *sock;
	int err;

	err = sock_create_kern(&init_net, demo_family_get(), type, protocol,
			       &sock);
	if (err)
		return err;
	*got = sock->sk->sk_protocol;
	sock_release(sock);
	return 0;
}

static void demo_protosw_socket_errnos(struct kunit *test)
{
	int got = -1;

	KUNIT_EXPECT_EQ(test, demo_kunit_sock_create(SOCK_DGRAM, 0, &got), 0);
	KUNIT_EXPECT_EQ(test, got, DEMOPROTO_DGRAM);
	KUNIT_EXPECT_EQ(test, demo_kunit_sock_create(SOCK_RAW, 0, &got), 0);
	KUNIT_EXPECT_EQ(test, got, DEMOPROTO_ANY);
	KUNIT_EXPECT_EQ(test, demo_kunit_sock_create(SOCK_RAW, 2, &got), 0);
	KUNIT_EXPECT_EQ(test, got, DEMOPROTO_SEQPACKET);

	KUNIT_EXPECT_EQ(test, demo_kunit_sock_create(SOCK_DGRAM, -1, &got),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, demo_kunit_sock_create(SOCK_DGRAM, DEMOPROTO_MAX,
						     &got), -EINVAL);
	KUNIT_EXPECT_EQ(test, demo_kunit_sock_create(SOCK_DGRAM,
						     DEMOPROTO_SEQPACKET, &got),
			-EPROTONOSUPPORT);
	KUNIT_EXPECT_EQ(test, demo_kunit_sock_create(SOCK_STREAM, 0, &got),
			-ESOCKTNOSUPPORT);
}

static int demo_protosw_init(struct kunit_suite *suite)
{
	return proto_register(&demo_kunit_prot, 1);
}

static void demo_protosw_exit(struct kunit_suite *suite)
{
	proto_unregister(&demo_kunit_prot);
}

static struct kunit_case demo_protosw_cases[] = {
	KUNIT_CASE(demo_protosw_match_rules),
	KUNIT_CASE(demo_protosw_register_rules),
	KUNIT_CASE(demo_protosw_socket_errnos),
	{}
};

static struct kunit_suite demo_protosw_suite = {
	.name		= "demo_protosw",
	.suite_init	= demo_protosw_init,
	.suite_exit	= demo_protosw_exit,
	.test_cases	= demo_protosw_cases,
};

/* Wire format */

#define SADDR	htonl(0xc6120001)	/* 198.18.0.1 */
#define DADDR	htonl(0xc6120002)	/* 198.18.0.2 */

/*
 * A received DEMO packet as IP delivers it: IPv4 header at the network
 * header, data at the DEMO header, @len bytes of payload (pattern-filled).
 * The header is filled and checksummed by demo_hdr_fill().
 */
static struct sk_buff *demo_kunit_pkt(struct kunit *test, unsigned int len)
{
	struct sk_buff *skb;
	struct iphdr *iph;
	unsigned int i;
	u8 *data;

	skb = alloc_skb(sizeof(*iph) + sizeof(struct demohdr) + len + 2,
			GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, skb);

	iph = skb_put_zero(skb, sizeof(*iph));
	skb_reset_network_header(skb);
	iph->version = 4;
	iph->ihl = 5;
	iph->protocol = demo_ipproto;
	iph->saddr = SADDR;
	iph->daddr = DADDR;

	skb_set_transport_header(skb, sizeof(*iph));
	skb_put_zero(skb, sizeof(struct demohdr));
	data = skb_put(skb, len);
	for (i = 0; i < len; i++)
		data[i] = i * 7 + 1;
	iph->tot_len = htons(skb->len);

	__skb_pull(skb, sizeof(*iph));
	demo_hdr_fill(skb, SADDR, DADDR, htons(1000), htons(2000),
		      DEMOPROTO_DGRAM, 0);
	return skb;
}

/* RFC 1071, written out independently of the kernel's csum helpers. */
static u16 demo_kunit_csum(const u8 *data, unsigned int len, u32 sum)
{
	unsigned int i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (data[i] << 8) | data[i + 1];
	if (len & 1)
		sum += data[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

/* The checksum field a correct sender puts in @skb, host byte order. */
static u16 demo_kunit_expected_check(struct sk_buff *skb)
{
	struct demohdr *dh = demo_hdr(skb);
	__sum16 saved = dh->check;
	u8 pseudo[12];
	u16 sum;

	memcpy(pseudo, &ip_hdr(skb)->saddr, 4);
	memcpy(pseudo + 4, &ip_hdr(skb)->daddr, 4);
	pseudo[8] = 0;
	pseudo[9] = demo_ipproto;
	pseudo[10] = skb->len >> 8;
	pseudo[11] = skb->len & 0xff;

	dh->check = 0;
	sum = demo_kunit_csum(skb->data, skb->len,
			      demo_kunit_csum(pseudo, sizeof(pseudo), 0));
	dh->check = saved;
	sum = ~sum;
	return sum ?: 0xffff;
}

/* The checksum field of @skb, host byte order. */
static u16 demo_kunit_check(struct sk_buff *skb)
{
	return ntohs((__force __be16)demo_hdr(skb)->check);
}

/* Recompute the checksum after a test changed a header field. */
static void demo_kunit_fix_check(struct sk_buff *skb)
{
	demo_hdr(skb)->check =
		(__force __sum16)htons(demo_kunit_expected_check(skb));
}

static void demo_wire_hdr_fields(struct kunit *test)
{
	struct sk_buff *skb = demo_kunit_pkt(test, 5);
	struct demohdr *dh = demo_hdr(skb);

	KUNIT_EXPECT_EQ(test, ntohs(dh->source), 1000);
	KUNIT_EXPECT_EQ(test, ntohs(dh->dest), 2000);
	KUNIT_EXPECT_EQ(test, dh->version, DEMO_VERSION);
	KUNIT_EXPECT_EQ(test, dh->type, DEMOPROTO_DGRAM);
	KUNIT_EXPECT_EQ(test, ntohs(dh->len), sizeof(*dh) + 5);
	KUNIT_EXPECT_EQ(test, ntohs(dh->flags), 0);
	kfree_skb(skb);
}

static void demo_wire_checksum(struct kunit *test)
{
	static const unsigned int lens[] = { 0, 1, 2, 7, 100, 1471, 4000 };
	struct sk_buff *skb;
	int i;

	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		skb = demo_kunit_pkt(test, lens[i]);
		KUNIT_EXPECT_EQ_MSG(test, demo_kunit_check(skb),
				    demo_kunit_expected_check(skb),
				    "payload %u", lens[i]);
		KUNIT_EXPECT_EQ_MSG(test, demo_validate(skb), DEMO_MIB_MAX,
				    "payload %u", lens[i]);
		kfree_skb(skb);
	}
}

/* A sum of zero goes on the wire as 0xffff, which receivers accept. */
static void demo_wire_checksum_zero(struct kunit *test)
{
	struct sk_buff *skb = demo_kunit_pkt(test, 2);
	u8 *last = skb->data + skb->len - 2;

	/* With these two bytes equal to the checksum, the sum becomes 0. */
	last[0] = 0;
	last[1] = 0;
	demo_hdr_fill(skb, SADDR, DADDR, htons(1000), htons(2000),
		      DEMOPROTO_DGRAM, 0);
	memcpy(last, &demo_hdr(skb)->check, 2);
	demo_hdr_fill(skb, SADDR, DADDR, htons(1000), htons(2000),
		      DEMOPROTO_DGRAM, 0);

	KUNIT_EXPECT_EQ(test, demo_kunit_check(skb), 0xffff);
	KUNIT_EXPECT_EQ(test, demo_validate(skb), DEMO_MIB_MAX);
	kfree_skb(skb);
}

static void demo_wire_bad_checksum(struct kunit *test)
{
	struct sk_buff *skb = demo_kunit_pkt(test, 10);

	skb->data[skb->len - 1] ^= 0x01;
	KUNIT_EXPECT_EQ(test, demo_validate(skb), DEMO_MIB_INCSUMERRORS);
	kfree_skb(skb);
}

static void demo_wire_truncated(struct kunit *test)
{
	struct sk_buff *skb = demo_kunit_pkt(test, 0);

	skb_trim(skb, sizeof(struct demohdr) - 1);
	KUNIT_EXPECT_EQ(test, demo_validate(skb), DEMO_MIB_INERRORS);
	kfree_skb(skb);
}

static void demo_wire_bad_length(struct kunit *test)
{
	struct sk_buff *skb = demo_kunit_pkt(test, 10);
	struct demohdr *dh = demo_hdr(skb);

	/* Longer than the packet, then shorter than the header. */
	dh->len = htons(skb->len + 1);
	demo_kunit_fix_check(skb);
	KUNIT_EXPECT_EQ(test, demo_validate(skb), DEMO_MIB_INERRORS);

	dh->len = htons(sizeof(*dh) - 1);
	demo_kunit_fix_check(skb);
	KUNIT_EXPECT_EQ(test, demo_validate(skb), DEMO_MIB_INERRORS);
	kfree_skb(skb);
}

/* Bytes beyond the DEMO length are padding: trimmed, not an error. */
static void demo_wire_trailing_bytes(struct kunit *test)
{
	struct sk_buff *skb = demo_kunit_pkt(test, 10);
	unsigned int len = skb->len;

	skb_put_u8(skb, 0xaa);
	skb_put_u8(skb, 0x55);
	KUNIT_EXPECT_EQ(test, demo_validate(skb), DEMO_MIB_MAX);
	KUNIT_EXPECT_EQ(test, skb->len, len);
	kfree_skb(skb);
}

/* Valid checksums over invalid fields: validation goes beyond the sum. */
static void demo_wire_bad_fields(struct kunit *test)
{
	struct sk_buff *skb;

	skb = demo_kunit_pkt(test, 3);
	demo_hdr(skb)->version = DEMO_VERSION + 1;
	demo_kunit_fix_check(skb);
	KUNIT_EXPECT_EQ(test, demo_validate(skb), DEMO_MIB_INERRORS);
	kfree_skb(skb);

	skb = demo_kunit_pkt(test, 3);
	demo_hdr(skb)->type = 0xee;
	demo_kunit_fix_check(skb);
	KUNIT_EXPECT_EQ(test, demo_validate(skb), DEMO_MIB_INERRORS);
	kfree_skb(skb);

	skb = demo_kunit_pkt(test, 3);
	demo_hdr(skb)->flags = htons(1);
	demo_kunit_fix_check(skb);
	KUNIT_EXPECT_EQ(test, demo_validate(skb), DEMO_MIB_INERRORS);
	kfree_skb(skb);
}

static struct kunit_case demo_wire_cases[] = {
	KUNIT_CASE(demo_wire_hdr_fields),
	KUNIT_CASE(demo_wire_checksum),
	KUNIT_CASE(demo_wire_checksum_zero),
	KUNIT_CASE(demo_wire_bad_checksum),
	KUNIT_CASE(demo_wire_truncated),
	KUNIT_CASE(demo_wire_bad_length),
	KUNIT_CASE(demo_wire_trailing_bytes),
	KUNIT_CASE(demo_wire_bad_fields),
	{}
};

static struct kunit_suite demo_wire_suite = {
	.name		= "demo_wire",
	.test_cases	= demo_wire_cases,
};

/* DEMOPROTO_SEQPACKET */

static void demo_seq_arith(struct kunit *test)
{
	KUNIT_EXPECT_TRUE(test, demo_seq_before(1, 2));
	KUNIT_EXPECT_FALSE(test, demo_seq_before(2, 1));
	KUNIT_EXPECT_FALSE(test, demo_seq_before(5, 5));
	/* Modulo 2^32: the number after 0xffffffff is 0. */
	KUNIT_EXPECT_TRUE(test, demo_seq_before(0xffffffff, 0));
	KUNIT_EXPECT_TRUE(test, demo_seq_after(0, 0xffffffff));
	KUNIT_EXPECT_TRUE(test, demo_seq_before(0x7ffffff0, 0x80000010));
	KUNIT_EXPECT_FALSE(test, demo_seq_after(0x7ffffff0, 0x80000010));
}

/* A received segment with @flags and @len bytes of payload. */
static struct sk_buff *demo_kunit_seg(struct kunit *test, u16 flags,
				      unsigned int len)
{
	struct demo_seqhdr *sh;
	struct sk_buff *skb;
	struct iphdr *iph;

	skb = alloc_skb(sizeof(*iph) + DEMO_SEQ_HDRS + len, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, skb);
	iph = skb_put_zero(skb, sizeof(*iph));
	skb_reset_network_header(skb);
	iph->version = 4;
	iph->ihl = 5;
	iph->protocol = demo_ipproto;
	iph->saddr = SADDR;
	iph->daddr = DADDR;
	skb_set_transport_header(skb, sizeof(*iph));
	skb_put_zero(skb, sizeof(struct demohdr));
	sh = skb_put_zero(skb, sizeof(*sh));
	sh->seq = htonl(100);
	sh->ack = htonl(200);
	sh->window = htons(10);
	memset(skb_put(skb, len), 0x5a, len);
	iph->tot_len = htons(skb->len);

	__skb_pull(skb, sizeof(*iph));
	demo_hdr_fill(skb, SADDR, DADDR, htons(1000), htons(2000),
		      DEMOPROTO_SEQPACKET, flags);
	return skb;
}

static void demo_seq_valid_segments(struct kunit *test)
{
	static const struct {
		u16 flags;
		unsigned int len;
	} ok[] = {
		{ DEMO_SEQ_SYN, 0 },
		{ DEMO_SEQ_SYN | DEMO_SEQ_ACK, 0 },
		{ DEMO_SEQ_ACK, 0 },				/* pure ACK */
		{ DEMO_SEQ_ACK, 1452 },				/* mid-message */
		{ DEMO_SEQ_ACK | DEMO_SEQ_EOR, 7 },		/* message end */
		{ DEMO_SEQ_ACK | DEMO_SEQ_EOR, 0 },		/* empty message */
		{ DEMO_SEQ_FIN | DEMO_SEQ_ACK, 0 },
		{ DEMO_SEQ_RST, 0 },
		{ DEMO_SEQ_RST | DEMO_SEQ_ACK, 0 },
	};
	struct sk_buff *skb;
	int i;

	for (i = 0; i < ARRAY_SIZE(ok); i++) {
		skb = demo_kunit_seg(test, ok[i].flags, ok[i].len);
		KUNIT_EXPECT_EQ_MSG(test, demo_validate(skb), DEMO_MIB_MAX,
				    "flags %#x len %u", ok[i].flags, ok[i].len);
		kfree_skb(skb);
	}
}

static void demo_seq_invalid_segments(struct kunit *test)
{
	static const struct {
		u16 flags;
		unsigned int len;
	} bad[] = {
		{ DEMO_SEQ_FIN, 0 },				/* FIN needs ACK */
		{ DEMO_SEQ_SYN | DEMO_SEQ_FIN, 0 },
		{ DEMO_SEQ_SYN | DEMO_SEQ_RST | DEMO_SEQ_ACK, 0 },
		{ DEMO_SEQ_SYN, 1 },				/* SYN with data */
		{ DEMO_SEQ_FIN | DEMO_SEQ_ACK, 1 },
		{ DEMO_SEQ_RST | DEMO_SEQ_EOR, 0 },
		{ DEMO_SEQ_EOR, 5 },				/* data needs ACK */
		{ 0, 0 },
		{ DEMO_SEQ_ACK | 0x20, 0 },			/* unknown flag */
	};
	struct sk_buff *skb;
	int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		skb = demo_kunit_seg(test, bad[i].flags, bad[i].len);
		KUNIT_EXPECT_EQ_MSG(test, demo_validate(skb), DEMO_MIB_INERRORS,
				    "flags %#x len %u", bad[i].flags, bad[i].len);
		kfree_skb(skb);
	}

	/* Reserved must be zero, checksum right or not. */
	skb = demo_kunit_seg(test, DEMO_SEQ_ACK, 0);
	((struct demo_seqhdr *)(demo_hdr(skb) + 1))->reserved = 1;
	demo_kunit_fix_check(skb);
	KUNIT_EXPECT_EQ(test, demo_validate(skb), DEMO_MIB_INERRORS);
	kfree_skb(skb);

	/* A DEMO length that leaves no room for the sequence header. */
	skb = demo_kunit_seg(test, DEMO_SEQ_ACK, 0);
	skb_trim(skb, DEMO_SEQ_HDRS - 1);
	demo_hdr(skb)->len = htons(skb->len);
	demo_kunit_fix_check(skb);
	KUNIT_EXPECT_EQ(test, demo_validate(skb), DEMO_MIB_INERRORS);
	kfree_skb(skb);
}

/* A segment whose first @len payload bytes are @blocks SACK blocks. */
static enum demo_mib_field demo_kunit_sack_seg(struct kunit *test, u16 flags,
					       unsigned int len, u8 blocks)
{
	struct sk_buff *skb = demo_kunit_seg(test, flags, len);
	enum demo_mib_field ret;

	((struct demo_seqhdr *)(demo_hdr(skb) + 1))->sack_blocks = blocks;
	demo_kunit_fix_check(skb);
	ret = demo_validate(skb);
	kfree_skb(skb);
	return ret;
}

static void demo_seq_sack_block_segments(struct kunit *test)
{
	const unsigned int b = sizeof(struct demo_sack_block);

	/* Blocks, then payload; a FIN or an ACK with blocks and no payload. */
	KUNIT_EXPECT_EQ(test, demo_kunit_sack_seg(test, DEMO_SEQ_ACK, 2 * b, 2),
			DEMO_MIB_MAX);
	KUNIT_EXPECT_EQ(test, demo_kunit_sack_seg(test, DEMO_SEQ_ACK,
						  DEMO_SEQ_MAX_SACK * b + 100,
						  DEMO_SEQ_MAX_SACK),
			DEMO_MIB_MAX);
	KUNIT_EXPECT_EQ(test, demo_kunit_sack_seg(test, DEMO_SEQ_FIN | DEMO_SEQ_ACK,
						  b, 1),
			DEMO_MIB_MAX);
	/* Too many, cut short, a FIN with more than its blocks, no ACK. */
	KUNIT_EXPECT_EQ(test, demo_kunit_sack_seg(test, DEMO_SEQ_ACK,
						  (DEMO_SEQ_MAX_SACK + 1) * b,
						  DEMO_SEQ_MAX_SACK + 1),
			DEMO_MIB_INERRORS);
	KUNIT_EXPECT_EQ(test, demo_kunit_sack_seg(test, DEMO_SEQ_ACK, 2 * b - 1, 2),
			DEMO_MIB_INERRORS);
	KUNIT_EXPECT_EQ(test, demo_kunit_sack_seg(test, DEMO_SEQ_FIN | DEMO_SEQ_ACK,
						  b + 1, 1),
			DEMO_MIB_INERRORS);
	KUNIT_EXPECT_EQ(test, demo_kunit_sack_seg(test, DEMO_SEQ_RST, b, 1),
			DEMO_MIB_INERRORS);
	KUNIT_EXPECT_EQ(test, demo_kunit_sack_seg(test, DEMO_SEQ_SYN, b, 1),
			DEMO_MIB_INERRORS);
}

static void demo_seq_cubic_root_values(struct kunit *test)
{
	static const u64 cubes[] = { 0, 1, 2, 7, 8, 26, 27, 1000, 999999,
				     1ULL << 40, (1ULL << 62) + 12345 };
	u32 r;
	int i;

	for (i = 0; i < ARRAY_SIZE(cubes); i++) {
		r = demo_seq_cubic_root(cubes[i]);
		KUNIT_EXPECT_LE_MSG(test, (u64)r * r * r, cubes[i], "%llu",
				    cubes[i]);
		KUNIT_EXPECT_GT_MSG(test, (u64)(r + 1) * (r + 1) * (r + 1),
				    cubes[i], "%llu", cubes[i]);
	}
	KUNIT_EXPECT_EQ(test, demo_seq_cubic_root(U64_MAX), 1U << 21);
}

static void demo_seq_cookies(struct kunit *test)
{
	__be32 a = SADDR, b = DADDR;
	__be16 p = htons(40000), q = htons(7000);
	u32 c = demo_seq_cookie(&init_net, a, b, p, q, 12345);

	KUNIT_EXPECT_TRUE(test, demo_seq_cookie_check(&init_net, a, b, p, q,
						      12345, c));
	/* Anything else about the handshake, and the cookie fails. */
	KUNIT_EXPECT_FALSE(test, demo_seq_cookie_check(&init_net, a, b, p, q,
						       12346, c));
	KUNIT_EXPECT_FALSE(test, demo_seq_cookie_check(&init_net, a, b, p, q,
						       12345, c + 1));
	KUNIT_EXPECT_FALSE(test, demo_seq_cookie_check(&init_net, b, a, p, q,
						       12345, c));
	KUNIT_EXPECT_FALSE(test, demo_seq_cookie_check(&init_net, a, b, q, p,
						       12345, c));
	/* Different handshakes get different cookies. */
	KUNIT_EXPECT_NE(test, c, demo_seq_cookie(&init_net, a, b, p, q, 12346));
}

#define DEMO_KUNIT_PAIRS	64

/*
 * Client ports of DEMO_KUNIT_PAIRS pairs to SADDR:7000 that an unseeded
 * jhash (initval 0, as the connection hash was) puts in one of 256
 * buckets: what a remote client could pick without the secret.
 */
static void demo_kunit_colliding_ports(u16 *ports)
{
	u32 target = __demo_conn_hash(0, DADDR, htons(7000), SADDR,
				      htons(20000)) & 255;
	int n = 0;
	u32 p;

	for (p = 20000; p < 65536 && n < DEMO_KUNIT_PAIRS; p++)
		if ((__demo_conn_hash(0, DADDR, htons(7000), SADDR,
				      htons(p)) & 255) == target)
			ports[n++] = p;
}

/* The key decides the buckets: pairs colliding without it are spread. */
static void demo_seq_conn_hash_seeded(struct kunit *test)
{
	u16 ports[DEMO_KUNIT_PAIRS] = { 0 };
	u32 first, h, seed = demo_conn_hash_seed(&init_net);
	bool spread = false;
	int i;

	demo_kunit_colliding_ports(ports);
	KUNIT_ASSERT_NE(test, ports[DEMO_KUNIT_PAIRS - 1], 0);
	first = demo_conn_hash(&init_net, DADDR, htons(7000), SADDR,
			       htons(ports[0])) & 255;
	for (i = 0; i < DEMO_KUNIT_PAIRS; i++) {
		h = demo_conn_hash(&init_net, DADDR, htons(7000), SADDR,
				   htons(ports[i]));
		/* The namespace's hash is the seeded one. */
		KUNIT_EXPECT_EQ(test, h, __demo_conn_hash(seed, DADDR,
							  htons(7000), SADDR,
							  htons(ports[i])));
		spread |= (h & 255) != first;
	}
	KUNIT_EXPECT_TRUE_MSG(test, spread,
			      "%d pairs colliding unseeded share a bucket",
			      DEMO_KUNIT_PAIRS);
	/* A different key gives a different hash. */
	KUNIT_EXPECT_NE(test, __demo_conn_hash(seed, DADDR, htons(7000), SADDR,
					       htons(ports[0])),
			__demo_conn_hash(seed + 1, DADDR, htons(7000), SADDR,
					 htons(ports[0])));
}

/* Another namespace (another hash_mix) has another key. */
static void demo_seq_conn_hash_per_netns(struct kunit *test)
{
	struct net *other = kunit_kzalloc(test, sizeof(*other), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, other);
	other->hash_mix = net_hash_mix(&init_net) + 1;
	KUNIT_EXPECT_NE(test, demo_conn_hash_seed(&init_net),
			demo_conn_hash_seed(other));
	KUNIT_EXPECT_NE(test, demo_conn_hash(&init_net, DADDR, htons(7000),
					     SADDR, htons(40000)),
			demo_conn_hash(other, DADDR, htons(7000), SADDR,
				       htons(40000)));
}

static struct kunit_case demo_seq_cases[] = {
	KUNIT_CASE(demo_seq_arith),
	KUNIT_CASE(demo_seq_valid_segments),
	KUNIT_CASE(demo_seq_invalid_segments),
	KUNIT_CASE(demo_seq_sack_block_segments),
	KUNIT_CASE(demo_seq_cubic_root_values),
	KUNIT_CASE(demo_seq_cookies),
	KUNIT_CASE(demo_seq_conn_hash_seeded),
	KUNIT_CASE(demo_seq_conn_hash_per_netns),
	{}
};

static struct kunit_suite demo_seq_suite = {
	.name		= "demo_seqpacket",
	.test_cases	= demo_seq_cases,
};

kunit_test_suites(&demo_protosw_suite, &demo_wire_suite, &demo_seq_suite);

DEMO_IMPORT_KUNIT_NS();
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("KUnit suites for af_demo");
