//! `ferret -r`: a recording back into events, names, stacks, tables and
//! the summary, one block at a time, so a recording of any size is read in
//! constant memory. Reading stops at the first damage; everything before
//! it has been handed out, so a recording cut short by a crash or a full
//! disk still shows what it holds.

use super::blocks::{self, u32_at, u64_at, BlockReader, RawBlock};
use super::writer::{HAS_PACKET, PACKET_L2};
use super::{kind, Context, ReadError, FORMAT_VERSION, PEN};
use crate::abi::{self, Meta};
use crate::event::Event;
use crate::kallsyms::Kallsyms;
use crate::output::agg::Aggregates;
use crate::output::Names;
use crate::summary::Summary;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

/// One recorded event and the number of its stack (from 1), if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub event: Event,
    pub stack: u32,
}

/// What a recording holds after its context, in order.
#[derive(Debug, Clone)]
pub enum Item {
    Event(Recorded),
    /// `count`/`hist` tables (each `--interval` tick, then the last).
    Tables(Aggregates),
    Summary(Summary),
}

/// Reads a recording item by item; names, symbols and stacks are kept as
/// they come, so every event can be shown when it is handed out.
pub struct RecordingReader<R> {
    blocks: BlockReader<R>,
    context: Context,
    names: Names,
    symbols: String,
    stacks: Vec<Vec<String>>,
    names_changed: bool,
}

impl<R> std::fmt::Debug for RecordingReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingReader")
            .field("context", &self.context)
            .finish_non_exhaustive()
    }
}

