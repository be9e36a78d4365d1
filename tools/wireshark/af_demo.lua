-- SPDX-License-Identifier: GPL-2.0
--
-- Wireshark dissector for the DEMO protocol of the af_demo kernel module:
-- AF_DEMO's packets over IPv4 (IP protocol 253 by default), wire format
-- version 2, as docs/PROTOCOL.md describes it.
--
--   DEMO header (12 bytes): ports, version, type, length, checksum, flags
--   DEMOPROTO_DGRAM (type 1): the payload is one datagram
--   DEMOPROTO_SEQPACKET (type 2): a 12-byte sequence header (seq, ack,
--     window, SACK block count, reserved), 0 to 4 SACK blocks of 8 bytes,
--     then the payload: a segment of a message, EOR on its last one
--
-- Everything the receiver checks (demo_validate() in demo_proto.c) is
-- checked here too and reported as expert info; the checksum is verified
-- over the IPv4 pseudo-header as for UDP. Sequence numbers count segments,
-- not bytes; they are shown relative to each direction's first one (its
-- SYN when captured), as TCP's are.
--
-- Install: copy to ~/.local/lib/wireshark/plugins/ (see README), or run
--   tshark -X lua_script:tools/wireshark/af_demo.lua -r capture.pcap
-- Preference: demo.ipproto, the IP protocol number (-o demo.ipproto:254).
-- Plain Lua arithmetic, no bit library, for the Lua 5.2 of Wireshark 3.x
-- and 4.0-4.2 and the 5.4 of later ones; tested with Debian 12's 4.0.

local demo = Proto("demo", "DEMO Protocol (AF_DEMO)")

local DEMO_HDR_LEN = 12
local DEMO_SEQ_HDR_LEN = 12
local DEMO_SACK_LEN = 8
local DEMO_SEQ_MAX_SACK = 4
local DEMO_VERSION = 2
local DEMOPROTO_DGRAM = 1
local DEMOPROTO_SEQPACKET = 2
local IPPROTO_DEMO = 253

local SYN, ACK, FIN, RST, EOR = 0x01, 0x02, 0x04, 0x08, 0x10
local SEQ_FLAGS = 0x1f
local MOD32 = 4294967296
-- U+2192 RIGHTWARDS ARROW, as in TCP's and UDP's Info column
local ARROW = "\226\134\146"

local types = {
	[DEMOPROTO_DGRAM] = "DEMOPROTO_DGRAM",
	[DEMOPROTO_SEQPACKET] = "DEMOPROTO_SEQPACKET",
}
local csum_status = { [0] = "Bad", [1] = "Good", [2] = "Unverified" }

local f = demo.fields
f.srcport = ProtoField.uint16("demo.srcport", "Source Port", base.DEC)
f.dstport = ProtoField.uint16("demo.dstport", "Destination Port", base.DEC)
f.port = ProtoField.uint16("demo.port", "Source or Destination Port", base.DEC)
f.version = ProtoField.uint8("demo.version", "Version", base.DEC)
f.type = ProtoField.uint8("demo.type", "Type", base.DEC, types)
f.length = ProtoField.uint16("demo.length", "Length", base.DEC)
f.checksum = ProtoField.uint16("demo.checksum", "Checksum", base.HEX)
f.checksum_calc = ProtoField.uint16("demo.checksum_calculated",
	"Calculated Checksum", base.HEX)
f.checksum_status = ProtoField.uint8("demo.checksum.status",
	"Checksum Status", base.DEC, csum_status)
f.flags = ProtoField.uint16("demo.flags", "Flags", base.HEX)
f.flag_reserved = ProtoField.uint16("demo.flags.reserved", "Reserved",
	base.HEX, nil, 0xffe0)
f.flag_eor = ProtoField.bool("demo.flags.eor", "End of Record (EOR)", 16,
	{ "Set", "Not set" }, EOR)
f.flag_rst = ProtoField.bool("demo.flags.rst", "Reset (RST)", 16,
	{ "Set", "Not set" }, RST)
f.flag_fin = ProtoField.bool("demo.flags.fin", "Fin (FIN)", 16,
	{ "Set", "Not set" }, FIN)
f.flag_ack = ProtoField.bool("demo.flags.ack", "Acknowledgment (ACK)", 16,
	{ "Set", "Not set" }, ACK)
