//! ferret's nftables trace table in one namespace, and the monitor that
//! reads its trace.
//!
//! The table, `inet ferret_explain_<pid>`, is created by an `nft -i`
//! process that ferret keeps open, with the `owner` flag: the kernel
//! deletes it when that process's netlink socket closes, which happens
//! when ferret ends in any way (its end closes the pipe `nft -i` reads,
//! and the child gets SIGTERM when ferret dies). Ferret deletes it
//! explicitly first. Its two chains, at the lowest priority on
//! prerouting and output, set `nftrace` only for packets whose 5-tuple is
//! in its sets: the flows of drops that `explain` rules matched.

use super::correlate::TracedDrop;
use super::fresh::Fresh;
use super::monitor_line::{self, FlowKey, MonitorLine, TracedPacket};
use super::netns::{Netns, NetnsError};
use ferret_core::verdict::{CtFacts, NftVerdict};
use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How long an element stays in the sets (nft `timeout`).
pub const FLOW_TIMEOUT: Duration = Duration::from_secs(120);
/// Flows traced at once per namespace: bounds what a drop storm installs.
pub const MAX_FLOWS: usize = 1024;

/// Why a namespace cannot be traced, or a flow not added.
#[derive(Debug, thiserror::Error)]
pub enum TracerError {
    #[error("{source}")]
    Netns {
        #[from]
        source: NetnsError,
    },
    #[error("cannot run `{what}`: {source}")]
    Spawn {
        what: &'static str,
        source: std::io::Error,
    },
    #[error("could not create table inet {table} in {place}")]
    NotListed { table: String, place: String },
    #[error("the nft process is gone")]
    Gone,
    #[error("cannot write to nft: {source}")]
    Write { source: std::io::Error },
    #[error("{max} flows are traced already")]
    Full { max: usize },
}

/// What the monitor thread hands over.
#[derive(Debug)]
pub enum Heard {
    Drop(TracedDrop),
    /// ferret's element for this flow is in place, at this time.
    Live(FlowKey, u64),
    /// Trace messages were lost before this time.
    Lost(u64),
}

/// A flow's tracing: asked for, then confirmed by the monitor's echo.
#[derive(Debug, Clone, Copy)]
pub struct FlowState {
    pub live_at_ns: Option<u64>,
    pub asked: Instant,
}

#[derive(Debug)]
pub struct Tracer {
    pub ns: Netns,
    pub table: String,
    owner: Child,
    commands: Option<ChildStdin>,
    monitor: Child,
    heard: Receiver<Heard>,
    pub flows: HashMap<FlowKey, FlowState>,
    pub drops: VecDeque<TracedDrop>,
    /// When the monitor last said that trace messages were lost.
    pub lost_at_ns: Option<u64>,
    /// Recent iptables-save forms, by family, table, chain and handle.
    pub saved: Fresh<(String, String, String, u64), Option<String>>,
    /// Recent conntrack entries, by flow.
    pub entries: Fresh<FlowKey, CtFacts>,
}

/// The monotonic clock the events' times are on.
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn setup_commands(table: &str, owner: bool) -> String {
    let mut s = family_commands("inet", table, owner);
    // Bridged packets pass no IP hook unless br_netfilter sends them
    // through one: a bridge table traces them at the bridge's own hooks.
    s += &family_commands("bridge", table, owner);
    s
}

/// One family's table: the flow sets, and chains at prerouting and output
/// that set `nftrace` on packets of a traced flow, before any other chain.
fn family_commands(family: &str, table: &str, owner: bool) -> String {
    let flags = if owner { " { flags owner; }" } else { "" };
    let key4 = "ipv4_addr . ipv4_addr . inet_proto . inet_service . inet_service";
    let key6 = "ipv6_addr . ipv6_addr . inet_proto . inet_service . inet_service";
    // `meta l4proto` is the inet family's; the bridge family reads the
    // protocol from the IP header (after IPv6 extension headers, nothing).
    let (proto4, proto6) = match family {
        "inet" => ("meta l4proto", "meta l4proto"),
        _ => ("ip protocol", "ip6 nexthdr"),
    };
    let t = FLOW_TIMEOUT.as_secs();
    let mut s = format!("add table {family} {table}{flags}\n");
    s += &format!("add set {family} {table} f4 {{ type {key4}; flags timeout; timeout {t}s; }}\n");
    s += &format!("add set {family} {table} f6 {{ type {key6}; flags timeout; timeout {t}s; }}\n");
    // First of all chains, and again just after destination NAT (at
    // dstnat, -100): a flow is traced by the tuple its drop event shows,
    // which is the rewritten one when the packet was NATed before it.
    let mut chains = vec![
        ("pre", "prerouting", -2147483647),
        ("out", "output", -2147483647),
    ];
    if family == "inet" {
        chains.extend([("prenat", "prerouting", -99), ("outnat", "output", -99)]);
    }
    for (chain, hook, priority) in chains {
        s += &format!(
            "add chain {family} {table} {chain} {{ type filter hook {hook} priority {priority}; }}\n"
        );
        s += &format!("add rule {family} {table} {chain} ip saddr . ip daddr . {proto4} . th sport . th dport @f4 meta nftrace set 1\n");
        s += &format!("add rule {family} {table} {chain} ip6 saddr . ip6 daddr . {proto6} . th sport . th dport @f6 meta nftrace set 1\n");
    }
    s
}

