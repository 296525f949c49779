//! `/healthz`: whether the probes are attached, what was lost, how the
//! last reload went. 200 when the rules' probes are attached, else 503, so
//! a Kubernetes probe or a load balancer can act on the status alone.

use crate::http::Reply;
use crate::metrics::scrape::Lost;
use ferret_core::summary::Summary;
use serde_json::json;

/// How the last reload of the rules file went.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LastReload {
    pub ok: bool,
    /// What it changed, or why it was refused.
    pub message: String,
    pub unix_s: u64,
}

#[derive(Debug)]
pub struct HealthInput<'a> {
    pub node: &'a str,
    pub probes_attached: bool,
    pub attached: String,
    pub summary: &'a Summary,
    pub last_reload: Option<&'a LastReload>,
    pub events_written: u64,
    /// What rules since removed had lost.
    pub removed_lost: Lost,
}

pub fn reply(h: &HealthInput<'_>) -> Reply {
    let rules = &h.summary.rules;
    let sum = |f: fn(&ferret_core::summary::RuleSummary) -> u64| rules.iter().map(f).sum::<u64>();
    let lost = Lost::of(rules).plus(h.removed_lost);
    let body = json!({
        "status": if h.probes_attached { "ok" } else { "no probes attached" },
        "node": h.node,
        "probes_attached": h.probes_attached,
        "attached": h.attached,
        "rules": rules.len(),
        "uptime_ms": h.summary.duration_ms,
        "events_written": h.events_written,
        "lost": {
            "total": lost.ring_full + lost.count_map_full + h.summary.decode_errors,
            "ring_full": lost.ring_full,
            "count_map_full": lost.count_map_full,
            "decode_errors": h.summary.decode_errors,
        },
        "rate_limited": sum(|r| r.rate_limited),
        "last_reload": h.last_reload.map(|r| json!({
            "ok": r.ok,
            "message": r.message,
            "unix_s": r.unix_s,
        })),
    });
    Reply {
        status: if h.probes_attached { 200 } else { 503 },
        content_type: "application/json",
        body: format!("{body}\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferret_core::summary::RuleSummary;

    #[test]
    fn health_says_what_was_lost_and_fails_without_probes() {
        let summary = Summary {
            rules: vec![RuleSummary {
                lost_ring_full: 3,
                agg_failed: 1,
                ..RuleSummary::default()
            }],
            ..Summary::default()
        };
        let mut h = HealthInput {
            node: "n1",
            probes_attached: true,
            attached: "drop (tp_btf)".into(),
            summary: &summary,
            last_reload: None,
            events_written: 9,
            removed_lost: Lost {
                ring_full: 10,
                count_map_full: 0,
            },
        };
        let r = reply(&h);
        assert_eq!(r.status, 200);
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["lost"]["total"], 14, "removed rules' losses count: {v}");
        assert_eq!(v["lost"]["ring_full"], 13);
        assert_eq!(v["node"], "n1");
        h.probes_attached = false;
        assert_eq!(reply(&h).status, 503);
    }
}