f.flag_syn = ProtoField.bool("demo.flags.syn", "Syn (SYN)", 16,
	{ "Set", "Not set" }, SYN)
f.flags_str = ProtoField.string("demo.flags.str", "DEMO Flags")
f.stream = ProtoField.uint32("demo.stream", "Stream index", base.DEC)
f.len = ProtoField.uint32("demo.len", "Payload Length", base.DEC)
f.padding = ProtoField.bytes("demo.padding", "Padding (beyond Length)")
-- DEMOPROTO_SEQPACKET
f.seq = ProtoField.uint32("demo.seq", "Sequence Number", base.DEC)
f.seq_raw = ProtoField.uint32("demo.seq_raw", "Sequence Number (raw)",
	base.DEC)
f.nxtseq = ProtoField.uint32("demo.nxtseq", "Next Sequence Number",
	base.DEC)
f.ack = ProtoField.uint32("demo.ack", "Acknowledgment Number", base.DEC)
f.ack_raw = ProtoField.uint32("demo.ack_raw",
	"Acknowledgment Number (raw)", base.DEC)
f.window = ProtoField.uint16("demo.window", "Window (segments)", base.DEC)
f.sack_count = ProtoField.uint8("demo.sack_blocks", "SACK Blocks", base.DEC)
f.reserved = ProtoField.uint8("demo.reserved", "Reserved", base.HEX)
f.sack = ProtoField.bytes("demo.sack", "SACK Block")
f.sack_le = ProtoField.uint32("demo.sack_le", "Left Edge (start)", base.DEC)
f.sack_re = ProtoField.uint32("demo.sack_re", "Right Edge (end)", base.DEC)
f.sack_le_raw = ProtoField.uint32("demo.sack_le_raw", "Left Edge (raw)",
	base.DEC)
f.sack_re_raw = ProtoField.uint32("demo.sack_re_raw", "Right Edge (raw)",
	base.DEC)
f.msg_segments = ProtoField.uint32("demo.msg.segments",
	"Message segments", base.DEC)
f.msg_len = ProtoField.uint32("demo.msg.len", "Message length", base.DEC)
f.msg_frame = ProtoField.framenum("demo.msg.frame", "Message segment in frame")
f.payload = ProtoField.bytes("demo.payload", "Payload")

local function ex(abbr, text, group, severity)
	return ProtoExpert.new(abbr, text, group, severity)
end
local E, W, N = expert.severity.ERROR, expert.severity.WARN,
	expert.severity.NOTE
local MAL, PROT, SEQG = expert.group.MALFORMED, expert.group.PROTOCOL,
	expert.group.SEQUENCE
local e = {
	short = ex("demo.short", "Packet shorter than the 12-byte DEMO header",
		MAL, E),
	len_short = ex("demo.length.short", "Length below 12", MAL, E),
	len_long = ex("demo.length.long",
		"Length beyond the IP payload", MAL, E),
	trailing = ex("demo.length.trailing",
		"Bytes beyond Length (trimmed by the receiver)", PROT, N),
	bad_checksum = ex("demo.checksum_bad", "Bad checksum",
		expert.group.CHECKSUM, E),
	bad_version = ex("demo.version.bad", "Unknown version", PROT, E),
	bad_type = ex("demo.type.bad", "Unknown type (transport)", PROT, E),
	dgram_flags = ex("demo.flags.dgram_nonzero",
		"Flags must be 0 for DEMOPROTO_DGRAM", PROT, E),
	seq_short = ex("demo.seq.short",
		"Segment shorter than its sequence header and SACK blocks",
		MAL, E),
	bad_flags = ex("demo.flags.unknown", "Unknown flags set", PROT, E),
	reserved = ex("demo.reserved.nonzero", "Reserved field not zero",
		PROT, E),
	too_many_sacks = ex("demo.sack_blocks.too_many",
		"More than 4 SACK blocks", MAL, E),
	sack_no_ack = ex("demo.sack_blocks.no_ack", "SACK blocks without ACK",
		PROT, E),
	multi_ctl = ex("demo.flags.multi_ctl", "More than one of SYN, FIN, RST",
		PROT, E),
	ctl_payload = ex("demo.flags.ctl_payload",
		"SYN, FIN or RST with payload", PROT, E),
	ctl_eor = ex("demo.flags.ctl_eor", "SYN, FIN or RST with EOR", PROT, E),
	fin_no_ack = ex("demo.flags.fin_no_ack", "FIN without ACK", PROT, E),
	no_ack = ex("demo.flags.no_ack",
		"Segment without SYN or RST must carry ACK", PROT, E),
	retrans = ex("demo.analysis.retransmission",
		"Retransmission (or segment out of order)", SEQG, N),
	lost = ex("demo.analysis.lost_segment",
		"Previous segment(s) not captured", SEQG, W),
	quoted = ex("demo.icmp_quote",
		"Quoted in an ICMP error: not validated", expert.group.COMMENTS_GROUP, expert.severity.CHAT),
	msg = ex("demo.msg.complete", "Message complete", expert.group.SEQUENCE,
		expert.severity.CHAT),
}
demo.experts = {}
for _, v in pairs(e) do
	table.insert(demo.experts, v)
