//! Properties of the front end, with a fixed number of random cases so CI
//! time stays bounded:
//!
//! * lowering is faithful: for random IR filters and random packets, the
//!   branch program run by the reference evaluator agrees with
//!   `Filter::eval`, the direct meaning of the filter;
//! * compiling random rule text never panics, and neither does rendering
//!   its diagnostics.

use ferret_core::abi::{self, Meta, MAX_INSNS, TARGET_MATCH, TARGET_NOMATCH};
use ferret_core::catalog::{self, FieldDef, FIELDS};
use ferret_core::check::{CheckEnv, NoNetnsNames};
use ferret_core::hooks::HookNames;
use ferret_core::ir::{Atom, Filter};
use ferret_core::plan::eval::eval_insns;
use ferret_core::plan::lower_filter;
use ferret_core::reasons::DropReasons;
use ferret_grammar::ast::Span;
use proptest::prelude::*;

// ------------------------------------------------------------ value pools
//
// Small pools so that random atoms and random packets often agree: a
// property test whose comparisons are always false tests nothing.

fn mapped(a: [u8; 4]) -> u128 {
    u128::from_be_bytes(std::net::Ipv4Addr::from(a).to_ipv6_mapped().octets())
}

fn addr_pool() -> Vec<u128> {
    vec![
        mapped([10, 0, 0, 1]),
        mapped([10, 0, 0, 2]),
        mapped([10, 1, 0, 1]),
        mapped([192, 168, 1, 1]),
        u128::from_be_bytes("fd00::1".parse::<std::net::Ipv6Addr>().unwrap().octets()),
        u128::from_be_bytes("fd00::2".parse::<std::net::Ipv6Addr>().unwrap().octets()),
        1,
        0,
    ]
}

fn name_value(s: &str) -> u128 {
    let mut b = [0u8; 16];
    b[..s.len()].copy_from_slice(s.as_bytes());
    u128::from_be_bytes(b)
}

fn name_pool() -> Vec<u128> {
    ["eth0", "eth1", "veth1a2b", "veth", "lo", "curl", ""]
        .iter()
        .map(|s| name_value(s))
        .collect()
}

/// Masks over a byte field: CIDR-like prefixes (as the checker makes for
/// networks and for `"veth*"` globs) and the whole value.
fn byte_masks() -> Vec<u128> {
    [0u32, 8, 32, 40, 96, 104, 112, 120, 127, 128]
        .iter()
        .map(|&bits| match bits {
            0 => 0,
            n => u128::MAX << (128 - n),
        })
        .collect()
}

fn number_pool(def: &FieldDef) -> Vec<u128> {
    let full = def.full_mask();
    let mut v = vec![
        0,
        1,
        2,
        3,
        6,
        17,
        53,
        443,
        0x800,
        0x86dd,
        0x1234,
        full,
        full - 1,
    ];
    v.iter_mut().for_each(|x| *x &= full);
    v.sort_unstable();
    v.dedup();
    v
}

fn number_masks(def: &FieldDef) -> Vec<u128> {
    let full = def.full_mask();
    vec![full, full, full, 0xff & full, 0xf0 & full, 0x2 & full, 0]
}

fn pool(def: &FieldDef) -> Vec<u128> {
    match def.kind {
        catalog::FieldKind::Addr => addr_pool(),
        catalog::FieldKind::Name => name_pool(),
        _ => number_pool(def),
    }
}

// ------------------------------------------------------------ strategies

/// One atom over any catalog field. Byte fields (addresses, names) take
/// only `==`/`!=`: the checker never orders them (they have no order), and
/// the kernel's ordered comparisons read only the low word of a field.
fn atom() -> impl Strategy<Value = Atom> {
    (
        0..FIELDS.len(),
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
        0u8..6,
    )
        .prop_map(|(fi, vi, mi, opcode)| {
            let def = &FIELDS[fi];
            let values = pool(def);
            let masks = if def.is_bytes() {
                byte_masks()
            } else {
                number_masks(def)
            };
            let mask = masks[mi.index(masks.len())];
            let raw = values[vi.index(values.len())];
            let op = if def.is_bytes() { opcode % 2 } else { opcode };
            // Bytes: the value of a masked comparison is already reduced to
            // the mask, as `values::addr` does for networks. Numbers keep
            // their value, so a value with bits outside the mask (never
            // true under `==`) is exercised too.
            let value = if def.is_bytes() { raw & mask } else { raw };
            Atom {
                field: def.id,
                op,
                value,
                mask,
                span: Span::default(),
            }
        })
}

