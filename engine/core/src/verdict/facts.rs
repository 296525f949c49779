//! The facts `explain` reads for drops that no firewall rule made: the
//! routing of the drop's namespace (rp_filter, route lookups), a socket's
//! receive buffer, a device's qdiscs, and a flow's conntrack entry. Each
//! is read when the drop is explained, so it shows the state then.

use serde::Serialize;

/// IP_RPFILTER, IP_INNOROUTES, IP_OUTNOROUTES: what routing in the drop's
/// namespace says about the packet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteFacts {
    /// The drop reason, as the kernel names it.
    pub reason: String,
    /// IPv4 input drops: the reverse-path filter of the receiving device.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rp_filter: Option<RpFilter>,
    /// The lookups made, as `ip route get` in that namespace answers them.
    pub lookups: Vec<RouteLookup>,
    /// The main table (`ip route show`), when the packet carried no
    /// destination to look up (dropped before its IP header was written).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routes: Option<Vec<String>>,
}

/// `net.ipv4.conf.{all,default,DEVICE}.rp_filter`; the kernel applies
/// the larger of `all` and the device's (`default` is what devices
/// created later start with). 0: off, 1: strict, 2: loose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RpFilter {
    pub all: Option<u8>,
    pub default: Option<u8>,
    pub device: String,
    pub device_value: Option<u8>,
    pub in_force: Option<u8>,
}

/// One route lookup: what was asked and the kernel's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteLookup {
    /// The arguments of `ip route get`: `198.18.0.2 from 198.18.9.1 iif fb0`.
    pub query: String,
    /// The route found, as `ip route get` prints it.
    pub route: Option<String>,
    /// Why the lookup failed: `Network is unreachable`.
    pub error: Option<String>,
}

/// SOCKET_RCVBUFF: the receiving socket's memory, as `ss -m` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BufferFacts {
    /// `udp` or `tcp`.
    pub proto: String,
    pub address: String,
    pub port: u16,
    /// The socket bound to that address and port; `None` when none is now.
    pub socket: Option<SocketMemory>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SocketMemory {
    /// Its local address: `198.18.0.2:9000`, `[::]:9000`.
    pub local: String,
    /// Bytes waiting to be read (Recv-Q).
    pub queued: u64,
    /// Receive memory in use (`skmem` r) and its limit (`rb`, SO_RCVBUF).
    pub rmem_alloc: u64,
    pub rcvbuf: u64,
    /// Packets the socket dropped since it was opened (`skmem` d).
    pub drops: u64,
}

/// QDISC_DROP: the queueing disciplines of the device, with their
/// counters (`tc -s qdisc show dev DEVICE`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QdiscFacts {
    pub device: String,
    pub qdiscs: Vec<QdiscStats>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QdiscStats {
    pub kind: String,
    pub handle: String,
    /// `root`, or the parent's handle.
    pub parent: String,
    /// Its `limit` option (packets or bytes, as the kind counts), if any.
    pub limit: Option<u64>,
    pub packets: u64,
    pub drops: u64,
    pub overlimits: u64,
    /// Packets queued now.
    pub qlen: u64,
}

/// A flow's conntrack entry (`conntrack -L`), for drops by rules on
/// connection tracking: `ct state invalid drop`, NAT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CtFacts {
    /// The table has an entry for the flow (in either direction); `None`
    /// when it could not be asked.
    pub found: Option<bool>,
    /// TCP's state (`SYN_SENT`, `ESTABLISHED`); `None` for other protocols.
    pub state: Option<String>,
    /// Status bits: `ASSURED`, `UNREPLIED`, ...
    pub status: Vec<String>,
    /// The original and reply tuples: `src=198.18.0.1 dst=198.18.0.2 sport=40000 dport=443`.
    pub original: Option<String>,
    pub reply: Option<String>,
    /// How it was looked up, and why there is no answer when there is none.
    pub tried: String,
}

impl RouteFacts {
    pub fn text(&self) -> String {
        let mut parts = vec![format!("routing {}", self.reason)];
        if let Some(rp) = &self.rp_filter {
            parts.push(rp.text());
        }
        for l in &self.lookups {
            let answer = match (&l.route, &l.error) {
                (Some(r), _) => r.clone(),
                (None, Some(e)) => e.clone(),
                (None, None) => "no answer".to_string(),
            };
            parts.push(format!("ip route get {}: {answer}", l.query));
        }
        if let Some(routes) = &self.routes {
            parts.push(format!("main table: {}", routes.join(" | ")));
        }
        parts.join("; ")
    }
}

impl RpFilter {
    fn text(&self) -> String {
        let v = |x: Option<u8>| x.map_or("?".to_string(), |x| x.to_string());
        let mode = match self.in_force {
            Some(0) => "off",
            Some(1) => "strict",
            Some(2) => "loose",
            _ => "unknown",
        };
        format!(
            "rp_filter {} in force ({mode}; all {}, default {}, {} {})",
            v(self.in_force),
            v(self.all),
            v(self.default),
            self.device,
            v(self.device_value)
        )
    }
}

