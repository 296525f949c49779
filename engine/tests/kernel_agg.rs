//! In-kernel aggregation through the real hook programs: `count by` keys
//! and `hist` buckets against what was sent, a full count map reported in
//! `agg_failed`, and a cleared slot starting from zero. Traffic stays on
//! loopback (closed ports, so every datagram is dropped). Needs root.

mod kernel_common;

use ferret_engine::abi::{self, act, field, hook, AggKey, Config, Hist, Rule};
use ferret_engine::event::decode;
use ferret_engine::kernel::{Kernel, LoadOptions};
use kernel_common::{closed_port, cmp, dport_is, have_root, rule, send_udp};
use std::collections::BTreeMap;
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
    let port = closed_port();
    let by_len = counting(&[dport_is(port)], &[field::LEN]);
    let mut k = kernel_with(&[by_len], 1 << field::DPORT | 1 << field::LEN);
    // One distinct `len` per datagram: more keys than the map holds.
    let sent = abi::AGG_ENTRIES as usize + 100;
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

    k.clear_rule(0).unwrap();
    assert!(counts_of(&k, 0).is_empty(), "clearing forgets the counts");
    assert_eq!(k.counters().unwrap()[0].agg_failed, 0);
}
