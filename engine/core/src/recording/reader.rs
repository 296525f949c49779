//! `ferret -r`: a recording back into events, names, stacks, tables and
//! the summary. Reading stops at the first damage and keeps everything
//! before it, so a recording cut short by a crash or a full disk still
//! shows what it holds.

use super::blocks::{self, u32_at, u64_at, Blocks, RawBlock};
use super::writer::{HAS_PACKET, PACKET_L2};
use super::{kind, Context, ReadError, FORMAT_VERSION, PEN};
use crate::abi::{self, Meta};
use crate::event::Event;
use crate::kallsyms::Kallsyms;
use crate::output::agg::Aggregates;
use crate::output::Names;
use crate::summary::Summary;
use std::path::Path;

/// One recorded event and the number of its stack (from 1), if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub event: Event,
    pub stack: u32,
}

#[derive(Debug, Clone)]
pub struct Recording {
    pub context: Context,
    /// Function, reason and symbol names as the recording session had them.
    pub names: Names,
    pub events: Vec<Recorded>,
    pub stacks: Vec<Vec<String>>,
    /// Every `count`/`hist` record (`--interval` ticks, then the last).
    pub aggregates: Vec<Aggregates>,
    pub summary: Option<Summary>,
}

impl Recording {
    pub fn stack(&self, r: &Recorded) -> Option<&[String]> {
        let n = r.stack.checked_sub(1)? as usize;
        self.stacks.get(n).map(Vec::as_slice)
    }
}

