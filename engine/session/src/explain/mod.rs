//! `explain`: the verdict behind a drop. For NETFILTER_DROP, an nftables
//! trace of the drop's flow in the drop's namespace names the table, chain
//! and rule (or policy) whose verdict was `drop`; see [`tracer`] for what
//! is installed and how it goes away, and [`correlate`] for how a trace
//! record is matched to an event.
//!
//! The first dropped packet of a flow is seen before its trace exists:
//! it is reported at once as unknown with `pending: true`, and the flow is
//! traced from then on, so retransmissions and later packets are
//! explained. Drops for other reasons are reported as unknown with what
//! was (not) tried.

mod buffers;
mod conntrack;
pub mod correlate;
mod facts;
mod fresh;
mod iptables;
pub mod monitor_line;
mod netns;
mod qdisc;
mod routing;
mod sockets;
mod stale;
mod tracer;

use correlate::{Dropped, Match};
use ferret_core::abi::field;
use ferret_core::event::Event;
use ferret_core::verdict::{NftVerdict, Verdict};
use monitor_line::FlowKey;
use std::collections::HashMap;
use std::time::Duration;
use tracer::Tracer;

pub use stale::remove_stale_tables;

/// What `explain` keeps for the session: one tracer per namespace where a
/// matching drop happened.
#[derive(Debug)]
pub struct Explainer {
    table: String,
    /// By namespace inode; `Err` says why that namespace cannot be traced.
    tracers: HashMap<u32, Result<Tracer, tracer::TracerError>>,
    /// What each explained value of this kernel's `enum skb_drop_reason`
    /// is, and so what is read for it.
    causes: HashMap<u32, Cause>,
    listeners: sockets::Listeners,
    facts: facts::FactReader,
    latency: Latency,
}

/// The drop reasons `explain` resolves, by what answers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    /// NETFILTER_DROP: the nftables trace.
    Netfilter,
    /// NO_SOCKET: the namespace's listeners.
    NoSocket,
    /// IP_RPFILTER, IP_INNOROUTES, IP_OUTNOROUTES: rp_filter and routes.
    Route(&'static str),
    /// SOCKET_RCVBUFF: the socket's memory.
    ReceiveBuffer,
    /// QDISC_DROP: the device's qdiscs.
    Qdisc,
}

/// The names behind [`Cause`]s.
const CAUSES: [(&str, Cause); 7] = [
    ("NETFILTER_DROP", Cause::Netfilter),
    ("NO_SOCKET", Cause::NoSocket),
    ("IP_RPFILTER", Cause::Route("IP_RPFILTER")),
    ("IP_INNOROUTES", Cause::Route("IP_INNOROUTES")),
    ("IP_OUTNOROUTES", Cause::Route("IP_OUTNOROUTES")),
    ("SOCKET_RCVBUFF", Cause::ReceiveBuffer),
    ("QDISC_DROP", Cause::Qdisc),
];

/// Drop → explained event, over the events that were explained.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Latency {
    pub explained: u64,
    pub unknown: u64,
    pub total_ns: u64,
    pub max_ns: u64,
}

impl Latency {
    pub fn summary(&self) -> ferret_core::summary::ExplainSummary {
        ferret_core::summary::ExplainSummary {
            explained: self.explained,
            unknown: self.unknown,
            latency_mean_us: (self.total_ns / self.explained.max(1)) / 1000,
            latency_max_us: self.max_ns / 1000,
        }
    }
}

impl Explainer {
    /// For this process; removes what killed ferrets left behind first.
    pub fn new(reasons: Option<&ferret_core::reasons::DropReasons>) -> Explainer {
        remove_stale_tables();
        let causes = CAUSES
            .iter()
            .filter_map(|(name, cause)| Some((reasons?.value_of(name)?, *cause)))
            .collect();
        Explainer::with_causes(causes)
    }

    fn with_causes(causes: HashMap<u32, Cause>) -> Explainer {
        Explainer {
            table: format!("ferret_explain_{}", std::process::id()),
            tracers: HashMap::new(),
            causes,
            listeners: sockets::Listeners::default(),
            facts: facts::FactReader::default(),
            latency: Latency::default(),
        }
    }

    pub fn latency(&self) -> Latency {
        self.latency
    }

    /// The verdict behind `ev`, a drop that an `explain` rule matched.
    pub fn explain(&mut self, ev: &Event) -> Verdict {
        let verdict = self.find(ev);
        match verdict {
            Verdict::Unknown { .. } => self.latency.unknown += 1,
            _ => {
                let ns = tracer::now_ns().saturating_sub(ev.meta.ts_ns);
                self.latency.explained += 1;
                self.latency.total_ns += ns;
                self.latency.max_ns = self.latency.max_ns.max(ns);
            }
        }
        verdict
    }

