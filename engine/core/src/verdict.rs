//! What `explain` attaches to a drop: the verdict behind it, or why it is
//! unknown. The session finds it (an nftables trace in the drop's
//! namespace); here is only its shape and how the outputs show it.

use serde::Serialize;

/// The verdict behind one drop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Verdict {
    /// An nftables rule, or a chain's policy, dropped the packet.
    Nftables(NftVerdict),
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
}

impl Verdict {
    /// One line for the table output and pcap-ng comments.
    pub fn text(&self) -> String {
        match self {
            Verdict::Nftables(v) => {
                let place = format!("{} {} {}", v.family, v.table, v.chain);
                match (&v.rule, v.handle) {
                    _ if v.policy => format!("nftables {place} policy drop"),
                    (Some(rule), Some(h)) => format!("nftables {place} handle {h}: {rule}"),
                    (None, Some(h)) => format!("nftables {place} handle {h}"),
                    _ => format!("nftables {place}"),
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
