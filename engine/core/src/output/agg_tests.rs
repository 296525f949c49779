use super::*;
use crate::abi::{field, hook};
use crate::reasons::DropReasons;

fn context() -> Names {
    Names {
        kallsyms: crate::kallsyms::Kallsyms::default(),
        reasons: Some(DropReasons::from_pairs([
            ("NO_SOCKET", 3),
            ("NETFILTER_DROP", 12),
        ])),
        funcs: crate::hooks::HookNames::tracepoints(),
    }
}

fn key(reason: u32, proto: Option<u8>, saddr: Option<[u8; 4]>) -> AggKey {
    let mut k = AggKey {
        present: 1 << field::REASON | 1 << field::FUNC,
        reason,
        func_id: hook::DROP,
        ..AggKey::default()
    };
    if let Some(p) = proto {
        k.present |= 1 << field::PROTO;
        k.proto = p;
    }
    if let Some(a) = saddr {
        k.present |= 1 << field::SADDR;
        k.saddr[10..12].copy_from_slice(&[0xff, 0xff]);
        k.saddr[12..].copy_from_slice(&a);
    }
    k
}

fn by(names: &[&str]) -> Vec<KeyField> {
    names
        .iter()
        .map(|n| match *n {
            "rule" => KeyField::Rule,
            f => KeyField::Field(f.to_string()),
        })
        .collect()
}

fn table() -> CountTable {
    let mut rows = vec![
        (key(12, Some(6), Some([198, 18, 0, 1])), 3),
        (key(3, Some(17), Some([198, 18, 0, 1])), 20),
        (key(3, None, None), 1),
    ];
    sort_rows(&mut rows);
    CountTable {
        rule: 2,
        text: "on drop count by reason, func, proto, saddr, rule".into(),
        by: by(&["reason", "func", "proto", "saddr", "rule"]),
        rows,
        failed: 0,
    }
}

#[test]
fn count_table_is_sorted_by_count_with_names_for_numbers() {
    let text = table().render_text(&context());
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "rule 2: on drop count by reason, func, proto, saddr, rule (24 matches, 3 keys)",
            "  COUNT  REASON          FUNC       PROTO  SADDR       RULE",
            "     20  NO_SOCKET       kfree_skb  udp    198.18.0.1  2",
            "      3  NETFILTER_DROP  kfree_skb  tcp    198.18.0.1  2",
            "      1  NO_SOCKET       kfree_skb  -      -           2",
            "",
        ]
    );
}

#[test]
fn a_full_map_is_reported_under_its_table() {
    let t = CountTable {
        failed: 7,
        ..table()
    };
    let text = t.render_text(&context());
    assert!(
        text.contains("warning: 7 matches not counted: the count map is full (16384 keys"),
        "{text}"
    );
}

#[test]
fn count_json_keys_are_named_and_absent_fields_null() {
    let v = table().to_json(&context());
    assert_eq!(v["type"], "count");
    assert_eq!(v["total"], 24);
    assert_eq!(
        v["by"],
        serde_json::json!(["reason", "func", "proto", "saddr", "rule"])
    );
    assert_eq!(
        v["rows"][0],
        serde_json::json!({"count": 20, "key": {
            "reason": "NO_SOCKET", "func": "kfree_skb", "proto": "udp",
            "saddr": "198.18.0.1", "rule": 2}})
    );
    assert_eq!(v["rows"][2]["key"]["proto"], serde_json::Value::Null);
    let aggs = Aggregates {
        elapsed_ms: 1500,
        last: false,
        counts: vec![table()],
        hists: vec![],
    };
    let objs = aggs.to_json(&context());
    assert_eq!(
        (objs[0]["final"].as_bool(), objs[0]["elapsed_ms"].as_u64()),
        (Some(false), Some(1500))
    );
    assert!(aggs
        .render_text(&context())
        .starts_with("ferret: after 1.5s\n"));
}

#[test]
fn other_field_kinds_read_as_users_write_them() {
    let k = AggKey {
        present: [
            field::FAMILY,
            field::TCPFLAGS,
            field::MARK,
            field::DPORT,
            field::IFNAME,
        ]
        .iter()
        .fold(0, |m, f| m | 1 << f),
        family: 0x86dd,
        tcpflags: crate::abi::TCP_SYN | crate::abi::TCP_ACK,
        mark: 0x42,
        dport: 443,
        ifname: *b"fb0\0\0\0\0\0\0\0\0\0\0\0\0\0",
        ..AggKey::default()
    };
    let ctx = context();
    let text = |name: &str| key_text(&k, &KeyField::Field(name.into()), 1, &ctx);
    assert_eq!(text("family").as_deref(), Some("ip6"));
    assert_eq!(text("tcpflags").as_deref(), Some("syn|ack"));
    assert_eq!(text("mark").as_deref(), Some("0x42"));
    assert_eq!(text("dport").as_deref(), Some("443"));
    assert_eq!(text("ifname").as_deref(), Some("fb0"));
    assert_eq!(text("netns"), None, "not carried");
}

fn hist() -> HistTable {
    let mut h = Hist::default();
    h.buckets[Hist::bucket_of(0)] = 1;
    h.buckets[Hist::bucket_of(5)] = 2;
    h.buckets[Hist::bucket_of(1500)] = 8;
    h.missing = 3;
    HistTable {
        rule: 1,
        text: "on recv hist len".into(),
        field: "len".into(),
        hist: h,
    }
}

#[test]
fn hist_prints_bars_like_bpftrace() {
    let text = hist().render_text();
    let lines: Vec<&str> = text.lines().collect();
    let bar = |n: usize| format!("|{}{}|", "@".repeat(n), " ".repeat(52 - n));
    assert_eq!(lines[0], "rule 1: on recv hist len (11 values)");
    assert_eq!(lines[1], format!("[0]                    1 {}", bar(6)));
    assert_eq!(lines[2], format!("[1]                    0 {}", bar(0)));
    assert_eq!(lines[3], format!("[2, 4)                 0 {}", bar(0)));
    assert_eq!(lines[4], format!("[4, 8)                 2 {}", bar(13)));
    assert_eq!(lines[9], format!("[128, 256)             0 {}", bar(0)));
    assert_eq!(lines[12], format!("[1K, 2K)               8 {}", bar(52)));
    assert_eq!(lines[13], "(3 matches carried no `len`)");
    assert_eq!(lines[14..], [""], "a blank line ends each table");
}

#[test]
fn hist_json_lists_the_non_empty_buckets() {
    let v = hist().to_json();
    assert_eq!(
        v["buckets"],
        serde_json::json!([
            {"lo": 0, "hi": 1, "count": 1},
            {"lo": 4, "hi": 8, "count": 2},
            {"lo": 1024, "hi": 2048, "count": 8},
        ])
    );
    assert_eq!(
        (v["total"].as_u64(), v["missing"].as_u64()),
        (Some(11), Some(3))
    );
    let empty = HistTable {
        hist: Hist::default(),
        ..hist()
    };
    assert_eq!(
        empty.render_text(),
        "rule 1: on recv hist len (0 values)\n\n"
    );
}