end

demo.prefs.ipproto = Pref.uint("IP protocol number", IPPROTO_DEMO,
	"IP protocol number of DEMO packets (the af_demo module's ipproto= parameter)")

demo.prefs.check_checksum = Pref.bool("Validate the checksum", true,
	"Verify the DEMO checksum (over the IPv4 pseudo-header, as UDP's)")

local ip_src_f = Field.new("ip.src")
local ip_dst_f = Field.new("ip.dst")
local ip_proto_f = Field.new("ip.proto")
local icmp_f = Field.new("icmp")

local data_dissector = Dissector.get("data")

-- Conversation state, rebuilt on every (re)dissection from the start.
local streams, next_stream, frames

local function reset()
	streams = {}
	next_stream = 0
	frames = {}
end
reset()
demo.init = reset

local function last(...)
	local t = { ... }
	return t[#t]
end

-- The Internet checksum (RFC 1071): the folded ones' complement sum of the
-- IPv4 pseudo-header and tvb(0, len), with the Checksum field (bytes 8-9)
-- taken as zero.
local function fold(sum)
	while sum > 0xffff do
		sum = sum % 65536 + math.floor(sum / 65536)
	end
	return sum
end

local function csum_sum(tvb, len, src, dst, proto)
	local sum = math.floor(src / 65536) + src % 65536 +
		math.floor(dst / 65536) + dst % 65536 + proto + len
	local s = tvb:raw(0, len)
	-- the header without its checksum, then 16 bytes at a time
	local a, b, c, d, e5, f6, g, h = s:byte(1, 8)
	sum = sum + (a + c + e5 + g) * 256 + b + d + f6 + h +
		s:byte(11) * 256 + s:byte(12)
	local i = 13
	while i + 15 <= len do
		local b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12, b13,
			b14, b15, b16 = s:byte(i, i + 15)
		sum = sum + (b1 + b3 + b5 + b7 + b9 + b11 + b13 + b15) * 256 +
			b2 + b4 + b6 + b8 + b10 + b12 + b14 + b16
		i = i + 16
		if i % 16384 == 13 then
			sum = fold(sum)
		end
	end
	while i + 1 <= len do
		local hi, lo = s:byte(i, i + 1)
		sum = sum + hi * 256 + lo
		i = i + 2
	end
	if i == len then
		sum = sum + s:byte(i) * 256
	end
	return fold(sum)
end

local function has(flags, bit)
	return math.floor(flags / bit) % 2 == 1
end

local function flags_string(flags)
	local names = {}
	-- TCP's order: "SYN, ACK", "FIN, ACK", "RST, ACK"; EOR where PSH is.
	for _, v in ipairs({ { FIN, "FIN" }, { SYN, "SYN" }, { RST, "RST" },
			{ EOR, "EOR" }, { ACK, "ACK" } }) do
		if has(flags, v[1]) then
			table.insert(names, v[2])
		end
	end
	if flags >= 0x20 then
		table.insert(names, string.format("0x%04x", flags - flags % 0x20))
	end
	return table.concat(names, ", ")
end

local function rel(v, base)
	return (v - base) % MOD32
end

-- a before b, modulo 2^32 (RFC 1982)
local function before(a, b)
	local d = (b - a) % MOD32
	return d ~= 0 and d < 2147483648
end

local function stream_for(key, ep_src, new_conn)
	local s = streams[key]
	if not s or new_conn then
		s = { index = next_stream, a = ep_src, dir = { {}, {} } }
		next_stream = next_stream + 1
		streams[key] = s
	end
	return s
end

-- The message a segment with EOR ends, at relative number last of
-- direction d: back to the previous EOR, or to this direction's SYN (number
-- 0). Nil when a segment of it was not captured.
local function message(d, last)
	local k, count, total, fr = last, 0, 0, {}
	while d.lens[k] ~= nil and count <= 262145 do
		count = count + 1
		total = total + d.lens[k]
		table.insert(fr, 1, d.frames[k])
		k = (k - 1) % MOD32
		if d.eors[k] or (k == 0 and d.syn) then
			return { count = count, len = total, frames = fr }
		end
	end
	return nil
