//! Lines of `nft -a monitor` as `explain` reads them: trace lines (a
//! packet's fields, a rule's or a policy's verdict) and the echo of the
//! flow elements ferret adds to its own table. Pure text → data.

use std::net::IpAddr;

/// A flow as both sides see it: the event's 5-tuple and the trace's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub proto: u8,
    pub saddr: IpAddr,
    pub daddr: IpAddr,
    pub sport: u16,
    pub dport: u16,
}

/// The fields of a trace's `packet:` line that correlation uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TracedPacket {
    pub flow: FlowKey,
    /// `ip ttl` / `ip6 hoplimit` at this chain.
    pub ttl: Option<u8>,
    /// `tcp flags == ..` as the TCP header's flag byte.
    pub tcpflags: Option<u8>,
}

/// Where a trace line was printed: `FAMILY TABLE CHAIN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub family: String,
    pub table: String,
    pub chain: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MonitorLine {
    /// `trace id ID FAMILY TABLE CHAIN packet: ...`; `None` when the
    /// packet is not a TCP, UDP or SCTP one over IP.
    Packet {
        id: String,
        packet: Option<TracedPacket>,
    },
    /// `... rule TEXT # handle N (verdict V)` or `... unknown rule handle N
    /// (verdict V)` (the monitor did not know the rule: `text` is `None`).
    Rule {
        id: String,
        place: Place,
        handle: Option<u64>,
        text: Option<String>,
        verdict: String,
    },
    /// `... policy V`.
    Policy {
        id: String,
        place: Place,
        verdict: String,
    },
    /// `add element inet TABLE SET { A . B . P . S . D ... }`.
    ElementAdded {
        table: String,
        flow: FlowKey,
    },
    /// `# ERROR: We lost some netlink events!`: the kernel dropped trace
    /// messages (the monitor's socket buffer overflowed).
    Lost,
    Other,
}

pub fn parse(line: &str) -> MonitorLine {
    if let Some(rest) = line.strip_prefix("trace id ") {
        return parse_trace(rest).unwrap_or(MonitorLine::Other);
    }
    if let Some(rest) = line.strip_prefix("add element inet ") {
        return parse_element(rest).unwrap_or(MonitorLine::Other);
    }
    if line.starts_with("# ERROR: We lost some netlink events") {
        return MonitorLine::Lost;
    }
    MonitorLine::Other
}

fn parse_trace(rest: &str) -> Option<MonitorLine> {
    let mut words = rest.splitn(5, ' ');
    let id = words.next()?.to_string();
    let place = Place {
        family: words.next()?.to_string(),
        table: words.next()?.to_string(),
        chain: words.next()?.to_string(),
    };
    let body = words.next()?.trim_end();
    if let Some(fields) = body.strip_prefix("packet: ") {
        return Some(MonitorLine::Packet {
            id,
            packet: packet(fields),
        });
    }
    if let Some(verdict) = body.strip_prefix("policy ") {
        return Some(MonitorLine::Policy {
            id,
            place,
            verdict: verdict.trim().to_string(),
        });
    }
    let (head, verdict) = body.rsplit_once(" (verdict ")?;
    let verdict = verdict.strip_suffix(')')?.to_string();
    if let Some(h) = head.strip_prefix("unknown rule handle ") {
        return Some(MonitorLine::Rule {
            id,
            place,
            handle: h.trim().parse().ok(),
            text: None,
            verdict,
        });
    }
    let text = head.strip_prefix("rule ")?;
    let (text, handle) = match text.rsplit_once(" # handle ") {
        Some((t, h)) => (t, h.trim().parse().ok()),
        None => (text, None),
    };
    Some(MonitorLine::Rule {
        id,
        place,
        handle,
        text: Some(text.trim().to_string()),
        verdict,
    })
}

/// The fields after `packet:`: `ip saddr A ip daddr B ... tcp sport S ...`.
fn packet(fields: &str) -> Option<TracedPacket> {
    let w: Vec<&str> = fields.split_whitespace().collect();
    let after = |a: &str, b: &str| w.windows(3).find(|x| x[0] == a && x[1] == b).map(|x| x[2]);
    let addr = |field: &str| {
        after("ip", field)
            .or_else(|| after("ip6", field))
            .and_then(|a| a.parse::<IpAddr>().ok())
    };
    let (proto, name) = [(6u8, "tcp"), (17, "udp"), (132, "sctp")]
        .into_iter()
        .find(|(_, n)| after(n, "sport").is_some())?;
    let port = |field: &str| after(name, field).and_then(|p| p.parse::<u16>().ok());
    let ttl = after("ip", "ttl")
        .or_else(|| after("ip6", "hoplimit"))
        .and_then(|t| t.parse().ok());
    let tcpflags = (proto == 6)
        .then(|| {
            let at = w.windows(3).position(|x| x == ["tcp", "flags", "=="])?;
            tcp_flags(&w[at + 3..])
        })
        .flatten();
    Some(TracedPacket {
        flow: FlowKey {
            proto,
            saddr: addr("saddr")?,
            daddr: addr("daddr")?,
            sport: port("sport")?,
            dport: port("dport")?,
        },
        ttl,
        tcpflags,
    })
}

/// `syn`, `syn | ack`, `0x12`: the flag byte, up to the next field.
fn tcp_flags(words: &[&str]) -> Option<u8> {
    const NAMES: [&str; 8] = ["fin", "syn", "rst", "psh", "ack", "urg", "ecn", "cwr"];
    let mut flags = 0u8;
    let mut expect_flag = true;
    for word in words {
        for (i, part) in word.split('|').enumerate() {
            if i > 0 {
                expect_flag = true;
            }
            if part.is_empty() {
                continue;
            }
            if !expect_flag {
                return Some(flags);
            }
            if let Some(hex) = part.strip_prefix("0x") {
                flags |= u8::from_str_radix(hex, 16).ok()?;
            } else {
                flags |= 1 << NAMES.iter().position(|n| *n == part)?;
            }
            expect_flag = false;
        }
    }
    Some(flags)
}

