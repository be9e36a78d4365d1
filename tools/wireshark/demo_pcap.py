#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Crafted DEMO packets for testing the Wireshark dissector (af_demo.lua).

  demo_pcap.py write FILE.pcap     the packets, as a pcap (LINKTYPE_RAW)
  demo_pcap.py check [-o] PDML INFO
                                   compare tshark's decoding of that file
                                   (-T pdml, and -T fields -e _ws.col.Info)
                                   with what was crafted; TAP on stdout.
                                   -o: the run with -o demo.ipproto:254

The packets follow docs/PROTOCOL.md (wire format version 2): the 12-byte
DEMO header, the 12-byte sequence header of DEMOPROTO_SEQPACKET, SACK
blocks, and the Internet checksum over the IPv4 pseudo-header. Each one
carries what the dissector must show for it: field values, and which
expert infos it must (and, for the others, must not) raise.
Standard library only.
"""

import struct
import sys
import xml.etree.ElementTree as ET

IPPROTO_DEMO = 253
DGRAM, SEQPACKET = 1, 2
SYN, ACK, FIN, RST, EOR = 0x01, 0x02, 0x04, 0x08, 0x10
CLIENT, SERVER = "198.18.0.1", "198.18.0.2"


def csum(data):
    """RFC 1071 ones' complement sum, folded (not complemented)."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s > 0xffff:
        s = (s & 0xffff) + (s >> 16)
    return s


def ip_addr(a):
    return bytes(int(x) for x in a.split("."))


def ipv4(src, dst, payload, proto=IPPROTO_DEMO):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0x4000,
                      64, proto, 0, ip_addr(src), ip_addr(dst))
    c = 0xffff - csum(hdr)
    return hdr[:10] + struct.pack("!H", c) + hdr[12:] + payload


def demo(src, dst, sport, dport, ptype, body=b"", flags=0, version=2,
         length=None, check=None, extra=b"", proto=IPPROTO_DEMO):
    """A DEMO packet in IPv4: header, body (sequence header, SACK blocks,
    payload), then extra bytes beyond Length. The checksum is right unless
    check is given; length defaults to the real one."""
    if length is None:
        length = 12 + len(body)
    hdr = struct.pack("!HHBBHHH", sport, dport, version, ptype, length, 0,
                      flags)
    pkt = hdr + body
    if check is None:
        pseudo = ip_addr(src) + ip_addr(dst) + struct.pack("!BBH", 0, proto,
                                                           length)
        check = 0xffff - csum(pseudo + pkt[:length])
        if check == 0:
            check = 0xffff
    pkt = pkt[:8] + struct.pack("!H", check) + pkt[10:]
    return ipv4(src, dst, pkt + extra, proto), check


def seqhdr(seq, ack, window, sacks=(), nsack=None, reserved=0, payload=b""):
    if nsack is None:
        nsack = len(sacks)
    b = struct.pack("!IIHBB", seq, ack, window, nsack, reserved)
    for s, e in sacks:
        b += struct.pack("!II", s, e)
    return b + payload


# The expert infos of the dissector that say something is wrong or
# unusual; every frame must raise exactly the ones it lists.
EXPERTS = [
    "demo.short", "demo.length.short", "demo.length.long",
    "demo.checksum_bad", "demo.version.bad", "demo.type.bad",
    "demo.flags.dgram_nonzero", "demo.seq.short", "demo.flags.unknown",
    "demo.reserved.nonzero", "demo.sack_blocks.too_many",
    "demo.sack_blocks.no_ack", "demo.flags.multi_ctl",
    "demo.flags.ctl_payload", "demo.flags.ctl_eor", "demo.flags.fin_no_ack",
    "demo.flags.no_ack", "demo.length.trailing",
    "demo.analysis.retransmission", "demo.analysis.lost_segment",
    "demo.icmp_quote",
]

ISN_C, ISN_S = 3000000000, 4294967290   # the server's wraps past 2^32