    fn find(&mut self, ev: &Event) -> Verdict {
        let unknown = |tried: &str| Verdict::Unknown {
            pending: false,
            tried: tried.to_string(),
        };
        if !ev.is_drop() {
            return unknown("not a drop: only drops are explained");
        }
        let Some(cause) = self.causes.get(&ev.meta.reason).copied() else {
            return unknown(UNRESOLVED);
        };
        match cause {
            Cause::Route(reason) => return self.facts.routing(reason, ev),
            Cause::Qdisc => return self.facts.qdisc(ev),
            _ => {}
        }
        let Some(flow) = flow_of(ev) else {
            return unknown("only TCP, UDP and SCTP flows over IP are explained");
        };
        match cause {
            Cause::NoSocket => return self.listeners.verdict(ev.meta.netns, &flow),
            Cause::ReceiveBuffer => return self.facts.receive_buffer(ev, flow),
            _ => {}
        }
        let table = self.table.clone();
        let tracer = match self.tracers.entry(ev.meta.netns).or_insert_with(|| {
            match netns::find(ev.meta.netns) {
                Some(ns) => Tracer::start(ns, table),
                None => Err(netns::NetnsError::NotFound { ino: ev.meta.netns }.into()),
            }
        }) {
            Ok(t) => t,
            Err(e) => return unknown(&format!("nftables trace: {e}")),
        };
        explain_in(tracer, ev, flow)
    }
}

/// What is said of a drop whose reason `explain` does not resolve.
const UNRESOLVED: &str = "explain resolves NETFILTER_DROP (nftables trace), NO_SOCKET (listening sockets), IP_RPFILTER, IP_INNOROUTES and IP_OUTNOROUTES (rp_filter and routes), SOCKET_RCVBUFF (the socket's buffer) and QDISC_DROP (the device's qdiscs); nothing is read for this reason";

fn explain_in(t: &mut Tracer, ev: &Event, flow: FlowKey) -> Verdict {
    let pending = |tried: String| Verdict::Unknown {
        pending: true,
        tried,
    };
    t.take_heard(Duration::ZERO);
    t.expire_flows();
    let state = t.flows.get(&flow).copied();
    let live = match state {
        None => return match t.trace(flow) {
            Ok(()) => pending(
                "nftables trace: set for this flow after this packet; later packets are explained"
                    .into(),
            ),
            Err(e) => Verdict::Unknown {
                pending: false,
                tried: format!("nftables trace: {e}"),
            },
        },
        Some(s) => s.live_at_ns,
    };
    let live = match live {
        Some(at) => at,
        None => {
            // The echo of the flow's element may still be on its way.
            t.take_heard(correlate::WAIT);
            match t.flows.get(&flow).and_then(|s| s.live_at_ns) {
                Some(at) => at,
                None => {
                    return pending("nftables trace: the flow's trace is not confirmed yet".into())
                }
            }
        }
    };
    if ev.meta.ts_ns < live + correlate::SLACK_NS {
        return pending("nftables trace: the flow's trace was set after this packet".into());
    }
    let dropped = Dropped {
        flow,
        ttl: ev.has(field::TTL).then_some(ev.meta.ttl),
        tcpflags: (flow.proto == 6 && ev.has(field::TCPFLAGS)).then_some(ev.meta.tcpflags),
        at_ns: ev.meta.ts_ns,
    };
    let deadline = ev.meta.ts_ns + correlate::WAIT.as_nanos() as u64;
    loop {
        t.take_heard(Duration::ZERO);
        let lossy = t
            .lost_at_ns
            .is_some_and(|at| at + correlate::SLACK_NS >= ev.meta.ts_ns);
        match correlate::take(&mut t.drops, &dropped) {
            // This packet's own record may be among the lost ones, and a
            // neighbour's taken for it: not exact, so not reported.
            Match::Found { .. } if lossy => {
                return Verdict::Unknown {
                    pending: false,
                    tried: "nftables trace: the kernel dropped trace messages around this drop (the monitor could not keep up)".into(),
                }
            }
            Match::Found { verdict, .. } => {
                let verdict = with_rule_text(t, verdict);
                return Verdict::Nftables(with_facts(t, verdict, &flow));
            }
            Match::Ambiguous { candidates } => {
                return Verdict::Unknown {
                    pending: false,
                    tried: format!(
                        "nftables trace: {candidates} traced drops of this flow at this time name different rules"
                    ),
                }
            }
            Match::None => {}
        }
        let now = tracer::now_ns();
        if now >= deadline {
            correlate::expire(&mut t.drops, now);
            return Verdict::Unknown {
                pending: false,
                tried: format!(
                    "nftables trace: no traced drop of this packet within {} ms; {}",
                    correlate::WAIT.as_millis(),
                    untraced_why(t)
                ),
            };
        }
        t.take_heard(Duration::from_nanos(deadline - now).min(Duration::from_millis(20)));
    }
}