impl BufferFacts {
    pub fn text(&self) -> String {
        let what = format!("{} {}:{}", self.proto, self.address, self.port);
        match &self.socket {
            None => format!("receive buffer: no socket takes {what} now"),
            Some(s) => format!(
                "receive buffer of {} {}: {} of {} bytes in use, {} queued, {} dropped",
                self.proto, s.local, s.rmem_alloc, s.rcvbuf, s.queued, s.drops
            ),
        }
    }
}

impl QdiscFacts {
    pub fn text(&self) -> String {
        if self.qdiscs.is_empty() {
            return format!("qdisc: {} has no qdisc now", self.device);
        }
        let each: Vec<String> = self
            .qdiscs
            .iter()
            .map(|q| {
                let limit = q.limit.map(|l| format!(" limit {l}")).unwrap_or_default();
                format!(
                    "{} {} {}{limit}: {} sent, {} dropped, {} overlimits, {} queued",
                    q.kind, q.handle, q.parent, q.packets, q.drops, q.overlimits, q.qlen
                )
            })
            .collect();
        format!("qdisc of {}: {}", self.device, each.join("; "))
    }
}

impl CtFacts {
    pub fn text(&self) -> String {
        match self.found {
            None => return format!("conntrack: unknown ({})", self.tried),
            Some(false) => return format!("conntrack: no entry ({})", self.tried),
            Some(true) => {}
        }
        let mut s = "conntrack:".to_string();
        if let Some(state) = &self.state {
            s += &format!(" {state}");
        }
        if !self.status.is_empty() {
            s += &format!(" [{}]", self.status.join(","));
        }
        if let Some(o) = &self.original {
            s += &format!(" original {o}");
        }
        if let Some(r) = &self.reply {
            s += &format!(" reply {r}");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::Verdict;

    fn rp_drop() -> RouteFacts {
        RouteFacts {
            reason: "IP_RPFILTER".into(),
            rp_filter: Some(RpFilter {
                all: Some(1),
                default: Some(0),
                device: "fb0".into(),
                device_value: Some(0),
                in_force: Some(1),
            }),
            lookups: vec![RouteLookup {
                query: "198.18.9.1".into(),
                route: None,
                error: Some("Network is unreachable".into()),
            }],
            routes: None,
        }
    }

    #[test]
    fn routing_facts_read_as_one_line_and_as_json() {
        let v = Verdict::Routing(rp_drop());
        assert_eq!(
            v.text(),
            "routing IP_RPFILTER; rp_filter 1 in force (strict; all 1, default 0, fb0 0); ip route get 198.18.9.1: Network is unreachable"
        );
        let j = v.to_json();
        assert_eq!(j["by"], "routing");
        assert_eq!(j["rp_filter"]["in_force"], 1);
        assert_eq!(j["lookups"][0]["route"], serde_json::Value::Null);
        assert!(j.get("routes").is_none(), "only without a lookup: {j}");
    }

    #[test]
    fn buffer_qdisc_and_conntrack_facts_say_their_numbers() {
        let b = BufferFacts {
            proto: "udp".into(),
            address: "198.18.0.2".into(),
            port: 9,
            socket: Some(SocketMemory {
                local: "198.18.0.2:9".into(),
                queued: 2048,
                rmem_alloc: 2304,
                rcvbuf: 2304,
                drops: 7,
            }),
        };
        assert_eq!(
            Verdict::SocketBuffer(b).text(),
            "receive buffer of udp 198.18.0.2:9: 2304 of 2304 bytes in use, 2048 queued, 7 dropped"
        );
        let q = QdiscFacts {
            device: "fa0".into(),
            qdiscs: vec![QdiscStats {
                kind: "pfifo".into(),
                handle: "8001:".into(),
                parent: "root".into(),
                limit: Some(0),
                packets: 0,
                drops: 3,
                overlimits: 0,
                qlen: 0,
            }],
        };
        let j = Verdict::Qdisc(q.clone()).to_json();
        assert_eq!(
            (&j["by"], &j["qdiscs"][0]["drops"]),
            (&"qdisc".into(), &3.into())
        );
        assert_eq!(
            q.text(),
            "qdisc of fa0: pfifo 8001: root limit 0: 0 sent, 3 dropped, 0 overlimits, 0 queued"
        );
        let none = CtFacts {
            found: Some(false),
            state: None,
            status: vec![],
            original: None,
            reply: None,
            tried: "conntrack -L: no entry of this flow".into(),
        };
        assert_eq!(
            none.text(),
            "conntrack: no entry (conntrack -L: no entry of this flow)"
        );
    }
}
