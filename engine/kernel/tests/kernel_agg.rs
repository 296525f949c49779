//! In-kernel aggregation through the real hook programs: `count by` keys
//! and `hist` buckets against what was sent, the dense path (`count`, `count
//! by` one small field) and the compact one (numbers in 8 bytes) against the
//! 120-byte key, a full count map reported in `agg_failed`, and a cleared
//! slot starting from zero. Traffic stays on
//! loopback (closed ports, so every datagram and SYN is dropped). Needs root.

mod kernel_common;

use ferret_core::abi::{self, act, field, hook, AggKey, Config, Dense, Hist, Meta, Rule};
use ferret_core::event::decode;
use ferret_core::{agg_compact, agg_dense};
use ferret_kernel::{Kernel, LoadOptions};
use kernel_common::{closed_port, cmp, dport_is, have_root, rule, send_udp};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

fn kernel_with(rules: &[Rule], needs: u32) -> Kernel {
    let mut k = Kernel::load(&LoadOptions::default()).expect("load");
    for (slot, r) in rules.iter().enumerate() {
        k.set_rule(slot, r).unwrap();
    }
    k.set_config(&Config {
        nrules: rules.len() as u32,
        needs,
        hooks: 1 << hook::DROP,
        wakeup_bytes: 0,
        ..Config::default()
    })
    .unwrap();
    k.attach(hook::DROP).unwrap();
    k
}

fn counting(insns: &[abi::Insn], fields: &[u8]) -> Rule {
    let mut r = rule(1 << hook::DROP, act::COUNT, insns);
    r.count_fields = fields.iter().fold(0, |m, f| m | 1 << f);
    r
}

/// The count map's entries of one slot.
fn counts_of(k: &Kernel, slot: u32) -> Vec<(AggKey, u64)> {
    let mut v: Vec<_> = k
        .counts()
        .unwrap()
        .into_iter()
        .filter(|(key, _)| key.slot == slot)
        .collect();
    v.sort_by_key(|(key, _)| (key.dport, key.len));
    v
}

#[test]
fn count_by_dport_and_proto_matches_what_was_sent() {
    if !have_root("count_by_dport_and_proto_matches_what_was_sent") {
        return;
    }
    let (a, b) = (closed_port(), closed_port());
    let either = [
        cmp(field::DPORT, a.into(), abi::TARGET_MATCH, 1),
        dport_is(b),
    ];
    let by_port = counting(&either, &[field::DPORT, field::PROTO]);
    let total = counting(&either, &[]);
    let k = kernel_with(&[by_port, total], 1 << field::DPORT | 1 << field::PROTO);
    send_udp(a, 3, 10);
    send_udp(b, 5, 10);
    let rows = counts_of(&k, 0);
    let want_bits = 1 << field::DPORT | 1 << field::PROTO;
    let got: Vec<(u16, u8, u32, u64)> = rows
        .iter()
        .map(|(key, n)| (key.dport, key.proto, key.present, *n))
        .collect();
    let mut want = vec![(a, 17, want_bits, 3), (b, 17, want_bits, 5)];
    want.sort();
    assert_eq!(got, want);
    // Fields not in the key stay zero, so one key per port.
    assert!(rows.iter().all(|(key, _)| key.sport == 0 && key.len == 0));
    let all = counts_of(&k, 1);
    assert_eq!(all.len(), 1, "no key fields: one entry");
    assert_eq!((all[0].0.present, all[0].1), (0, 8));
    let c = k.counters().unwrap();
    assert_eq!((c[0].matched, c[0].emitted, c[0].agg_failed), (8, 0, 0));
}

#[tokio::test]
async fn hist_agrees_with_the_lengths_of_the_same_events() {
    if !have_root("hist_agrees_with_the_lengths_of_the_same_events") {
        return;
    }
    let port = closed_port();
    let mut hist = rule(1 << hook::DROP, act::HIST, &[dport_is(port)]);
    hist.hist_field = field::LEN.into();
    let print = rule(1 << hook::DROP, act::PRINT, &[dport_is(port)]);
    let mut k = kernel_with(&[hist, print], 1 << field::DPORT | 1 << field::LEN);
    let mut events = k.take_events().unwrap();
    for size in [0, 1, 7, 100, 900, 1000, 3000] {
        send_udp(port, 1, size);
    }
    let mut want = Hist::default();
    let mut seen = 0;
    for _ in 0..100 {
        events.wait(Duration::from_millis(20)).await;
        events.drain(|record| {
            let ev = decode(record).expect("well-formed record");
            if ev.dport() == Some(port) {
                want.buckets[Hist::bucket_of(ev.meta.len)] += 1;
                seen += 1;
            }
        });
        if seen == 7 {
            break;
        }
    }
    assert_eq!(seen, 7, "every datagram's drop was printed");
    assert_eq!(k.hist(0).unwrap(), want);
    assert_eq!(k.hist(1).unwrap(), Hist::default(), "a rule without hist");
}