/// `TABLE SET { A . B . tcp . S . D expires 2m }` (one element: ferret adds
/// them one at a time).
fn parse_element(rest: &str) -> Option<MonitorLine> {
    let mut words = rest.split_whitespace();
    let table = words.next()?.to_string();
    let _set = words.next()?;
    (words.next()? == "{").then_some(())?;
    let parts: Vec<&str> = words.take(9).collect();
    let [saddr, ".", daddr, ".", proto, ".", sport, ".", dport] = parts[..] else {
        return None;
    };
    Some(MonitorLine::ElementAdded {
        table,
        flow: FlowKey {
            proto: proto_number(proto)?,
            saddr: saddr.parse().ok()?,
            daddr: daddr.parse().ok()?,
            sport: sport.parse().ok()?,
            dport: dport.parse().ok()?,
        },
    })
}

/// nft's protocol names, as `inet_proto` values print.
pub fn proto_number(name: &str) -> Option<u8> {
    match name {
        "tcp" => Some(6),
        "udp" => Some(17),
        "sctp" => Some(132),
        n => n.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PACKET: &str = "trace id 170689cc ip filter output packet: oif \"lo\" ip saddr 127.0.0.1 ip daddr 127.0.0.2 ip dscp cs0 ip ecn not-ect ip ttl 64 ip id 7549 ip length 60 tcp sport 40000 tcp dport 443 tcp flags == syn tcp window 65495 ";

    fn flow() -> FlowKey {
        FlowKey {
            proto: 6,
            saddr: "127.0.0.1".parse().unwrap(),
            daddr: "127.0.0.2".parse().unwrap(),
            sport: 40000,
            dport: 443,
        }
    }

    #[test]
    fn a_packet_line_gives_the_flow_ttl_and_flags() {
        let MonitorLine::Packet { id, packet } = parse(PACKET) else {
            panic!("{:?}", parse(PACKET))
        };
        assert_eq!(id, "170689cc");
        let p = packet.unwrap();
        assert_eq!((p.flow, p.ttl, p.tcpflags), (flow(), Some(64), Some(0x02)));
        let v6 = "trace id 1 inet t c packet: iif \"fb0\" ip6 saddr 2001:2::1 ip6 daddr 2001:2::2 ip6 hoplimit 63 udp sport 5 udp dport 53 udp length 9";
        let MonitorLine::Packet {
            packet: Some(p), ..
        } = parse(v6)
        else {
            panic!()
        };
        assert_eq!((p.flow.proto, p.flow.dport, p.ttl), (17, 53, Some(63)));
        assert!(p.flow.saddr.is_ipv6() && p.tcpflags.is_none());
        let icmp =
            "trace id 1 ip t c packet: ip saddr 1.1.1.1 ip daddr 2.2.2.2 icmp type echo-request";
        assert_eq!(
            parse(icmp),
            MonitorLine::Packet {
                id: "1".into(),
                packet: None
            }
        );
    }

    #[test]
    fn tcp_flags_read_names_alternatives_and_hex() {
        assert_eq!(tcp_flags(&["syn", "|", "ack", "tcp", "window"]), Some(0x12));
        assert_eq!(tcp_flags(&["syn|ack", "tcp"]), Some(0x12));
        assert_eq!(tcp_flags(&["0x18", "tcp"]), Some(0x18));
        assert_eq!(tcp_flags(&["bogus"]), None);
    }

    #[test]
    fn verdict_lines_name_the_rule_or_the_policy() {
        let line = "trace id 170689cc ip filter output rule tcp dport 443 counter packets 0 bytes 0 drop comment \"block https\" # handle 2 (verdict drop)";
        let place = Place {
            family: "ip".into(),
            table: "filter".into(),
            chain: "output".into(),
        };
        assert_eq!(
            parse(line),
            MonitorLine::Rule {
                id: "170689cc".into(),
                place: place.clone(),
                handle: Some(2),
                text: Some(
                    "tcp dport 443 counter packets 0 bytes 0 drop comment \"block https\"".into()
                ),
                verdict: "drop".into(),
            }
        );
        let unknown = "trace id 9 ip filter output unknown rule handle 3 (verdict continue)";
        assert!(matches!(
            parse(unknown),
            MonitorLine::Rule { handle: Some(3), text: None, ref verdict, .. } if verdict == "continue"
        ));
        assert_eq!(
            parse("trace id 9 ip filter output policy drop "),
            MonitorLine::Policy {
                id: "9".into(),
                place,
                verdict: "drop".into()
            }
        );
    }

    #[test]
    fn the_echo_of_an_added_element_gives_its_flow() {
        let line = "add element inet ferret_explain_9 f4 { 127.0.0.1 . 127.0.0.2 . tcp . 40000 . 443 expires 2m }";
        assert_eq!(
            parse(line),
            MonitorLine::ElementAdded {
                table: "ferret_explain_9".into(),
                flow: flow()
            }
        );
        assert_eq!(parse("add table inet x"), MonitorLine::Other);
        assert_eq!(
            parse("# ERROR: We lost some netlink events!"),
            MonitorLine::Lost
        );
        assert_eq!(
            parse("# new generation 7 by process 1 (nft)"),
            MonitorLine::Other
        );
    }
}
