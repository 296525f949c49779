//! `-w FILE`: the session goes to a recording instead of the terminal, as
//! `tcpdump -w` does; the tables and the account still reach stderr.

use anyhow::Context as _;
use ferret_core::event::Event;
use ferret_core::output::{Aggregates, Names, Sink};
use ferret_core::plan::Plan;
use ferret_core::recording::{Context, RecordingWriter};
use ferret_core::summary::Summary;
use ferret_session::system::SystemFacts;
use std::fs::File;
use std::io::{self, BufWriter};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

pub struct RecordSink {
    writer: RecordingWriter<BufWriter<File>>,
    path: PathBuf,
}

impl RecordSink {
    /// Creates the file (0600, as every output) and writes the context of
    /// a session about to run `plan`.
    pub fn create(path: &Path, plan: &Plan, facts: &SystemFacts) -> anyhow::Result<RecordSink> {
        let file = ferret_core::outfile::create(path).context("the recording (-w)")?;
        let context = Context::for_plan(plan, facts.reasons.as_ref().ok(), netns_names());
        let writer = RecordingWriter::new(BufWriter::with_capacity(64 * 1024, file), &context)
            .with_context(|| format!("cannot write the recording {}", path.display()))?;
        Ok(RecordSink {
            writer,
            path: path.to_path_buf(),
        })
    }
}

/// Every match of every rule is recorded, so that it can be filtered,
/// counted and grouped later: rules that only count or histogram in the
/// kernel also deliver their events while recording.
pub fn deliver_everything(plan: &mut Plan) {
    for rule in &mut plan.rules {
        if !rule.delivers() {
            rule.actions.print = true;
            rule.action_flags = rule.actions.flags();
        }
    }
}

/// The namespaces `ip netns` named (`/run/netns`), by inode.
fn netns_names() -> Vec<(String, u32)> {
    let Ok(dir) = std::fs::read_dir("/run/netns") else {
        return Vec::new();
    };
    let mut names: Vec<(String, u32)> = dir
        .flatten()
        .filter_map(|e| {
            let ino = u32::try_from(std::fs::metadata(e.path()).ok()?.ino()).ok()?;
            Some((e.file_name().to_string_lossy().into_owned(), ino))
        })
        .collect();
    names.sort();
    names
}

impl Sink for RecordSink {
    fn event(&mut self, ev: &Event, stack: Option<&[String]>, ctx: &Names) -> io::Result<()> {
        self.writer.event(ev, stack, ctx)
    }

    fn summary(&mut self, summary: &Summary) -> io::Result<()> {
        self.writer.summary(summary)?;
        let (events, packets) = self.writer.counts();
        eprint!("{}", summary.render_text());
        eprintln!(
            "ferret: recorded {events} events ({packets} with packet bytes) to {}; read it with ferret -r",
            self.path.display()
        );
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }

    fn aggregates(&mut self, aggs: &Aggregates, ctx: &Names) -> io::Result<()> {
        self.writer.aggregates(aggs)?;
        eprint!("{}", aggs.render_text(ctx));
        Ok(())
    }
}
