//! The default output: pwru's columns, so its users feel at home.
//! `SKB CPU PROCESS NETNS MARK/x IFACE PROTO MTU LEN TUPLE FUNC`

use super::{Aggregates, Names, Sink};
use crate::event::{proto_name, Event};
use crate::summary::Summary;
use std::io::{self, Write};

pub struct TableSink<W: Write> {
    out: W,
    header_done: bool,
}

impl<W: Write> std::fmt::Debug for TableSink<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableSink").finish_non_exhaustive()
    }
}

impl<W: Write> TableSink<W> {
    pub fn new(out: W) -> TableSink<W> {
        TableSink {
            out,
            header_done: false,
        }
    }
}

/// `198.18.0.1:40000->198.18.0.2:443(tcp)`; IPv6 in brackets.
pub fn tuple_text(ev: &Event) -> String {
    let (Some(s), Some(d)) = (ev.saddr(), ev.daddr()) else {
        return String::new();
    };
    let host = |a: std::net::IpAddr| match a {
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
        v4 => v4.to_string(),
    };
    let proto = ev.proto().map_or(String::new(), |p| {
        proto_name(p).map_or(p.to_string(), str::to_string)
    });
    match (ev.sport(), ev.dport()) {
        (Some(sp), Some(dp)) => format!("{}:{sp}->{}:{dp}({proto})", host(s), host(d)),
        _ => format!("{}->{}({proto})", host(s), host(d)),
    }
}

/// The IFACE cell as pwru writes it: `name:ifindex` (the index alone when
/// the name is unknown), and when that is longer than the 16-column cell,
/// its last 16 characters with the first made `~`.
pub fn iface_text(name: &str, ifindex: u32) -> String {
    if name.is_empty() {
        return ifindex.to_string();
    }
    let text = format!("{name}:{ifindex}");
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= IFACE_WIDTH {
        return text;
    }
    let mut tail: String = chars[chars.len() - IFACE_WIDTH..].iter().collect();
    tail.replace_range(..tail.chars().next().map_or(0, char::len_utf8), "~");
    tail
}

/// pwru's IFACE column width.
const IFACE_WIDTH: usize = 16;

impl<W: Write> Sink for TableSink<W> {
    fn event(&mut self, ev: &Event, stack: Option<&[String]>, ctx: &Names) -> io::Result<()> {
        if !self.header_done {
            writeln!(
                self.out,
                "{:<18} {:<3} {:<22} {:<10} {:<8} {:^16} {:<6} {:<5} {:<5} {:<47} FUNC",
                "SKB", "CPU", "PROCESS", "NETNS", "MARK/x", "IFACE", "PROTO", "MTU", "LEN", "TUPLE"
            )?;
            self.header_done = true;
        }
        let m = &ev.meta;
        let process = if ev.comm().is_empty() {
            "[<empty>]".to_string()
        } else {
            format!("{}:{}", ev.comm(), m.pid)
        };
        writeln!(
            self.out,
            "{:<#18x} {:<3} {:<22} {:<10} {:<8x} {:^16} {:<#6x} {:<5} {:<5} {:<47} {}",
            m.skb,
            m.cpu,
            process,
            m.netns,
            m.mark,
            iface_text(ev.ifname(), m.ifindex),
            m.family,
            m.mtu,
            m.len,
            tuple_text(ev),
            ctx.func_text(ev)
        )?;
        if !ev.capture.is_empty() {
            writeln!(
                self.out,
                "    packet: {}",
                super::packet::describe(&ev.capture, ev.capture_l2, ev.wire_len)
            )?;
        }
        if let Some(v) = &ev.verdict {
            writeln!(self.out, "    verdict: {}", v.text())?;
        }
        if let Some(frames) = stack {
            for f in frames {
                writeln!(self.out, "    {f}")?;
            }
        }
        Ok(())
    }

    fn summary(&mut self, summary: &Summary) -> io::Result<()> {
        self.out.flush()?;
        eprint!("{}", summary.render_text());
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn aggregates(&mut self, aggs: &Aggregates, ctx: &Names) -> io::Result<()> {
        self.out.write_all(aggs.render_text(ctx).as_bytes())?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::iface_text;

    #[test]
    fn iface_reads_as_pwru_writes_it() {
        assert_eq!(iface_text("ens3", 2), "ens3:2");
        assert_eq!(iface_text("", 7), "7");
        // 15 + ":12" is 18 characters: the last 16 ("erylongname15:12"),
        // the first turned to `~`.
        assert_eq!(iface_text("averylongname15", 12), "~rylongname15:12");
        assert_eq!(iface_text("averylongname15", 12).chars().count(), 16);
        // Exactly 16 characters stay whole.
        assert_eq!(iface_text("sixteen-ch1", 1234), "sixteen-ch1:1234");
    }
}
