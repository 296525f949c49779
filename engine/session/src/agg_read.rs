//! Turns the kernel's aggregation maps into per-rule tables: the count map
//! is read once and split by rule slot, each `hist` rule's buckets are read
//! from its slot, and `agg_failed` comes from the rule's counters.

use crate::error::SessionError;
use crate::rules::RuleTable;
use ferret_core::output::agg::{sort_rows, Aggregates, CountTable, HistTable};
use ferret_kernel::Kernel;
use std::collections::HashMap;
use std::time::Instant;

pub(crate) fn read(
    kernel: &Kernel,
    table: &RuleTable,
    started: Instant,
    last: bool,
) -> Result<Aggregates, SessionError> {
    let mut out = Aggregates {
        elapsed_ms: started.elapsed().as_millis() as u64,
        last,
        ..Aggregates::default()
    };
    let rules: Vec<_> = table.rules().filter(|(_, r)| r.plan.aggregates()).collect();
    if rules.is_empty() {
        return Ok(out);
    }
    let counters = kernel.counters()?;
    let mut by_slot: HashMap<usize, Vec<_>> = HashMap::new();
    if rules.iter().any(|(_, r)| r.plan.counts()) {
        for (key, n) in kernel.counts()? {
            by_slot.entry(key.slot as usize).or_default().push((key, n));
        }
    }
    for (slot, rule) in rules {
        let a = &rule.plan.actions;
        if let Some(by) = &a.count_by {
            let mut rows = by_slot.remove(&slot).unwrap_or_default();
            sort_rows(&mut rows);
            out.counts.push(CountTable {
                rule: rule.id,
                text: rule.plan.text.clone(),
                by: by.clone(),
                rows,
                failed: counters.get(slot).map_or(0, |c| c.agg_failed),
            });
        }
        if let Some(field) = &a.hist {
            out.hists.push(HistTable {
                rule: rule.id,
                text: rule.plan.text.clone(),
                field: field.clone(),
                hist: kernel.hist(slot)?,
            });
        }
    }
    Ok(out)
}
