//! A cheap test a packet must pass before a pcap-filter part can accept
//! it, for the hook pre-check: which (link layer, network protocol)
//! classes libpcap's program can accept at all.
//!
//! A packet's class is its key: seen from an Ethernet header, the
//! ethertype and, for IPv4 and IPv6, the protocol byte of the IP header
//! (IPv4's byte 9, IPv6's next header); seen from the IP header (raw IP),
//! the version nibble and the same protocol byte. Captures too short to
//! hold those bytes have keys of their own. [`frame_key`] computes it, and
//! the kernel computes it the same way (ebpf/guard.bpf.h).
//!
//! Which keys a program can accept is found by running it on what each
//! class fixes (abstract_run.rs): every constant the program compares with
//! is a class of its own, and all other values one more class ("none of
//! those"). Nothing is assumed of the rest of the packet, so a key left
//! out is one no packet with it can be accepted by, whatever its other
//! bytes: the pre-check never turns away what the program would accept.

use super::abstract_run::{may_accept, Excluded, Facts};
use super::insn::{class, src};
use super::validate::Program;

/// Keys of packets seen from the IP header have this bit.
pub const KEY_RAW: u64 = 1 << 32;
/// The capture is too short for the ethertype (or, raw, empty).
pub const KEY_SHORT: u64 = 1 << 25;
/// The protocol byte is past the end of the capture.
pub const KEY_NO_PROTO: u64 = 1 << 8;

const ETHERTYPE_OFF: u32 = 12;
const ETH_HLEN: u32 = 14;
const ETH_P_IP: u32 = 0x0800;
const ETH_P_IPV6: u32 = 0x86dd;
/// Where the protocol byte is, from the network header.
const IPV4_PROTO_OFF: u32 = 9;
const IPV6_NEXT_OFF: u32 = 6;

/// An inclusive range of keys.
pub type KeyRange = (u64, u64);

/// The key of a packet whose captured bytes are `frame`, seen from the
/// Ethernet header or (`raw_ip`) from the IP header.
pub fn frame_key(frame: &[u8], raw_ip: bool) -> u64 {
    let len = frame.len();
    let (base, class, l3) = if raw_ip {
        let Some(&b0) = frame.first() else {
            return KEY_RAW | KEY_SHORT;
        };
        let version = u32::from(b0 >> 4);
        (KEY_RAW, version, version)
    } else {
        if len < ETH_HLEN as usize {
            return KEY_SHORT;
        }
        let e = u32::from(u16::from_be_bytes([frame[12], frame[13]]));
        (0, e, e)
    };
    let Some(proto_off) = proto_offset(l3, raw_ip) else {
        return base | u64::from(class) << 9;
    };
    match frame.get(proto_off as usize) {
        Some(&p) => base | u64::from(class) << 9 | u64::from(p),
        None => base | u64::from(class) << 9 | KEY_NO_PROTO,
    }
}

/// Where the protocol byte of this class is, when it has one.
fn proto_offset(class: u32, raw_ip: bool) -> Option<u32> {
    match (raw_ip, class) {
        (false, ETH_P_IP) => Some(ETH_HLEN + IPV4_PROTO_OFF),
        (false, ETH_P_IPV6) => Some(ETH_HLEN + IPV6_NEXT_OFF),
        (true, 4) => Some(IPV4_PROTO_OFF),
        (true, 6) => Some(IPV6_NEXT_OFF),
        _ => None,
    }
}

/// The keys a pcap-filter part can accept: those of its Ethernet program
/// and those of its raw-IP program (none when libpcap refused one).
pub fn admitted_keys(ether: &Program, raw: Option<&Program>) -> Vec<KeyRange> {
    let mut keys = view_keys(ether, false);
    if let Some(raw) = raw {
        keys.extend(view_keys(raw, true));
    }
    merge(keys)
}

/// Whether `key` is in one of `ranges`.
pub fn admits(ranges: &[KeyRange], key: u64) -> bool {
    ranges.iter().any(|&(lo, hi)| lo <= key && key <= hi)
}

fn view_keys(prog: &Program, raw_ip: bool) -> Vec<KeyRange> {
    let consts = jump_constants(prog);
    let mut keys = Vec::new();
    let base = if raw_ip { KEY_RAW } else { 0 };
    // Too short for the class byte(s).
    let short = Facts {
        max_len: Some(if raw_ip { 0 } else { ETH_HLEN - 1 }),
        ..Facts::default()
    };
    if may_accept(prog, &short) {
        keys.push((base | KEY_SHORT, base | KEY_SHORT));
    }
    let (classes, other): (Vec<u32>, Option<Excluded>) = if raw_ip {
        ((0..16).collect(), None)
    } else {
        let wide: Vec<u32> = consts.iter().copied().filter(|&c| c <= 0xffff).collect();
        let other = Excluded {
            offset: ETHERTYPE_OFF,
            bytes: 2,
            values: wide.clone(),
        };
        (wide, Some(other))
    };
    let class_bytes = |c: u32| -> Vec<(u32, u8, u8)> {
        if raw_ip {
            vec![(0, (c << 4) as u8, 0xf0)]
        } else {
            vec![(12, (c >> 8) as u8, 0xff), (13, c as u8, 0xff)]
        }
    };
    let span = |lo: u32, hi: u32| (base | u64::from(lo) << 9, base | u64::from(hi) << 9 | 0x1ff);
    for &c in &classes {
        let bytes = class_bytes(c);
        let Some(poff) = proto_offset(c, raw_ip) else {
            let facts = Facts {
                bytes,
                ..Facts::default()
            };
            if may_accept(prog, &facts) {
                keys.push(span(c, c));
            }
            continue;
        };
        keys.extend(
            proto_keys(prog, &consts, bytes, poff)
                .into_iter()
                .map(|(lo, hi)| (base | u64::from(c) << 9 | lo, base | u64::from(c) << 9 | hi)),
        );
    }
    if let Some(other) = other {
        let gaps = gaps(&other.values, 0xffff);
        let facts = Facts {
            excluded: Some(other),
            ..Facts::default()
        };
        if may_accept(prog, &facts) {
            keys.extend(gaps.into_iter().map(|(lo, hi)| span(lo, hi)));
        }
    }
    keys
}

