//! Events as JSON lines without building a `serde_json::Value` first.
//!
//! Building the value tree costs an allocation per key and per string and
//! a sorted map per event; at the rates a busy host produces, formatting
//! was the bottleneck of delivery (issue 8: 1M events/s per core). This
//! writer emits the very bytes `serde_json::to_writer(&event_json(..))`
//! does — the same keys in the same (sorted) order, the same escaping —
//! which the tests below check on every shape of event. Events with a
//! capture or a verdict take the value path (they are rare and carry a
//! packet summary or an object).

use super::Names;
use crate::event::{family_name, proto_name, Event};
use std::io::{self, Write};

/// Whether serde_json writes `s` between quotes unchanged: it escapes only
/// quotes, backslashes and control characters (UTF-8 passes as is).
fn plain(s: &str) -> bool {
    s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\')
}

/// A JSON string, escaped exactly as serde_json escapes it.
fn string(out: &mut impl Write, s: &str) -> io::Result<()> {
    if plain(s) {
        out.write_all(b"\"")?;
        out.write_all(s.as_bytes())?;
        out.write_all(b"\"")
    } else {
        serde_json::to_writer(&mut *out, s).map_err(io::Error::from)
    }
}

fn key(out: &mut impl Write, k: &str) -> io::Result<()> {
    // Keys are fixed ASCII: no escaping needed.
    out.write_all(b",\"")?;
    out.write_all(k.as_bytes())?;
    out.write_all(b"\":")
}

/// Decimal digits without the formatting machinery (most of an event's
/// cost otherwise).
fn num(out: &mut impl Write, v: impl Into<u64>) -> io::Result<()> {
    let mut v: u64 = v.into();
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.write_all(&buf[i..])
}

/// `0x` and lowercase hex digits, as `{:#x}` writes them.
fn hex(out: &mut impl Write, mut v: u64) -> io::Result<()> {
    let mut buf = [0u8; 18];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b"0123456789abcdef"[(v & 0xf) as usize];
        v >>= 4;
        if v == 0 {
            break;
        }
    }
    i -= 2;
    buf[i] = b'0';
    buf[i + 1] = b'x';
    out.write_all(&buf[i..])
}

fn opt_num(out: &mut impl Write, v: Option<impl Into<u64>>) -> io::Result<()> {
    match v {
        Some(v) => num(out, v),
        None => out.write_all(b"null"),
    }
}