#[test]
fn a_full_count_map_is_reported_and_a_cleared_slot_starts_empty() {
    if !have_root("a_full_count_map_is_reported") {
        return;
    }
    // `len` alone counts in the compact map, `len, comm` in the big one.
    for (fields, capacity) in [
        (&[field::LEN][..], abi::COMPACT_ENTRIES),
        (&[field::LEN, field::COMM], abi::AGG_ENTRIES),
    ] {
        fill_a_count_map(fields, capacity);
    }
}

fn fill_a_count_map(fields: &[u8], capacity: u32) {
    let port = closed_port();
    let by_len = counting(&[dport_is(port)], fields);
    let compact = agg_compact::is_compact(by_len.count_fields);
    let needs = by_len.count_fields as u32 | 1 << field::DPORT;
    let mut k = kernel_with(&[by_len], needs);
    // One distinct `len` per datagram: more keys than the map holds.
    let sent = capacity as usize + 100;
    let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let payload = vec![0x66u8; sent];
    for size in 1..=sent {
        tx.send_to(&payload[..size], ("127.0.0.1", port)).unwrap();
    }
    let rows = counts_of(&k, 0);
    let c = k.counters().unwrap()[0];
    assert_eq!(c.matched, sent as u64);
    assert!(c.agg_failed > 0, "the map filled up: {c:?}");
    assert_eq!(rows.len() as u64 + c.agg_failed, sent as u64, "{c:?}");
    assert!(rows.iter().all(|(_, n)| *n == 1));
    let distinct: BTreeMap<u32, u64> = rows.iter().map(|(key, n)| (key.len, *n)).collect();
    assert_eq!(distinct.len(), rows.len());
    let in_compact = k.compact_counts().unwrap().len();
    assert_eq!(in_compact, if compact { rows.len() } else { 0 });

    k.clear_rule(0).unwrap();
    assert!(counts_of(&k, 0).is_empty(), "clearing forgets the counts");
    assert!(k.compact_counts().unwrap().is_empty());
    assert_eq!(k.counters().unwrap()[0].agg_failed, 0);
}

/// A slot's rows as `(key, count)`, sorted.
fn sorted_counts(k: &Kernel, slot: u32) -> Vec<(AggKey, u64)> {
    let mut v = counts_of(k, slot);
    v.sort();
    v
}

/// The key the kernel builds for `fields` when the packet carries them.
fn key(slot: u32, fill: impl FnOnce(&mut AggKey)) -> AggKey {
    let mut k = AggKey {
        slot,
        ..AggKey::default()
    };
    fill(&mut k);
    k
}

fn dense_total(k: &Kernel, slot: usize) -> u64 {
    k.dense(slot).unwrap().counts.iter().sum()
}

