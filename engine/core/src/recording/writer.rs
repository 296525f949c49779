//! `ferret -w`: events, names, stacks, packets, tables and the summary,
//! appended to one pcap-ng file as the session delivers them.

use super::{blocks, kind, Context};
use crate::abi::{self, Meta};
use crate::event::Event;
use crate::output::agg::Aggregates;
use crate::output::{pcap, Names};
use crate::summary::Summary;
use std::collections::{HashMap, HashSet};
use std::io::{self, Write};

/// Bytes gathered before one write to the file.
const FLUSH_AT: usize = 64 * 1024;

/// Event flags: a packet block follows; the packet starts at the MAC header.
pub(crate) const HAS_PACKET: u32 = 1;
pub(crate) const PACKET_L2: u32 = 2;

pub struct RecordingWriter<W: Write> {
    out: W,
    buf: Vec<u8>,
    names: HashSet<u32>,
    symbols: HashSet<u64>,
    stacks: HashMap<Vec<String>, u32>,
    interfaces: HashMap<(u32, u32, bool), u32>,
    clock_offset_ns: i64,
    events: u64,
    packets: u64,
}

impl<W: Write> std::fmt::Debug for RecordingWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingWriter")
            .field("events", &self.events)
            .field("packets", &self.packets)
            .finish_non_exhaustive()
    }
}

impl<W: Write> RecordingWriter<W> {
    /// Writes the section header and the context record.
    pub fn new(out: W, context: &Context) -> io::Result<RecordingWriter<W>> {
        let mut w = RecordingWriter {
            out,
            buf: Vec::with_capacity(2 * FLUSH_AT),
            names: HashSet::new(),
            symbols: HashSet::new(),
            stacks: HashMap::new(),
            interfaces: HashMap::new(),
            clock_offset_ns: context.clock_offset_ns,
            events: 0,
            packets: 0,
        };
        let os = format!("Linux {}", context.kernel);
        blocks::section_header(&mut w.buf, &context.ferret, &os, &context.rules_text());
        let json = serde_json::to_vec(context).map_err(io::Error::other)?;
        blocks::custom(&mut w.buf, kind::CONTEXT, &json);
        w.flush()?;
        Ok(w)
    }

    /// Appends one event, with the names, symbol and stack it needs the
    /// first time they appear, and its packet when it carries one.
    pub fn event(&mut self, ev: &Event, stack: Option<&[String]>, ctx: &Names) -> io::Result<()> {
        for id in [ev.hook, ev.meta.func_id] {
            if self.names.insert(id) {
                if let Some(name) = ctx.funcs.name(id) {
                    let mut p = id.to_le_bytes().to_vec();
                    p.extend_from_slice(name.as_bytes());
                    blocks::custom(&mut self.buf, kind::NAME, &p);
                }
            }
        }
        let loc = ev.meta.location;
        if loc != 0 && self.symbols.insert(loc) {
            if let Some((name, off)) = ctx.kallsyms.resolve(loc) {
                let mut p = (loc - off).to_le_bytes().to_vec();
                p.extend_from_slice(name.as_bytes());
                blocks::custom(&mut self.buf, kind::SYMBOL, &p);
            }
        }
        let stack_ref = match stack {
            None => 0,
            Some(frames) => self.stack(frames),
        };
        let mut flags = 0;
        if !ev.capture.is_empty() {
            flags |= HAS_PACKET;
        }
        if ev.capture_l2 {
            flags |= PACKET_L2;
        }
        let rules = ev
            .rules
            .iter()
            .fold(0u64, |m, r| m | 1u64 << ((r - 1) % abi::MAX_RULES));
        let mut p = Vec::with_capacity(28 + size_of::<Meta>());
        p.extend_from_slice(&ev.hook.to_le_bytes());
        p.extend_from_slice(&stack_ref.to_le_bytes());
        p.extend_from_slice(&rules.to_le_bytes());
        p.extend_from_slice(&flags.to_le_bytes());
        p.extend_from_slice(&ev.wire_len.to_le_bytes());
        p.extend_from_slice(&(size_of::<Meta>() as u32).to_le_bytes());
        p.extend_from_slice(abi::bytes_of(&ev.meta));
        // The interface block goes first: the packet must follow its event.
        let iface = (!ev.capture.is_empty()).then(|| self.interface(ev));
        blocks::custom(&mut self.buf, kind::EVENT, &p);
        if let Some(iface) = iface {
            let ts = (i128::from(ev.meta.ts_ns) + i128::from(self.clock_offset_ns)).max(0) as u64;
            let comment = pcap::comment(ev, ctx);
            blocks::packet(&mut self.buf, iface, ts, &ev.capture, ev.wire_len, &comment);
            self.packets += 1;
        }
        self.events += 1;
        if self.buf.len() >= FLUSH_AT {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// The `count`/`hist` tables as the session showed them.
    pub fn aggregates(&mut self, aggs: &Aggregates) -> io::Result<()> {
        let json = serde_json::to_vec(&super::aggs::encode(aggs)).map_err(io::Error::other)?;
        blocks::custom(&mut self.buf, kind::AGGREGATES, &json);
        Ok(())
    }

    pub fn summary(&mut self, summary: &Summary) -> io::Result<()> {
        let json = serde_json::to_vec(summary).map_err(io::Error::other)?;
        blocks::custom(&mut self.buf, kind::SUMMARY, &json);
        self.flush()
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        self.out.flush()
    }

    /// Events and packets written so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.events, self.packets)
    }

    pub fn into_inner(mut self) -> io::Result<W> {
        self.flush()?;
        Ok(self.out)
    }

    /// The stack's number (from 1), written on first use.
    fn stack(&mut self, frames: &[String]) -> u32 {
        if let Some(n) = self.stacks.get(frames) {
            return *n;
        }
        let n = self.stacks.len() as u32 + 1;
        let mut p = n.to_le_bytes().to_vec();
        p.extend_from_slice(frames.join("\n").as_bytes());
        blocks::custom(&mut self.buf, kind::STACK, &p);
        self.stacks.insert(frames.to_vec(), n);
        n
    }

    /// The packet's interface block, written on first use.
    fn interface(&mut self, ev: &Event) -> u32 {
        let m = &ev.meta;
        let key = (m.netns, m.ifindex, ev.capture_l2);
        let next = self.interfaces.len() as u32;
        *self.interfaces.entry(key).or_insert_with(|| {
            let name = match (ev.ifname(), m.ifindex) {
                ("", 0) => "none".to_string(),
                ("", i) => format!("if{i}"),
                (n, _) => n.to_string(),
            };
            let (linktype, link) = if ev.capture_l2 {
                (1, "Ethernet")
            } else {
                (101, "raw IP")
            };
            let descr = format!("{name} ifindex {} netns {} ({link})", m.ifindex, m.netns);
            blocks::interface(&mut self.buf, linktype, abi::MAX_SNAPLEN, &name, &descr);
            next
        })
    }
}
