//! What ferret lets through to libpcap's compiler: no word that libpcap
//! would resolve as a host name. libpcap looks up an unknown word as a host
//! (`getaddrinfo`, so DNS) wherever a host may stand, including a typo
//! like `tcpp` and the implicit repetition in `host A or B`; checking a
//! rule must never send a packet. Port and protocol names stay allowed
//! where libpcap reads them as such: those come from the local services
//! and protocols files.
//!
//! The walk follows libpcap's qualifiers: a type keyword (`host`, `net`,
//! `port`, `proto`, ...) says how the next words are read, a protocol or
//! direction keyword on its own (`tcp`, `src`) brings back the default,
//! which is `host`.

/// How a bare word would be read at this point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    Host,
    Net,
    Port,
    Proto,
    /// After `llc`: its frame type names.
    Llc,
    Gateway,
}

/// A word libpcap would have to look up outside the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Lookup {
    #[error("`{word}` would be looked up as a host name")]
    Host { word: String, index: usize },
    #[error("`{word}` would be looked up as a network name")]
    Net { word: String, index: usize },
    #[error("`gateway` needs host names looked up")]
    Gateway { index: usize },
    #[error("pcap-filter keywords are lower case: `{word}` is read as a host name")]
    Case { word: String, index: usize },
}

impl Lookup {
    /// The token (index into the checked tokens) to blame.
    pub fn index(&self) -> usize {
        match self {
            Lookup::Host { index, .. }
            | Lookup::Net { index, .. }
            | Lookup::Case { index, .. }
            | Lookup::Gateway { index } => *index,
        }
    }
}

/// pcap-filter(7) keywords of libpcap 1.10 that take part in a filter for
/// Ethernet or raw IP, the named offsets and the named constants.
pub const KEYWORDS: &[&str] = &[
    "dst",
    "src",
    "host",
    "gateway",
    "net",
    "netmask",
    "mask",
    "port",
    "portrange",
    "proto",
    "protochain",
    "byte",
    "broadcast",
    "multicast",
    "less",
    "greater",
    "and",
    "or",
    "not",
    "ip",
    "ip6",
    "arp",
    "rarp",
    "atalk",
    "aarp",
    "decnet",
    "lat",
    "sca",
    "moprc",
    "mopdl",
    "iso",
    "esis",
    "es-is",
    "isis",
    "is-is",
    "l1",
    "l2",
    "iih",
    "lsp",
    "snp",
    "csnp",
    "psnp",
    "clnp",
    "stp",
    "ipx",
    "netbeui",
    "tcp",
    "udp",
    "icmp",
    "icmp6",
    "igmp",
    "igrp",
    "pim",
    "vrrp",
    "carp",
    "sctp",
    "ah",
    "esp",
    "link",
    "ether",
    "ppp",
    "slip",
    "fddi",
    "tr",
    "wlan",
    "len",
    "inbound",
    "outbound",
    "vlan",
    "mpls",
    "pppoed",
    "pppoes",
    "geneve",
    "llc",
    "icmptype",
    "icmpcode",
    "icmp6type",
    "icmp6code",
    "tcpflags",
    "icmp-echoreply",
    "icmp-unreach",
    "icmp-sourcequench",
    "icmp-redirect",
    "icmp-echo",
    "icmp-routeradvert",
    "icmp-routersolicit",
    "icmp-timxceed",
    "icmp-paramprob",
    "icmp-tstamp",
    "icmp-tstampreply",
    "icmp-ireq",
    "icmp-ireqreply",
    "icmp-maskreq",
    "icmp-maskreply",
    "icmp6-destinationunreach",
    "icmp6-packettoobig",
    "icmp6-timeexceeded",
    "icmp6-parameterproblem",
    "icmp6-echo",
    "icmp6-echoreply",
    "icmp6-multicastlistenerquery",
    "icmp6-multicastlistenerreportv1",
    "icmp6-multicastlistenerdone",
    "icmp6-routersolicit",
    "icmp6-routeradvert",
    "icmp6-neighborsolicit",
    "icmp6-neighboradvert",
    "icmp6-redirect",
    "icmp6-routerrenum",
    "icmp6-nodeinformationquery",
    "icmp6-nodeinformationresponse",
    "icmp6-ineighbordiscoverysolicit",
    "icmp6-ineighbordiscoveryadvert",
    "icmp6-multicastlistenerreportv2",
    "icmp6-homeagentdiscoveryrequest",
    "icmp6-homeagentdiscoveryreply",
    "icmp6-mobileprefixsolicit",
    "icmp6-mobileprefixadvert",
    "icmp6-certpathsolicit",
    "icmp6-certpathadvert",
    "icmp6-multicastrouteradvert",
    "icmp6-multicastroutersolicit",
    "icmp6-multicastrouterterm",
    "tcp-fin",
    "tcp-syn",
    "tcp-rst",
    "tcp-push",
    "tcp-ack",
    "tcp-urg",
    "tcp-ece",
    "tcp-cwr",
];

/// Keywords after which a bare word is read as the keyword says.
fn reading_of(word: &str) -> Option<Reading> {
    Some(match word {
        "host" => Reading::Host,
        "net" => Reading::Net,
        "port" | "portrange" => Reading::Port,
        "proto" | "protochain" => Reading::Proto,
        "llc" => Reading::Llc,
        "gateway" => Reading::Gateway,
        _ => return None,
    })
}

