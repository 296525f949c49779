//! Events built by hand for tests of the outputs, the playbook host and
//! the REPL: one TCP drop with every common field set, and the small
//! helpers that fill `Meta`'s fixed-size fields; and rules compiled
//! against a small fixed set of facts. Compiled for this crate's
//! own tests and, with the `testing` feature, for other crates' tests.

use crate::abi::{field, hook, Meta};
use crate::check::{CheckEnv, NoNetnsNames};
use crate::event::Event;
use crate::hooks::HookNames;
use crate::plan::Plan;
use crate::reasons::DropReasons;

/// An IPv4 address as `Meta` holds it: IPv4-mapped IPv6.
pub fn mapped_v4(v4: [u8; 4]) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[10..12].copy_from_slice(&[0xff, 0xff]);
    a[12..].copy_from_slice(&v4);
    a
}

/// A NUL-padded 16-byte name (`ifname`, `comm`).
pub fn name16(s: &[u8]) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[..s.len()].copy_from_slice(s);
    a
}

/// The `present` bits of `fields`.
pub fn field_bits(fields: &[u8]) -> u32 {
    fields.iter().fold(0u32, |m, f| m | 1 << f)
}

/// What the kernel reports for a SYN from 198.18.0.1:40000 to
/// 198.18.0.2:443 dropped by netfilter (reason 12) on `fb0` (ifindex 2),
/// sent by `curl` (pid 77) on CPU 1, at 0xffffffff81000110.
pub fn tcp_drop_meta() -> Meta {
    Meta {
        skb: 0xffff_8880_0123_4500,
        ts_ns: 123_456_789,
        cpu: 1,
        pid: 77,
        tid: 78,
        netns: 4_026_532_000,
        ifindex: 2,
        mtu: 1500,
        len: 60,
        reason: 12,
        func_id: hook::DROP,
        location: 0xffff_ffff_8100_0110,
        present: field_bits(&[
            field::SADDR,
            field::DADDR,
            field::SPORT,
            field::DPORT,
            field::PROTO,
            field::FAMILY,
            field::LEN,
            field::TCPFLAGS,
            field::TTL,
            field::REASON,
        ]),
        family: 0x0800,
        proto: 6,
        tcpflags: 0x02,
        ttl: 64,
        sport: 40000,
        dport: 443,
        saddr: mapped_v4([198, 18, 0, 1]),
        daddr: mapped_v4([198, 18, 0, 2]),
        ifname: name16(b"fb0"),
        comm: name16(b"curl"),
        ..Meta::default()
    }
}

/// An event of `hook` for `rules`, without stack or captured bytes.
pub fn event(hook: u32, meta: Meta, rules: Vec<usize>) -> Event {
    Event {
        hook,
        rules,
        stack_id: None,
        meta,
        capture: vec![],
        capture_l2: false,
        wire_len: 0,
        verdict: None,
    }
}

/// The drop of [`tcp_drop_meta`], for `rules`.
pub fn tcp_drop(rules: Vec<usize>) -> Event {
    event(hook::DROP, tcp_drop_meta(), rules)
}

/// Compiles `text` with the built-in triggers and two drop reasons
/// (NO_SOCKET = 3, NETFILTER_DROP = 9); panics with the diagnostics when it
/// does not compile.
pub fn compile_ok(text: &str) -> Plan {
    let reasons = DropReasons::from_pairs([("NO_SOCKET", 3), ("NETFILTER_DROP", 9)]);
    let funcs = HookNames::tracepoints();
    let env = CheckEnv {
        reasons: Ok(&reasons),
        funcs: &funcs,
        netns: &NoNetnsNames,
    };
    let (plan, diags) = crate::compile(text, &env);
    plan.unwrap_or_else(|| panic!("{text}: {diags:?}"))
}