end

-- First-pass analysis of a segment: stream, relative numbers, sequence
-- analysis and message boundaries. Kept per frame for later passes.
local function analyse_seq(pinfo, key, ep_src, flags, seq, ack, sacks, plen)
	local syn_only = has(flags, SYN) and not has(flags, ACK)
	local s = streams[key]
	local new_conn = syn_only and s ~= nil and s.syn_seq ~= seq
	s = stream_for(key, ep_src, new_conn)
	if syn_only then
		s.syn_seq = seq
	end
	local di = (ep_src == s.a) and 1 or 2
	local d, r = s.dir[di], s.dir[3 - di]
	local res = { stream = s.index }

	if d.base == nil then
		d.base = has(flags, SYN) and seq or (seq - 1) % MOD32
		d.syn = has(flags, SYN)
		d.lens, d.frames, d.eors = {}, {}, {}
	end
	res.seq = rel(seq, d.base)
	if has(flags, ACK) then
		if r.base == nil then
			r.base = (ack - 1) % MOD32
			r.lens, r.frames, r.eors = {}, {}, {}
		end
		res.ack = rel(ack, r.base)
		res.sacks = {}
		for i, b in ipairs(sacks) do
			res.sacks[i] = { rel(b[1], r.base), rel(b[2], r.base) }
		end
	end

	local data = plen > 0 or has(flags, EOR)
	local ctl = has(flags, SYN) or has(flags, FIN) or has(flags, RST)
	if has(flags, SYN) or has(flags, FIN) or (data and not ctl) then
		res.nxtseq = (res.seq + 1) % MOD32
		if d.nxt ~= nil and before(res.seq, d.nxt) then
			res.retrans = true
		elseif d.nxt ~= nil and before(d.nxt, res.seq) then
			res.lost = true
		end
		if d.nxt == nil or before(d.nxt, res.nxtseq) then
			d.nxt = res.nxtseq
		end
	end

	if data and not ctl and not res.retrans then
		d.lens[res.seq] = plen
		d.frames[res.seq] = pinfo.number
		if has(flags, EOR) then
			d.eors[res.seq] = true
			res.msg = message(d, res.seq)
		end
	end
	return res
end

local function analyse_dgram(key, ep_src)
	local s = stream_for(key, ep_src, false)
	return { stream = s.index }
end

