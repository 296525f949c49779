//! Where events are written: standard output, or `-o FILE`, a new file
//! readable only by its owner (engine/core/src/outfile.rs checks it). Its
//! own module, because tracing, replaying and playbooks all open it.

use crate::cli::OutputArgs;
use anyhow::Context;
use std::io::Write;

/// Creates the output: stdout, or a new file readable only by its owner.
pub fn open_output(args: &OutputArgs) -> anyhow::Result<Box<dyn Write>> {
    Ok(match &args.output {
        None => Box::new(std::io::stdout().lock()),
        Some(path) => Box::new(ferret_core::outfile::create(path).context("the output file")?),
    })
}