def packets():
    """(description, IPv4 packet, expected fields, expected experts)."""
    P = []

    def add(desc, pkt, fields, experts=()):
        P.append((desc, pkt, fields, set(experts)))

    c, s = CLIENT, SERVER
    cp, sp = 40001, 7100

    pkt, ck = demo(c, s, 40000, 7000, DGRAM, b"hello")
    add("valid datagram", pkt, {
        "demo.srcport": "40000", "demo.dstport": "7000",
        "demo.version": "2", "demo.type": "1", "demo.length": "17",
        "demo.checksum": "0x%04x" % ck, "demo.checksum.status": "1",
        "demo.flags": "0x0000", "demo.len": "5", "demo.stream": "0",
        "demo.payload": b"hello".hex(),
        "_ws.col.Info": "40000 \u2192 7000 Len=5"})

    pkt, ck = demo(c, s, cp, sp, SEQPACKET, seqhdr(ISN_C, 0, 64), SYN)
    add("SYN", pkt, {
        "demo.type": "2", "demo.length": "24", "demo.flags": "0x0001",
        "demo.flags.syn": "1", "demo.flags.ack": "0",
        "demo.checksum.status": "1", "demo.seq": "0",
        "demo.seq_raw": str(ISN_C), "demo.nxtseq": "1", "demo.window": "64",
        "demo.sack_blocks": "0", "demo.stream": "1", "demo.len": "0",
        "_ws.col.Info": "40001 \u2192 7100 [SYN] Seq=0 Win=64 Len=0"})

    pkt, ck = demo(s, c, sp, cp, SEQPACKET,
                   seqhdr(ISN_S, ISN_C + 1, 183), SYN | ACK)
    add("SYN-ACK", pkt, {
        "demo.flags": "0x0003", "demo.flags.syn": "1", "demo.flags.ack": "1",
        "demo.seq": "0", "demo.ack": "1", "demo.ack_raw": str(ISN_C + 1),
        "demo.window": "183", "demo.stream": "1",
        "demo.flags.str": "SYN, ACK",
        "_ws.col.Info": "7100 \u2192 40001 [SYN, ACK] Seq=0 Ack=1 Win=183 Len=0"})

    srv1 = (ISN_S + 1) % 2**32
    pkt, ck = demo(c, s, cp, sp, SEQPACKET, seqhdr(ISN_C + 1, srv1, 64), ACK)
    add("handshake ACK", pkt, {
        "demo.seq": "1", "demo.ack": "1", "demo.ack_raw": str(srv1),
        "demo.stream": "1",
        "_ws.col.Info": "40001 \u2192 7100 [ACK] Seq=1 Ack=1 Win=64 Len=0"})

    pkt, ck = demo(c, s, cp, sp, SEQPACKET,
                   seqhdr(ISN_C + 1, srv1, 64, payload=b"A" * 100), ACK | EOR)
    add("data with EOR (a one-segment message)", pkt, {
        "demo.length": "124", "demo.flags": "0x0012", "demo.flags.eor": "1",
        "demo.seq": "1", "demo.nxtseq": "2", "demo.len": "100",
        "demo.checksum.status": "1", "demo.msg.segments": "1",
        "demo.msg.len": "100",
        "_ws.col.Info": "40001 \u2192 7100 [EOR, ACK] Seq=1 Ack=1 Win=64 "
                        "Len=100 [Message: 100 bytes]"})

    pkt, ck = demo(c, s, cp, sp, SEQPACKET,
                   seqhdr(ISN_C + 2, srv1, 64, payload=b"B" * 51), ACK)
    add("data, first segment of a message (odd length)", pkt, {
        "demo.seq": "2", "demo.len": "51", "demo.flags.eor": "0",
        "demo.checksum.status": "1",
        "_ws.col.Info": "40001 \u2192 7100 [ACK] Seq=2 Ack=1 Win=64 Len=51"})

    pkt, ck = demo(c, s, cp, sp, SEQPACKET,
                   seqhdr(ISN_C + 3, srv1, 64, payload=b"C" * 30), ACK | EOR)
    add("data, last segment of a two-segment message", pkt, {
        "demo.seq": "3", "demo.len": "30", "demo.msg.segments": "2",
        "demo.msg.len": "81", "demo.msg.frame": "6,7"})

    pkt, ck = demo(s, c, sp, cp, SEQPACKET,
                   seqhdr(srv1, ISN_C + 2, 183,
                          sacks=[(ISN_C + 3, ISN_C + 4),
                                 (ISN_C + 5, ISN_C + 7)]), ACK)
    add("pure ACK with 2 SACK blocks", pkt, {
        "demo.length": "40", "demo.seq": "1", "demo.ack": "2",
        "demo.sack_blocks": "2", "demo.sack_le": "3,5", "demo.sack_re": "4,7",
        "demo.sack_le_raw": "%d,%d" % (ISN_C + 3, ISN_C + 5),
        "demo.len": "0", "demo.checksum.status": "1",
        "_ws.col.Info": "7100 \u2192 40001 [ACK] Seq=1 Ack=2 Win=183 Len=0 "
                        "SACK=3-4,5-7"})

    pkt, ck = demo(c, s, cp, sp, SEQPACKET,
                   seqhdr(ISN_C + 2, srv1, 64, payload=b"B" * 51), ACK)
    add("retransmission", pkt, {"demo.seq": "2", "demo.len": "51"},
        ["demo.analysis.retransmission"])

    pkt, ck = demo(c, s, cp, sp, SEQPACKET, seqhdr(ISN_C + 4, srv1, 64),
                   ACK | EOR)
    add("empty message (EOR, no payload)", pkt, {
        "demo.seq": "4", "demo.len": "0", "demo.msg.segments": "1",
        "demo.msg.len": "0"})

    pkt, ck = demo(c, s, cp, sp, SEQPACKET, seqhdr(ISN_C + 5, srv1, 64),
                   FIN | ACK)
    add("FIN", pkt, {
        "demo.flags": "0x0006", "demo.flags.fin": "1", "demo.seq": "5",
        "demo.nxtseq": "6",
        "_ws.col.Info": "40001 \u2192 7100 [FIN, ACK] Seq=5 Ack=1 Win=64 Len=0"})

    pkt, ck = demo(s, c, sp, cp, SEQPACKET, seqhdr(srv1, 0, 0), RST)
    add("RST", pkt, {
        "demo.flags": "0x0008", "demo.flags.rst": "1", "demo.seq": "1",
        "demo.stream": "1",
        "_ws.col.Info": "7100 \u2192 40001 [RST] Seq=1 Win=0 Len=0"})

    pkt, ck = demo(c, s, cp, sp, SEQPACKET, seqhdr(12345, 0, 64), SYN)
    add("SYN of a new connection, same ports", pkt, {
        "demo.stream": "2", "demo.seq": "0", "demo.seq_raw": "12345"})

    # A connection caught in the middle: numbers relative to the first
    # seen (as 1), a gap, a message whose start was not captured.
    pkt, ck = demo(c, s, 40011, sp, SEQPACKET,
                   seqhdr(500, 9000, 32, payload=b"m"), ACK | EOR)
    add("mid-stream data, first seen", pkt, {
        "demo.stream": "3", "demo.seq": "1", "demo.ack": "1",
        "demo.msg.segments": None})
    pkt, ck = demo(c, s, 40011, sp, SEQPACKET,
                   seqhdr(503, 9000, 32, payload=b"n"), ACK | EOR)
    add("after a gap", pkt, {
        "demo.stream": "3", "demo.seq": "4", "demo.msg.segments": None,
        "_ws.col.Info": "[Previous segment not captured] 40011 \u2192 7100 "
                        "[EOR, ACK] Seq=4 Ack=1 Win=32 Len=1"},
        ["demo.analysis.lost_segment"])

    # Malformed packets.
    add("shorter than the header", ipv4(c, s, b"\x9c\x41\x1b\x58\x02\x01\x00\x0c"),
        {"demo.length": None}, ["demo.short"])

    pkt, ck = demo(c, s, 40000, 7000, DGRAM, b"hello", check=0x1234)
    add("bad checksum", pkt, {
        "demo.checksum": "0x1234", "demo.checksum.status": "0"},
        ["demo.checksum_bad"])

    pkt, ck = demo(c, s, 40000, 7000, DGRAM, b"hello", version=1)
    add("bad version", pkt, {
        "demo.version": "1", "demo.checksum.status": "1"},
        ["demo.version.bad"])

    five = [(ISN_C + 2 * i, ISN_C + 2 * i + 1) for i in range(5)]
    pkt, ck = demo(s, c, sp, 40009, SEQPACKET, seqhdr(srv1, ISN_C + 1, 10,
                                                     sacks=five), ACK)
    add("5 SACK blocks", pkt, {
        "demo.sack_blocks": "5", "demo.checksum.status": "1"},
        ["demo.sack_blocks.too_many"])

    pkt, ck = demo(s, c, sp, 40010, SEQPACKET,
                   seqhdr(srv1, ISN_C + 1, 10, reserved=0x80), ACK)
    add("reserved set", pkt, {"demo.reserved": "0x80"},
        ["demo.reserved.nonzero"])

    pkt, ck = demo(c, s, 40002, sp, SEQPACKET,
                   seqhdr(777, 0, 64, payload=b"xyz"), SYN)
    add("SYN with payload", pkt, {"demo.len": "3"},
        ["demo.flags.ctl_payload"])

    pkt, ck = demo(c, s, 40000, 7000, DGRAM, b"hello", length=200)
    add("Length beyond the IP payload", pkt, {"demo.length": "200",
        "demo.checksum.status": "2"}, ["demo.length.long"])

    pkt, ck = demo(c, s, 40000, 7000, DGRAM, b"hello", length=8)
    add("Length below 12", pkt, {"demo.length": "8"},
        ["demo.length.short"])

    pkt, ck = demo(c, s, 40003, sp, SEQPACKET, b"\0" * 4)
    add("segment shorter than the sequence header", pkt, {"demo.type": "2"},
        ["demo.seq.short"])

    pkt, ck = demo(c, s, 40000, 7000, 7, b"x")
    add("unknown type", pkt, {"demo.type": "7"}, ["demo.type.bad"])

    pkt, ck = demo(c, s, 40000, 7000, DGRAM, b"x", flags=0x0002)
    add("datagram with flags", pkt, {"demo.flags": "0x0002"},
        ["demo.flags.dgram_nonzero"])

    pkt, ck = demo(c, s, 40004, sp, SEQPACKET,
                   seqhdr(1, 1, 1, sacks=[(1, 2)], payload=b"d"), EOR)
    add("SACK blocks and data without ACK", pkt, {"demo.sack_blocks": "1"},
        ["demo.sack_blocks.no_ack", "demo.flags.no_ack"])

    pkt, ck = demo(c, s, 40005, sp, SEQPACKET, seqhdr(1, 0, 1), SYN | FIN)
    add("SYN and FIN", pkt, {"demo.flags": "0x0005"},
        ["demo.flags.multi_ctl"])

    pkt, ck = demo(c, s, 40006, sp, SEQPACKET, seqhdr(1, 0, 1), FIN)
    add("FIN without ACK", pkt, {"demo.flags.fin": "1"},
        ["demo.flags.fin_no_ack"])

    pkt, ck = demo(c, s, 40007, sp, SEQPACKET, seqhdr(1, 1, 1), RST | EOR)
    add("RST with EOR", pkt, {"demo.flags": "0x0018"}, ["demo.flags.ctl_eor"])

    pkt, ck = demo(c, s, 40008, sp, SEQPACKET, seqhdr(1, 1, 1), ACK | 0x0100)
    # (the reserved bits 0xffe0 show shifted down, as TCP's do)
    add("unknown flag", pkt, {"demo.flags": "0x0102",
        "demo.flags.reserved": "0x0008"}, ["demo.flags.unknown"])

    pkt, ck = demo(c, s, 40000, 7000, DGRAM, b"hello", extra=b"\0\0\0\0")
    add("bytes beyond Length (padding)", pkt, {
        "demo.length": "17", "demo.len": "5", "demo.checksum.status": "1",
        "demo.padding": "00000000", "demo.stream": "0"},
        ["demo.length.trailing"])

    # An ICMP port unreachable quoting a datagram: IP header and 8 bytes.
    pkt, ck = demo(c, s, 40000, 7000, DGRAM, b"hello")
    icmp = struct.pack("!BBHI", 3, 3, 0, 0) + pkt[:28]
    icmp = icmp[:2] + struct.pack("!H", 0xffff - csum(icmp)) + icmp[4:]
    add("ICMP error quoting a datagram", ipv4(s, c, icmp, proto=1), {
        "demo.srcport": "40000", "demo.dstport": "7000", "demo.type": "1",
        "demo.length": None, "demo.stream": None}, ["demo.icmp_quote"])

    # A datagram at IP protocol 254: DEMO only with -o demo.ipproto:254.
    pkt, ck = demo(c, s, 40000, 7000, DGRAM, b"moved", proto=254)
    add("datagram at IP protocol 254 (preference)", pkt,
        {"demo.srcport": None}, [])
    return P


