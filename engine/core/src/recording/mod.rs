//! Recordings: a session written to one pcap-ng file (`ferret -w`) and
//! read back (`ferret -r`). Packets of `capture` rules are ordinary
//! enhanced packet blocks with a comment, so Wireshark and tshark open the
//! file; everything else (the context, function and symbol names, stacks,
//! every event with all its fields, the `count`/`hist` tables and the
//! summary) travels in blocks of a local-use type (0x80000BAD) laid out as
//! custom blocks, under an enterprise number; other readers skip them.
//!
//! Each such block holds one record: enterprise number, kind, payload
//! length, payload. The first record is the [`Context`]; its `format`
//! field is the version of everything below. Names, symbols and stacks are
//! written once, the first time an event needs them; an event with packet
//! bytes is followed by its packet block.

mod aggs;
mod blocks;
mod collect;
mod context;
pub mod html;
pub mod offline;
mod offline_check;
pub mod paths;
mod reader;
mod writer;

pub use collect::{read, read_file, Recording};
pub use context::{Context, RecordedNetns, RecordedRule};
pub use reader::{open, Item, Recorded, RecordingReader};
pub use writer::RecordingWriter;

/// The format this ferret writes; it reads this one and every earlier one.
pub const FORMAT_VERSION: u32 = 1;
/// The enterprise number of ferret's custom blocks: 32473, the number RFC
/// 5612 sets aside for documentation and examples, as ferret has no
/// registered one of its own.
pub const PEN: u32 = 32473;

/// Record kinds (the second word of a ferret custom block).
pub(crate) mod kind {
    pub const CONTEXT: u32 = 1;
    pub const NAME: u32 = 2;
    pub const SYMBOL: u32 = 3;
    pub const STACK: u32 = 4;
    pub const EVENT: u32 = 5;
    pub const AGGREGATES: u32 = 6;
    pub const SUMMARY: u32 = 7;
}

/// What went wrong reading a recording. Everything before the damage has
/// been read and is kept (see [`read`]).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("reading the recording failed at byte {offset}: {source}")]
    Read {
        offset: usize,
        source: std::io::Error,
    },
    #[error("not a pcap-ng file (it does not start with a section header block)")]
    NotPcapNg,
    #[error("the section at byte {offset} is big-endian; ferret writes and reads little-endian recordings only")]
    BigEndian { offset: usize },
    #[error("the file is cut short at byte {offset}: the block there needs {need} bytes, {have} are left (was the recording interrupted?)")]
    Truncated {
        offset: usize,
        need: usize,
        have: usize,
    },
    #[error("the file is damaged at byte {offset}: {what}")]
    Corrupt { offset: usize, what: String },
    #[error("this pcap-ng file holds no ferret recording (no context block): was it written by --pcap rather than -w?")]
    NoContext,
    #[error("the recording is format {found}, newer than this ferret reads ({FORMAT_VERSION}); read it with a newer ferret")]
    NewerFormat { found: u32 },
}

#[cfg(test)]
mod tests;
