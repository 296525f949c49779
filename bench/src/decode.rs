//! Item 5: userspace decode + format rate. Ring records are recorded from
//! the real kernel side (ferret's object loaded in this process, a `print`
//! rule, a short flood), then decoded and formatted again and again on one
//! thread: events per second per core, for JSON and for the table.

use crate::load;
use crate::scenarios::FLOOD_PORT;
use ferret_core::event;
use ferret_core::kallsyms::Kallsyms;
use ferret_core::output::{JsonSink, Names, Sink, TableSink};
use ferret_kernel::{Kernel, LoadOptions};
use ferret_session::rules::RuleTable;
use ferret_session::system::SystemFacts;
use std::time::{Duration, Instant};

const RING: u32 = 64 << 20;
/// Records to record; paced so the ring never fills.
const RECORD: u64 = 20_000;

#[derive(Debug, Clone, serde::Serialize)]
pub struct DecodeRate {
    pub records: usize,
    pub json_per_s: f64,
    pub table_per_s: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("rule does not compile: {why}")]
    Rule { why: String },
    #[error(transparent)]
    Kernel(#[from] ferret_kernel::KernelError),
    #[error(transparent)]
    Load(#[from] load::LoadError),
    #[error("cannot start a tokio runtime: {source}")]
    Runtime { source: std::io::Error },
    #[error("no events were recorded (is the drop tracepoint firing?)")]
    Nothing,
    #[error("a recorded event does not decode: {source}")]
    Decode { source: event::DecodeError },
}

pub fn run(lab_ns: &str, per_format: Duration) -> Result<DecodeRate, DecodeError> {
    let facts = SystemFacts::load();
    let records = record(lab_ns, &facts)?;
    let ctx = Names {
        kallsyms: Kallsyms::load().unwrap_or_default(),
        reasons: facts.reasons.as_ref().ok().cloned(),
        funcs: facts.funcs.clone(),
    };
    for r in &records {
        event::decode(r).map_err(|source| DecodeError::Decode { source })?;
    }
    let json_per_s = rate(
        &records,
        per_format,
        &ctx,
        &mut JsonSink::new(std::io::BufWriter::with_capacity(
            64 * 1024,
            std::io::sink(),
        )),
    );
    let table_per_s = rate(
        &records,
        per_format,
        &ctx,
        &mut TableSink::new(std::io::BufWriter::with_capacity(
            64 * 1024,
            std::io::sink(),
        )),
    );
    Ok(DecodeRate {
        records: records.len(),
        json_per_s,
        table_per_s,
    })
}

fn record(lab_ns: &str, facts: &SystemFacts) -> Result<Vec<Vec<u8>>, DecodeError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| DecodeError::Runtime { source })?;
    let _guard = rt.enter();
    let text = format!("on drop where dport == {FLOOD_PORT} print");
    let (plan, diags) = ferret_core::compile(&text, &facts.env());
    let plan = plan.ok_or_else(|| DecodeError::Rule {
        why: diags
            .iter()
            .map(|d| d.message.clone())
            .collect::<Vec<_>>()
            .join("; "),
    })?;
    let mut kernel = Kernel::load(&LoadOptions {
        ring_bytes: RING,
        verbose_verifier: false,
    })?;
    let mut events = kernel.take_events()?;
    let mut table = RuleTable::new(ferret_session::session::wakeup_bytes(RING));
    for rule in plan.rules {
        table.add(&mut kernel, rule).map_err(|e| match e {
            ferret_session::rules::RulesError::Backend(k) => DecodeError::Kernel(k),
            other => DecodeError::Rule {
                why: other.to_string(),
            },
        })?;
    }
    let secs = 0.5;
    load::udp_flood(
        lab_ns,
        FLOOD_PORT,
        Duration::from_secs_f64(secs),
        Some(RECORD as f64 / secs),
    )?;
    let mut records = Vec::new();
    while events.drain(|r| records.push(r.to_vec())) > 0 {}
    if records.is_empty() {
        return Err(DecodeError::Nothing);
    }
    Ok(records)
}

/// Decode + format every record in turn until `budget` has passed, into
/// the 64 KiB buffered writer ferret itself writes through (the write
/// syscall behind it, which a pipe or a file makes cost what it costs, is
/// not counted).
fn rate(records: &[Vec<u8>], budget: Duration, ctx: &Names, sink: &mut dyn Sink) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        for r in records {
            if let Ok(ev) = event::decode(r) {
                let _ = sink.event(&ev, None, ctx);
            }
        }
        n += records.len() as u64;
    }
    let _ = sink.flush();
    n as f64 / start.elapsed().as_secs_f64()
}
