//! The programs compared, ferret rules beside the bpftrace a user would
//! write for the same question, all on the drop tracepoint
//! (ferret: tp_btf kfree_skb; bpftrace: tracepoint:skb:kfree_skb).
//!
//! The flood goes to FLOOD_PORT, which nothing listens on, so every datagram
//! is dropped; "miss" rules ask for MISS_PORT. The ports are unusual on
//! purpose: other labs on the machine send to the small ones.

use crate::tool::Tool;
use crate::tracer::Spec;

pub const FLOOD_PORT: u16 = 47001;
pub const MISS_PORT: u16 = 47002;
/// An address in the lab's range that no lab uses: the "miss" address.
pub const MISS_ADDR: std::net::Ipv4Addr = std::net::Ipv4Addr::new(198, 19, 255, 254);
/// A TTL the flood never has (it sends with 64). A rule on the TTL gets no
/// hook pre-check (engine/core/src/plan/guard.rs), so its row shows what a
/// non-matching rule costs the long way.
pub const MISS_TTL: u8 = 1;
/// Rules in the "many rules" row.
pub const MANY: u16 = 16;

/// One row of the comparison: a label and, per tool, what runs.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Stable key in the JSON results.
    pub key: &'static str,
    pub label: &'static str,
    pub ferret: Option<String>,
    pub bpftrace: Option<String>,
}

/// bpftrace's probe with a UDP destination-port test around `body`. The
/// port is converted from network order with bswap, as one writes it.
fn bt_udp_port(port: u16, body: &str) -> String {
    format!(
        "tracepoint:skb:kfree_skb {{\n  $skb = (struct sk_buff *)args->skbaddr;\n  \
         $ip = (struct iphdr *)($skb->head + $skb->network_header);\n  \
         if ($ip->protocol == 17) {{\n    \
         $udp = (struct udphdr *)($skb->head + $skb->transport_header);\n    \
         if (bswap($udp->dest) == {port}) {{ {body} }}\n  }}\n}}\n"
    )
}

/// bpftrace's probe with a TCP destination-port test around `body`.
fn bt_tcp_port(port: u16, body: &str) -> String {
    format!(
        "tracepoint:skb:kfree_skb {{\n  $skb = (struct sk_buff *)args->skbaddr;\n  \
         $ip = (struct iphdr *)($skb->head + $skb->network_header);\n  \
         if ($ip->protocol == 6) {{\n    \
         $tcp = (struct tcphdr *)($skb->head + $skb->transport_header);\n    \
         if (bswap($tcp->dest) == {port}) {{ {body} }}\n  }}\n}}\n"
    )
}

/// bpftrace's probe counting the drops whose IPv4 header passes `test`.
fn bt_ip_test(test: &str) -> String {
    format!(
        "tracepoint:skb:kfree_skb {{\n  $skb = (struct sk_buff *)args->skbaddr;\n  \
         $ip = (struct iphdr *)($skb->head + $skb->network_header);\n  \
         if ({test}) {{ @miss = count(); }}\n}}\n"
    )
}

/// BEGIN runs once every probe is attached: bpftrace's ready line.
fn bt_script(probes: &str) -> String {
    format!("BEGIN {{ printf(\"ready\\n\"); }}\n{probes}")
}

/// What ferret prints, as near as a bpftrace one-liner comes.
const BT_PRINTF: &str = "printf(\"%s %d %s %s %d %d %d %d %s\\n\", comm, pid, \
    ntop($ip->saddr), ntop($ip->daddr), bswap($udp->source), bswap($udp->dest), \
    $skb->len, args->reason, $skb->dev->name);";

