//! `count by` tables and `hist` histograms as read from the kernel at one
//! moment, and their text and JSON forms. Keys are shown with names where
//! the kernel has numbers: drop reasons, functions, protocols, families,
//! addresses.

use super::Names;
use crate::abi::{field, AggKey, Hist, HIST_BUCKETS};
use crate::catalog::{self, FieldKind};
use crate::event::{cstr, family_name, ip, proto_name};
use crate::ir::KeyField;
use serde_json::{json, Value};
use std::fmt::Write;

/// What the aggregation maps held at one moment (the end of the session,
/// or an `--interval` tick). Totals since the session started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Aggregates {
    pub elapsed_ms: u64,
    /// The last tables of the session.
    pub last: bool,
    pub counts: Vec<CountTable>,
    pub hists: Vec<HistTable>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountTable {
    pub rule: usize,
    pub text: String,
    /// The keys as written (`rule` included when named).
    pub by: Vec<KeyField>,
    /// Most frequent first.
    pub rows: Vec<(AggKey, u64)>,
    /// Matches the kernel could not count: the map was full.
    pub failed: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistTable {
    pub rule: usize,
    pub text: String,
    pub field: String,
    pub hist: Hist,
}

impl Aggregates {
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty() && self.hists.is_empty()
    }

    pub fn render_text(&self, ctx: &Names) -> String {
        let mut out = String::new();
        if !self.last {
            let _ = writeln!(out, "ferret: after {:.1}s", self.elapsed_ms as f64 / 1000.0);
        }
        for t in &self.counts {
            out.push_str(&t.render_text(ctx));
        }
        for h in &self.hists {
            out.push_str(&h.render_text());
        }
        out
    }

    /// One JSON object per table (`"type": "count"` / `"hist"`).
    pub fn to_json(&self, ctx: &Names) -> Vec<Value> {
        let mut v: Vec<Value> = self.counts.iter().map(|t| t.to_json(ctx)).collect();
        v.extend(self.hists.iter().map(HistTable::to_json));
        for obj in &mut v {
            obj["elapsed_ms"] = self.elapsed_ms.into();
            obj["final"] = self.last.into();
        }
        v
    }
}

/// Sorts rows as the tables show them: by count, most first; ties by key.
pub fn sort_rows(rows: &mut [(AggKey, u64)]) {
    rows.sort_by(|(ka, a), (kb, b)| b.cmp(a).then_with(|| ka.cmp(kb)));
}

impl CountTable {
    fn header(&self) -> Vec<String> {
        self.by
            .iter()
            .map(|k| match k {
                KeyField::Rule => "RULE".to_string(),
                KeyField::Field(name) => name.to_ascii_uppercase(),
            })
            .collect()
    }

    pub fn total(&self) -> u64 {
        self.rows.iter().map(|(_, n)| n).sum()
    }

    pub fn render_text(&self, ctx: &Names) -> String {
        let mut lines: Vec<Vec<String>> = vec![self.header()];
        for (key, _) in &self.rows {
            lines.push(
                self.by
                    .iter()
                    .map(|k| key_text(key, k, self.rule, ctx).unwrap_or_else(|| "-".into()))
                    .collect(),
            );
        }
        let widths: Vec<usize> = (0..self.by.len())
            .map(|i| lines.iter().map(|l| l[i].len()).max().unwrap_or(0))
            .collect();
        let counts: Vec<String> = std::iter::once("COUNT".to_string())
            .chain(self.rows.iter().map(|(_, n)| n.to_string()))
            .collect();
        let count_width = counts.iter().map(String::len).max().unwrap_or(5);
        let plural = if self.rows.len() == 1 { "" } else { "s" };
        let mut out = format!(
            "rule {}: {} ({} match{}, {} key{plural})\n",
            self.rule,
            self.text,
            self.total(),
            if self.total() == 1 { "" } else { "es" },
            self.rows.len()
        );
        for (cells, count) in lines.iter().zip(&counts) {
            let mut line = format!("  {count:>count_width$}");
            for (cell, w) in cells.iter().zip(&widths) {
                let _ = write!(line, "  {cell:<w$}");
            }
            let _ = writeln!(out, "{}", line.trim_end());
        }
        if self.failed > 0 {
            let _ = writeln!(
                out,
                "  ferret: warning: {} matches not counted: the count map is full ({} keys for all rules); count by fewer fields or narrow the filter",
                self.failed,
                crate::abi::COUNT_CAPACITY
            );
        }
        out.push('\n');
        out
    }

    pub fn to_json(&self, ctx: &Names) -> Value {
        let by: Vec<String> = self.header().iter().map(|h| h.to_lowercase()).collect();
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|(key, n)| {
                let mut k = serde_json::Map::new();
                for (name, kf) in by.iter().zip(&self.by) {
                    k.insert(name.clone(), key_json(key, kf, self.rule, ctx));
                }
                json!({ "count": n, "key": k })
            })
            .collect();
        json!({
            "type": "count",
            "rule": self.rule,
            "text": self.text,
            "by": by,
            "total": self.total(),
            "failed": self.failed,
            "rows": rows,
        })
    }
}