/// A loopback TCP port nothing listens on.
fn closed_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn dense_rules_and_a_hash_rule_count_what_was_sent() {
    if !have_root("dense_rules_and_a_hash_rule_count_what_was_sent") {
        return;
    }
    let (udp, tcp) = (closed_port(), closed_tcp_port());
    let either = [
        cmp(field::DPORT, udp.into(), abi::TARGET_MATCH, 1),
        dport_is(tcp),
    ];
    let rules = [
        counting(&either, &[field::REASON]),
        counting(&either, &[]),
        counting(&either, &[field::PROTO]),
        counting(&either, &[field::TCPFLAGS]),
        counting(&either, &[field::TTL]),
        counting(&either, &[field::REASON, field::PROTO]),
    ];
    let needs = rules
        .iter()
        .fold(1 << field::DPORT, |m, r| m | r.count_fields as u32);
    let k = kernel_with(&rules, needs);
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    for (ttl, n) in [(5, 3), (9, 4)] {
        tx.set_ttl(ttl).unwrap();
        for _ in 0..n {
            tx.send_to(b"dense", ("127.0.0.1", udp)).unwrap();
        }
    }
    for _ in 0..2 {
        let refused = TcpStream::connect(("127.0.0.1", tcp)).unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    }
    let reasons = ferret_kernel::kernel_btf::KernelBtf::running()
        .drop_reasons()
        .expect("drop reasons from BTF");
    let no_socket = reasons.value_of("NO_SOCKET").expect("NO_SOCKET");
    let syn_ttl: u8 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_default_ttl")
        .unwrap()
        .trim()
        .parse()
        .unwrap();

    let reason = key(0, |k| {
        (k.present, k.reason) = (1 << field::REASON, no_socket)
    });
    assert_eq!(sorted_counts(&k, 0), [(reason, 9)]);
    assert_eq!(sorted_counts(&k, 1), [(key(1, |_| ()), 9)], "`count`");
    let proto = |p| key(2, |k| (k.present, k.proto) = (1 << field::PROTO, p));
    assert_eq!(sorted_counts(&k, 2), [(proto(6), 2), (proto(17), 7)]);
    // UDP has no TCP flags: counted under the absent key.
    let flags = sorted_counts(&k, 3);
    assert_eq!(flags.len(), 2, "{flags:?}");
    assert_eq!(flags[0], (key(3, |_| ()), 7));
    let (syn, n) = flags[1];
    assert_eq!((syn.present, n), (1 << field::TCPFLAGS, 2));
    let handshake = abi::TCP_SYN | abi::TCP_ACK | abi::TCP_RST | abi::TCP_FIN;
    assert_eq!(syn.tcpflags & handshake, abi::TCP_SYN, "{syn:?}");
    let ttl = |t| key(4, |k| (k.present, k.ttl) = (1 << field::TTL, t));
    let mut want = vec![(ttl(5), 3), (ttl(9), 4), (ttl(syn_ttl), 2)];
    want.sort();
    assert_eq!(sorted_counts(&k, 4), want);
    let both = |p| {
        key(5, |k| {
            (k.present, k.reason, k.proto) = (1 << field::REASON | 1 << field::PROTO, no_socket, p)
        })
    };
    assert_eq!(sorted_counts(&k, 5), [(both(6), 2), (both(17), 7)]);

    // The first five went through the array, the last through the hash.
    for slot in 0..5 {
        assert_eq!(dense_total(&k, slot), 9, "slot {slot}");
    }
    assert_eq!(k.dense(5).unwrap(), Dense::default());
    let c = k.counters().unwrap();
    assert!(
        c[..6].iter().all(|c| (c.matched, c.agg_failed) == (9, 0)),
        "{c:?}"
    );
}

/// A packet carrying every field, each small and nonzero.
fn small_packet() -> Meta {
    Meta {
        cpu: 1,
        pid: 2,
        netns: 3,
        ifindex: 4,
        mark: 5,
        len: 6,
        reason: 7,
        func_id: 8,
        present: (1 << field::COUNT) - 2,
        family: 9,
        proto: 10,
        tcpflags: 11,
        ttl: 12,
        sport: 13,
        dport: 14,
        saddr: [15; 16],
        daddr: [16; 16],
        ifname: [17; 16],
        comm: [18; 16],
        ..Meta::default()
    }
}

/// The object loaded, nothing attached: for BPF_PROG_TEST_RUN.
fn loaded() -> Kernel {
    Kernel::load(&LoadOptions::default()).expect("load")
}

#[test]
fn the_kernel_and_userspace_agree_on_which_rules_are_dense() {
    if !have_root("the_kernel_and_userspace_agree_on_which_rules_are_dense") {
        return;
    }
    let mut k = loaded();
    let mut choices: Vec<u64> = (1..field::COUNT).map(|f| 1 << f).collect();
    choices.extend([
        0,
        1 << field::REASON | 1 << field::TTL,
        1 << field::PROTO | 1 << field::DPORT,
    ]);
    for (slot, fields) in choices.into_iter().enumerate() {
        let mut r = rule(1 << hook::DROP, act::COUNT, &[]);
        r.count_fields = fields;
        k.set_rule(slot, &r).unwrap();
        assert!(k.test_count(slot, &small_packet()).unwrap());
        let dense = dense_total(&k, slot) == 1;
        assert_eq!(
            dense,
            agg_dense::is_dense(fields),
            "count_fields {fields:#x}"
        );
        assert_eq!(
            counts_of(&k, slot as u32).len(),
            1,
            "counted once either way"
        );
    }
}

