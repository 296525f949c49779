//! Where events go: the pwru-style table or JSON lines. Both read the same
//! `Names` (symbols, reason names, function names) so they agree.

pub mod agg;
pub(crate) mod json;
mod json_fast;
pub mod packet;
pub mod pcap;
mod table;

pub use agg::Aggregates;
pub use json::JsonSink;
pub use table::{iface_text, tuple_text, TableSink};

use crate::bpf_prog::ProgPoint;
use crate::event::Event;
use crate::hooks::HookNames;
use crate::kallsyms::Kallsyms;
use crate::reasons::DropReasons;
use crate::summary::Summary;
use std::io;

/// What turning ids and addresses into names needs.
#[derive(Debug, Clone, Default)]
pub struct Names {
    pub kallsyms: Kallsyms,
    pub reasons: Option<DropReasons>,
    pub funcs: HookNames,
}

impl Names {
    /// The event's function as pwru shows it; drops carry their reason:
    /// `kfree_skb_reason(SKB_DROP_REASON_..)` for the `drop` trigger, and
    /// the function's own name for a drop function's call
    /// (`sk_skb_reason_drop(SKB_DROP_REASON_..)`).
    pub fn func_text(&self, ev: &Event) -> String {
        let name = self.funcs.name(ev.meta.func_id).unwrap_or("?");
        if let Some((kind, point)) = ev.prog_point() {
            return match point {
                ProgPoint::Enter => format!("{}/{name} enter", kind.name()),
                ProgPoint::Leave { ret } => {
                    format!("{}/{name} leave {}", kind.name(), kind.verdict_text(ret))
                }
            };
        }
        let reason = self.reason_name(ev.meta.reason);
        if ev.is_drop_function() {
            // The enum's own name: drop functions also see the values
            // outside the SKB_DROP_REASON_ prefix (SKB_CONSUMED).
            if reason.starts_with("SKB_") {
                format!("{name}({reason})")
            } else {
                format!("{name}(SKB_DROP_REASON_{reason})")
            }
        } else if ev.has_reason() {
            format!("kfree_skb_reason(SKB_DROP_REASON_{reason})")
        } else if ev.is_drop() {
            // Before 5.17 the tracepoint has no reason.
            "kfree_skb".to_string()
        } else {
            name.to_string()
        }
    }

    /// The reason without prefix, or its number when this kernel has no name.
    pub fn reason_name(&self, value: u32) -> String {
        match self.reasons.as_ref().and_then(|r| r.name_of(value)) {
            Some(n) => n.to_string(),
            None => value.to_string(),
        }
    }
}

