//! Link layer and what is not IP: Ethernet, VLAN and QinQ tags, ARP and
//! RARP, 802.3 frames with LLC, PPPoE sessions, MPLS and other ethertypes.

use super::builder::Builder;
use super::ip::{self, NextHeader};
use super::pools::{self, or_random};
use super::rng::Rng;

/// An Ethernet frame: addresses, 0-3 tags, then a payload of some kind.
pub fn ethernet(b: &mut Builder, rng: &mut Rng, next: NextHeader) {
    b.mark();
    let dst = or_random(rng, pools::MACS, 5);
    let src = or_random(rng, pools::MACS, 5);
    b.put(&dst);
    b.put(&src);
    let tags = rng.pick(&[0, 0, 0, 0, 0, 1, 1, 2, 3]);
    for _ in 0..tags {
        b.mark();
        let tpid = rng.pick(&[0x8100, 0x8100, 0x88a8, 0x9100]);
        let vid = if rng.one_in(5) {
            rng.u16() & 0xfff
        } else {
            rng.pick(pools::VLAN_IDS)
        };
        let pcp = (rng.u16() & 7) << 13;
        b.u16(tpid);
        b.u16(pcp | vid);
        b.tag(format!("vlan{vid}"));
    }
    b.mark();
    match rng.below(100) {
        0..=37 => {
            b.u16(0x0800);
            ip::ipv4(b, rng, 0, next);
        }
        38..=69 => {
            b.u16(0x86dd);
            ip::ipv6(b, rng, 0, next);
        }
        70..=78 => {
            b.u16(0x0806);
            arp(b, rng, "arp");
        }
        79..=80 => {
            b.u16(0x8035);
            arp(b, rng, "rarp");
        }
        81..=86 => llc(b, rng),
        87..=88 => pppoe_session(b, rng, next),
        89..=90 => mpls(b, rng, next),
        _ => {
            let et = if rng.one_in(4) {
                rng.u16()
            } else {
                rng.pick(pools::OTHER_ETHERTYPES)
            };
            b.u16(et);
            b.tag(format!("ethertype {et:#06x}"));
            b.mark();
            let n = rng.below(50);
            b.put(&rng.bytes(n));
        }
    }
}

/// The Ethernet frame inside a tunnel: IPv4 or IPv6, no deeper tunnel.
pub fn ethernet_inner(b: &mut Builder, rng: &mut Rng, next: NextHeader) {
    b.tag("inner ether");
    let dst = or_random(rng, pools::MACS, 5);
    let src = or_random(rng, pools::MACS, 5);
    b.put(&dst);
    b.put(&src);
    if rng.one_in(2) {
        b.u16(0x0800);
        ip::ipv4(b, rng, 1, next);
    } else {
        b.u16(0x86dd);
        ip::ipv6(b, rng, 1, next);
    }
}

/// ARP or RARP; now and then with odd hardware or protocol sizes.
fn arp(b: &mut Builder, rng: &mut Rng, name: &str) {
    b.mark();
    b.tag(name);
    let odd = rng.one_in(8);
    let (hlen, plen) = if odd {
        (rng.pick(&[0, 4, 8, 6]), rng.pick(&[16, 4, 0, 6]))
    } else {
        (6, 4)
    };
    b.u16(if odd { rng.pick(&[1, 6, 0x100]) } else { 1 });
    b.u16(if odd {
        rng.pick(&[0x0800, 0x86dd])
    } else {
        0x0800
    });
    b.u8(hlen);
    b.u8(plen);
    b.u16(rng.pick(&[1, 2, 3, 4]));
    for _ in 0..2 {
        b.mark();
        let mac = or_random(rng, pools::MACS, 4);
        let addr = or_random(rng, pools::IPV4, 4);
        if odd {
            let h = rng.bytes(hlen as usize);
            b.put(&h);
            let p = rng.bytes(plen as usize);
            b.put(&p);
        } else {
            b.put(&mac);
            b.mark();
            b.put(&addr);
        }
    }
}

/// An 802.3 frame: a length instead of an ethertype, then LLC (STP, SNAP,
/// ISO, IPX) or Novell's raw IPX.
fn llc(b: &mut Builder, rng: &mut Rng) {
    let len_at = b.len();
    b.u16(0);
    b.mark();
    let (dsap, ssap) = rng.pick(&[
        (0x42, 0x42),
        (0xaa, 0xaa),
        (0xfe, 0xfe),
        (0xe0, 0xe0),
        (0xff, 0xff),
        (0xf0, 0xf0),
    ]);
    b.tag(format!("llc {dsap:#04x}"));
    b.u8(dsap);
    b.u8(ssap);
    b.u8(rng.pick(&[0x03, 0x03, 0xf3, 0x00]));
    if dsap == 0xaa {
        b.put(&[0, 0, 0]);
        b.u16(rng.pick(&[0x0800, 0x809b, 0x80f3, 0x8137]));
    }
    if dsap == 0xfe {
        // An OSI network layer protocol id: CLNP, ES-IS or IS-IS, then
        // (for IS-IS) a PDU type among hellos, LSPs and sequence numbers.
        b.mark();
        b.u8(rng.pick(&[0x81, 0x82, 0x83, 0x83]));
        b.put(&[rng.u8(), 1, 0]);
        b.u8(rng.pick(&[15, 16, 17, 18, 20, 24, 26]));
    }
    let n = rng.below(40);
    b.put(&rng.bytes(n));
    let len = if rng.one_in(6) {
        rng.u16() % 1536
    } else {
        (b.len() - len_at - 2) as u16
    };
    b.patch_u16(len_at, len);
}

/// A PPPoE session frame carrying IPv4 or IPv6.
fn pppoe_session(b: &mut Builder, rng: &mut Rng, next: NextHeader) {
    b.u16(0x8864);
    b.tag("pppoes");
    b.mark();
    b.u8(0x11);
    b.u8(0);
    b.u16(rng.pick(&[1, 0x1234, 0xffff]));
    let len_at = b.len();
    b.u16(0);
    b.mark();
    if rng.one_in(2) {
        b.u16(0x0021);
        ip::ipv4(b, rng, 1, next);
    } else {
        b.u16(0x0057);
        ip::ipv6(b, rng, 1, next);
    }
    let len = (b.len() - len_at - 2) as u16;
    b.patch_u16(len_at, len);
}

/// One to three MPLS labels over IPv4 or IPv6.
fn mpls(b: &mut Builder, rng: &mut Rng, next: NextHeader) {
    b.u16(0x8847);
    let labels = 1 + rng.below(3);
    for i in 0..labels {
        b.mark();
        let label = rng.pick(&[16u32, 100, 1000, 0, 2, 0xfffff]);
        b.tag(format!("mpls{label}"));
        let bottom = u32::from(i + 1 == labels);
        b.u32((label << 12) | (bottom << 8) | 64);
    }
    b.mark();
    if rng.one_in(2) {
        ip::ipv4(b, rng, 1, next);
    } else {
        ip::ipv6(b, rng, 1, next);
    }
}