/// Opens a recording file; see [`RecordingReader::new`].
pub fn open(path: &Path) -> Result<RecordingReader<BufReader<File>>, ReadError> {
    let file = File::open(path).map_err(|source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    RecordingReader::new(BufReader::with_capacity(256 * 1024, file))
}

fn corrupt(offset: usize, what: impl Into<String>) -> ReadError {
    ReadError::Corrupt {
        offset,
        what: what.into(),
    }
}

impl<R: Read> RecordingReader<R> {
    /// Reads up to the context record: an error when the input is not a
    /// recording, or is damaged before its context.
    pub fn new(src: R) -> Result<RecordingReader<R>, ReadError> {
        let mut blocks = BlockReader::new(src);
        match blocks.next_block() {
            Some(Ok(b)) if b.kind == blocks::SHB => {}
            Some(Err(e @ ReadError::BigEndian { .. })) => return Err(e),
            _ => return Err(ReadError::NotPcapNg),
        }
        loop {
            let b = blocks.next_block().ok_or(ReadError::NoContext)??;
            let Some((kind::CONTEXT, p)) = record(&b)? else {
                continue;
            };
            let context: Context = serde_json::from_slice(p)
                .map_err(|e| corrupt(b.offset, format!("an unreadable context record ({e})")))?;
            if context.format > FORMAT_VERSION {
                return Err(ReadError::NewerFormat {
                    found: context.format,
                });
            }
            let names = Names {
                reasons: Some(context.drop_reasons()),
                funcs: Context::base_names(),
                ..Names::default()
            };
            return Ok(RecordingReader {
                blocks,
                context,
                names,
                symbols: String::new(),
                stacks: Vec::new(),
                names_changed: true,
            });
        }
    }

    pub fn context(&self) -> &Context {
        &self.context
    }

    /// Function, reason and symbol names as far as read.
    pub fn names(&self) -> &Names {
        &self.names
    }

    /// Whether names were added since the last call.
    pub fn take_names_changed(&mut self) -> bool {
        std::mem::take(&mut self.names_changed)
    }

    pub fn stack(&self, r: &Recorded) -> Option<&[String]> {
        let n = r.stack.checked_sub(1)? as usize;
        self.stacks.get(n).map(Vec::as_slice)
    }

    /// Every stack read so far, stack n at index n - 1.
    pub fn stacks(&self) -> &[Vec<String>] {
        &self.stacks
    }

    /// Reads to the end (or the damage) and returns every name: what
    /// checking offline rules needs before the first event (`func ==
    /// ip_rcv` names a function the recording may name only later).
    pub fn into_names(mut self) -> Names {
        while let Some(Ok(_)) = self.next_item() {}
        self.names
    }

    /// The next event, table or summary; `None` at the end; an error ends
    /// the reading.
    pub fn next_item(&mut self) -> Option<Result<Item, ReadError>> {
        loop {
            let b = match self.blocks.next_block()? {
                Ok(b) => b,
                Err(e) => return Some(Err(e)),
            };
            match self.block(&b) {
                Ok(None) => continue,
                Ok(Some(item)) => return Some(Ok(item)),
                Err(e) => return Some(Err(e)),
            }
        }
    }

    fn block(&mut self, b: &RawBlock) -> Result<Option<Item>, ReadError> {
        let Some((kind, p)) = record(b)? else {
            return Ok(None); // the section header, interfaces, other tools' blocks
        };
        let text = || String::from_utf8_lossy(p.get(4..).unwrap_or_default()).into_owned();
        let json = |what: &str| {
            serde_json::from_slice::<serde_json::Value>(p)
                .map_err(|e| corrupt(b.offset, format!("an unreadable {what} record ({e})")))
        };
        match kind {
            kind::NAME => {
                let id = u32_at(p, 0).ok_or_else(|| corrupt(b.offset, "a short name record"))?;
                self.names.funcs.insert(id, &text());
                self.names_changed = true;
            }
            kind::SYMBOL => {
                let addr =
                    u64_at(p, 0).ok_or_else(|| corrupt(b.offset, "a short symbol record"))?;
                self.symbols.push_str(&format!(
                    "{addr:x} T {}\n",
                    String::from_utf8_lossy(&p[8..])
                ));
                self.names.kallsyms = Kallsyms::parse(&self.symbols);
                self.names_changed = true;
            }
            kind::STACK => {
                let n = u32_at(p, 0).ok_or_else(|| corrupt(b.offset, "a short stack record"))?;
                if n as usize != self.stacks.len() + 1 {
                    return Err(corrupt(b.offset, format!("stack {n} out of order")));
                }
                self.stacks
                    .push(text().split('\n').map(str::to_string).collect());
            }
            kind::EVENT => return self.event(b.offset, p).map(|r| Some(Item::Event(r))),
            kind::AGGREGATES => {
                let aggs = super::aggs::decode(&json("table")?)
                    .ok_or_else(|| corrupt(b.offset, "a table record of the wrong shape"))?;
                return Ok(Some(Item::Tables(aggs)));
            }
            kind::SUMMARY => {
                let s = serde_json::from_value(json("summary")?).map_err(|e| {
                    corrupt(b.offset, format!("an unreadable summary record ({e})"))
                })?;
                return Ok(Some(Item::Summary(s)));
            }
            _ => {} // a second context, or a later format's record: skipped
        }
        Ok(None)
    }

    fn event(&mut self, offset: usize, p: &[u8]) -> Result<Recorded, ReadError> {
        let short = || corrupt(offset, "a short event record");
        let word = |at| u32_at(p, at).ok_or_else(short);
        let (hook, stack, flags, wire_len) = (word(0)?, word(4)?, word(16)?, word(20)?);
        let rules = u64_at(p, 8).ok_or_else(short)?;
        let meta_len = word(24)? as usize;
        if meta_len != size_of::<Meta>() {
            let what = format!(
                "an event of {meta_len} metadata bytes, format 1 has {}",
                size_of::<Meta>()
            );
            return Err(corrupt(offset, what));
        }
        let meta: Meta = p.get(28..).and_then(abi::read_pod).ok_or_else(short)?;
        if stack as usize > self.stacks.len() {
            return Err(corrupt(
                offset,
                format!("an event naming stack {stack}, which is not recorded"),
            ));
        }
        let capture = if flags & HAS_PACKET != 0 {
            self.packet_data(offset)?
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
            verdict: None,
        };
        Ok(Recorded { event, stack })
    }

    /// The packet block an event announced: the next block.
    fn packet_data(&mut self, offset: usize) -> Result<Vec<u8>, ReadError> {
        let b = match self.blocks.next_block() {
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
        let cap =
            u32_at(&b.body, 12).ok_or_else(|| corrupt(b.offset, "a short packet block"))? as usize;
        b.body
            .get(20..20 + cap)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| corrupt(b.offset, "a packet block shorter than its packet"))
    }
}

/// A ferret record's kind and payload; `None` for any other block.
fn record(b: &RawBlock) -> Result<Option<(u32, &[u8])>, ReadError> {
    if b.kind != blocks::CUSTOM || u32_at(&b.body, 0) != Some(PEN) {
        return Ok(None);
    }
    let (Some(kind), Some(len)) = (u32_at(&b.body, 4), u32_at(&b.body, 8)) else {
        return Err(corrupt(b.offset, "a ferret block too short for its header"));
    };
    let p = b
        .body
        .get(12..12 + len as usize)
        .ok_or_else(|| corrupt(b.offset, "a ferret record longer than its block"))?;
    Ok(Some((kind, p)))
}
