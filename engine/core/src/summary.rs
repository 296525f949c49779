//! The end-of-session account: per rule what the kernel saw, matched,
//! delivered, and what was lost and why. Nothing is lost silently.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSummary {
    pub rule: usize,
    pub text: String,
    /// Hook calls that evaluated the rule.
    pub seen: u64,
    pub matched: u64,
    /// Events the kernel wrote to the ring for this rule.
    pub emitted: u64,
    /// Events lost because the ring buffer was full.
    pub lost_ring_full: u64,
    /// Events suppressed by `limit N/s`.
    pub rate_limited: u64,
    /// Events of this rule that reached the output.
    pub delivered: u64,
    /// `count`/`hist` updates that failed (the count map was full).
    pub agg_failed: u64,
}

/// What went to the `--pcap` file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PcapSummary {
    pub path: String,
    pub packets: u64,
    /// Interface description blocks: one per device, namespace and link type.
    pub interfaces: u64,
    /// Events of capture rules that carried no packet bytes (no network
    /// header set yet), so are not in the file.
    pub skipped: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub rules: Vec<RuleSummary>,
    /// Records that could not be decoded (each also reported when it happened).
    pub decode_errors: u64,
    pub duration_ms: u64,
    /// Why the session ended: `duration`, `signal`, `stop-after`, `command`.
    pub ended_by: String,
    /// With `--cmd`: the command's exit status (128 + N when signal N
    /// ended it, as shells report it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command_status: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pcap: Option<PcapSummary>,
    /// With `track` rules: how full the track map got.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub track: Option<TrackUsage>,
    /// With `explain` rules: how many drops were explained, and how long
    /// after the drop their events were ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explain: Option<ExplainSummary>,
}

/// What `explain` did over the session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExplainSummary {
    /// Events that got a named verdict.
    pub explained: u64,
    /// Events reported as unknown (pending ones included).
    pub unknown: u64,
    /// From the drop to its event with the verdict: mean and worst, in µs.
    pub latency_mean_us: u64,
    pub latency_max_us: u64,
}

/// Entries in the track map at the end, and its capacity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackUsage {
    pub tracked: u64,
    pub capacity: u64,
}

impl TrackUsage {
    /// At capacity, the LRU map has been forgetting the oldest skbs.
    pub fn full(&self) -> bool {
        self.tracked >= self.capacity
    }
}

impl Summary {
    /// Everything the session failed to account for: events lost in a
    /// full ring, undecodable records, matches a full count map missed.
    pub fn lost(&self) -> u64 {
        self.rules
            .iter()
            .map(|r| r.lost_ring_full + r.agg_failed)
            .sum::<u64>()
            + self.decode_errors
    }

    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).expect("summaries serialize");
        v["type"] = "summary".into();
        v
    }

    pub fn render_text(&self) -> String {
        use std::fmt::Write;
        let mut out = format!(
            "\nferret: session ended ({}) after {:.1}s\n",
            self.ended_by,
            self.duration_ms as f64 / 1000.0
        );
        let _ = writeln!(
            out,
            "{:>4} {:>10} {:>10} {:>10} {:>10} {:>10}  RULE",
            "RULE", "SEEN", "MATCHED", "EMITTED", "LOST", "LIMITED"
        );
        for r in &self.rules {
            let _ = writeln!(
                out,
                "{:>4} {:>10} {:>10} {:>10} {:>10} {:>10}  {}",
                r.rule, r.seen, r.matched, r.emitted, r.lost_ring_full, r.rate_limited, r.text
            );
        }
        let lost: u64 = self.rules.iter().map(|r| r.lost_ring_full).sum();
        if lost > 0 {
            let _ = writeln!(out, "ferret: warning: {lost} events lost because the ring buffer was full; try --ring-mib 64, a narrower filter, or `limit N/s`");
        }
        let limited: u64 = self.rules.iter().map(|r| r.rate_limited).sum();
        if limited > 0 {
            let _ = writeln!(
                out,
                "ferret: {limited} events suppressed by `limit` (counted, not shown)"
            );
        }
        if let Some(t) = self.track.filter(TrackUsage::full) {
            let _ = writeln!(out, "ferret: warning: the track map is full ({} skbs): the oldest tracked skbs were forgotten, so their later events may not match; narrow the tracking rule's filter", t.capacity);
        }
        let failed: u64 = self.rules.iter().map(|r| r.agg_failed).sum();
        if failed > 0 {
            let _ = writeln!(out, "ferret: warning: {failed} matches not counted because the count map was full ({} keys); count by fewer fields or narrow the filter", crate::abi::COUNT_CAPACITY);
        }
        if let Some(p) = &self.pcap {
            let _ = writeln!(
                out,
                "ferret: {} packets written to {} ({} interface{})",
                p.packets,
                p.path,
                p.interfaces,
                if p.interfaces == 1 { "" } else { "s" }
            );
            if p.skipped > 0 {
                let _ = writeln!(
                    out,
                    "ferret: {} events of capture rules had no packet bytes yet (no network header) and are not in the file",
                    p.skipped
                );
            }
        }
        if let Some(x) = &self.explain {
            let _ = writeln!(
                out,
                "ferret: explain: {} drops explained, {} unknown; drop to explained event {} µs on average, {} µs at most",
                x.explained, x.unknown, x.latency_mean_us, x.latency_max_us
            );
        }
        if let Some(status) = self.command_status {
            let _ = writeln!(out, "ferret: the command exited with status {status}");
        }
        if self.decode_errors > 0 {
            let _ = writeln!(
                out,
                "ferret: warning: {} records could not be decoded",
                self.decode_errors
            );
        }
        out
    }
}

#[cfg(test)]
mod explain_tests {
    use super::*;

    #[test]
    fn explains_counts_and_latency_are_in_the_text_and_json() {
        let mut s = Summary::default();
        assert!(!s.render_text().contains("explain"));
        assert!(s.to_json().get("explain").is_none());
        s.explain = Some(ExplainSummary {
            explained: 3,
            unknown: 1,
            latency_mean_us: 900,
            latency_max_us: 2000,
        });
        assert!(s.render_text().contains(
            "explain: 3 drops explained, 1 unknown; drop to explained event 900 µs on average, 2000 µs at most"
        ));
        assert_eq!(s.to_json()["explain"]["explained"], 3);
    }
}

#[cfg(test)]
mod track_tests {
    use super::*;

    #[test]
    fn a_full_track_map_is_reported() {
        let mut s = Summary {
            track: Some(TrackUsage {
                tracked: 65536,
                capacity: 65536,
            }),
            ..Summary::default()
        };
        assert!(s
            .render_text()
            .contains("the track map is full (65536 skbs)"));
        s.track = Some(TrackUsage {
            tracked: 10,
            capacity: 65536,
        });
        assert!(!s.render_text().contains("track map"));
    }
}
