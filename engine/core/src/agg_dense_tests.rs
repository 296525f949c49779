use super::*;
use crate::abi::field;

const DENSE: [u8; 5] = [
    field::PROTO,
    field::TCPFLAGS,
    field::TTL,
    field::REASON,
    field::CPU,
];

/// The hash path's key, as `fill_agg_key` in ebpf/agg.bpf.h builds it.
fn hash_key(slot: u32, fields: u64, m: &Meta) -> AggKey {
    crate::agg_compact::big_key(slot, fields, m)
}

/// A packet carrying every field, each with a nonzero value; the chosen
/// field gets `value`.
fn packet(f: u8, value: u32) -> Meta {
    let mut m = Meta {
        cpu: 1,
        pid: 4242,
        netns: 4026531840,
        ifindex: 3,
        mark: 0xbeef,
        len: 1234,
        reason: 2,
        func_id: 1025,
        present: (1 << field::COUNT) - 2,
        family: 0x0800,
        proto: 6,
        tcpflags: 0x12,
        ttl: 64,
        sport: 40000,
        dport: 443,
        saddr: [0xaa; 16],
        daddr: [0xbb; 16],
        ifname: *b"veth0\0\0\0\0\0\0\0\0\0\0\0",
        comm: *b"curl\0\0\0\0\0\0\0\0\0\0\0\0",
        ..Meta::default()
    };
    match f {
        field::REASON => m.reason = value,
        field::CPU => m.cpu = value,
        field::PROTO => m.proto = value as u8,
        field::TCPFLAGS => m.tcpflags = value as u8,
        field::TTL => m.ttl = value as u8,
        _ => panic!("not a dense field: {f}"),
    }
    m
}

#[test]
fn only_an_empty_key_or_one_small_field_is_dense() {
    assert!(is_dense(0), "`count` and `count by rule`");
    for f in 1..field::COUNT {
        assert_eq!(is_dense(1 << f), DENSE.contains(&f), "field {f}");
    }
    assert!(!is_dense(1 << field::REASON | 1 << field::PROTO));
    assert!(!is_dense(1 << field::TTL | 1 << field::DPORT));
}

#[test]
fn dense_entries_become_the_keys_the_hash_would_hold() {
    for f in DENSE {
        let fields = 1u64 << f;
        for value in [0, 1, 6, 17, 64, 255] {
            let m = packet(f, value);
            let i = index_of(fields, &m).expect("a small value is dense");
            assert_eq!(i, value as usize);
            assert_eq!(
                key_of(7, fields, i),
                hash_key(7, fields, &m),
                "field {f} = {value}"
            );
        }
        // The packet lacks the field: the absent entry, an all-zero key.
        let mut m = packet(f, 9);
        m.present &= !(1 << f);
        assert_eq!(index_of(fields, &m), Some(DENSE_ABSENT));
        assert_eq!(key_of(3, fields, DENSE_ABSENT), hash_key(3, fields, &m));
        assert_eq!(hash_key(3, fields, &m).present, 0);
    }
    // No key field: every match in the absent entry, the key of `count`.
    let m = packet(field::REASON, 2);
    assert_eq!(index_of(0, &m), Some(DENSE_ABSENT));
    assert_eq!(key_of(5, 0, DENSE_ABSENT), hash_key(5, 0, &m));
}

#[test]
fn values_too_big_for_the_array_fall_back_to_the_hash() {
    let reason = 1 << field::REASON;
    // A drop reason of a subsystem (SKB_DROP_REASON_SUBSYS_* << 16).
    assert_eq!(index_of(reason, &packet(field::REASON, 0x1_0005)), None);
    assert_eq!(index_of(reason, &packet(field::REASON, 256)), None);
    assert_eq!(index_of(reason, &packet(field::REASON, 255)), Some(255));
    assert_eq!(index_of(1 << field::CPU, &packet(field::CPU, 300)), None);
    // A big value the packet does not carry is not looked at.
    let mut m = packet(field::REASON, 0x1_0005);
    m.present &= !(1 << field::REASON);
    assert_eq!(index_of(reason, &m), Some(DENSE_ABSENT));
    // A rule that is not dense never uses the array.
    assert_eq!(index_of(1 << field::DPORT, &packet(field::TTL, 1)), None);
}

#[test]
fn rows_list_nonzero_counters_and_merge_sums_equal_keys() {
    let fields = 1u64 << field::REASON;
    let mut dense = Dense::default();
    dense.counts[2] = 5;
    dense.counts[77] = 1;
    dense.counts[DENSE_ABSENT] = 3;
    let got = rows(4, fields, &dense);
    assert_eq!(got.len(), 3);
    let absent = key_of(4, fields, DENSE_ABSENT);
    assert!(got.contains(&(absent, 3)));
    let two = got.iter().find(|(k, _)| k.reason == 2).expect("reason 2");
    assert_eq!((two.0.present, two.1), (1 << field::REASON, 5));

    // The hash holds a subsystem reason of the same rule, and (as if both
    // paths had counted it) reason 2 once more.
    let big = hash_key(4, fields, &packet(field::REASON, 0x1_0005));
    let mut all = vec![(big, 8), (key_of(4, fields, 2), 1)];
    merge(&mut all, got);
    all.sort();
    let mut want = vec![
        (big, 8),
        (key_of(4, fields, 2), 6),
        (key_of(4, fields, 77), 1),
        (absent, 3),
    ];
    want.sort();
    assert_eq!(all, want);
}
