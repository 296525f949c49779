//! Which traced drop is the event's: the matching rule of `explain`.
//!
//! A trace record is the event's only if it is of the same flow, agrees on
//! the packet fields both carry (TTL, TCP flags), and was received close to
//! the drop: nftables reports the verdict before the kernel frees the
//! packet, so the record of this packet arrives at most [`SLACK_NS`]
//! before the drop's time and, normally, well within [`WAIT`] after it.
//! Among such candidates the nearest in time is taken (and used up, so one
//! record explains one event). When the candidates do not all name the
//! same rule the answer is ambiguous and reported as unknown: a rule is
//! never guessed.

use super::monitor_line::{FlowKey, TracedPacket};
use ferret_core::verdict::NftVerdict;
use std::collections::VecDeque;
use std::time::Duration;

/// How long before the drop's time a record of the same packet may arrive
/// (the verdict precedes the free; the reader may be on another CPU).
pub const SLACK_NS: u64 = 5_000_000;
/// How long the session waits for a record after a drop.
pub const WAIT: Duration = Duration::from_millis(250);
/// Records older than this (no event claimed them) are forgotten.
pub const KEEP_NS: u64 = 5_000_000_000;

/// A drop verdict from the trace: what it was of, when it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracedDrop {
    /// CLOCK_MONOTONIC when the line was read (the events' clock).
    pub at_ns: u64,
    pub packet: TracedPacket,
    pub verdict: NftVerdict,
}

/// The event's side of the match.
#[derive(Debug, Clone, Copy)]
pub struct Dropped {
    pub flow: FlowKey,
    pub ttl: Option<u8>,
    pub tcpflags: Option<u8>,
    /// The drop's time (CLOCK_MONOTONIC).
    pub at_ns: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// The verdict, and how many records were candidates.
    Found {
        verdict: NftVerdict,
        candidates: usize,
    },
    /// Candidates that name different rules.
    Ambiguous {
        candidates: usize,
    },
    None,
}

fn agrees(a: Option<u8>, b: Option<u8>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}

fn same_rule(a: &NftVerdict, b: &NftVerdict) -> bool {
    (&a.family, &a.table, &a.chain, a.handle, a.policy)
        == (&b.family, &b.table, &b.chain, b.handle, b.policy)
}

/// Finds the event's record among `drops` and removes it.
pub fn take(drops: &mut VecDeque<TracedDrop>, ev: &Dropped) -> Match {
    let window = ev.at_ns.saturating_sub(SLACK_NS)..=ev.at_ns + WAIT.as_nanos() as u64;
    let candidates: Vec<usize> = drops
        .iter()
        .enumerate()
        .filter(|(_, d)| {
            d.packet.flow == ev.flow
                && agrees(d.packet.ttl, ev.ttl)
                && agrees(d.packet.tcpflags, ev.tcpflags)
                && window.contains(&d.at_ns)
        })
        .map(|(i, _)| i)
        .collect();
    let Some(&nearest) = candidates
        .iter()
        .min_by_key(|i| drops[**i].at_ns.abs_diff(ev.at_ns))
    else {
        return Match::None;
    };
    if candidates
        .iter()
        .any(|i| !same_rule(&drops[*i].verdict, &drops[nearest].verdict))
    {
        return Match::Ambiguous {
            candidates: candidates.len(),
        };
    }
    let taken = drops.remove(nearest).expect("an index from this deque");
    Match::Found {
        verdict: taken.verdict,
        candidates: candidates.len(),
    }
}

/// Forgets records no event can claim any more.
pub fn expire(drops: &mut VecDeque<TracedDrop>, now_ns: u64) {
    drops.retain(|d| d.at_ns + KEEP_NS >= now_ns);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(sport: u16) -> FlowKey {
        FlowKey {
            proto: 6,
            saddr: "198.18.0.1".parse().unwrap(),
            daddr: "198.18.0.2".parse().unwrap(),
            sport,
            dport: 443,
        }
    }

    fn verdict(handle: u64) -> NftVerdict {
        NftVerdict {
            family: "ip".into(),
            table: "filter".into(),
            chain: "output".into(),
            handle: Some(handle),
            rule: Some("tcp dport 443 drop".into()),
            policy: false,
            comment: None,
            iptables: None,
            ct: None,
        }
    }

    fn traced(at_ms: u64, sport: u16, handle: u64) -> TracedDrop {
        TracedDrop {
            at_ns: at_ms * 1_000_000,
            packet: TracedPacket {
                flow: flow(sport),
                ttl: Some(64),
                tcpflags: Some(2),
            },
            verdict: verdict(handle),
        }
    }

    fn dropped(at_ms: u64, sport: u16) -> Dropped {
        Dropped {
            flow: flow(sport),
            ttl: Some(64),
            tcpflags: Some(2),
            at_ns: at_ms * 1_000_000,
        }
    }

    #[test]
    fn the_nearest_record_of_the_same_flow_is_taken_once() {
        let mut d: VecDeque<_> =
            [traced(1000, 1, 2), traced(2000, 1, 2), traced(1001, 9, 7)].into();
        let m = take(&mut d, &dropped(999, 1));
        assert_eq!(
            m,
            Match::Found {
                verdict: verdict(2),
                candidates: 1
            }
        );
        assert_eq!(d.len(), 2, "used up");
        // The other flow's record is not ours, however close.
        assert_eq!(take(&mut d, &dropped(1001, 2)), Match::None);
    }

    #[test]
    fn records_outside_the_window_or_with_other_fields_are_not_candidates() {
        let mut d: VecDeque<_> = [traced(1000, 1, 2)].into();
        // 10 ms before the drop: an earlier packet's.
        assert_eq!(take(&mut d, &dropped(1010, 1)), Match::None);
        // After the wait.
        assert_eq!(take(&mut d, &dropped(1000 - 251, 1)), Match::None);
        let mut other_ttl = dropped(1000, 1);
        other_ttl.ttl = Some(63);
        assert_eq!(take(&mut d, &other_ttl), Match::None);
        let mut ack = dropped(1000, 1);
        ack.tcpflags = Some(0x10);
        assert_eq!(take(&mut d, &ack), Match::None);
        assert!(matches!(
            take(&mut d, &dropped(999, 1)),
            Match::Found { .. }
        ));
    }

    #[test]
    fn candidates_naming_different_rules_are_ambiguous_not_guessed() {
        let mut d: VecDeque<_> = [traced(100, 1, 2), traced(102, 1, 3)].into();
        assert_eq!(
            take(&mut d, &dropped(100, 1)),
            Match::Ambiguous { candidates: 2 }
        );
        assert_eq!(d.len(), 2, "nothing used up");
        let mut same: VecDeque<_> = [traced(100, 1, 2), traced(102, 1, 2)].into();
        assert_eq!(
            take(&mut same, &dropped(101, 1)),
            Match::Found {
                verdict: verdict(2),
                candidates: 2
            }
        );
    }

    #[test]
    fn old_records_expire() {
        let mut d: VecDeque<_> = [traced(1, 1, 2), traced(6000, 1, 2)].into();
        expire(&mut d, 6_000_000_000);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].at_ns, 6_000_000_000);
    }
}