/// Reads a whole file; see [`read`].
pub fn read_file(path: &Path) -> Result<(Recording, Option<ReadError>), ReadError> {
    let data = std::fs::read(path).map_err(|source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    read(&data)
}

/// The recording in `data`, and the damage that ended reading early, if
/// any. An error alone means nothing could be read (no context record).
pub fn read(data: &[u8]) -> Result<(Recording, Option<ReadError>), ReadError> {
    if u32_at(data, 0) != Some(blocks::SHB) {
        return Err(ReadError::NotPcapNg);
    }
    let mut state = State::default();
    let mut blocks = Blocks::new(data);
    let mut damage = None;
    while let Some(block) = blocks.next() {
        let step = block.and_then(|b| state.block(b, &mut blocks));
        if let Err(e) = step {
            damage = Some(e);
            break;
        }
    }
    let Some(context) = state.context else {
        return Err(damage.unwrap_or(ReadError::NoContext));
    };
    state.names.kallsyms = Kallsyms::parse(&state.symbols);
    state.names.reasons = Some(context.drop_reasons());
    let recording = Recording {
        context,
        names: state.names,
        events: state.events,
        stacks: state.stacks,
        aggregates: state.aggregates,
        summary: state.summary,
    };
    Ok((recording, damage))
}

#[derive(Default)]
struct State {
    context: Option<Context>,
    names: Names,
    symbols: String,
    events: Vec<Recorded>,
    stacks: Vec<Vec<String>>,
    aggregates: Vec<Aggregates>,
    summary: Option<Summary>,
}

fn corrupt(offset: usize, what: impl Into<String>) -> ReadError {
    ReadError::Corrupt {
        offset,
        what: what.into(),
    }
}

impl State {
    fn block(&mut self, b: RawBlock<'_>, rest: &mut Blocks<'_>) -> Result<(), ReadError> {
        if b.kind != blocks::CUSTOM || u32_at(b.body, 0) != Some(PEN) {
            return Ok(()); // the section header, interfaces, other tools' blocks
        }
        let (Some(kind), Some(len)) = (u32_at(b.body, 4), u32_at(b.body, 8)) else {
            return Err(corrupt(b.offset, "a ferret block too short for its header"));
        };
        let Some(p) = b.body.get(12..12 + len as usize) else {
            return Err(corrupt(b.offset, "a ferret record longer than its block"));
        };
        if self.context.is_none() && kind != kind::CONTEXT {
            return Err(corrupt(
                b.offset,
                "a ferret record before the context record",
            ));
        }
        let text = || String::from_utf8_lossy(p.get(4..).unwrap_or_default()).into_owned();
        match kind {
            kind::CONTEXT => {
                let c: Context = serde_json::from_slice(p).map_err(|e| {
                    corrupt(b.offset, format!("an unreadable context record ({e})"))
                })?;
                if c.format > FORMAT_VERSION {
                    return Err(ReadError::NewerFormat { found: c.format });
                }
                self.names.funcs = Context::base_names();
                self.context = Some(c);
            }
            kind::NAME => {
                let id = u32_at(p, 0).ok_or_else(|| corrupt(b.offset, "a short name record"))?;
                self.names.funcs.insert(id, &text());
            }
            kind::SYMBOL => {
                let addr =
                    u64_at(p, 0).ok_or_else(|| corrupt(b.offset, "a short symbol record"))?;
                let name = String::from_utf8_lossy(&p[8..]);
                self.symbols.push_str(&format!("{addr:x} T {name}\n"));
            }
            kind::STACK => {
                let n = u32_at(p, 0).ok_or_else(|| corrupt(b.offset, "a short stack record"))?;
                if n as usize != self.stacks.len() + 1 {
                    return Err(corrupt(b.offset, format!("stack {n} out of order")));
                }
                self.stacks
                    .push(text().split('\n').map(str::to_string).collect());
            }
            kind::EVENT => {
                let ev = self.event(b.offset, p, rest)?;
                self.events.push(ev);
            }
            kind::AGGREGATES => {
                let v: serde_json::Value = serde_json::from_slice(p)
                    .map_err(|e| corrupt(b.offset, format!("an unreadable table record ({e})")))?;
                let aggs = super::aggs::decode(&v)
                    .ok_or_else(|| corrupt(b.offset, "a table record of the wrong shape"))?;
                self.aggregates.push(aggs);
            }
            kind::SUMMARY => {
                let s = serde_json::from_slice(p).map_err(|e| {
                    corrupt(b.offset, format!("an unreadable summary record ({e})"))
                })?;
                self.summary = Some(s);
            }
            _ => {} // a later format's record: skipped
        }
        Ok(())
    }

    fn event(&self, offset: usize, p: &[u8], rest: &mut Blocks<'_>) -> Result<Recorded, ReadError> {
        let short = || corrupt(offset, "a short event record");
        let hook = u32_at(p, 0).ok_or_else(short)?;
        let stack = u32_at(p, 4).ok_or_else(short)?;
        let rules = u64_at(p, 8).ok_or_else(short)?;
        let flags = u32_at(p, 16).ok_or_else(short)?;
        let wire_len = u32_at(p, 20).ok_or_else(short)?;
        let meta_len = u32_at(p, 24).ok_or_else(short)? as usize;
        if meta_len != size_of::<Meta>() {
            return Err(corrupt(
                offset,
                format!(
                    "an event of {meta_len} metadata bytes, format 1 has {}",
                    size_of::<Meta>()
                ),
            ));
        }
        let meta: Meta = p.get(28..).and_then(abi::read_pod).ok_or_else(short)?;
        if stack as usize > self.stacks.len() {
            return Err(corrupt(
                offset,
                format!("an event naming stack {stack}, which is not recorded"),
            ));
        }
        let capture = if flags & HAS_PACKET != 0 {
            packet_data(offset, rest)?
        } else {
            Vec::new()
        };
        let event = Event {
            hook,
            rules: (0..abi::MAX_RULES)
                .filter(|i| rules & (1 << i) != 0)
                .map(|i| i + 1)
                .collect(),
            stack_id: None,
            meta,
            wire_len: wire_len.max(capture.len() as u32),
            capture,
            capture_l2: flags & PACKET_L2 != 0,
        };
        Ok(Recorded { event, stack })
    }
}

/// The packet block an event announced: the next block.
fn packet_data(offset: usize, rest: &mut Blocks<'_>) -> Result<Vec<u8>, ReadError> {
    let b = match rest.next() {
        None => {
            return Err(ReadError::Truncated {
                offset,
                need: 1,
                have: 0,
            })
        }
        Some(b) => b?,
    };
    if b.kind != blocks::EPB {
        return Err(corrupt(b.offset, "an event's packet block is missing"));
    }
    let cap = u32_at(b.body, 12).ok_or_else(|| corrupt(b.offset, "a short packet block"))? as usize;
    b.body
        .get(20..20 + cap)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| corrupt(b.offset, "a packet block shorter than its packet"))
}
