//! One-line descriptions of captured packets, in tcpdump's words
//! (`IP 198.18.0.1.40000 > 198.18.0.2.9: UDP, length 32`), decoded with
//! etherparse. Captures are often cut by the snaplen, so decoding is lax: a
//! truncated packet is described as far as it goes and says so.

use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket, LinkSlice, TransportSlice};
use std::fmt::Write;
use std::net::IpAddr;

/// Describes `bytes` (from the Ethernet header when `l2`, else from the
/// network header); `wire_len` is the whole packet's length from there.
pub fn describe(bytes: &[u8], l2: bool, wire_len: u32) -> String {
    let sliced = if l2 {
        LaxSlicedPacket::from_ethernet(bytes).map_err(|e| e.to_string())
    } else {
        LaxSlicedPacket::from_ip(bytes).map_err(|e| e.to_string())
    };
    let mut out = match sliced {
        Ok(p) => describe_sliced(&p),
        Err(e) => format!("undecodable ({e})"),
    };
    if (bytes.len() as u64) < u64::from(wire_len) {
        let _ = write!(out, " [{} of {} bytes captured]", bytes.len(), wire_len);
    }
    out
}

fn describe_sliced(p: &LaxSlicedPacket<'_>) -> String {
    let mut out = String::new();
    if let Some(LinkSlice::Ethernet2(eth)) = &p.link {
        let _ = write!(out, "{} > {}, ", mac(eth.source()), mac(eth.destination()));
        if p.net.is_none() {
            match eth.ether_type() {
                EtherType::IPV4 => out.push_str("IP, header cut short"),
                EtherType::IPV6 => out.push_str("IP6, header cut short"),
                EtherType::ARP => out.push_str("ARP, cut short"),
                other => {
                    let _ = write!(out, "ethertype {:#06x}", other.0);
                }
            }
            return out;
        }
    }
    let (src, dst, proto_word) = match &p.net {
        Some(LaxNetSlice::Ipv4(ip)) => {
            let h = ip.header();
            (
                IpAddr::from(h.source_addr()),
                IpAddr::from(h.destination_addr()),
                "IP",
            )
        }
        Some(LaxNetSlice::Ipv6(ip)) => {
            let h = ip.header();
            (
                IpAddr::from(h.source_addr()),
                IpAddr::from(h.destination_addr()),
                "IP6",
            )
        }
        Some(LaxNetSlice::Arp(arp)) => {
            out.push_str(&arp_text(&arp.to_packet()));
            return out;
        }
        None => {
            out.push_str("no network header");
            return out;
        }
    };
    let ports = match &p.transport {
        Some(TransportSlice::Tcp(t)) => Some((t.source_port(), t.destination_port())),
        Some(TransportSlice::Udp(u)) => Some((u.source_port(), u.destination_port())),
        _ => None,
    };
    match ports {
        Some((sp, dp)) => {
            let _ = write!(out, "{proto_word} {src}.{sp} > {dst}.{dp}: ");
        }
        None => {
            let _ = write!(out, "{proto_word} {src} > {dst}: ");
        }
    }
    out.push_str(&transport_text(p));
    out
}

fn transport_text(p: &LaxSlicedPacket<'_>) -> String {
    match &p.transport {
        // Lengths as the headers declare them, as tcpdump shows them:
        // the snaplen may have cut the payload.
        Some(TransportSlice::Udp(u)) => {
            format!("UDP, length {}", usize::from(u.length()).saturating_sub(8))
        }
        Some(TransportSlice::Tcp(t)) => {
            let flags: String = [
                (t.syn(), 'S'),
                (t.fin(), 'F'),
                (t.rst(), 'R'),
                (t.psh(), 'P'),
                (t.urg(), 'U'),
                (t.ack(), '.'),
            ]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, c)| *c)
            .collect();
            let mut s = format!("Flags [{flags}], seq {}", t.sequence_number());
            if t.ack() {
                let _ = write!(s, ", ack {}", t.acknowledgment_number());
            }
            let len = declared_l4_len(p).map_or(t.payload().len(), |l| {
                l.saturating_sub(t.header_slice().len())
            });
            let _ = write!(s, ", win {}, length {len}", t.window_size());
            s
        }
        Some(TransportSlice::Icmpv4(i)) => {
            format!("ICMP type {}, code {}", i.type_u8(), i.code_u8())
        }
        Some(TransportSlice::Icmpv6(i)) => {
            format!("ICMP6 type {}, code {}", i.type_u8(), i.code_u8())
        }
        _ => {
            let proto = match &p.net {
                Some(LaxNetSlice::Ipv4(ip)) => Some(ip.payload().ip_number),
                Some(LaxNetSlice::Ipv6(ip)) => Some(ip.payload().ip_number),
                _ => None,
            };
            match proto {
                Some(n) => match n.keyword_str() {
                    Some(k) => format!("{k} (headers cut short or not decoded)"),
                    None => format!("protocol {}", n.0),
                },
                None => "no transport header".into(),
            }
        }
    }
}

/// Bytes after the network header(s), as the IP header declares them.
fn declared_l4_len(p: &LaxSlicedPacket<'_>) -> Option<usize> {
    match &p.net {
        Some(LaxNetSlice::Ipv4(ip)) => {
            let h = ip.header();
            usize::from(h.total_len()).checked_sub(usize::from(h.ihl()) * 4)
        }
        Some(LaxNetSlice::Ipv6(ip)) => {
            usize::from(ip.header().payload_length()).checked_sub(ip.extensions().slice().len())
        }
        _ => None,
    }
}

fn arp_text(arp: &etherparse::ArpPacket) -> String {
    match arp.try_eth_ipv4() {
        Ok(a) => {
            let (sender, target) = (
                std::net::Ipv4Addr::from(a.sender_ipv4),
                std::net::Ipv4Addr::from(a.target_ipv4),
            );
            match a.operation.0 {
                1 => format!("ARP, Request who-has {target} tell {sender}"),
                2 => format!("ARP, Reply {sender} is-at {}", mac(a.sender_mac)),
                op => format!("ARP, operation {op}, {sender} > {target}"),
            }
        }
        Err(_) => format!("ARP, operation {}", arp.operation.0),
    }
}

fn mac(b: [u8; 6]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
#[path = "packet_tests.rs"]
mod tests;
