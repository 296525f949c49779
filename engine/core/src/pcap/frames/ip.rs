//! IPv4 (options, fragments, bad IHL and version, wrong total length) and
//! IPv6 (chains of extension headers, fragments first and later).

use super::builder::Builder;
use super::pools::{self, or_random};
use super::rng::Rng;

/// Builds what follows an IP header, given its protocol number and the
/// tunnel depth. Passed in rather than imported, since tunnels (GRE,
/// IP-in-IP) carry IP again: the caller picks it, and this file does not
/// depend on the layers above it.
pub type NextHeader = fn(&mut Builder, &mut Rng, u8, u8);

pub fn ipv4(b: &mut Builder, rng: &mut Rng, depth: u8, next: NextHeader) {
    let start = b.len();
    b.mark();
    let version: u8 = if rng.one_in(25) {
        rng.pick(&[0, 6, 5, 15])
    } else {
        4
    };
    let ihl: u8 = match rng.below(30) {
        0..=3 => 6 + rng.below(10) as u8,
        4 => rng.below(5) as u8,
        _ => 5,
    };
    b.tag(format!("ipv4 v{version} ihl{ihl}"));
    b.u8((version << 4) | ihl);
    b.u8(if rng.one_in(4) { rng.u8() } else { 0 });
    let total_at = b.len();
    b.u16(0);
    b.u16(rng.u16());
    b.mark();
    let (frag, what) = rng.pick(&[
        (0x0000u16, ""),
        (0x4000, ""),
        (0x4000, ""),
        (0x2000, "frag first"),
        (0x2000 | 0x00b9, "frag later"),
        (0x0001, "frag last"),
        (0x1fff, "frag last"),
    ]);
    if !what.is_empty() {
        b.tag(what);
    }
    b.u16(frag);
    b.u8(rng.pick(&[64, 1, 255, 0]));
    let proto = if rng.one_in(10) {
        rng.u8()
    } else {
        rng.pick(pools::IP_PROTOS)
    };
    b.u8(proto);
    b.u16(0);
    b.mark();
    b.put(&or_random(rng, pools::IPV4, 6));
    b.mark();
    b.put(&or_random(rng, pools::IPV4, 6));
    for _ in 5..ihl {
        let opt = match rng.below(4) {
            0 => [1, 1, 1, 1],
            1 => [1, 1, 1, 0],
            2 => [7, 4, 4, 0],
            _ => [rng.u8(), rng.u8(), rng.u8(), rng.u8()],
        };
        b.put(&opt);
    }
    b.mark();
    next(b, rng, proto, depth);
    let total = match rng.below(15) {
        0 => rng.u16(),
        1 => (b.len() - start) as u16 / 2,
        _ => (b.len() - start) as u16,
    };
    b.patch_u16(total_at, total);
}

pub fn ipv6(b: &mut Builder, rng: &mut Rng, depth: u8, next: NextHeader) {
    let start = b.len();
    b.mark();
    let version: u8 = if rng.one_in(25) {
        rng.pick(&[4, 0, 7])
    } else {
        6
    };
    b.tag(format!("ipv6 v{version}"));
    b.u32((u32::from(version) << 28) | (rng.u32() & 0x0fff_ffff));
    let plen_at = b.len();
    b.u16(0);
    let exts = rng.pick(&[0, 0, 0, 0, 1, 1, 2, 3, 4]);
    let chain: Vec<u8> = (0..exts).map(|_| rng.pick(pools::IP6_EXTS)).collect();
    let last = if rng.one_in(10) {
        rng.u8()
    } else {
        rng.pick(pools::IP6_PROTOS)
    };
    b.u8(chain.first().copied().unwrap_or(last));
    b.u8(rng.pick(&[64, 255, 1]));
    b.mark();
    b.put(&or_random(rng, pools::IPV6, 6));
    b.mark();
    b.put(&or_random(rng, pools::IPV6, 6));
    for (i, &ext) in chain.iter().enumerate() {
        let next = chain.get(i + 1).copied().unwrap_or(last);
        ext_header(b, rng, ext, next);
    }
    b.mark();
    next(b, rng, last, depth);
    let plen = if rng.one_in(15) {
        rng.u16()
    } else {
        (b.len() - start - 40) as u16
    };
    b.patch_u16(plen_at, plen);
}

fn ext_header(b: &mut Builder, rng: &mut Rng, ext: u8, next: u8) {
    b.mark();
    b.u8(next);
    match ext {
        44 => {
            let (off, what) = rng.pick(&[
                (0x0001u16, "first"),
                (0x00b9 << 3, "later"),
                ((0x00b9 << 3) | 1, "middle"),
            ]);
            b.tag(format!("ip6 frag {what}"));
            b.u8(0);
            b.u16(off);
            b.u32(rng.u32());
        }
        51 => {
            // AH counts 4-byte words, minus 2.
            let words = rng.pick(&[1u8, 4]);
            b.tag("ip6 ah");
            b.u8(words);
            let n = (usize::from(words) + 2) * 4 - 2;
            b.put(&rng.bytes(n));
        }
        _ => {
            let len = rng.pick(&[0u8, 0, 1, 2]);
            b.tag(format!("ip6 ext {ext}"));
            b.u8(len);
            // Pad options (PadN) keep hop-by-hop and destination options well formed.
            let n = (usize::from(len) + 1) * 8 - 2;
            let body: Vec<u8> = if ext == 43 || rng.one_in(3) {
                rng.bytes(n)
            } else {
                vec![0; n]
            };
            b.put(&body);
        }
    }
}