#[test]
fn dense_counts_give_the_hash_keys_and_big_values_fall_back() {
    if !have_root("dense_counts_give_the_hash_keys_and_big_values_fall_back") {
        return;
    }
    let mut packets = Vec::new();
    for (reason, cpu, ttl) in [(2, 0, 64), (2, 1, 64), (77, 255, 1), (0x1_0005, 300, 0)] {
        packets.push(Meta {
            reason,
            cpu,
            ttl,
            ..small_packet()
        });
    }
    let mut absent = small_packet();
    absent.present &= !(1 << field::REASON | 1 << field::TTL | 1 << field::CPU);
    packets.extend([absent, absent]);
    for f in [
        None,
        Some(field::REASON),
        Some(field::CPU),
        Some(field::TTL),
    ] {
        // A fresh object each time: the test slot's hash entries cannot be
        // cleared (clear_rule takes the rule loop's slots only).
        let mut k = loaded();
        let slot = 3;
        let mut r = rule(1 << hook::DROP, act::COUNT, &[]);
        r.count_fields = f.map_or(0, |f| 1 << f);
        k.set_rule(slot, &r).unwrap();
        k.set_test_rule(&r).unwrap();
        for m in &packets {
            // Once as the rule in `slot`, once in the test slot, which has
            // no dense entry: the same match through either path.
            assert!(k.test_count(slot, m).unwrap());
            assert!(k.test_count(abi::TEST_SLOT, m).unwrap());
        }
        let mut hashed = sorted_counts(&k, abi::TEST_SLOT as u32);
        for (key, _) in &mut hashed {
            key.slot = slot as u32;
        }
        hashed.sort();
        let dense = sorted_counts(&k, slot as u32);
        assert_eq!(dense, hashed, "count_fields {:#x}", r.count_fields);
        assert_eq!(dense.len() > 1, f.is_some(), "distinct keys: {dense:?}");
        let big = packets
            .iter()
            .filter(|m| agg_dense::index_of(r.count_fields, m).is_none())
            .count() as u64;
        let reason_or_cpu = matches!(f, Some(field::REASON | field::CPU));
        assert_eq!(big > 0, reason_or_cpu, "a reason or CPU >= 256 falls back");
        assert_eq!(dense_total(&k, slot), packets.len() as u64 - big);

        k.clear_rule(slot).unwrap();
        assert!(counts_of(&k, slot as u32).is_empty());
        assert_eq!(
            k.dense(slot).unwrap(),
            Dense::default(),
            "clearing zeroes the array"
        );
    }
}

#[test]
fn compact_rules_count_what_was_sent() {
    if !have_root("compact_rules_count_what_was_sent") {
        return;
    }
    let (a, b) = (closed_port(), closed_port());
    let either = [
        cmp(field::DPORT, a.into(), abi::TARGET_MATCH, 1),
        dport_is(b),
    ];
    let rules = [
        counting(&either, &[field::DPORT]),
        counting(&either, &[field::SPORT, field::DPORT]),
        // The control: an address takes the 120-byte key.
        counting(&either, &[field::SPORT, field::DPORT, field::SADDR]),
    ];
    let needs = rules
        .iter()
        .fold(1 << field::DPORT, |m, r| m | r.count_fields as u32);
    let k = kernel_with(&rules, needs);
    let (s1, s2) = (send_udp(a, 3, 10), send_udp(b, 5, 10));
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    for _ in 0..2 {
        tx.send_to(b"x", ("127.0.0.1", a)).unwrap();
    }
    let s3 = tx.local_addr().unwrap().port();

    let port = |p| key(0, |k| (k.present, k.dport) = (1 << field::DPORT, p));
    assert_eq!(
        sorted_counts(&k, 0),
        sorted(vec![(port(a), 5), (port(b), 5)])
    );
    let pair_bits = 1 << field::SPORT | 1 << field::DPORT;
    let pair = |slot, s, d| key(slot, |k| (k.present, k.sport, k.dport) = (pair_bits, s, d));
    let want = sorted(vec![
        (pair(1, s1, a), 3),
        (pair(1, s2, b), 5),
        (pair(1, s3, a), 2),
    ]);
    assert_eq!(sorted_counts(&k, 1), want);
    let loopback = Ipv4Addr::LOCALHOST.to_ipv6_mapped().octets();
    let big: Vec<_> = want
        .iter()
        .map(|(key, n)| {
            let mut key = *key;
            key.slot = 2;
            key.present |= 1 << field::SADDR;
            key.saddr = loopback;
            (key, *n)
        })
        .collect();
    assert_eq!(sorted_counts(&k, 2), sorted(big));

    // Slots 0 and 1 counted in the compact map, slot 2 not.
    let compact = k.compact_counts().unwrap();
    let in_slot = |s| compact.iter().filter(|(key, _)| key.slot == s).count();
    assert_eq!((in_slot(0), in_slot(1), in_slot(2)), (2, 3, 0));
    let c = k.counters().unwrap();
    assert!(
        c[..3].iter().all(|c| (c.matched, c.agg_failed) == (10, 0)),
        "{c:?}"
    );
}

