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
pub use table::{tuple_text, TableSink};

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
    /// The event's function as pwru shows it; drops carry their reason.
    pub fn func_text(&self, ev: &Event) -> String {
        let name = self.funcs.name(ev.meta.func_id).unwrap_or("?");
        if ev.is_drop() {
            format!(
                "kfree_skb_reason(SKB_DROP_REASON_{})",
                self.reason_name(ev.meta.reason)
            )
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
}