fn filter() -> impl Strategy<Value = Filter> {
    let leaf = prop_oneof![
        1 => Just(Filter::True),
        1 => Just(Filter::False),
        8 => atom().prop_map(Filter::Atom),
    ];
    leaf.prop_recursive(5, 48, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Filter::And),
            prop::collection::vec(inner.clone(), 0..4).prop_map(Filter::Or),
            inner.prop_map(|f| Filter::Not(Box::new(f))),
        ]
    })
}

fn meta() -> impl Strategy<Value = Meta> {
    // 18 fields, one index into each field's pool, plus random presence.
    (
        any::<u32>(),
        prop::collection::vec(any::<prop::sample::Index>(), FIELDS.len()),
    )
        .prop_map(|(present, picks)| {
            let mut m = Meta {
                present,
                ..Meta::default()
            };
            for (def, pick) in FIELDS.iter().zip(picks) {
                let values = pool(def);
                set_field(&mut m, def, values[pick.index(values.len())]);
            }
            m
        })
}

/// Stores a checker value into the packet the way the kernel fills it.
fn set_field(m: &mut Meta, def: &FieldDef, v: u128) {
    use abi::field::*;
    match def.id {
        SADDR => m.saddr = v.to_be_bytes(),
        DADDR => m.daddr = v.to_be_bytes(),
        IFNAME => m.ifname = v.to_be_bytes(),
        COMM => m.comm = v.to_be_bytes(),
        SPORT => m.sport = v as u16,
        DPORT => m.dport = v as u16,
        PROTO => m.proto = v as u8,
        FAMILY => m.family = v as u16,
        LEN => m.len = v as u32,
        MARK => m.mark = v as u32,
        IFINDEX => m.ifindex = v as u32,
        NETNS => m.netns = v as u32,
        PID => m.pid = v as u32,
        TCPFLAGS => m.tcpflags = v as u8,
        TTL => m.ttl = v as u8,
        REASON => m.reason = v as u32,
        FUNC => m.func_id = v as u32,
        CPU => m.cpu = v as u32,
        other => panic!("catalog field {other} has no Meta slot in this test"),
    }
    // Reading it back must give the same value, or the test is wrong.
    let stored = m.present;
    m.present |= 1 << def.id;
    assert_eq!(def.value_in(m), Some(v), "{} round-trips", def.name);
    m.present = stored;
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 4000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn lowered_program_agrees_with_the_filter(
        f in filter(),
        metas in prop::collection::vec(meta(), 8),
    ) {
        let insns = match lower_filter(&f) {
            Ok(insns) => insns,
            // Too long for one rule: refused, nothing to compare.
            Err(_) => return Ok(()),
        };
        prop_assert!(insns.len() <= MAX_INSNS);
        for (i, insn) in insns.iter().enumerate() {
            for t in [insn.jt, insn.jf] {
                prop_assert!(
                    t == TARGET_MATCH || t == TARGET_NOMATCH || usize::from(t) > i,
                    "insn {} jumps back to {}", i, t
                );
            }
        }
        for m in &metas {
            prop_assert_eq!(eval_insns(&insns, m), f.eval(m), "filter {:?}\nmeta {:?}", f, m);
        }
    }
}

// ------------------------------------------------------------ rule text

const WORDS: &[&str] = &[
    "on",
    "drop",
    "free",
    "recv",
    "xmit",
    "queue",
    "any",
    "func",
    "tp",
    "skb:kfree_skb",
    "ip_*",
    "where",
    "and",
    "or",
    "not",
    "&&",
    "||",
    "!",
    "(",
    ")",
    "{",
    "}",
    ",",
    ";",
    "\n",
    "..",
    "-",
    "/",
    "&",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "=",
    "in",
    "has",
    "saddr",
    "daddr",
    "sport",
    "dport",
    "proto",
    "family",
    "len",
    "mark",
    "ifname",
    "ifindex",
    "netns",
    "pid",
    "comm",
    "tcpflags",
    "ttl",
    "reason",
    "cpu",
    "dprt",
    "host",
    "net",
    "port",
    "portrange",
    "src",
    "dst",
    "tcp",
    "udp",
    "icmp",
    "icmp6",
    "sctp",
    "ip",
    "ip6",
    "arp",
    "syn",
    "ack",
    "https",
    "ssh",
    "NETFILTER_DROP",
    "netfilter_drop",
    "SKB_DROP_REASON_NO_SOCKET",
    "NETFILTR_DROP",
    "0",
    "1",
    "443",
    "70000",
    "0xff",
    "0x",
    "99999999999999999999999999999999999999999",
    "10.0.0.1",
    "300.1.1.1",
    "10.0.0.0/8",
    "10.0.0.0/33",
    "::1",
    "fd00::/16",
    "fe80:::1",
    "\"eth0\"",
    "\"veth*\"",
    "\"",
    "\"a;b\"",
    "1000-2000",
    "2000-1000",
    "1..5",
    "5..1",
    "print",
    "stack",
    "count",
    "by",
    "rule",
    "hist",
    "capture",
    "snaplen",
    "track",
    "call",
    "alert",
    "limit",
    "10/s",
    "stop",
    "after",
    "#",
    "# comment\n",
    "\\\n",
    "é",
    "\u{0}",
    "\t",
];