/// Refuses the first word libpcap would resolve outside the rule; `tokens`
/// are the pcap-filter tokens as written.
pub fn check_lookups<S: AsRef<str>>(tokens: &[S]) -> Result<(), Lookup> {
    let mut reading = Reading::Host;
    for (index, token) in tokens.iter().enumerate() {
        for word in words(token.as_ref()) {
            if let Some(r) = reading_of(word) {
                if r == Reading::Gateway {
                    return Err(Lookup::Gateway { index });
                }
                reading = r;
                continue;
            }
            if KEYWORDS.contains(&word) {
                // A protocol or direction keyword starts a new primitive;
                // its words are hosts unless a type keyword follows.
                if !matches!(word, "and" | "or" | "not" | "mask" | "netmask" | "byte") {
                    reading = Reading::Host;
                }
                continue;
            }
            if is_literal(word) {
                continue;
            }
            if KEYWORDS.contains(&word.to_ascii_lowercase().as_str()) {
                return Err(Lookup::Case {
                    word: word.into(),
                    index,
                });
            }
            match reading {
                // Services and protocols come from local files.
                Reading::Port | Reading::Proto | Reading::Llc => {}
                Reading::Net => {
                    return Err(Lookup::Net {
                        word: word.into(),
                        index,
                    })
                }
                Reading::Host | Reading::Gateway => {
                    return Err(Lookup::Host {
                        word: word.into(),
                        index,
                    })
                }
            }
        }
    }
    Ok(())
}

/// The name-like pieces of a token: `tcp[tcpflags]` gives `tcp` and
/// `tcpflags`, `\tcp` gives `tcp`.
fn words(token: &str) -> impl Iterator<Item = &str> {
    token
        .split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-' | '/')))
        // libpcap's names start with a letter or digit and do not end in
        // `-` or `_`: a minus written without spaces (`-ip[0]`, `len-1`)
        // is an operator, not part of a name.
        .map(|w| {
            w.trim_start_matches(|c: char| !c.is_ascii_alphanumeric())
                .trim_end_matches(['-', '_'])
        })
        .filter(|w| !w.is_empty())
}

/// Numbers, addresses, networks, MAC addresses and number ranges: nothing
/// to look up.
fn is_literal(word: &str) -> bool {
    let number = |w: &str| {
        !w.is_empty()
            && (w.bytes().all(|b| b.is_ascii_digit())
                || w.strip_prefix("0x")
                    .or_else(|| w.strip_prefix("0X"))
                    .is_some_and(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit())))
    };
    let addr = |w: &str| {
        let dotted = w.split('.').all(number) && w.contains('.');
        let colons = w.contains(':')
            && w.bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        let mac_sep = |sep: char| {
            w.contains(sep)
                && w.split(sep)
                    .all(|g| !g.is_empty() && g.bytes().all(|b| b.is_ascii_hexdigit()))
        };
        number(w) || dotted || colons || mac_sep('-') || mac_sep('.')
    };
    match word.split_once('/') {
        Some((a, len)) => addr(a) && number(len),
        None => addr(word) || word.split('-').all(number),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<(), Lookup> {
        check_lookups(&text.split_whitespace().collect::<Vec<_>>())
    }

    #[test]
    fn addresses_ports_and_byte_expressions_need_no_lookup() {
        for ok in [
            "host 192.0.2.1 or 192.0.2.2",
            "net 10 or net 192.0.2.0/24 or net 198.18.0.0 mask 255.254.0.0",
            "ether host aa:bb:cc:dd:ee:ff or ether src aa-bb-cc-dd-ee-ff",
            "host fe80::1 or host ::ffff:192.0.2.1",
            "tcp port http or https or 8080 and portrange 80-443",
            "portrange http-https",
            "ip proto \\tcp or ether proto \\arp or ip6 protochain 44",
            "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn",
            "icmp[icmptype] == icmp-echo and ip[0]&0xf != 5",
            "vlan 100 and less 128 and greater 64",
            "ether[0:2] == 0x0102 or llc i",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn words_that_would_be_host_or_net_lookups_are_refused() {
        let host = |w: &str| Lookup::Host {
            word: w.into(),
            index: 0,
        };
        assert!(matches!(check("example.com"), Err(Lookup::Host { .. })));
        assert!(matches!(check("tcpp"), Err(Lookup::Host { .. })));
        assert_eq!(check("host deadbeef").map_err(|e| e.index()), Err(1));
        assert_eq!(
            check("host 192.0.2.1 or router").map_err(|e| e.index()),
            Err(3)
        );
        // A direction alone brings back `host`.
        assert_eq!(check("port 80 or src http").map_err(|e| e.index()), Err(4));
        assert_eq!(check("tcp and http").map_err(|e| e.index()), Err(2));
        assert!(matches!(check("net loopnet"), Err(Lookup::Net { .. })));
        assert!(matches!(
            check("gateway 192.0.2.1"),
            Err(Lookup::Gateway { .. })
        ));
        assert!(matches!(
            check("ether host router"),
            Err(Lookup::Host { .. })
        ));
        assert_ne!(check("x"), Err(host("y")));
    }
}