/// The protocol-byte part of the keys (0..=0x1ff) a class can accept.
fn proto_keys(
    prog: &Program,
    consts: &[u32],
    bytes: Vec<(u32, u8, u8)>,
    poff: u32,
) -> Vec<(u64, u64)> {
    let narrow: Vec<u32> = consts.iter().copied().filter(|&c| c <= 0xff).collect();
    let mut keys = Vec::new();
    for &p in &narrow {
        let mut b = bytes.clone();
        b.push((poff, p as u8, 0xff));
        let facts = Facts {
            bytes: b,
            ..Facts::default()
        };
        if may_accept(prog, &facts) {
            keys.push((u64::from(p), u64::from(p)));
        }
    }
    let other = Facts {
        bytes: bytes.clone(),
        excluded: Some(Excluded {
            offset: poff,
            bytes: 1,
            values: narrow.clone(),
        }),
        max_len: None,
    };
    if may_accept(prog, &other) {
        keys.extend(
            gaps(&narrow, 0xff)
                .into_iter()
                .map(|(lo, hi)| (u64::from(lo), u64::from(hi))),
        );
    }
    let cut = Facts {
        bytes,
        excluded: None,
        max_len: Some(poff),
    };
    if may_accept(prog, &cut) {
        keys.push((KEY_NO_PROTO, KEY_NO_PROTO));
    }
    keys
}

/// The constants the program's conditional jumps compare with, sorted.
fn jump_constants(prog: &Program) -> Vec<u32> {
    let mut out: Vec<u32> = prog
        .insns()
        .iter()
        .filter(|i| i.class() == class::JMP && i.src() == src::K)
        .map(|i| i.k)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The values of 0..=max that are not in the sorted `values`, as ranges.
fn gaps(values: &[u32], max: u32) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let mut next = 0u32;
    for &v in values.iter().filter(|&&v| v <= max) {
        if v > next {
            out.push((next, v - 1));
        }
        next = v + 1;
    }
    if next <= max {
        out.push((next, max));
    }
    out
}

/// A range of keys as `ferret check` shows it.
pub fn range_text(lo: u64, hi: u64) -> String {
    let class = |k: u64| k & !0x1ff;
    if lo == hi || class(lo) != class(hi) || lo & KEY_SHORT != 0 {
        let (a, b) = (key_text(lo, None), key_text(hi, None));
        return if lo == hi { a } else { format!("{a} .. {b}") };
    }
    key_text(lo, Some(hi))
}

/// One key, or (`upto`) the keys of its class from it to `upto`.
fn key_text(key: u64, upto: Option<u64>) -> String {
    let raw = key & KEY_RAW != 0;
    let view = if raw { "IP" } else { "Ethernet" };
    if key & KEY_SHORT != 0 {
        return format!("{view} capture cut before its type");
    }
    let cls = (key >> 9) & 0xffff;
    let class = match (raw, cls) {
        (false, c) => format!("ethertype {c:#06x}"),
        (true, v) => format!("IP version {v}"),
    };
    let low = |k: u64| k & 0x1ff;
    let proto = |k: u64| match low(k) {
        p if p & KEY_NO_PROTO != 0 => "cut".to_string(),
        p => p.to_string(),
    };
    match (proto_offset(cls as u32, raw), upto) {
        (None, _) => class,
        (Some(_), None) => format!("{class} protocol {}", proto(key)),
        (Some(_), Some(hi)) if low(key) == 0 && low(hi) == 0x1ff => {
            format!("{class} (any protocol)")
        }
        (Some(_), Some(hi)) => format!("{class} protocol {}..{}", proto(key), proto(hi)),
    }
}

/// Sorted, with overlapping and touching ranges joined.
pub fn merge(mut ranges: Vec<KeyRange>) -> Vec<KeyRange> {
    ranges.sort_unstable();
    let mut out: Vec<KeyRange> = Vec::new();
    for (lo, hi) in ranges {
        match out.last_mut() {
            Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

/// At most `n` ranges: the smallest gaps are filled first (a pre-check
/// holds a few; filling a gap only lets more through).
pub fn fit(mut ranges: Vec<KeyRange>, n: usize) -> Vec<KeyRange> {
    while ranges.len() > n {
        let i = (0..ranges.len() - 1)
            .min_by_key(|&i| ranges[i + 1].0 - ranges[i].1)
            .expect("more than one range");
        ranges[i].1 = ranges[i + 1].1;
        ranges.remove(i + 1);
    }
    ranges
}

#[cfg(test)]
#[path = "prefilter_tests.rs"]
mod tests;
