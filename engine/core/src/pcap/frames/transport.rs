//! What follows an IP header: TCP, UDP, ICMP, ICMPv6, SCTP, IGMP, GRE and
//! IP-in-IP (tunnels, one level deep), or bytes of anything else.

use super::builder::Builder;
use super::ip;
use super::link;
use super::pools::{self, port};
use super::rng::Rng;

pub fn transport(b: &mut Builder, rng: &mut Rng, proto: u8, depth: u8) {
    match proto {
        6 => tcp(b, rng),
        17 => udp(b, rng),
        1 | 58 => icmp(b, rng, proto == 58),
        132 => {
            b.tag("sctp");
            b.u16(port(rng));
            b.mark();
            b.u16(port(rng));
            b.u32(rng.u32());
            b.u32(0);
            payload(b, rng);
        }
        2 => {
            b.tag("igmp");
            b.u8(rng.pick(&[0x11, 0x16, 0x17, 0x22]));
            b.put(&rng.bytes(7));
        }
        47 => gre(b, rng, depth),
        4 | 41 if depth == 0 => {
            b.tag("ip-in-ip");
            if proto == 4 {
                ip::ipv4(b, rng, depth + 1, transport);
            } else {
                ip::ipv6(b, rng, depth + 1, transport);
            }
        }
        _ => payload(b, rng),
    }
}

/// Payload bytes, now and then starting with what byte expressions look
/// for (an HTTP request, a marker word).
fn payload(b: &mut Builder, rng: &mut Rng) {
    let n = rng.pick(&[0, 0, 4, 8, 20, 40]);
    let mut bytes = rng.bytes(n);
    let start: &[u8] = rng.pick(&[&b"GET "[..], &[0x12, 0x34], &[], &[], &[]]);
    if n >= start.len() {
        bytes[..start.len()].copy_from_slice(start);
    }
    b.put(&bytes);
}

fn tcp(b: &mut Builder, rng: &mut Rng) {
    b.tag("tcp");
    b.u16(port(rng));
    b.mark();
    b.u16(port(rng));
    b.u32(if rng.one_in(8) { 0 } else { rng.u32() });
    b.u32(rng.u32());
    b.mark();
    let doff: u8 = match rng.below(20) {
        0..=2 => 6 + rng.below(4) as u8,
        3 => rng.below(5) as u8,
        _ => 5,
    };
    b.u8(doff << 4);
    b.mark();
    b.u8(if rng.one_in(8) {
        rng.u8()
    } else {
        rng.pick(pools::TCP_FLAGS)
    });
    b.u16(rng.u16());
    b.u32(0);
    for _ in 5..doff {
        b.put(&[1, 1, 1, 0]);
    }
    payload(b, rng);
}

fn udp(b: &mut Builder, rng: &mut Rng) {
    b.tag("udp");
    let start = b.len();
    b.u16(port(rng));
    b.mark();
    b.u16(port(rng));
    let len_at = b.len();
    b.u16(0);
    b.u16(0);
    payload(b, rng);
    let len = (b.len() - start) as u16;
    b.patch_u16(len_at, len);
}

fn icmp(b: &mut Builder, rng: &mut Rng, v6: bool) {
    b.tag(if v6 { "icmp6" } else { "icmp" });
    let types = if v6 {
        pools::ICMP6_TYPES
    } else {
        pools::ICMP_TYPES
    };
    b.u8(if rng.one_in(8) {
        rng.u8()
    } else {
        rng.pick(types)
    });
    b.u8(rng.pick(&[0, 0, 1, 3]));
    b.u16(0);
    b.u32(rng.u32());
    payload(b, rng);
}

/// GRE, now and then with checksum and key, over IPv4, IPv6 or Ethernet.
fn gre(b: &mut Builder, rng: &mut Rng, depth: u8) {
    b.tag("gre");
    let flags = rng.pick(&[0u16, 0x2000, 0xa000, 0x8000]);
    b.u16(flags);
    let proto = rng.pick(&[0x0800u16, 0x86dd, 0x6558, 0x880b]);
    b.u16(proto);
    if flags & 0x8000 != 0 {
        b.u32(0);
    }
    if flags & 0x2000 != 0 {
        b.u32(rng.u32());
    }
    b.mark();
    match proto {
        0x0800 if depth == 0 => ip::ipv4(b, rng, depth + 1, transport),
        0x86dd if depth == 0 => ip::ipv6(b, rng, depth + 1, transport),
        0x6558 if depth == 0 => link::ethernet_inner(b, rng, transport),
        _ => payload(b, rng),
    }
}
