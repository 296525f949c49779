//! SOCKET_RCVBUFF: the memory of the socket that refused the packet,
//! as `ss -m` run inside the drop's namespace shows it: bytes queued,
//! receive memory in use against its limit (SO_RCVBUF), drops so far.

use super::monitor_line::FlowKey;
use super::netns::Netns;
use super::sockets::takes;
use ferret_core::verdict::{BufferFacts, SocketMemory};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The buffer facts of the socket `flow` was for, or why `ss` could not
/// answer.
pub fn facts(ns: &Netns, flow: &FlowKey) -> Result<BufferFacts, super::netns::NetnsError> {
    let (proto, flag) = if flow.proto == 6 {
        ("tcp", "-H -tamn")
    } else {
        ("udp", "-H -uamn")
    };
    let args: Vec<&str> = flag.split(' ').collect();
    let listed = ns.output("ss", &args)?;
    Ok(BufferFacts {
        proto: proto.to_string(),
        address: flow.daddr.to_string(),
        port: flow.dport,
        socket: receiver(&parse(&listed), flow),
    })
}

/// One socket of `ss`'s list with its memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub addr: IpAddr,
    pub port: u16,
    pub memory: SocketMemory,
}

/// The socket that takes `flow`: bound to its destination itself, else
/// to a wildcard (the kernel prefers the more specific one).
fn receiver(listed: &[Listed], flow: &FlowKey) -> Option<SocketMemory> {
    let on_port = || listed.iter().filter(|l| l.port == flow.dport);
    on_port()
        .find(|l| l.addr == flow.daddr)
        .or_else(|| on_port().find(|l| takes(l.addr, flow.daddr)))
        .map(|l| l.memory.clone())
}

/// `ss -H -m` output: a line per socket (state, Recv-Q, Send-Q, local,
/// peer), then its `skmem:(r..,rb..,...,d..)`.
pub fn parse(text: &str) -> Vec<Listed> {
    let mut out = Vec::new();
    let mut current: Option<(IpAddr, u16, String, u64)> = None;
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if let Some(mem) = fields.iter().find_map(|f| f.strip_prefix("skmem:(")) {
            if let Some((addr, port, local, queued)) = current.take() {
                let value = |key: &str| -> u64 {
                    mem.trim_end_matches(')')
                        .split(',')
                        .find_map(|kv| {
                            let digits = kv.strip_prefix(key)?;
                            digits.parse().ok()
                        })
                        .unwrap_or(0)
                };
                out.push(Listed {
                    addr,
                    port,
                    memory: SocketMemory {
                        local,
                        queued,
                        rmem_alloc: value("r"),
                        rcvbuf: value("rb"),
                        drops: value("d"),
                    },
                });
            }
            continue;
        }
        let (Some(queued), Some(local)) = (fields.get(1), fields.get(3)) else {
            continue;
        };
        current = local_address(local).and_then(|(addr, port)| {
            Some((addr, port, (*local).to_string(), queued.parse().ok()?))
        });
    }
    out
}

/// `198.18.0.2:9`, `[::1]:9`, `*:9`, `0.0.0.0%fa0:68`.
fn local_address(text: &str) -> Option<(IpAddr, u16)> {
    let (addr, port) = text.rsplit_once(':')?;
    let port = port.parse().ok()?;
    let addr = addr.split('%').next()?;
    let addr = addr.trim_start_matches('[').trim_end_matches(']');
    let ip = match addr {
        // Both families: an IPv6 wildcard takes IPv4 too.
        "*" => Ipv6Addr::UNSPECIFIED.into(),
        _ => addr.parse().ok()?,
    };
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    (ip != IpAddr::V4(Ipv4Addr::BROADCAST)).then_some((ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SS: &str = "UNCONN 1280   0      198.18.0.2:7300  0.0.0.0:*
\t skmem:(r1280,rb2304,t0,tb212992,f2816,w0,o0,bl0,d19)
UNCONN 0      0        0.0.0.0:58282 0.0.0.0:*
\t skmem:(r0,rb212992,t0,tb212992,f0,w0,o0,bl0,d0)     
UNCONN 0      0              *:7301        *:*
\t skmem:(r0,rb212992,t0,tb212992,f0,w0,o0,bl0,d0)
";

    fn flow(daddr: &str, dport: u16) -> FlowKey {
        FlowKey {
            proto: 17,
            saddr: "198.18.0.1".parse().unwrap(),
            daddr: daddr.parse().unwrap(),
            sport: 40000,
            dport,
        }
    }

    #[test]
    fn each_socket_gets_its_own_memory_line() {
        let l = parse(SS);
        assert_eq!(l.len(), 3);
        assert_eq!(
            l[0].memory,
            SocketMemory {
                local: "198.18.0.2:7300".into(),
                queued: 1280,
                rmem_alloc: 1280,
                rcvbuf: 2304,
                drops: 19,
            }
        );
        assert!(l[2].addr.is_unspecified() && l[2].port == 7301);
    }

    #[test]
    fn the_receiver_is_the_bound_address_or_a_wildcard() {
        let l = parse(SS);
        let exact = receiver(&l, &flow("198.18.0.2", 7300)).unwrap();
        assert_eq!(exact.drops, 19);
        assert!(receiver(&l, &flow("198.18.0.3", 7300)).is_none());
        let any = receiver(&l, &flow("198.18.0.3", 7301)).unwrap();
        assert_eq!(any.local, "*:7301");
    }
}
