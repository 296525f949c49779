//! What `explain` attaches to a drop: the verdict behind it, or why it is
//! unknown. The session finds it (an nftables trace in the drop's
//! namespace, or facts read there); here is only its shape and how the
//! outputs show it.

mod facts;

pub use facts::{
    BufferFacts, CtFacts, QdiscFacts, QdiscStats, RouteFacts, RouteLookup, RpFilter, SocketMemory,
};
use serde::Serialize;

/// The verdict behind one drop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Verdict {
    /// An nftables rule, or a chain's policy, dropped the packet.
    Nftables(NftVerdict),
    /// NO_SOCKET: what listens in the drop's namespace (read when the
    /// drop was explained).
    Sockets(SocketFacts),
    /// IP_RPFILTER, IP_INNOROUTES, IP_OUTNOROUTES: rp_filter and routes.
    Routing(RouteFacts),
    /// SOCKET_RCVBUFF: the receiving socket's buffer.
    SocketBuffer(BufferFacts),
    /// QDISC_DROP: the device's qdiscs.
    Qdisc(QdiscFacts),
    /// Not resolved; `tried` says what was done and why it did not answer.
    Unknown {
        /// The flow's trace was set after this packet: later packets of
        /// the same flow are explained.
        pending: bool,
        tried: String,
    },
}

/// The nftables rule (or policy) whose verdict was `drop`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NftVerdict {
    /// `ip`, `ip6`, `inet`, `bridge`, `arp`, `netdev`.
    pub family: String,
    pub table: String,
    pub chain: String,
    /// The rule's handle; `None` for a chain's policy.
    pub handle: Option<u64>,
    /// The rule as `nft list ruleset` prints it (without its handle);
    /// `None` for a policy.
    pub rule: Option<String>,
    /// The chain's policy dropped it (no rule did).
    pub policy: bool,
    /// The rule's comment (iptables-nft `-m comment`, ufw's own words).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// An iptables-nft rule (its table is iptables'): the rule as
    /// `iptables-save` prints it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iptables: Option<String>,
    /// A rule on connection tracking (`ct state`, `ct status`, NAT): the
    /// flow's conntrack entry, or that there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ct: Option<Box<CtFacts>>,
}

/// For a NO_SOCKET drop: whether anything takes packets for the
/// destination, and what listens on the port elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SocketFacts {
    /// `tcp` or `udp`.
    pub proto: String,
    /// The destination address and port.
    pub address: String,
    pub port: u16,
    /// A TCP listener or bound UDP socket takes that address and port
    /// (itself or a wildcard).
    pub listening: bool,
    /// The same port on other addresses, and the other protocol on it:
    /// `tcp 127.0.0.1:81`, `udp [::]:81`.
    pub nearby: Vec<String>,
}

impl Verdict {
    /// One line for the table output and pcap-ng comments.
    pub fn text(&self) -> String {
        match self {
            Verdict::Nftables(v) => {
                let place = format!("{} {} {}", v.family, v.table, v.chain);
                let mut text = match (&v.rule, v.handle) {
                    _ if v.policy => format!("nftables {place} policy drop"),
                    (Some(rule), Some(h)) => format!("nftables {place} handle {h}: {rule}"),
                    (None, Some(h)) => format!("nftables {place} handle {h}"),
                    _ => format!("nftables {place}"),
                };
                if let Some(rule) = &v.iptables {
                    text += &format!("; iptables-save: {rule}");
                }
                if let Some(ct) = &v.ct {
                    text += &format!("; {}", ct.text());
                }
                text
            }
            Verdict::Routing(r) => r.text(),
            Verdict::SocketBuffer(b) => b.text(),
            Verdict::Qdisc(q) => q.text(),
            Verdict::Sockets(s) => {
                let what = format!("{} {}:{}", s.proto, s.address, s.port);
                let head = if s.listening {
                    format!("sockets: something takes {what} now")
                } else {
                    format!("sockets: nothing listens on {what}")
                };
                if s.nearby.is_empty() {
                    format!("{head}; nothing on that port elsewhere")
                } else {
                    format!("{head}; on that port: {}", s.nearby.join(", "))
                }
            }
            Verdict::Unknown { pending, tried } => {
                let pending = if *pending { " (pending)" } else { "" };
                format!("unknown{pending}: {tried}")
            }
        }
    }

    /// As the JSON output writes it.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> Verdict {
        Verdict::Nftables(NftVerdict {
            family: "ip".into(),
            table: "filter".into(),
            chain: "output".into(),
            handle: Some(2),
            rule: Some("tcp dport 443 drop".into()),
            policy: false,
            comment: None,
            iptables: None,
            ct: None,
        })
    }

    #[test]
    fn json_carries_by_and_every_documented_key() {
        let v = rule().to_json();
        assert_eq!(v["by"], "nftables");
        for k in ["family", "table", "chain", "handle", "rule", "policy"] {
            assert!(v.get(k).is_some(), "{k} missing: {v}");
        }
        assert!(v.get("comment").is_none());
        let u = Verdict::Unknown {
            pending: true,
            tried: "x".into(),
        }
        .to_json();
        assert_eq!(
            u,
            serde_json::json!({"by": "unknown", "pending": true, "tried": "x"})
        );
    }

    #[test]
    fn socket_facts_say_what_listens_nearby() {
        let v = Verdict::Sockets(SocketFacts {
            proto: "udp".into(),
            address: "198.18.0.2".into(),
            port: 9,
            listening: false,
            nearby: vec!["udp 127.0.0.1:9".into()],
        });
        assert_eq!(
            v.text(),
            "sockets: nothing listens on udp 198.18.0.2:9; on that port: udp 127.0.0.1:9"
        );
        let j = v.to_json();
        assert_eq!(
            (&j["by"], &j["listening"]),
            (&"sockets".into(), &false.into())
        );
    }

    #[test]
    fn text_names_the_rule_or_the_policy() {
        assert_eq!(
            rule().text(),
            "nftables ip filter output handle 2: tcp dport 443 drop"
        );
        let Verdict::Nftables(mut p) = rule() else {
            unreachable!()
        };
        p.policy = true;
        p.handle = None;
        p.rule = None;
        assert_eq!(
            Verdict::Nftables(p).text(),
            "nftables ip filter output policy drop"
        );
    }
}