/// Why a NETFILTER_DROP left no nftables trace: iptables-legacy tables
/// in the namespace (x_tables, which nftables does not trace), if any.
fn untraced_why(t: &Tracer) -> String {
    let names =
        t.ns.read_proc_net(&["ip_tables_names", "ip6_tables_names"])
            .unwrap_or_default();
    let legacy: Vec<String> = names
        .iter()
        .zip(["iptables", "ip6tables"])
        .filter_map(|(text, tool)| {
            let tables: Vec<&str> = text.as_deref()?.split_whitespace().collect();
            (!tables.is_empty()).then(|| format!("{tool}-legacy: {}", tables.join(", ")))
        })
        .collect();
    if legacy.is_empty() {
        "no iptables-legacy tables here either: a drop before or after the hooks ferret traces (netdev ingress, bridge), or by a verdict nftables does not trace".into()
    } else {
        format!(
            "this namespace has iptables-legacy tables ({}): they are not nftables and cannot be traced or resolved",
            legacy.join("; ")
        )
    }
}

/// The monitor names rules it knew when it started; a rule added since
/// is looked up by its handle.
fn with_rule_text(t: &Tracer, mut v: NftVerdict) -> NftVerdict {
    if v.rule.is_some() || v.policy {
        return v;
    }
    let Some(handle) = v.handle else { return v };
    let listed =
        t.ns.nft_output(&["-a", "list", "chain", &v.family, &v.table, &v.chain]);
    let suffix = format!(" # handle {handle}");
    v.rule = listed.ok().and_then(|text| {
        text.lines()
            .find_map(|l| l.trim().strip_suffix(&suffix).map(tracer::without_counters))
            .map(|r| r.trim().to_string())
    });
    v.comment = v.rule.as_deref().and_then(tracer::comment_of);
    v
}

/// Adds what other tools say of the rule: its iptables-save form (and
/// comment) for an iptables-nft rule, the flow's conntrack entry for a
/// rule on connection tracking or of a flow NAT rewrote. Each answers for
/// a second.
fn with_facts(t: &mut Tracer, mut v: NftVerdict, flow: &FlowKey) -> NftVerdict {
    if let Some(handle) = v.handle {
        let key = (v.family.clone(), v.table.clone(), v.chain.clone(), handle);
        let ns = &t.ns;
        v.iptables = t.saved.get(key, || iptables::save_form(ns, &v));
        if v.comment.is_none() {
            v.comment = v.iptables.as_deref().and_then(iptables::comment_of);
        }
    }
    // Any rule's drop may be of a flow NAT rewrote (a published port, a
    // service address): the entry says so, and is shown then too.
    let ns = &t.ns;
    let entry = t.entries.get(*flow, || conntrack::facts(ns, flow));
    if conntrack::concerns_conntrack(v.rule.as_deref(), &v.chain) || conntrack::rewritten(&entry) {
        v.ct = Some(Box::new(entry));
    }
    v
}

/// The event's 5-tuple, when it has one a trace can match.
fn flow_of(ev: &Event) -> Option<FlowKey> {
    let proto = ev.proto()?;
    matches!(proto, 6 | 17 | 132).then_some(())?;
    Some(FlowKey {
        proto,
        saddr: ev.saddr()?,
        daddr: ev.daddr()?,
        sport: ev.sport()?,
        dport: ev.dport()?,
    })
}

/// Refuses an `explain` rule in a session that gave up root (the REPL,
/// `serve`): nft could not run in the namespaces, so every verdict would
/// be unknown.
pub fn needs_root(rule: &ferret_core::plan::RulePlan) -> Result<(), crate::error::SessionError> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if rule.explains() && unsafe { libc::geteuid() } != 0 {
        return Err(crate::error::SessionError::ExplainWithoutRoot { rule: rule.number });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferret_core::testing::tcp_drop;

    #[test]
    fn what_cannot_be_traced_is_unknown_with_the_reason() {
        let mut x = Explainer::with_causes(
            [(12, Cause::Netfilter), (2, Cause::NoSocket)]
                .into_iter()
                .collect(),
        );
        let mut ev = tcp_drop(vec![1]);
        ev.meta.reason = 3;
        let Verdict::Unknown { pending, tried } = x.explain(&ev) else {
            panic!()
        };
        assert!(!pending && tried == UNRESOLVED, "{tried}");
        ev.meta.reason = 2;
        ev.meta.proto = 1;
        let Verdict::Unknown { tried, .. } = x.explain(&ev) else {
            panic!()
        };
        assert!(tried.contains("TCP, UDP and SCTP"), "{tried}");
        ev.meta.reason = 3;
        ev.hook = ferret_core::abi::hook::RECV;
        let Verdict::Unknown { tried, .. } = x.explain(&ev) else {
            panic!()
        };
        assert!(tried.contains("not a drop"), "{tried}");
        assert!(x.tracers.is_empty(), "nothing was installed");
    }

    #[test]
    fn the_flow_is_the_events_five_tuple() {
        let f = flow_of(&tcp_drop(vec![1])).unwrap();
        assert_eq!((f.proto, f.sport, f.dport), (6, 40000, 443));
        assert_eq!(f.daddr.to_string(), "198.18.0.2");
    }
}
