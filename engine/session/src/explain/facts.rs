//! Drops that no firewall rule made are explained by facts read in the
//! drop's namespace: routing (rp_filter, route lookups), a socket's
//! receive buffer, a device's qdiscs. Each reading answers the drops of
//! the same cause for a second ([`Fresh`]).

use super::fresh::{Budget, Fresh};
use super::monitor_line::FlowKey;
use super::netns::{self, Netns, NetnsError};
use super::{buffers, qdisc, routing};
use ferret_core::event::Event;
use ferret_core::verdict::Verdict;
use std::collections::HashMap;
use std::net::IpAddr;

/// What a routing verdict depends on: namespace, reason, device,
/// addresses, mark.
type RouteKey = (
    u32,
    &'static str,
    String,
    Option<IpAddr>,
    Option<IpAddr>,
    u32,
);

/// New readings per second (each runs a tool or two, a few ms each).
const READINGS_PER_SECOND: u32 = 50;

/// The namespaces where facts were read and the recent readings.
#[derive(Debug)]
pub struct FactReader {
    /// By inode; the open namespace keeps its inode from being reused.
    namespaces: HashMap<u32, Option<Netns>>,
    routes: Fresh<RouteKey, Verdict>,
    /// By namespace, protocol, destination address and port.
    buffers: Fresh<(u32, u8, IpAddr, u16), Verdict>,
    qdiscs: Fresh<(u32, String), Verdict>,
    budget: Budget,
}

impl Default for FactReader {
    fn default() -> Self {
        FactReader {
            namespaces: HashMap::new(),
            routes: Fresh::default(),
            buffers: Fresh::default(),
            qdiscs: Fresh::default(),
            budget: Budget::new(READINGS_PER_SECOND),
        }
    }
}

/// What is said when the second's readings are spent.
fn over_budget(what: &str, budget: &Budget) -> Verdict {
    unknown(format!(
        "{what}: not read: {} new readings a second are spent (drops of many different flows)",
        budget.per_second()
    ))
}

fn unknown(tried: String) -> Verdict {
    Verdict::Unknown {
        pending: false,
        tried,
    }
}

/// The namespace with inode `ino`, found once.
fn namespace(namespaces: &mut HashMap<u32, Option<Netns>>, ino: u32) -> Result<&Netns, NetnsError> {
    namespaces
        .entry(ino)
        .or_insert_with(|| netns::find(ino))
        .as_ref()
        .ok_or(NetnsError::NotFound { ino })
}

impl FactReader {
    /// IP_RPFILTER, IP_INNOROUTES, IP_OUTNOROUTES.
    pub fn routing(&mut self, reason: &'static str, ev: &Event) -> Verdict {
        let ino = ev.meta.netns;
        let key = (
            ino,
            reason,
            ev.ifname().to_string(),
            ev.saddr(),
            ev.daddr(),
            ev.meta.mark,
        );
        let ns = match namespace(&mut self.namespaces, ino) {
            Ok(ns) => ns,
            Err(e) => return unknown(format!("routing: {e}")),
        };
        self.routes
            .get_within(key, &mut self.budget, || {
                Verdict::Routing(routing::facts(ns, reason, ev))
            })
            .unwrap_or_else(|| over_budget("routing", &self.budget))
    }

    /// SOCKET_RCVBUFF of a TCP or UDP flow.
    pub fn receive_buffer(&mut self, ev: &Event, flow: FlowKey) -> Verdict {
        if !matches!(flow.proto, 6 | 17) {
            return unknown("receive buffer: only TCP and UDP sockets are looked up".into());
        }
        let ino = ev.meta.netns;
        let ns = match namespace(&mut self.namespaces, ino) {
            Ok(ns) => ns,
            Err(e) => return unknown(format!("receive buffer: {e}")),
        };
        self.buffers
            .get((ino, flow.proto, flow.daddr, flow.dport), || {
                buffers::facts(ns, &flow).map_or_else(
                    |e| unknown(format!("receive buffer: {e}")),
                    Verdict::SocketBuffer,
                )
            })
    }

    /// QDISC_DROP on the event's device.
    pub fn qdisc(&mut self, ev: &Event) -> Verdict {
        let ino = ev.meta.netns;
        let device = ev.ifname().to_string();
        let ns = match namespace(&mut self.namespaces, ino) {
            Ok(ns) => ns,
            Err(e) => return unknown(format!("qdisc: {e}")),
        };
        self.qdiscs
            .get_within((ino, device.clone()), &mut self.budget, || {
                qdisc::facts(ns, &device)
                    .map_or_else(|e| unknown(format!("qdisc: {e}")), Verdict::Qdisc)
            })
            .unwrap_or_else(|| over_budget("qdisc", &self.budget))
    }
}