local function dissect_seq(tvb, pinfo, dtree, hlen, flags, ana_key,
		ep_src, quoted)
	local avail = tvb:len()
	local info = {}
	if hlen < DEMO_HDR_LEN + DEMO_SEQ_HDR_LEN or
			avail < DEMO_HDR_LEN + DEMO_SEQ_HDR_LEN then
		if not quoted or avail >= DEMO_HDR_LEN + DEMO_SEQ_HDR_LEN then
			dtree:add_proto_expert_info(e.seq_short)
		end
		return nil
	end
	local seq = tvb(12, 4):uint()
	local ack = tvb(16, 4):uint()
	local win = tvb(20, 2):uint()
	local nsack = tvb(22, 1):uint()
	local reserved = tvb(23, 1):uint()
	-- more than DEMO_SEQ_MAX_SACK is an error, but the blocks are there
	local sack_hlen = DEMO_HDR_LEN + DEMO_SEQ_HDR_LEN + nsack * DEMO_SACK_LEN
	local bad_sack = nsack > DEMO_SEQ_MAX_SACK
	local sacks = {}
	local short = hlen < sack_hlen
	if not short then
		for i = 0, nsack - 1 do
			local o = DEMO_HDR_LEN + DEMO_SEQ_HDR_LEN + i * DEMO_SACK_LEN
			if o + DEMO_SACK_LEN > avail then
				break
			end
			table.insert(sacks, { tvb(o, 4):uint(), tvb(o + 4, 4):uint() })
		end
	end
	local plen = short and 0 or hlen - sack_hlen

	local res
	if quoted then
		res = { seq = seq, ack = ack, sacks = {} }
		for i, b in ipairs(sacks) do
			res.sacks[i] = b
		end
	elseif pinfo.visited and frames[pinfo.number] then
		res = frames[pinfo.number]
	else
		res = analyse_seq(pinfo, ana_key, ep_src, flags, seq, ack, sacks,
			plen)
		frames[pinfo.number] = res
	end

	if res.stream ~= nil then
		dtree:add(f.stream, res.stream):set_generated()
	end
	local it = dtree:add(f.seq, tvb(12, 4), res.seq)
	if res.seq ~= seq then
		it:append_text(" (relative sequence number)")
	end
	dtree:add(f.seq_raw, tvb(12, 4))
	if res.nxtseq then
		dtree:add(f.nxtseq, res.nxtseq):set_generated()
	end
	if has(flags, ACK) then
		it = dtree:add(f.ack, tvb(16, 4), res.ack)
		if res.ack ~= ack then
			it:append_text(" (relative ack number)")
		end
	else
		it = dtree:add(f.ack, tvb(16, 4), res.ack or ack)
		it:append_text(" (ACK not set: not valid)")
	end
	dtree:add(f.ack_raw, tvb(16, 4))
	dtree:add(f.window, tvb(20, 2))
	it = dtree:add(f.sack_count, tvb(22, 1))
	if bad_sack then
		it:add_proto_expert_info(e.too_many_sacks)
	end
	if nsack > 0 and not has(flags, ACK) then
		it:add_proto_expert_info(e.sack_no_ack)
	end
	it = dtree:add(f.reserved, tvb(23, 1))
	if reserved ~= 0 then
		it:add_proto_expert_info(e.reserved)
	end
	if short then
		if not quoted then
			dtree:add_proto_expert_info(e.seq_short)
		end
	end
	for i, b in ipairs(sacks) do
		local o = DEMO_HDR_LEN + DEMO_SEQ_HDR_LEN + (i - 1) * DEMO_SACK_LEN
		local rb = res.sacks and res.sacks[i] or b
		local st = dtree:add(f.sack, tvb(o, DEMO_SACK_LEN))
		st:set_text(string.format("SACK Block %d: %d-%d", i, rb[1], rb[2]))
		st:add(f.sack_le, tvb(o, 4), rb[1])
		st:add(f.sack_re, tvb(o + 4, 4), rb[2])
		st:add(f.sack_le_raw, tvb(o, 4))
		st:add(f.sack_re_raw, tvb(o + 4, 4))
	end

	-- The rules of demo_seq_hdr_valid().
	local ctl = 0
	for _, b in ipairs({ SYN, FIN, RST }) do
		if has(flags, b) then
			ctl = ctl + 1
		end
	end
	if ctl > 1 then
		dtree:add_proto_expert_info(e.multi_ctl)
	end
	if ctl > 0 and plen > 0 then
		dtree:add_proto_expert_info(e.ctl_payload)
	end
	if ctl > 0 and has(flags, EOR) then
		dtree:add_proto_expert_info(e.ctl_eor)
	end
	if has(flags, FIN) and ctl == 1 and not has(flags, ACK) then
		dtree:add_proto_expert_info(e.fin_no_ack)
	end
	if ctl == 0 and not has(flags, ACK) then
		dtree:add_proto_expert_info(e.no_ack)
	end

	local pre = ""
	if res.retrans then
		dtree:add_proto_expert_info(e.retrans)
		pre = "[Retransmission] "
	elseif res.lost then
		dtree:add_proto_expert_info(e.lost)
		pre = "[Previous segment not captured] "
	end
	table.insert(info, string.format("Seq=%d", res.seq))
	if has(flags, ACK) then
		table.insert(info, string.format("Ack=%d", res.ack))
	end
	table.insert(info, string.format("Win=%d", win))
	table.insert(info, string.format("Len=%d", plen))
	if #sacks > 0 then
		local l = {}
		for i, b in ipairs(sacks) do
			local rb = res.sacks and res.sacks[i] or b
			table.insert(l, string.format("%d-%d", rb[1], rb[2]))
		end
		table.insert(info, "SACK=" .. table.concat(l, ","))
	end
	if res.msg then
		local mt = dtree:add(f.msg_segments, res.msg.count)
		mt:set_generated()
		mt:add_proto_expert_info(e.msg, string.format(
			"Message complete: %d segment(s), %d bytes",
			res.msg.count, res.msg.len))
		dtree:add(f.msg_len, res.msg.len):set_generated()
		for _, fr in ipairs(res.msg.frames) do
			dtree:add(f.msg_frame, fr):set_generated()
		end
		table.insert(info, string.format("[Message: %d bytes]", res.msg.len))
	end
	return table.concat(info, " "), short and hlen or sack_hlen, plen, pre
