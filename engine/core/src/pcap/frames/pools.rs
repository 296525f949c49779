//! The values frames are built from: small pools, so that the addresses,
//! ports and tags a test's expressions name turn up often, with the odd
//! edge (broadcast, multicast, IPv4-mapped, zero) and a random value mixed in.

use super::rng::Rng;

pub const MACS: &[[u8; 6]] = &[
    [0x00, 0x11, 0x22, 0x33, 0x44, 0x55],
    [0x02, 0x00, 0x00, 0x00, 0x00, 0x01],
    [0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    [0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb],
    [0x33, 0x33, 0x00, 0x00, 0x00, 0x01],
    [0x01, 0x80, 0xc2, 0x00, 0x00, 0x00],
];

pub const IPV4: &[[u8; 4]] = &[
    [192, 0, 2, 1],
    [192, 0, 2, 2],
    [192, 0, 2, 255],
    [198, 51, 100, 7],
    [10, 1, 2, 3],
    [10, 0, 0, 1],
    [172, 16, 5, 4],
    [127, 0, 0, 1],
    [224, 0, 0, 251],
    [239, 1, 2, 3],
    [255, 255, 255, 255],
    [0, 0, 0, 0],
];

pub const IPV6: &[[u8; 16]] = &[
    [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
    [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5],
    [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1],
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3],
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
];

pub const PORTS: &[u16] = &[
    80, 443, 80, 443, 80, 443, 22, 53, 8080, 1024, 6000, 0, 65535, 123, 179, 20, 21, 25, 161, 514,
    4789, 6081,
];

pub const VLAN_IDS: &[u16] = &[1, 10, 100, 200, 4095, 0];

/// Ethertypes of neither IP nor ARP, plus a few with their own words.
pub const OTHER_ETHERTYPES: &[u16] = &[
    0x88cc, 0x8847, 0x8848, 0x88e5, 0x0842, 0x22f0, 0x9000, 0x8863, 0x809b, 0x80f3, 0x8137, 0x6003,
    0x6004, 0x88f7, 0x0600, 0x05dd,
];

/// IPv4 protocols and IPv6 last headers.
pub const IP_PROTOS: &[u8] = &[
    6, 6, 6, 17, 17, 17, 1, 132, 47, 2, 4, 41, 50, 51, 103, 112, 89,
];
pub const IP6_PROTOS: &[u8] = &[6, 6, 6, 17, 17, 17, 58, 58, 132, 47, 59, 4, 41, 50, 103];

/// IPv6 extension headers (hop-by-hop, routing, fragment, destination
/// options, AH).
pub const IP6_EXTS: &[u8] = &[0, 43, 44, 60, 51];

pub const TCP_FLAGS: &[u8] = &[
    0x02, 0x12, 0x10, 0x04, 0x11, 0x18, 0x14, 0x01, 0x00, 0xff, 0x29, 0x42,
];

pub const ICMP_TYPES: &[u8] = &[8, 0, 3, 11, 5, 13, 14, 17, 4, 12, 9, 10];
pub const ICMP6_TYPES: &[u8] = &[128, 129, 1, 2, 3, 4, 133, 134, 135, 136, 137, 143, 130];

/// A pooled value or, one time in `n`, a random one.
pub fn or_random<const N: usize>(rng: &mut Rng, pool: &[[u8; N]], n: usize) -> [u8; N] {
    if rng.one_in(n) {
        let mut v = [0u8; N];
        v.iter_mut().for_each(|b| *b = rng.u8());
        v
    } else {
        rng.pick(pool)
    }
}

pub fn port(rng: &mut Rng) -> u16 {
    if rng.one_in(6) {
        rng.u16()
    } else {
        rng.pick(PORTS)
    }
}