/// An output for events and the final summary.
pub trait Sink {
    /// `stack` holds resolved frames (`symbol+0xoff`), innermost first.
    fn event(&mut self, ev: &Event, stack: Option<&[String]>, ctx: &Names) -> io::Result<()>;
    fn summary(&mut self, summary: &Summary) -> io::Result<()>;
    fn flush(&mut self) -> io::Result<()>;
    /// `count`/`hist` tables, at the end and every `--interval`. A sink
    /// that has no better place for them shows them on stderr.
    fn aggregates(&mut self, aggs: &Aggregates, ctx: &Names) -> io::Result<()> {
        use io::Write;
        io::stderr().write_all(aggs.render_text(ctx).as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reasons::DropReasons;
    use crate::testing::tcp_drop;

    fn context() -> Names {
        Names {
            kallsyms: crate::kallsyms::Kallsyms::parse("ffffffff81000100 T nf_hook_slow\n"),
            reasons: Some(DropReasons::from_pairs([("NETFILTER_DROP", 12)])),
            funcs: crate::hooks::HookNames::tracepoints(),
        }
    }

    #[test]
    fn table_line_has_pwru_columns_and_the_drop_reason() {
        let mut out = Vec::new();
        let stack = vec![
            "nf_hook_slow+0x10".to_string(),
            "ip_local_deliver+0x4a".to_string(),
        ];
        TableSink::new(&mut out)
            .event(&tcp_drop(vec![1]), Some(&stack), &context())
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("SKB")
                && lines[0].ends_with("FUNC")
                && lines[0].contains("MARK/x"),
            "{text}"
        );
        assert!(
            lines[1].contains("198.18.0.1:40000->198.18.0.2:443(tcp)"),
            "{text}"
        );
        assert!(
            lines[1].ends_with("kfree_skb_reason(SKB_DROP_REASON_NETFILTER_DROP)"),
            "{text}"
        );
        // pwru's cells: IFACE `name:ifindex`, MARK/x in bare hex.
        assert!(lines[1].contains(" fb0:2 "), "{text}");
        assert!(lines[1].contains("4026532000 0 "), "{text}");
        assert_eq!(lines[2], "    nf_hook_slow+0x10");
    }

    /// A call of a drop function, as the function programs report it.
    fn func_drop(func_id: u32, with_reason: bool) -> Event {
        let mut ev = tcp_drop(vec![1]);
        ev.hook = crate::abi::hook::FUNC;
        ev.meta.func_id = func_id;
        ev.meta.location = 0;
        if !with_reason {
            ev.meta.present &= !(1 << crate::abi::field::REASON);
        }
        ev
    }

    #[test]
    fn drop_functions_print_their_own_name_with_the_reason() {
        let mut names = context();
        names.funcs.insert(1024, "sk_skb_reason_drop");
        names.funcs.insert(1025, "kfree_skb");
        let ev = func_drop(1024, true);
        assert!(ev.is_drop());
        assert_eq!(
            names.func_text(&ev),
            "sk_skb_reason_drop(SKB_DROP_REASON_NETFILTER_DROP)"
        );
        let v = json::event_json(&ev, None, &names);
        assert_eq!(
            (&v["func"], &v["reason"], &v["reason_code"], &v["location"]),
            (
                &serde_json::json!("sk_skb_reason_drop"),
                &serde_json::json!("NETFILTER_DROP"),
                &serde_json::json!(12),
                &serde_json::Value::Null
            )
        );
        assert_eq!(
            pcap::comment(&ev, &names),
            "func=sk_skb_reason_drop reason=NETFILTER_DROP rules=1"
        );
        let mut consumed = names.clone();
        consumed.reasons = Some(DropReasons::from_pairs([("SKB_CONSUMED", 12)]));
        assert_eq!(consumed.func_text(&ev), "sk_skb_reason_drop(SKB_CONSUMED)");
        // kfree_skb before 5.17 has no reason argument: a plain call.
        let plain = func_drop(1025, false);
        assert!(!plain.is_drop());
        assert_eq!(names.func_text(&plain), "kfree_skb");
        assert_eq!(
            json::event_json(&plain, None, &names)["reason"],
            serde_json::Value::Null
        );
    }

    #[test]
    fn a_verdict_shows_in_json_the_table_and_pcap_comments() {
        let mut ev = tcp_drop(vec![1]);
        let v = crate::verdict::Verdict::Unknown {
            pending: true,
            tried: "trace set".into(),
        };
        ev.verdict = Some(Box::new(v.clone()));
        assert_eq!(
            json::event_json(&ev, None, &context())["verdict"],
            v.to_json()
        );
        let mut line = Vec::new();
        JsonSink::new(&mut line)
            .event(&ev, None, &context())
            .unwrap();
        let parsed: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(parsed["verdict"]["by"], "unknown");
        let mut out = Vec::new();
        TableSink::new(&mut out)
            .event(&ev, None, &context())
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text.lines().nth(2),
            Some("    verdict: unknown (pending): trace set"),
            "{text}"
        );
        assert!(pcap::comment(&ev, &context()).ends_with("verdict=unknown (pending): trace set"));
        assert!(json::event_json(&tcp_drop(vec![1]), None, &context())
            .get("verdict")
            .is_none());
    }

    #[test]
    fn json_event_has_the_documented_keys() {
        let v = json::event_json(&tcp_drop(vec![1]), None, &context());
        for key in [
            "ts", "skb", "cpu", "pid", "comm", "netns", "mark", "ifindex", "ifname", "family",
            "proto", "saddr", "daddr", "sport", "dport", "len", "func", "reason", "location",
            "rules",
        ] {
            assert!(v.get(key).is_some(), "missing {key}: {v}");
        }
        assert_eq!(v["reason"], "NETFILTER_DROP");
        assert_eq!(v["location"], "nf_hook_slow+0x10");
        assert_eq!(v["family"], "ip4");
        assert_eq!(v["skb"], "0xffff888001234500");
        assert!(v.get("stack").is_none(), "no stack unless asked");
    }

    #[test]
    fn a_drop_without_a_reason_shows_its_location_only() {
        // The kfree_skb tracepoint before 5.17: no reason argument.
        let mut ev = tcp_drop(vec![1]);
        ev.meta.present &= !(1 << crate::abi::field::REASON);
        ev.meta.reason = 0;
        let names = context();
        assert_eq!(names.func_text(&ev), "kfree_skb");
        let v = json::event_json(&ev, None, &names);
        assert_eq!(v["reason"], serde_json::Value::Null);
        assert_eq!(v["reason_code"], serde_json::Value::Null);
        assert_eq!(v["location"], "nf_hook_slow+0x10");
        let mut fast = Vec::new();
        json_fast::write_event(&mut fast, &ev, None, &names).unwrap();
        let fast: serde_json::Value = serde_json::from_slice(&fast).unwrap();
        assert_eq!(fast["reason"], serde_json::Value::Null);
        assert_eq!(fast["reason_code"], serde_json::Value::Null);
        assert_eq!(
            pcap::comment(&ev, &names),
            "func=kfree_skb location=nf_hook_slow+0x10 rules=1"
        );
    }
}

#[cfg(test)]
#[path = "prog_tests.rs"]
mod prog_tests;