fn rule_text() -> impl Strategy<Value = String> {
    let word = prop::sample::select(WORDS);
    prop::collection::vec((word, prop::bool::weighted(0.85)), 0..24).prop_map(|ws| {
        let mut s = String::new();
        for (w, space) in ws {
            s.push_str(w);
            if space {
                s.push(' ');
            }
        }
        s
    })
}

/// Mostly well-shaped rules with one random part, to get past the parser.
fn shaped_rule() -> impl Strategy<Value = String> {
    let pick = |xs: &'static [&'static str]| prop::sample::select(xs);
    (
        pick(&[
            "drop",
            "recv",
            "xmit, recv",
            "func ip_*",
            "any",
            "tp skb:kfree_skb",
            "drop or free",
        ]),
        pick(&[
            "saddr",
            "daddr",
            "sport",
            "dport",
            "proto",
            "family",
            "len",
            "mark",
            "mark & 0xff",
            "ifname",
            "ifindex",
            "netns",
            "pid",
            "comm",
            "tcpflags",
            "ttl",
            "reason",
            "func",
            "cpu",
        ]),
        pick(&["==", "!=", "<", "<=", ">", ">=", "in", "has"]),
        pick(&[
            "0",
            "1",
            "443",
            "65536",
            "0x1ffffffff",
            "10.0.0.1",
            "10.0.0.0/8",
            "fd00::1/200",
            "tcp",
            "ip6",
            "syn",
            "https",
            "\"eth*\"",
            "\"averyveryverylongname\"",
            "{1, 2}",
            "{}",
            "1..2",
            "3..1",
            "NETFILTER_DROP",
            "kfree_skb",
            "nope",
            "/proc/1/ns/net",
        ]),
        pick(&[
            "",
            "and tcp",
            "or not port 80",
            "and dport == 1 and dport == 2",
            "and len > 5 and len < 2",
        ]),
        pick(&[
            "",
            "print stack",
            "count by rule, reason",
            "hist len",
            "hist saddr",
            "capture snaplen 128",
            "capture snaplen 0",
            "track",
            "call f",
            "limit 10/s",
            "limit 0/s",
            "stop after 3",
            "print dport, nope",
        ]),
    )
        .prop_map(|(t, f, o, v, more, a)| format!("on {t} where {f} {o} {v} {more} {a}"))
}

fn compile_and_render(text: &str) {
    let reasons = DropReasons::from_pairs([("NO_SOCKET", 3), ("NETFILTER_DROP", 12)]);
    let funcs = HookNames::tracepoints();
    let env = CheckEnv {
        reasons: Ok(&reasons),
        funcs: &funcs,
        netns: &NoNetnsNames,
    };
    let (plan, diags) = ferret_core::compile(text, &env);
    let rendered = ferret_core::diag::render("<rules>", text, &diags, false);
    // Errors and plans exclude each other; every error is rendered.
    let errors = diags.iter().filter(|d| d.is_error()).count();
    assert_eq!(plan.is_some(), errors == 0, "{text:?}\n{rendered}");
    assert!(rendered.matches("error").count() >= errors);
    if let Some(plan) = plan {
        for r in &plan.rules {
            assert!(r.insns.len() <= MAX_INSNS);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 3000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn compiling_random_words_never_panics(text in rule_text()) {
        compile_and_render(&text);
    }

    #[test]
    fn compiling_shaped_rules_never_panics(text in shaped_rule()) {
        compile_and_render(&text);
    }

    #[test]
    fn compiling_arbitrary_text_never_panics(text in "\\PC{0,60}") {
        compile_and_render(&text);
    }
}
