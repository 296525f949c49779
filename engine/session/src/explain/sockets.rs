//! NO_SOCKET drops: what listens in the drop's namespace, read from its
//! `/proc/net/{tcp,udp}{,6}` by a thread that has entered the namespace
//! (the tables are per namespace; ferret's other threads stay where they
//! are). Read when the drop is explained, so a socket that came or went in
//! between shows as it is then.

use super::monitor_line::FlowKey;
use super::netns::{self, Netns, NetnsError};
use ferret_core::verdict::{SocketFacts, Verdict};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

/// How long one reading of a namespace's sockets answers (a storm of
/// NO_SOCKET drops reads the tables once a second, not once a drop).
const FRESH: Duration = Duration::from_secs(1);

/// The sockets of each namespace where NO_SOCKET drops were explained.
#[derive(Debug, Default)]
pub struct Listeners {
    namespaces: HashMap<u32, Option<Netns>>,
    read: HashMap<u32, (Instant, Result<Vec<Bound>, NetnsError>)>,
}

impl Listeners {
    /// The verdict of a NO_SOCKET drop of `flow` in namespace `ino`.
    pub fn verdict(&mut self, ino: u32, flow: &FlowKey) -> Verdict {
        if !matches!(flow.proto, 6 | 17) {
            return unknown("sockets: only TCP and UDP listeners are looked up");
        }
        let fresh = self
            .read
            .get(&ino)
            .is_some_and(|(at, _)| at.elapsed() < FRESH);
        if !fresh {
            let ns = self
                .namespaces
                .entry(ino)
                .or_insert_with(|| netns::find(ino));
            let read = match ns {
                Some(ns) => read_in(ns),
                None => Err(NetnsError::NotFound { ino }),
            };
            self.read.insert(ino, (Instant::now(), read));
        }
        match &self.read[&ino].1 {
            Ok(bound) => Verdict::Sockets(facts(flow, bound)),
            Err(e) => unknown(&format!("sockets: {e}")),
        }
    }
}

fn unknown(tried: &str) -> Verdict {
    Verdict::Unknown {
        pending: false,
        tried: tried.to_string(),
    }
}

/// One socket that takes packets: a TCP listener or a bound UDP socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    pub proto: u8,
    pub addr: IpAddr,
    pub port: u16,
}

impl Bound {
    fn text(&self) -> String {
        let proto = if self.proto == 6 { "tcp" } else { "udp" };
        match self.addr {
            IpAddr::V6(a) => format!("{proto} [{a}]:{}", self.port),
            IpAddr::V4(a) => format!("{proto} {a}:{}", self.port),
        }
    }

    fn takes(&self, addr: IpAddr) -> bool {
        takes(self.addr, addr)
    }
}

/// A socket bound to `bound` takes packets for `addr`: the same address
/// or a wildcard (an IPv6 wildcard also takes IPv4, unless the socket is
/// v6-only, which the tables do not say).
pub fn takes(bound: IpAddr, addr: IpAddr) -> bool {
    bound == addr || bound.is_unspecified() && (bound.is_ipv6() || addr.is_ipv4())
}

/// The sockets that take packets in namespace `ns`, or why they could
/// not be read.
pub fn read_in(ns: &Netns) -> Result<Vec<Bound>, NetnsError> {
    const TABLES: [(&str, u8); 4] = [("tcp", 6), ("tcp6", 6), ("udp", 17), ("udp6", 17)];
    let texts = ns.read_proc_net(&TABLES.map(|(n, _)| n))?;
    // A missing table (no IPv6): nothing bound there.
    Ok(TABLES
        .iter()
        .zip(texts)
        .filter_map(|((_, proto), text)| text.map(|t| parse_table(&t, *proto)))
        .flatten()
        .collect())
}

