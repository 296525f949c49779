//! A flow's conntrack entry, for drops by nftables rules on connection
//! tracking (`ct state invalid drop`, `ct status`, NAT chains): `conntrack
//! -L` inside the drop's namespace, for the flow as the packet had it and
//! then reversed (the packet may be a reply). Read when the drop is
//! explained: an invalid packet has no entry, and says so.

use super::monitor_line::FlowKey;
use super::netns::{Netns, NetnsError};
use ferret_core::verdict::CtFacts;

/// Whether a rule's verdict depends on connection tracking: it matches
/// on `ct ...`, or NAT-ed the flow (its chain is of type nat).
pub fn concerns_conntrack(rule: Option<&str>, chain: &str) -> bool {
    let ct = rule.is_some_and(|r| r.split_whitespace().any(|w| w == "ct"));
    ct || chain.to_ascii_lowercase().contains("nat")
}

/// The conntrack entry of `flow` in namespace `ns`, or that there is none:
/// the flow as the entry's original direction, then reversed (a reply),
/// then as its reply direction (a packet NAT rewrote: the reply tuple is
/// the rewritten one, reversed).
pub fn facts(ns: &Netns, flow: &FlowKey) -> CtFacts {
    let ask = |f: &FlowKey, by_reply: bool| -> Result<String, NetnsError> {
        let (s, d, sp, dp) = (
            f.saddr.to_string(),
            f.daddr.to_string(),
            f.sport.to_string(),
            f.dport.to_string(),
        );
        let family = if f.daddr.is_ipv6() { "ipv6" } else { "ipv4" };
        let proto = match f.proto {
            6 => "tcp",
            17 => "udp",
            _ => "sctp",
        };
        let mut args = vec!["-L", "-f", family, "-p", proto];
        if by_reply {
            // The reply goes from the rewritten destination back to the source.
            args.extend([
                "--reply-src",
                &d,
                "--reply-dst",
                &s,
                "--reply-port-src",
                &dp,
                "--reply-port-dst",
                &sp,
            ]);
        } else {
            args.extend(["-s", &s, "-d", &d, "--sport", &sp, "--dport", &dp]);
        }
        ns.output("conntrack", &args)
    };
    let reversed = FlowKey {
        saddr: flow.daddr,
        daddr: flow.saddr,
        sport: flow.dport,
        dport: flow.sport,
        ..*flow
    };
    let tried = "conntrack -L for the flow, its reverse, and as a reply".to_string();
    for (f, by_reply) in [(flow, false), (&reversed, false), (flow, true)] {
        match ask(f, by_reply) {
            Ok(text) => {
                if let Some(found) = text.lines().find_map(parse_entry) {
                    return CtFacts { tried, ..found };
                }
            }
            Err(e) => {
                return CtFacts {
                    found: None,
                    state: None,
                    status: vec![],
                    original: None,
                    reply: None,
                    tried: format!("conntrack -L: {e} (install conntrack)"),
                }
            }
        }
    }
    CtFacts {
        found: Some(false),
        state: None,
        status: vec![],
        original: None,
        reply: None,
        tried: format!("{tried}: no entry (an invalid packet is not tracked)"),
    }
}

/// Whether NAT rewrote the flow: the reply is not the original reversed.
pub fn rewritten(f: &CtFacts) -> bool {
    let fields = |t: &str| -> Option<[String; 4]> {
        let get = |k: &str| {
            t.split_whitespace()
                .find_map(|w| w.strip_prefix(k)?.strip_prefix('=').map(str::to_string))
        };
        Some([get("src")?, get("dst")?, get("sport")?, get("dport")?])
    };
    match (
        f.original.as_deref().and_then(fields),
        f.reply.as_deref().and_then(fields),
    ) {
        (Some([s, d, sp, dp]), Some(reply)) => reply != [d, s, dp, sp],
        _ => false,
    }
}

/// One line of `conntrack -L`:
/// `tcp 6 431999 ESTABLISHED src=.. dst=.. sport=.. dport=.. src=.. ... [ASSURED] mark=0 use=1`.
pub fn parse_entry(line: &str) -> Option<CtFacts> {
    let words: Vec<&str> = line.split_whitespace().collect();
    // protocol name, number, timeout; then, for TCP, its state.
    let rest = words.get(3..)?;
    let state = rest
        .first()
        .filter(|w| !w.contains('=') && !w.starts_with('['))
        .map(|w| w.to_string());
    let mut tuples: Vec<Vec<&str>> = Vec::new();
    let mut status = Vec::new();
    for w in rest {
        if let Some(flag) = w.strip_prefix('[').and_then(|w| w.strip_suffix(']')) {
            status.push(flag.to_string());
        } else if w.starts_with("src=") {
            tuples.push(vec![w]);
        } else if ["dst=", "sport=", "dport=", "type=", "code=", "id="]
            .iter()
            .any(|k| w.starts_with(k))
        {
            tuples.last_mut()?.push(w);
        }
    }
    let mut tuples = tuples.into_iter().map(|t| t.join(" "));
    let original = Some(tuples.next()?);
    Some(CtFacts {
        found: Some(true),
        state,
        status,
        original,
        reply: tuples.next(),
        tried: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_that_is_not_the_original_reversed_is_nat() {
        let plain = "udp 17 29 src=198.18.0.1 dst=198.18.0.2 sport=4000 dport=7250 [UNREPLIED] src=198.18.0.2 dst=198.18.0.1 sport=7250 dport=4000 mark=0 use=1";
        let dnat = plain.replace("sport=7250 dport=4000", "sport=7251 dport=4000");
        assert!(!rewritten(&parse_entry(plain).unwrap()));
        assert!(rewritten(&parse_entry(&dnat).unwrap()));
    }

    #[test]
    fn entries_give_state_status_and_both_tuples() {
        let tcp = "tcp      6 431999 ESTABLISHED src=198.18.0.1 dst=198.18.0.2 sport=40000 dport=443 packets=3 bytes=180 src=198.18.0.2 dst=198.18.0.1 sport=443 dport=40000 packets=2 bytes=120 [ASSURED] mark=0 use=1";
        let e = parse_entry(tcp).unwrap();
        assert_eq!(e.found, Some(true));
        assert_eq!(e.state.as_deref(), Some("ESTABLISHED"));
        assert_eq!(e.status, vec!["ASSURED"]);
        assert_eq!(
            e.original.as_deref(),
            Some("src=198.18.0.1 dst=198.18.0.2 sport=40000 dport=443")
        );
        assert_eq!(
            e.reply.as_deref(),
            Some("src=198.18.0.2 dst=198.18.0.1 sport=443 dport=40000")
        );
        let udp = "udp      17 29 src=198.18.0.1 dst=198.18.0.2 sport=35422 dport=7221 [UNREPLIED] src=198.18.0.2 dst=198.18.0.1 sport=7221 dport=35422 mark=0 use=1";
        let e = parse_entry(udp).unwrap();
        assert_eq!((e.state, e.status), (None, vec!["UNREPLIED".to_string()]));
        assert!(
            parse_entry("conntrack v1.4.7 (conntrack-tools): 0 flow entries have been shown.")
                .is_none()
        );
    }

    #[test]
    fn rules_on_conntrack_and_nat_chains_concern_it() {
        assert!(concerns_conntrack(Some("ct state invalid drop"), "input"));
        assert!(concerns_conntrack(None, "POSTROUTING-nat"));
        assert!(!concerns_conntrack(Some("tcp dport 443 drop"), "input"));
        assert!(!concerns_conntrack(
            Some("meta l4proto tcp counter drop comment \"ct\""),
            "in"
        ));
    }
}
