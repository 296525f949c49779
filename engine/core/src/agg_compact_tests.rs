use super::*;
use crate::catalog::FIELDS;

/// Every `count_fields` the compact tier takes: subsets of the numeric
/// fields whose widths add up to 8 bytes at most.
fn qualifying() -> Vec<u64> {
    let numeric: Vec<u8> = fields_of(abi::COMPACT_FIELDS).collect();
    (0u32..1 << numeric.len())
        .map(|pick| {
            numeric
                .iter()
                .enumerate()
                .filter(|(i, _)| pick & (1 << i) != 0)
                .fold(0u64, |m, (_, f)| m | 1 << f)
        })
        .filter(|&fields| is_compact(fields))
        .collect()
}

/// A packet carrying every field; each numeric field gets a value that
/// fills its width with a pattern of its own (a mix-up between fields or a
/// bit lost at a width's edge changes the key).
fn packet(seed: u64) -> Meta {
    let v = |f: u8, bytes: u32| {
        let x = ((u64::from(f) << 4 | 0x81) * 0x0101_0101) ^ seed;
        x & ((1u64 << (8 * bytes)) - 1)
    };
    Meta {
        sport: v(field::SPORT, 2) as u16,
        dport: v(field::DPORT, 2) as u16,
        proto: v(field::PROTO, 1) as u8,
        family: v(field::FAMILY, 2) as u16,
        len: v(field::LEN, 4) as u32,
        mark: v(field::MARK, 4) as u32,
        ifindex: v(field::IFINDEX, 4) as u32,
        netns: v(field::NETNS, 4) as u32,
        pid: v(field::PID, 4) as u32,
        tcpflags: v(field::TCPFLAGS, 1) as u8,
        ttl: v(field::TTL, 1) as u8,
        reason: v(field::REASON, 4) as u32,
        func_id: v(field::FUNC, 4) as u32,
        cpu: v(field::CPU, 4) as u32,
        present: (1 << field::COUNT) - 2,
        saddr: [0xaa; 16],
        daddr: [0xbb; 16],
        ifname: *b"veth0\0\0\0\0\0\0\0\0\0\0\0",
        comm: *b"curl\0\0\0\0\0\0\0\0\0\0\0\0",
        ..Meta::default()
    }
}

#[test]
fn widths_are_the_catalog_widths_and_bytes_fields_have_none() {
    for def in FIELDS {
        match width(def.id) {
            Some(bytes) => assert_eq!(8 * bytes, def.bits, "{}", def.name),
            None => assert_eq!(def.bits, 128, "{} can be packed", def.name),
        }
    }
    assert_eq!(width(field::COUNT), None);
    assert_eq!(width(0), None);
    assert_eq!(width(63), None);
}

#[test]
fn which_rules_qualify() {
    let of = |fs: &[u8]| fs.iter().fold(0u64, |m, f| m | 1 << f);
    for yes in [
        &[field::DPORT][..],
        &[field::SPORT, field::DPORT],
        &[field::DPORT, field::PROTO],
        &[field::IFINDEX],
        &[field::MARK],
        &[field::NETNS],
        &[field::REASON, field::DPORT],
        &[field::LEN, field::PID],
        &[
            field::SPORT,
            field::DPORT,
            field::PROTO,
            field::TTL,
            field::TCPFLAGS,
        ],
    ] {
        assert!(is_compact(of(yes)), "{yes:?}");
    }
    for no in [
        &[field::SADDR][..],
        &[field::DADDR, field::DPORT],
        &[field::IFNAME],
        &[field::COMM],
        &[field::SPORT, field::DPORT, field::LEN, field::MARK],
        &[field::REASON, field::CPU, field::PROTO],
    ] {
        assert!(!is_compact(of(no)), "{no:?}");
    }
    // Bits that name no field never qualify.
    assert!(!is_compact(1 << 40 | 1 << field::DPORT));
}

#[test]
fn every_qualifying_key_unpacks_to_the_big_key() {
    let all = qualifying();
    // Counted another way: n1 of the 3 one-byte fields, n2 of the 3
    // two-byte ones, n4 of the 8 four-byte ones, n1 + 2 n2 + 4 n4 <= 8.
    let choose = |n: u64, k: u64| (0..k).fold(1, |c, i| c * (n - i) / (i + 1));
    let mut want = 0;
    for n1 in 0..=3 {
        for n2 in 0..=3 {
            for n4 in 0..=2 {
                if n1 + 2 * n2 + 4 * n4 <= 8 {
                    want += choose(3, n1) * choose(3, n2) * choose(8, n4);
                }
            }
        }
    }
    assert_eq!(all.len() as u64, want);
    for seed in [0, u64::MAX, 0x5a5a_5a5a] {
        let full = packet(seed);
        for &fields in &all {
            // All present, then each chosen field absent in turn, then none.
            let mut packets = vec![full];
            for f in fields_of(fields as u32) {
                let mut m = full;
                m.present &= !(1 << f);
                packets.push(m);
            }
            let mut none = full;
            none.present = 0;
            packets.push(none);
            for m in packets {
                let key = pack(9, fields, &m).expect("qualifies");
                assert_eq!(
                    unpack(&key),
                    big_key(9, fields, &m),
                    "fields {fields:#x} present {:#x}",
                    m.present
                );
            }
        }
    }
}

#[test]
fn absent_fields_are_zero_and_take_no_room() {
    let fields = 1u64 << field::SPORT | 1 << field::DPORT;
    let mut m = packet(0);
    m.sport = 0x1234;
    m.dport = 0xabcd;
    let both = pack(1, fields, &m).unwrap();
    assert_eq!((both.present, both.packed), (fields as u32, 0xabcd_1234));
    m.present &= !(1 << field::SPORT);
    let dport = pack(1, fields, &m).unwrap();
    assert_eq!(
        (dport.present, dport.packed),
        (1 << field::DPORT, 0xabcd),
        "dport moves down into sport's room"
    );
    let key = unpack(&dport);
    assert_eq!((key.sport, key.dport), (0, 0xabcd));
}

#[test]
fn keys_of_different_values_differ() {
    // `reason, dport`: 6 bytes; a value at each width's top must not bleed
    // into the next field.
    let fields = 1u64 << field::REASON | 1 << field::DPORT;
    let mut a = packet(0);
    (a.reason, a.dport) = (u32::MAX, 0);
    let mut b = a;
    (b.reason, b.dport) = (0, u16::MAX);
    let (ka, kb) = (pack(0, fields, &a).unwrap(), pack(0, fields, &b).unwrap());
    assert_ne!(ka, kb);
    assert_eq!(unpack(&ka).reason, u32::MAX);
    assert_eq!(unpack(&kb).dport, u16::MAX);
}

#[test]
fn rules_that_do_not_qualify_have_no_compact_key() {
    let m = packet(0);
    assert_eq!(pack(0, 1 << field::SADDR, &m), None);
    assert_eq!(pack(0, 1 << field::COMM | 1 << field::DPORT, &m), None);
    let wide = 1u64 << field::LEN | 1 << field::MARK | 1 << field::PID;
    assert_eq!(pack(0, wide, &m), None);
}

#[test]
fn rows_unpack_every_entry() {
    let fields = 1u64 << field::DPORT;
    let m = packet(0);
    let key = pack(4, fields, &m).unwrap();
    assert_eq!(rows([(key, 7)]), [(big_key(4, fields, &m), 7)]);
}