/// The listening (TCP state 0A) or bound (UDP) sockets of one table.
pub fn parse_table(text: &str, proto: u8) -> Vec<Bound> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (local, state) = (f.get(1)?, f.get(3)?);
            // TCP: LISTEN only; UDP: any socket with a local port (07 is
            // an unconnected one, 01 a connected one, which still takes
            // packets from its peer).
            if proto == 6 && *state != "0A" {
                return None;
            }
            let (addr, port) = local.split_once(':')?;
            let port = u16::from_str_radix(port, 16).ok()?;
            (port != 0).then_some(())?;
            Some(Bound {
                proto,
                addr: hex_addr(addr)?,
                port,
            })
        })
        .collect()
}

/// The kernel prints addresses as 32-bit words in host order.
fn hex_addr(hex: &str) -> Option<IpAddr> {
    let word = |s: &str| u32::from_str_radix(s, 16).ok().map(u32::to_ne_bytes);
    match hex.len() {
        8 => Some(Ipv4Addr::from(word(hex)?).into()),
        32 => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                b[i * 4..i * 4 + 4].copy_from_slice(&word(&hex[i * 8..i * 8 + 8])?);
            }
            let v6 = Ipv6Addr::from(b);
            Some(v6.to_ipv4_mapped().map_or(v6.into(), IpAddr::V4))
        }
        _ => None,
    }
}

/// What listens for the dropped packet's destination, and nearby: the
/// same port on other addresses, and the other protocol on it.
pub fn facts(flow: &FlowKey, bound: &[Bound]) -> SocketFacts {
    let proto = if flow.proto == 6 { "tcp" } else { "udp" };
    let listening = bound
        .iter()
        .any(|b| b.proto == flow.proto && b.port == flow.dport && b.takes(flow.daddr));
    let mut nearby: Vec<String> = bound
        .iter()
        .filter(|b| b.port == flow.dport && !(b.proto == flow.proto && b.takes(flow.daddr)))
        .map(Bound::text)
        .collect();
    nearby.sort();
    nearby.dedup();
    SocketFacts {
        proto: proto.to_string(),
        address: flow.daddr.to_string(),
        port: flow.dport,
        listening,
        nearby,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0051 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
   1: 0200007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 100 0 0 10 0
";
    const UDP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  0: 00000000000000000000000000000000:0051 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 3 2 0000000000000000 0
";

    fn flow(proto: u8, daddr: &str, dport: u16) -> FlowKey {
        FlowKey {
            proto,
            saddr: "198.18.0.1".parse().unwrap(),
            daddr: daddr.parse().unwrap(),
            sport: 40000,
            dport,
        }
    }

    #[test]
    fn listeners_and_bound_sockets_are_read_from_the_tables() {
        let tcp = parse_table(TCP, 6);
        assert_eq!(tcp.len(), 1, "only the LISTEN one");
        assert_eq!(tcp[0].addr.to_string(), "127.0.0.1");
        assert_eq!(tcp[0].port, 81);
        let udp = parse_table(UDP6, 17);
        assert_eq!(udp.len(), 1);
        assert!(udp[0].addr.is_unspecified() && udp[0].addr.is_ipv6());
    }

    #[test]
    fn facts_say_whether_it_listens_and_what_is_near() {
        let mut bound = parse_table(TCP, 6);
        let f = facts(&flow(6, "198.18.0.2", 81), &bound);
        assert!(!f.listening);
        assert_eq!(f.nearby, vec!["tcp 127.0.0.1:81".to_string()]);
        assert!(facts(&flow(6, "127.0.0.1", 81), &bound).listening);
        // A UDP socket on [::]:81 takes IPv4 too, and is the other protocol.
        bound.extend(parse_table(UDP6, 17));
        let udp = facts(&flow(17, "198.18.0.2", 81), &bound);
        assert!(udp.listening);
        assert_eq!(udp.nearby, vec!["tcp 127.0.0.1:81".to_string()]);
        let tcp = facts(&flow(6, "198.18.0.2", 81), &bound);
        assert_eq!(tcp.nearby, vec!["tcp 127.0.0.1:81", "udp [::]:81"]);
    }
}