/// A key field as text, `None` when the packet did not carry it.
pub fn key_text(key: &AggKey, kf: &KeyField, rule: usize, ctx: &Names) -> Option<String> {
    match key_json(key, kf, rule, ctx) {
        Value::Null => None,
        Value::String(s) => Some(s),
        other => Some(other.to_string()),
    }
}

/// A key field as JSON: names where there are names, numbers otherwise,
/// `null` when the packet did not carry the field.
pub fn key_json(key: &AggKey, kf: &KeyField, rule: usize, ctx: &Names) -> Value {
    let name = match kf {
        KeyField::Rule => return json!(rule),
        KeyField::Field(name) => name,
    };
    let Some(def) = catalog::lookup(name) else {
        return Value::Null;
    };
    if key.present & (1 << def.id) == 0 {
        return Value::Null;
    }
    match def.kind {
        FieldKind::Addr => {
            let bytes = if def.id == field::SADDR {
                &key.saddr
            } else {
                &key.daddr
            };
            json!(ip(bytes).to_string())
        }
        FieldKind::Name => {
            let bytes = if def.id == field::IFNAME {
                &key.ifname
            } else {
                &key.comm
            };
            json!(cstr(bytes))
        }
        FieldKind::Proto => proto_name(key.proto).map_or_else(|| json!(key.proto), |n| json!(n)),
        FieldKind::Family => {
            family_name(key.family).map_or_else(|| json!(key.family), |n| json!(n))
        }
        FieldKind::Reason => json!(ctx.reason_name(key.reason)),
        FieldKind::Func => ctx
            .funcs
            .name(key.func_id)
            .map_or_else(|| json!(key.func_id), |n| json!(n)),
        FieldKind::TcpFlags => json!(tcpflags_text(key.tcpflags)),
        FieldKind::Uint if def.id == field::MARK => json!(format!("{:#x}", key.mark)),
        FieldKind::Port | FieldKind::Uint | FieldKind::Netns => {
            let meta = key.as_meta();
            def.value_in(&meta).map_or(Value::Null, |v| json!(v as u64))
        }
    }
}

/// `syn|ack`, or `none`.
pub fn tcpflags_text(flags: u8) -> String {
    let names: Vec<&str> = catalog::TCP_FLAGS
        .iter()
        .filter(|(_, bit)| flags & bit != 0)
        .map(|(n, _)| *n)
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join("|")
    }
}

/// The first value of bucket `b` and the first value past it.
pub fn bucket_range(b: usize) -> (u64, u64) {
    if b == 0 {
        (0, 1)
    } else {
        (1 << (b - 1), 1 << b)
    }
}

/// bpftrace's bucket bounds: 1024 is `1K`, 2^20 `1M`, 2^30 `1G`.
fn bound_text(v: u64) -> String {
    for (shift, unit) in [(30, "G"), (20, "M"), (10, "K")] {
        if v >= 1 << shift && v % (1 << shift) == 0 {
            return format!("{}{unit}", v >> shift);
        }
    }
    v.to_string()
}

const BAR_WIDTH: u64 = 52;

impl HistTable {
    pub fn total(&self) -> u64 {
        self.hist.buckets.iter().sum()
    }

    /// Like bpftrace's `hist()`: one line per bucket from the lowest to the
    /// highest non-empty one, with a bar scaled to the largest.
    pub fn render_text(&self) -> String {
        let mut out = format!(
            "rule {}: {} ({} values)\n",
            self.rule,
            self.text,
            self.total()
        );
        let used: Vec<usize> = (0..HIST_BUCKETS)
            .filter(|b| self.hist.buckets[*b] > 0)
            .collect();
        if let (Some(first), Some(last)) = (used.first(), used.last()) {
            let max = self.hist.buckets.iter().copied().max().unwrap_or(1);
            for b in *first..=*last {
                let n = self.hist.buckets[b];
                let label = match b {
                    0 => "[0]".to_string(),
                    1 => "[1]".to_string(),
                    _ => {
                        let (lo, hi) = bucket_range(b);
                        format!("[{}, {})", bound_text(lo), bound_text(hi))
                    }
                };
                let bar = "@".repeat((n * BAR_WIDTH / max) as usize);
                let _ = writeln!(
                    out,
                    "{label:<16}{n:>8} |{bar:<width$}|",
                    width = BAR_WIDTH as usize
                );
            }
        }
        if self.hist.missing > 0 {
            let _ = writeln!(
                out,
                "({} matches carried no `{}`)",
                self.hist.missing, self.field
            );
        }
        out.push('\n');
        out
    }

    pub fn to_json(&self) -> Value {
        let buckets: Vec<Value> = (0..HIST_BUCKETS)
            .filter(|b| self.hist.buckets[*b] > 0)
            .map(|b| {
                let (lo, hi) = bucket_range(b);
                json!({ "lo": lo, "hi": hi, "count": self.hist.buckets[b] })
            })
            .collect();
        json!({
            "type": "hist",
            "rule": self.rule,
            "text": self.text,
            "field": self.field,
            "total": self.total(),
            "missing": self.hist.missing,
            "buckets": buckets,
        })
    }
}

#[cfg(test)]
#[path = "agg_tests.rs"]
mod tests;