OPT_FRAME = "datagram at IP protocol 254 (preference)"


def write(path):
    with open(path, "wb") as fp:
        fp.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 101))
        for i, (_, pkt, _, _) in enumerate(packets()):
            fp.write(struct.pack("<IIII", 1700000000 + i, 0, len(pkt),
                                 len(pkt)))
            fp.write(pkt)


def pdml_frames(path):
    """Per frame of tshark's PDML: {protocol or field name: [shown values]}."""
    frames = []
    for pkt in ET.parse(path).getroot().iter("packet"):
        fields = {}
        for el in pkt.iter():
            name = el.get("name")
            if el.tag in ("proto", "field") and name:
                fields.setdefault(name, []).append(el.get("show"))
        frames.append(fields)
    return frames


def normalise(name, values):
    out = []
    for v in values:
        if v is None:
            continue
        if name in ("demo.payload", "demo.padding"):
            v = v.replace(":", "").lower()
        out.append(v)
    return ",".join(out)


def check(pdml, info, opt):
    """TAP: one test per frame, on tshark's PDML and Info column (one line
    per frame) of the file write() made."""
    P = packets()
    frames = pdml_frames(pdml)
    with open(info, encoding="utf-8") as fp:
        infos = fp.read().splitlines()
    tests = []
    if len(frames) != len(P) or len(infos) != len(P):
        tests.append((False, "tshark decoded all %d frames" % len(P),
                      "%d in PDML, %d Info lines" % (len(frames), len(infos))))
    if opt:
        # At 254, DEMO is no longer at 253: only the last frame is DEMO.
        others = [str(i + 1) for i, fr in enumerate(frames[:-1])
                  if "demo" in fr]
        tests.append((not others, "nothing at 253 "
                      "decoded as DEMO", "frames " + ",".join(others)))
        P = P[-1:]
        frames = frames[-1:]
        infos = infos[-1:]
    first = len(packets()) - len(P) + 1
    for i, (desc, _, want, experts) in enumerate(P):
        got = dict(frames[i]) if i < len(frames) else {}
        got["_ws.col.Info"] = [infos[i]] if i < len(infos) else []
        is_demo = True
        if desc == OPT_FRAME:
            is_demo = opt
            if opt:
                want = {"demo.srcport": "40000", "demo.checksum.status": "1",
                        "demo.payload": b"moved".hex(),
                        "_ws.col.Info": "40000 \u2192 7000 Len=5"}
        bad = []
        if is_demo and "demo" not in got:
            bad.append("not decoded as DEMO")
        if not is_demo and "demo" in got:
            bad.append("decoded as DEMO")
        for name, value in want.items():
            have = normalise(name, got[name]) if name in got else None
            if value is None:
                if have is not None:
                    bad.append("%s=%r, expected absent" % (name, have))
            elif have != value:
                bad.append("%s=%r, expected %r" % (name, have, value))
        for ex in EXPERTS:
            if ex in experts and ex not in got:
                bad.append("expert %s missing" % ex)
            elif ex not in experts and ex in got:
                bad.append("unexpected expert %s" % ex)
        # A Lua error while dissecting shows in the tree, not on stderr.
        if "_ws.lua.error" in got:
            bad.append("Lua error: %s" % "; ".join(
                m for m in got.get("_ws.expert.message", [])
                if m and m.startswith("Lua Error")))
        tests.append((not bad, "frame %d: %s" % (first + i, desc),
                      "; ".join(bad)))
    print("1..%d" % len(tests))
    failed = 0
    for n, (ok, name, why) in enumerate(tests, 1):
        print("%sok %d - %s%s" % ("" if ok else "not ", n, name,
                                  " (-o demo.ipproto:254)" if opt else ""))
        if not ok:
            failed += 1
            print("# " + why)
    return 1 if failed else 0


def main(argv):
    if len(argv) == 3 and argv[1] == "write":
        write(argv[2])
        return 0
    if len(argv) in (4, 5) and argv[1] == "check":
        opt = argv[2] == "-o"
        return check(argv[-2], argv[-1], opt)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
