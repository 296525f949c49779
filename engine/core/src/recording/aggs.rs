//! `count`/`hist` tables to and from the JSON of an aggregates record.
//! Count keys travel as the hex of the kernel's 120-byte key, so every
//! field a key may hold comes back exactly.

use crate::abi::{self, AggKey, Hist, HIST_BUCKETS};
use crate::ir::KeyField;
use crate::output::agg::{Aggregates, CountTable, HistTable};
use serde_json::{json, Value};

pub(crate) fn encode(aggs: &Aggregates) -> Value {
    let counts: Vec<Value> = aggs
        .counts
        .iter()
        .map(|t| {
            let by: Vec<&str> =
                t.by.iter()
                    .map(|k| match k {
                        KeyField::Field(f) => f.as_str(),
                        KeyField::Rule => "rule",
                    })
                    .collect();
            let rows: Vec<Value> = t
                .rows
                .iter()
                .map(|(k, n)| json!([hex(abi::bytes_of(k)), n]))
                .collect();
            json!({"rule": t.rule, "text": t.text, "by": by, "rows": rows, "failed": t.failed})
        })
        .collect();
    let hists: Vec<Value> = aggs
        .hists
        .iter()
        .map(|h| {
            json!({"rule": h.rule, "text": h.text, "field": h.field,
                   "missing": h.hist.missing, "buckets": h.hist.buckets.to_vec()})
        })
        .collect();
    json!({"elapsed_ms": aggs.elapsed_ms, "last": aggs.last, "counts": counts, "hists": hists})
}

/// The tables back; `None` when the JSON is not what [`encode`] writes.
pub(crate) fn decode(v: &Value) -> Option<Aggregates> {
    let mut out = Aggregates {
        elapsed_ms: v["elapsed_ms"].as_u64()?,
        last: v["last"].as_bool()?,
        ..Aggregates::default()
    };
    for t in v["counts"].as_array()? {
        let by = t["by"]
            .as_array()?
            .iter()
            .map(|k| match k.as_str()? {
                "rule" => Some(KeyField::Rule),
                f => Some(KeyField::Field(f.to_string())),
            })
            .collect::<Option<Vec<_>>>()?;
        let rows = t["rows"]
            .as_array()?
            .iter()
            .map(|r| {
                let key: AggKey = abi::read_pod(&unhex(r[0].as_str()?)?)?;
                Some((key, r[1].as_u64()?))
            })
            .collect::<Option<Vec<_>>>()?;
        out.counts.push(CountTable {
            rule: t["rule"].as_u64()? as usize,
            text: t["text"].as_str()?.to_string(),
            by,
            rows,
            failed: t["failed"].as_u64()?,
        });
    }
    for h in v["hists"].as_array()? {
        let mut hist = Hist {
            missing: h["missing"].as_u64()?,
            ..Hist::default()
        };
        let buckets = h["buckets"].as_array()?;
        if buckets.len() != HIST_BUCKETS {
            return None;
        }
        for (slot, b) in hist.buckets.iter_mut().zip(buckets) {
            *slot = b.as_u64()?;
        }
        out.hists.push(HistTable {
            rule: h["rule"].as_u64()? as usize,
            text: h["text"].as_str()?.to_string(),
            field: h["field"].as_str()?.to_string(),
            hist,
        });
    }
    Some(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}