end

function demo.dissector(tvb, pinfo, tree)
	local avail = tvb:len()
	local reported = tvb:reported_len()
	local quoted = icmp_f() ~= nil

	pinfo.cols.protocol = "DEMO"
	local dtree = tree:add(demo, tvb(), "DEMO Protocol")

	if reported < DEMO_HDR_LEN and not quoted then
		dtree:add_proto_expert_info(e.short)
		pinfo.cols.info = string.format("DEMO packet too short (%d bytes)",
			reported)
		return avail
	end
	if avail < 8 then
		return 0
	end

	local sport = tvb(0, 2):uint()
	local dport = tvb(2, 2):uint()
	local version = tvb(4, 1):uint()
	local ptype = tvb(5, 1):uint()

	dtree:append_text(string.format(", Src Port: %d, Dst Port: %d",
		sport, dport))
	dtree:add(f.srcport, tvb(0, 2))
	dtree:add(f.dstport, tvb(2, 2))
	dtree:add(f.port, tvb(0, 2)):set_hidden()
	dtree:add(f.port, tvb(2, 2)):set_hidden()
	local it = dtree:add(f.version, tvb(4, 1))
	if version ~= DEMO_VERSION then
		it:add_proto_expert_info(e.bad_version, string.format(
			"Unknown version %d (this is wire format %d)", version,
			DEMO_VERSION))
	end
	it = dtree:add(f.type, tvb(5, 1))
	if types[ptype] == nil then
		it:add_proto_expert_info(e.bad_type)
	end
	if avail < DEMO_HDR_LEN then
		-- an ICMP quote: the first 8 bytes are enough to find the socket
		if quoted then
			dtree:add_proto_expert_info(e.quoted)
		end
		pinfo.cols.info = string.format("%d %s %d (quoted header)", sport,
			ARROW, dport)
		return avail
	end

	local length = tvb(6, 2):uint()
	local check = tvb(8, 2):uint()
	local flags = tvb(10, 2):uint()

	-- Length: 12 <= Length <= IP payload; bytes beyond are trimmed.
	local hlen = length
	local len_ok = true
	it = dtree:add(f.length, tvb(6, 2))
	if length < DEMO_HDR_LEN then
		it:add_proto_expert_info(e.len_short, string.format(
			"Length %d below the 12-byte header", length))
		hlen = reported
		len_ok = false
	elseif length > reported then
		if not quoted then
			it:add_proto_expert_info(e.len_long, string.format(
				"Length %d beyond the IP payload of %d bytes",
				length, reported))
		end
		hlen = reported
		len_ok = false
	elseif length < reported then
		it:add_proto_expert_info(e.trailing, string.format(
			"%d bytes beyond Length (trimmed by the receiver)",
			reported - length))
	end

	-- Checksum, as UDP's: status Good, Bad or Unverified.
	it = dtree:add(f.checksum, tvb(8, 2))
	local src = last(ip_src_f())
	local dst = last(ip_dst_f())
	local ipp = last(ip_proto_f())
	if demo.prefs.check_checksum and len_ok and not quoted and
			avail >= length and src and dst and ipp then
		local sum0 = csum_sum(tvb, length, src.range:uint(),
			dst.range:uint(), ipp.value)
		-- valid if the sum with the field folds to 0xffff; a computed
		-- checksum of 0 is sent as 0xffff
		local ok = fold(sum0 + check) == 0xffff
		local computed = 0xffff - sum0
		if computed == 0 then
			computed = 0xffff
		end
		if ok then
			it:append_text(" [correct]")
		else
			it:append_text(string.format(" [incorrect, should be 0x%04x]",
				computed))
			it:add_proto_expert_info(e.bad_checksum)
		end
		dtree:add(f.checksum_calc, computed):set_generated()
		dtree:add(f.checksum_status, ok and 1 or 0):set_generated()
	else
		it:append_text(" [unverified]")
		dtree:add(f.checksum_status, 2):set_generated()
	end

	local ft = dtree:add(f.flags, tvb(10, 2))
	local fstr = flags_string(flags)
	if fstr == "" then
		fstr = "<None>"
	end
	if ptype == DEMOPROTO_SEQPACKET then
		-- DEMO_SEQ_* bits; the other transport has no flags
		ft:append_text(" (" .. fstr .. ")")
		it = ft:add(f.flag_reserved, tvb(10, 2))
		if flags >= 0x20 then
			it:add_proto_expert_info(e.bad_flags)
		end
		ft:add(f.flag_eor, tvb(10, 2))
		ft:add(f.flag_rst, tvb(10, 2))
		ft:add(f.flag_fin, tvb(10, 2))
		ft:add(f.flag_ack, tvb(10, 2))
		ft:add(f.flag_syn, tvb(10, 2))
		ft:add(f.flags_str, fstr):set_generated()
	end
	if ptype == DEMOPROTO_DGRAM and flags ~= 0 then
		ft:add_proto_expert_info(e.dgram_flags)
	end
	if quoted then
		dtree:add_proto_expert_info(e.quoted)
	end

	local src_s = src and string.format("%08x", src.range:uint()) or
		tostring(pinfo.src)
	local dst_s = dst and string.format("%08x", dst.range:uint()) or
		tostring(pinfo.dst)
	local ep_src = string.format("%s:%04x", src_s, sport)
	local ep_dst = string.format("%s:%04x", dst_s, dport)
	local key = ptype .. "/" .. (ep_src < ep_dst and ep_src .. "/" .. ep_dst
		or ep_dst .. "/" .. ep_src)

	local prefix = string.format("%d %s %d ", sport, ARROW, dport)
	local poff, plen = DEMO_HDR_LEN, hlen - DEMO_HDR_LEN
	if version ~= DEMO_VERSION or types[ptype] == nil then
		pinfo.cols.info = prefix .. string.format(
			"Version=%d Type=%d Len=%d", version, ptype, plen)
	elseif ptype == DEMOPROTO_DGRAM then
		if not quoted then
			local res = frames[pinfo.number]
			if not (pinfo.visited and res) then
				res = analyse_dgram(key, ep_src)
				frames[pinfo.number] = res
			end
			dtree:add(f.stream, res.stream):set_generated()
		end
		pinfo.cols.info = prefix .. string.format("Len=%d", plen)
	else
		pinfo.cols.protocol = "DEMO-SEQ"
		local text, seg_hlen, seg_plen, pre = dissect_seq(tvb, pinfo,
			dtree, hlen, flags, key, ep_src, quoted)
		if text then
			poff, plen = seg_hlen, seg_plen
			pinfo.cols.info = pre .. prefix .. "[" .. fstr .. "] " .. text
		else
			poff, plen = hlen, 0
			pinfo.cols.info = prefix .. "[" .. fstr .. "] (short)"
		end
	end

	dtree:add(f.len, plen):set_generated()
	if plen > 0 and poff < avail then
		local n = math.min(plen, avail - poff)
		dtree:add(f.payload, tvb(poff, n))
		data_dissector:call(tvb(poff, n):tvb(), pinfo, tree)
	end
	if len_ok and length < reported and length < avail then
		dtree:add(f.padding, tvb(length, avail - length))
	end
	return avail
end

-- Registration on ip.proto, moved when the preference changes.
local registered
local function register()
	local t = DissectorTable.get("ip.proto")
	local want = demo.prefs.ipproto
	if want > 255 then
		want = IPPROTO_DEMO
	end
	if registered == want then
		return
	end
	if registered then
		t:remove(registered, demo)
	end
	t:add(want, demo)
	registered = want
end

function demo.prefs_changed()
	register()
end

register()
pcall(function()
	DissectorTable.get("ip.proto"):add_for_decode_as(demo)
end)