fn sorted(mut rows: Vec<(AggKey, u64)>) -> Vec<(AggKey, u64)> {
    rows.sort();
    rows
}

/// Packets for the path comparison: every field carried with values at the
/// edges of their widths (a drop reason of a subsystem and a CPU past 255
/// leave the dense array), half the fields missing, none carried.
fn edge_packets() -> [Meta; 3] {
    let full = Meta {
        sport: 0x8001,
        dport: 0xfffe,
        proto: 0xff,
        family: 0x86dd,
        len: u32::MAX,
        mark: 0x8000_0001,
        ifindex: 0xfeed,
        netns: 0xf000_0077,
        pid: 0x7fff_fff0,
        tcpflags: 0x80,
        ttl: 1,
        reason: 0x1_0005,
        func_id: 0xffff_0000,
        cpu: 300,
        ..small_packet()
    };
    let mut half = full;
    for f in [
        field::SPORT,
        field::PROTO,
        field::LEN,
        field::IFINDEX,
        field::PID,
        field::TTL,
        field::FUNC,
    ] {
        half.present &= !(1 << f);
    }
    let none = Meta { present: 0, ..full };
    [full, half, none]
}

#[test]
fn compact_keys_are_the_big_keys_for_every_qualifying_rule() {
    if !have_root("compact_keys_are_the_big_keys_for_every_qualifying_rule") {
        return;
    }
    let mut k = loaded();
    let numeric: Vec<u8> = (1..field::COUNT)
        .filter(|f| agg_compact::width(*f).is_some())
        .collect();
    let qualifying: Vec<u64> = (0u32..1 << numeric.len())
        .map(|pick| {
            (0..numeric.len())
                .filter(|i| pick & (1 << i) != 0)
                .fold(0, |m, i| m | 1 << numeric[i])
        })
        .filter(|&fields| agg_compact::is_compact(fields))
        .collect();
    let packets = edge_packets();
    let mut hashed_before = sorted_counts(&k, abi::TEST_SLOT as u32);
    for (i, &fields) in qualifying.iter().enumerate() {
        let slot = i % abi::MAX_RULES;
        let mut r = rule(1 << hook::DROP, act::COUNT, &[]);
        r.count_fields = fields;
        k.set_rule(slot, &r).unwrap();
        k.set_test_rule(&r).unwrap();
        for m in &packets {
            assert!(k.test_count(slot, m).unwrap());
            assert!(k.test_count(abi::TEST_SLOT, m).unwrap());
        }
        // The test slot's new entries: what the 120-byte key counted.
        let hashed_now = sorted_counts(&k, abi::TEST_SLOT as u32);
        let mut hashed: BTreeMap<AggKey, u64> = hashed_now.iter().copied().collect();
        for (key, n) in &hashed_before {
            *hashed.get_mut(key).unwrap() -= n;
        }
        hashed_before = hashed_now;
        let want: Vec<(AggKey, u64)> = hashed
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(mut key, n)| {
                key.slot = slot as u32;
                (key, n)
            })
            .collect();
        assert_eq!(sorted_counts(&k, slot as u32), want, "fields {fields:#x}");

        // The raw compact keys are the Rust mirror's packing; matches the
        // dense array took are not among them.
        let mut raw: Vec<_> = k
            .compact_counts()
            .unwrap()
            .into_iter()
            .filter(|(key, _)| key.slot as usize == slot)
            .collect();
        raw.sort();
        let mut packed: BTreeMap<abi::CompactKey, u64> = BTreeMap::new();
        for m in packets
            .iter()
            .filter(|m| agg_dense::index_of(fields, m).is_none())
        {
            *packed
                .entry(agg_compact::pack(slot as u32, fields, m).unwrap())
                .or_default() += 1;
        }
        assert_eq!(
            raw,
            packed.into_iter().collect::<Vec<_>>(),
            "fields {fields:#x}"
        );

        k.clear_rule(slot).unwrap();
        assert!(counts_of(&k, slot as u32).is_empty(), "fields {fields:#x}");
    }
}