/// Writes one event line (with its newline), or returns false when the
/// event needs the general path (`capture`).
pub fn write_event(
    out: &mut impl Write,
    ev: &Event,
    stack: Option<&[String]>,
    ctx: &Names,
) -> io::Result<bool> {
    if !ev.capture.is_empty() || ev.verdict.is_some() || ev.prog_point().is_some() {
        return Ok(false);
    }
    let m = &ev.meta;
    let drop = ev.is_drop();
    // Alphabetical, as serde_json's default (BTreeMap) object writes them.
    out.write_all(b"{\"comm\":")?;
    string(out, ev.comm())?;
    key(out, "cpu")?;
    num(out, m.cpu)?;
    key(out, "daddr")?;
    match ev.daddr() {
        Some(a) => write!(out, "\"{a}\"")?,
        None => out.write_all(b"null")?,
    }
    key(out, "dport")?;
    opt_num(out, ev.dport())?;
    key(out, "family")?;
    match family_name(m.family) {
        Some(n) => string(out, n)?,
        None => num(out, m.family)?,
    }
    key(out, "func")?;
    string(out, ctx.funcs.name(m.func_id).unwrap_or("?"))?;
    key(out, "hook")?;
    string(out, ctx.funcs.name(ev.hook).unwrap_or("?"))?;
    key(out, "ifindex")?;
    num(out, m.ifindex)?;
    key(out, "ifname")?;
    string(out, ev.ifname())?;
    key(out, "len")?;
    num(out, m.len)?;
    key(out, "location")?;
    match (drop && m.location != 0).then(|| ctx.kallsyms.resolve(m.location)) {
        Some(Some((name, off))) if plain(name) => {
            out.write_all(b"\"")?;
            out.write_all(name.as_bytes())?;
            out.write_all(b"+")?;
            hex(out, off)?;
            out.write_all(b"\"")?;
        }
        Some(Some((name, off))) => string(out, &format!("{name}+{off:#x}"))?,
        Some(None) => {
            out.write_all(b"\"")?;
            hex(out, m.location)?;
            out.write_all(b"\"")?;
        }
        None => out.write_all(b"null")?,
    }
    key(out, "mark")?;
    num(out, m.mark)?;
    key(out, "mtu")?;
    num(out, m.mtu)?;
    key(out, "netns")?;
    num(out, m.netns)?;
    key(out, "pid")?;
    num(out, m.pid)?;
    key(out, "proto")?;
    match ev.proto() {
        Some(p) => match proto_name(p) {
            Some(n) => string(out, n)?,
            None => num(out, p)?,
        },
        None => out.write_all(b"null")?,
    }
    key(out, "reason")?;
    if ev.has_reason() {
        match ctx.reasons.as_ref().and_then(|r| r.name_of(m.reason)) {
            Some(n) => string(out, n)?,
            None => {
                out.write_all(b"\"")?;
                num(out, m.reason)?;
                out.write_all(b"\"")?;
            }
        }
    } else {
        out.write_all(b"null")?;
    }
    key(out, "reason_code")?;
    opt_num(out, ev.has_reason().then_some(m.reason))?;
    key(out, "rules")?;
    out.write_all(b"[")?;
    for (i, r) in ev.rules.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        num(out, *r as u64)?;
    }
    out.write_all(b"]")?;
    key(out, "saddr")?;
    match ev.saddr() {
        Some(a) => write!(out, "\"{a}\"")?,
        None => out.write_all(b"null")?,
    }
    key(out, "skb")?;
    out.write_all(b"\"")?;
    hex(out, m.skb)?;
    out.write_all(b"\"")?;
    key(out, "sport")?;
    opt_num(out, ev.sport())?;
    if let Some(frames) = stack {
        key(out, "stack")?;
        out.write_all(b"[")?;
        for (i, f) in frames.iter().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            string(out, f)?;
        }
        out.write_all(b"]")?;
    }
    key(out, "tcpflags")?;
    opt_num(
        out,
        ev.has(crate::abi::field::TCPFLAGS).then_some(m.tcpflags),
    )?;
    key(out, "ts")?;
    num(out, m.ts_ns)?;
    key(out, "ttl")?;
    opt_num(out, ev.has(crate::abi::field::TTL).then_some(m.ttl))?;
    out.write_all(b",\"type\":\"event\"}\n")?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::{field, hook, Meta};
    use crate::reasons::DropReasons;
    use crate::testing::{event, field_bits, name16, tcp_drop_meta};

    fn events() -> Vec<Event> {
        let mut drop = tcp_drop_meta();
        drop.tcpflags = 0x12;
        let mut v6 = drop;
        v6.family = 0x86dd;
        v6.saddr = [0x20, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        v6.proto = 250; // no name: a number
        v6.reason = 9999; // no name on this kernel: its number, as a string
        v6.location = 0x10; // below every symbol: the bare address
        v6.comm = name16(b"we\"ird\\\x01"); // escaped characters
        let xmit = Meta {
            func_id: hook::XMIT,
            family: 0x0806,
            present: field_bits(&[field::FAMILY, field::LEN]),
            ifname: name16("é-dev".as_bytes()),
            ..Meta::default()
        };
        let odd = Meta {
            family: 0x1234,
            func_id: 200, // unknown function id
            ..Meta::default()
        };
        vec![
            event(hook::DROP, drop, vec![1]),
            event(hook::DROP, v6, vec![1, 3]),
            event(hook::XMIT, xmit, vec![]),
            event(200, odd, vec![64]),
        ]
    }

    fn context() -> Names {
        Names {
            kallsyms: crate::kallsyms::Kallsyms::parse("ffffffff81000100 T nf_hook_slow\n"),
            reasons: Some(DropReasons::from_pairs([("NETFILTER_DROP", 12)])),
            funcs: crate::hooks::HookNames::tracepoints(),
        }
    }

    fn via_value(ev: &Event, stack: Option<&[String]>, ctx: &Names) -> String {
        let mut s = serde_json::to_string(&super::super::json::event_json(ev, stack, ctx)).unwrap();
        s.push('\n');
        s
    }

    fn fast(ev: &Event, stack: Option<&[String]>, ctx: &Names) -> String {
        let mut out = Vec::new();
        assert!(write_event(&mut out, ev, stack, ctx).unwrap());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn writes_the_same_bytes_as_the_value_path() {
        let stack = vec!["nf_hook_slow+0x10".to_string(), "we\"ird".to_string()];
        for ctx in [context(), Names::default()] {
            for ev in events() {
                assert_eq!(fast(&ev, None, &ctx), via_value(&ev, None, &ctx));
                assert_eq!(
                    fast(&ev, Some(&stack), &ctx),
                    via_value(&ev, Some(&stack), &ctx)
                );
            }
        }
    }

    #[test]
    fn numbers_are_written_as_std_formats_them() {
        for v in [0u64, 1, 9, 10, 255, 65535, 4026532000, u64::MAX] {
            let (mut d, mut h) = (Vec::new(), Vec::new());
            num(&mut d, v).unwrap();
            hex(&mut h, v).unwrap();
            assert_eq!(String::from_utf8(d).unwrap(), v.to_string());
            assert_eq!(String::from_utf8(h).unwrap(), format!("{v:#x}"));
        }
    }

    #[test]
    fn events_with_a_capture_take_the_value_path() {
        let mut ev = events().remove(0);
        ev.capture = vec![0x45, 0];
        let mut out = Vec::new();
        assert!(!write_event(&mut out, &ev, None, &context()).unwrap());
        assert!(out.is_empty());
    }
}