impl Tracer {
    /// Starts the monitor, then creates the table; waits until nft lists it.
    pub fn start(ns: Netns, table: String) -> Result<Tracer, TracerError> {
        let mut monitor = ns
            .nft(&["-a", "monitor"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| TracerError::Spawn {
                what: "nft monitor",
                source,
            })?;
        let (tx, heard) = mpsc::channel();
        let out = monitor.stdout.take().expect("piped");
        let ours = table.clone();
        std::thread::spawn(move || read_monitor(out, &ours, &tx));
        let mut owner = ns
            .nft(&["-e", "-i"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| TracerError::Spawn {
                what: "nft -i",
                source,
            })?;
        let commands = owner.stdin.take();
        let mut t = Tracer {
            ns,
            table,
            owner,
            commands,
            monitor,
            heard,
            flows: HashMap::new(),
            drops: VecDeque::new(),
            lost_at_ns: None,
            saved: Fresh::default(),
            entries: Fresh::default(),
        };
        // The `owner` flag needs Linux 5.12; older kernels get a plain
        // table, which a later start removes if this ferret is killed.
        for owned in [true, false] {
            t.send(&setup_commands(&t.table, owned))?;
            if t.wait_listed() {
                return Ok(t);
            }
        }
        Err(TracerError::NotListed {
            table: t.table.clone(),
            place: t.ns.path.display().to_string(),
        })
    }

    fn wait_listed(&self) -> bool {
        let until = Instant::now() + Duration::from_secs(2);
        while Instant::now() < until {
            let listed = self
                .ns
                .nft_output(&["list", "chain", "inet", &self.table, "out"])
                .is_ok_and(|s| s.matches("nftrace").count() == 2);
            if listed {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    fn send(&mut self, text: &str) -> Result<(), TracerError> {
        let pipe = self.commands.as_mut().ok_or(TracerError::Gone)?;
        pipe.write_all(text.as_bytes())
            .and_then(|()| pipe.flush())
            .map_err(|source| TracerError::Write { source })
    }

    /// Asks for `flow` to be traced from now on (once per timeout).
    pub fn trace(&mut self, flow: FlowKey) -> Result<(), TracerError> {
        if self.flows.len() >= MAX_FLOWS {
            return Err(TracerError::Full { max: MAX_FLOWS });
        }
        let (set, proto) = (if flow.saddr.is_ipv4() { "f4" } else { "f6" }, flow.proto);
        for family in ["inet", "bridge"] {
            let line = format!(
                "add element {family} {} {set} {{ {} . {} . {proto} . {} . {} }}\n",
                self.table, flow.saddr, flow.daddr, flow.sport, flow.dport
            );
            self.send(&line)?;
        }
        self.flows.insert(
            flow,
            FlowState {
                live_at_ns: None,
                asked: Instant::now(),
            },
        );
        Ok(())
    }

    /// Takes what the monitor heard; waits up to `wait` for the first.
    pub fn take_heard(&mut self, wait: Duration) {
        let mut first = true;
        loop {
            let got = if first && !wait.is_zero() {
                self.heard.recv_timeout(wait)
            } else {
                self.heard.try_recv().map_err(|_| RecvTimeoutError::Timeout)
            };
            first = false;
            match got {
                Ok(Heard::Drop(d)) => self.drops.push_back(d),
                Ok(Heard::Lost(at)) => self.lost_at_ns = Some(at),
                Ok(Heard::Live(flow, at)) => {
                    if let Some(f) = self.flows.get_mut(&flow) {
                        f.live_at_ns.get_or_insert(at);
                    }
                }
                Err(_) => break,
            }
        }
    }

    /// Forgets flows whose element has timed out in the kernel.
    pub fn expire_flows(&mut self) {
        let keep = FLOW_TIMEOUT - Duration::from_secs(5);
        self.flows.retain(|_, f| f.asked.elapsed() < keep);
    }
}

impl Drop for Tracer {
    fn drop(&mut self) {
        for family in ["inet", "bridge"] {
            let _ = self.send(&format!("delete table {family} {}\n", self.table));
        }
        // EOF ends `nft -i`; its socket's close removes an owned table.
        self.commands = None;
        let until = Instant::now() + Duration::from_secs(2);
        while Instant::now() < until && matches!(self.owner.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.owner.kill();
        let _ = self.owner.wait();
        let _ = self.monitor.kill();
        let _ = self.monitor.wait();
    }
}

/// The monitor thread: trace lines → drops of ferret's flows; echoes of
/// ferret's elements → the moment each flow is traced.
fn read_monitor(out: std::process::ChildStdout, table: &str, tx: &mpsc::Sender<Heard>) {
    let mut packets: HashMap<String, TracedPacket> = HashMap::new();
    for line in BufReader::new(out).lines() {
        let Ok(line) = line else { break };
        let at_ns = now_ns();
        let heard = match monitor_line::parse(&line) {
            MonitorLine::Packet { id, packet } => {
                if packets.len() > 4096 {
                    packets.clear();
                }
                match packet {
                    Some(p) => packets.insert(id, p),
                    None => packets.remove(&id),
                };
                None
            }
            MonitorLine::ElementAdded { table: t, flow } if t == table => {
                Some(Heard::Live(flow, at_ns))
            }
            MonitorLine::Lost => Some(Heard::Lost(at_ns)),
            MonitorLine::Rule {
                id,
                place,
                handle,
                text,
                verdict,
            } if verdict == "drop" => packets.remove(&id).map(|packet| {
                let comment = text.as_deref().and_then(comment_of);
                let text = text.map(|t| without_counters(&t));
                Heard::Drop(TracedDrop {
                    at_ns,
                    packet,
                    verdict: NftVerdict {
                        family: place.family,
                        table: place.table,
                        chain: place.chain,
                        handle,
                        rule: text,
                        policy: false,
                        comment,
                        iptables: None,
                        ct: None,
                    },
                })
            }),
            MonitorLine::Policy { id, place, verdict } if verdict == "drop" => {
                packets.remove(&id).map(|packet| {
                    Heard::Drop(TracedDrop {
                        at_ns,
                        packet,
                        verdict: NftVerdict {
                            family: place.family,
                            table: place.table,
                            chain: place.chain,
                            handle: None,
                            rule: None,
                            policy: true,
                            comment: None,
                            iptables: None,
                            ct: None,
                        },
                    })
                })
            }
            _ => None,
        };
        if let Some(h) = heard {
            if tx.send(h).is_err() {
                break;
            }
        }
    }
}

/// The rule without its counter's values (`counter packets 5 bytes 300`
/// → `counter`): they are the monitor's snapshot, not this packet's.
pub fn without_counters(rule: &str) -> String {
    let mut out = String::with_capacity(rule.len());
    let mut rest = rule;
    while let Some(at) = rest.find("counter packets ") {
        let after = &rest[at + "counter packets ".len()..];
        let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
        let n = digits(after);
        let tail = &after[n..];
        let Some(bytes) = tail.strip_prefix(" bytes ").filter(|_| n > 0) else {
            out.push_str(&rest[..at + "counter packets ".len()]);
            rest = after;
            continue;
        };
        let m = digits(bytes);
        out.push_str(&rest[..at]);
        out.push_str("counter");
        rest = &bytes[m..];
    }
    out.push_str(rest);
    out
}

/// `... comment "text"` → `text`.
pub fn comment_of(rule: &str) -> Option<String> {
    let at = rule.find("comment \"")? + "comment \"".len();
    let rest = &rule[at..];
    let end = rest.find('"')?;
    Some(rest[..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_traces_both_families_on_both_hooks_before_everything() {
        let s = setup_commands("ferret_explain_7", true);
        assert!(s.starts_with("add table inet ferret_explain_7 { flags owner; }\n"));
        assert!(s.contains("add table bridge ferret_explain_7 { flags owner; }\n"));
        assert_eq!(s.matches("meta nftrace set 1").count(), 12);
        assert_eq!(s.matches("priority -2147483647").count(), 4);
        assert_eq!(s.matches("add chain inet ferret_explain_7 prenat { type filter hook prerouting priority -99; }").count(), 1);
        assert_eq!(
            s.matches("add rule bridge ferret_explain_7 pre ip saddr . ip daddr . ip protocol")
                .count(),
            1
        );
        assert!(!setup_commands("t", false).contains("owner"));
    }

    #[test]
    fn counter_values_are_left_out_of_the_rule() {
        assert_eq!(
            without_counters("tcp dport 443 counter packets 5 bytes 300 drop comment \"x\""),
            "tcp dport 443 counter drop comment \"x\""
        );
        assert_eq!(without_counters("counter packets 1 bytes 2"), "counter");
        assert_eq!(without_counters("tcp dport 443 drop"), "tcp dport 443 drop");
    }

    #[test]
    fn comments_are_read_from_the_rule_text() {
        assert_eq!(
            comment_of("tcp dport 443 counter packets 0 bytes 0 drop comment \"block https\""),
            Some("block https".into())
        );
        assert_eq!(comment_of("tcp dport 443 drop"), None);
    }
}
