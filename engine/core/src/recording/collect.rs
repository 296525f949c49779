//! A whole recording in memory, for what needs all of it at once (tests,
//! small files); `ferret -r` streams with [`RecordingReader`].

use super::reader::{Item, Recorded, RecordingReader};
use super::{Context, ReadError};
use crate::output::agg::Aggregates;
use crate::output::Names;
use crate::summary::Summary;
use std::path::Path;

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
    collect(super::reader::open(path)?)
}

/// The recording in `data`, and the damage that ended reading early, if
/// any. An error alone means nothing could be read (no context record).
pub fn read(data: &[u8]) -> Result<(Recording, Option<ReadError>), ReadError> {
    collect(RecordingReader::new(data)?)
}

fn collect<R: std::io::Read>(
    mut reader: RecordingReader<R>,
) -> Result<(Recording, Option<ReadError>), ReadError> {
    let mut rec = Recording {
        context: reader.context().clone(),
        names: Names::default(),
        events: Vec::new(),
        stacks: Vec::new(),
        aggregates: Vec::new(),
        summary: None,
    };
    let mut damage = None;
    while let Some(item) = reader.next_item() {
        match item {
            Ok(Item::Event(r)) => rec.events.push(r),
            Ok(Item::Tables(t)) => rec.aggregates.push(t),
            Ok(Item::Summary(s)) => rec.summary = Some(s),
            Err(e) => {
                damage = Some(e);
                break;
            }
        }
    }
    rec.names = reader.names().clone();
    rec.stacks = reader.stacks().to_vec();
    Ok((rec, damage))
}