pub fn all() -> Vec<Scenario> {
    let many_ferret: Vec<String> = (0..MANY)
        .map(|i| format!("on drop where dport == {}", MISS_PORT + i))
        .collect();
    let many_bt: String = (0..MANY)
        .map(|i| bt_udp_port(MISS_PORT + i, "@miss = count();"))
        .collect();
    vec![
        Scenario {
            key: "empty",
            label: "empty program (floor)",
            ferret: None,
            bpftrace: Some(bt_script("tracepoint:skb:kfree_skb { }\n")),
        },
        Scenario {
            key: "miss",
            label: "1 rule, no match (dport)",
            ferret: Some(format!("on drop where dport == {MISS_PORT}")),
            bpftrace: Some(bt_script(&bt_udp_port(MISS_PORT, "@miss = count();"))),
        },
        Scenario {
            key: "miss_addr",
            label: "1 rule, no match (daddr)",
            ferret: Some(format!("on drop where daddr == {MISS_ADDR}")),
            bpftrace: Some(bt_script(&bt_ip_test(&format!(
                "$ip->daddr == {}",
                // The address as the u32 a load of its network-order bytes gives.
                u32::from_ne_bytes(MISS_ADDR.octets())
            )))),
        },
        Scenario {
            key: "miss_long",
            label: "1 rule, no match, no pre-check (ttl)",
            ferret: Some(format!("on drop where ttl == {MISS_TTL}")),
            bpftrace: Some(bt_script(&bt_ip_test(&format!("$ip->ttl == {MISS_TTL}")))),
        },
        Scenario {
            key: "print",
            label: "match, print",
            ferret: Some(format!("on drop where dport == {FLOOD_PORT} print")),
            bpftrace: Some(bt_script(&bt_udp_port(FLOOD_PORT, BT_PRINTF))),
        },
        Scenario {
            key: "stack",
            label: "match, print stack",
            ferret: Some(format!("on drop where dport == {FLOOD_PORT} print stack")),
            bpftrace: Some(bt_script(&bt_udp_port(
                FLOOD_PORT,
                &format!("{BT_PRINTF} printf(\"%s\\n\", kstack);"),
            ))),
        },
        Scenario {
            key: "count",
            label: "match, count by reason",
            ferret: Some(format!(
                "on drop where dport == {FLOOD_PORT} count by reason"
            )),
            bpftrace: Some(bt_script(&bt_udp_port(
                FLOOD_PORT,
                "@[args->reason] = count();",
            ))),
        },
        Scenario {
            key: "count_hash",
            label: "match, count by dport (hash)",
            ferret: Some(format!(
                "on drop where dport == {FLOOD_PORT} count by dport"
            )),
            bpftrace: Some(bt_script(&bt_udp_port(
                FLOOD_PORT,
                "@[bswap($udp->dest)] = count();",
            ))),
        },
        // pcap-filter text, run by the in-kernel classic BPF interpreter;
        // the flood is UDP, so the first two never match.
        Scenario {
            key: "pcap_miss",
            label: "1 rule, no match (pcap-filter `tcp port 443`)",
            ferret: Some("on drop where tcp port 443".into()),
            bpftrace: Some(bt_script(&bt_tcp_port(443, "@miss = count();"))),
        },
        Scenario {
            key: "pcap_bytes_miss",
            label:
                "1 rule, no match (pcap-filter `tcp[tcpflags] & tcp-syn != 0 and tcp dst port 443`)",
            ferret: Some("on drop where tcp[tcpflags] & tcp-syn != 0 and tcp dst port 443".into()),
            bpftrace: Some(bt_script(&bt_tcp_port(443, "@miss = count();"))),
        },
        Scenario {
            key: "pcap_print",
            label: "match, print (pcap-filter `udp dst port`)",
            ferret: Some(format!("on drop where udp dst port {FLOOD_PORT} print")),
            bpftrace: Some(bt_script(&bt_udp_port(FLOOD_PORT, BT_PRINTF))),
        },
        Scenario {
            key: "many",
            label: "16 rules, no match",
            ferret: Some(many_ferret.join("; ")),
            bpftrace: Some(bt_script(&many_bt)),
        },
    ]
}

impl Scenario {
    pub fn spec(&self, tool: Tool) -> Option<Spec> {
        let program = match tool {
            Tool::Ferret => self.ferret.clone(),
            Tool::Bpftrace => self.bpftrace.clone(),
        }?;
        Some(Spec { tool, program })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_every_bpftrace_script_signals_ready() {
        let all = all();
        let mut keys: Vec<_> = all.iter().map(|s| s.key).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), all.len());
        for s in &all {
            let bt = s.bpftrace.as_deref().unwrap();
            assert!(bt.starts_with("BEGIN { printf(\"ready\\n\"); }"), "{bt}");
        }
    }

    #[test]
    fn many_rules_are_as_many_rules_and_probes() {
        let many = all().into_iter().find(|s| s.key == "many").unwrap();
        assert_eq!(
            many.ferret.unwrap().matches("on drop").count(),
            MANY as usize
        );
        assert_eq!(
            many.bpftrace
                .unwrap()
                .matches("tracepoint:skb:kfree_skb")
                .count(),
            MANY as usize
        );
    }

    #[test]
    fn miss_rules_never_name_the_flood_port() {
        for s in all().iter().filter(|s| s.key == "miss" || s.key == "many") {
            assert!(!s
                .ferret
                .as_deref()
                .unwrap()
                .contains(&FLOOD_PORT.to_string()));
            assert!(!s
                .bpftrace
                .as_deref()
                .unwrap()
                .contains(&FLOOD_PORT.to_string()));
        }
    }
}
