//! The field catalog: every field of the language with its type, width,
//! the operators it admits and which triggers provide it. The checker, the
//! lowering, the REPL's completion and `ferret fields` all read this table.

use crate::abi::{self, field};
use crate::meta_access::FieldValue;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// IPv4 or IPv6 address (IPv4 stored mapped into IPv6).
    Addr,
    /// TCP/UDP/SCTP port: a number or a service name.
    Port,
    /// L4 protocol: a name or a number.
    Proto,
    /// L3 protocol: `ip4 ip6 arp` or an ethertype number.
    Family,
    /// A plain unsigned integer of `bits` width.
    Uint,
    /// A short name (device, task): exact or prefix glob, at most 15 bytes.
    Name,
    TcpFlags,
    Reason,
    /// A kernel function name glob.
    Func,
    /// A network namespace: inode number, `/proc/PID/ns/net`, or a name.
    Netns,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FieldDef {
    pub name: &'static str,
    #[serde(skip)]
    pub id: u8,
    pub kind: FieldKind,
    pub bits: u32,
    /// Only drops carry it: `drop` events and calls of drop functions
    /// (`func` triggers).
    pub drop_only: bool,
    pub doc: &'static str,
}

const fn def(
    name: &'static str,
    id: u8,
    kind: FieldKind,
    bits: u32,
    doc: &'static str,
) -> FieldDef {
    FieldDef {
        name,
        id,
        kind,
        bits,
        drop_only: false,
        doc,
    }
}

pub const FIELDS: &[FieldDef] = &[
    def(
        "saddr",
        field::SADDR,
        FieldKind::Addr,
        128,
        "network header source address",
    ),
    def(
        "daddr",
        field::DADDR,
        FieldKind::Addr,
        128,
        "network header destination address",
    ),
    def(
        "sport",
        field::SPORT,
        FieldKind::Port,
        16,
        "TCP/UDP/SCTP source port",
    ),
    def(
        "dport",
        field::DPORT,
        FieldKind::Port,
        16,
        "TCP/UDP/SCTP destination port",
    ),
    def(
        "proto",
        field::PROTO,
        FieldKind::Proto,
        8,
        "L4 protocol: tcp udp icmp icmp6 sctp or a number",
    ),
    def(
        "family",
        field::FAMILY,
        FieldKind::Family,
        16,
        "L3 protocol: ip4 ip6 arp or an ethertype",
    ),
    def("len", field::LEN, FieldKind::Uint, 32, "skb->len"),
    def(
        "mark",
        field::MARK,
        FieldKind::Uint,
        32,
        "skb->mark (also `mark & MASK == V`)",
    ),
    def(
        "ifname",
        field::IFNAME,
        FieldKind::Name,
        128,
        "device name, exact or prefix glob (\"veth*\")",
    ),
    def(
        "ifindex",
        field::IFINDEX,
        FieldKind::Uint,
        32,
        "device index",
    ),
    def(
        "netns",
        field::NETNS,
        FieldKind::Netns,
        32,
        "network namespace inode, /proc/PID/ns/net or a /run/netns name",
    ),
    def(
        "pid",
        field::PID,
        FieldKind::Uint,
        32,
        "process (thread group) id running when the event fired",
    ),
    def(
        "comm",
        field::COMM,
        FieldKind::Name,
        128,
        "command name of that task",
    ),
    def(
        "tcpflags",
        field::TCPFLAGS,
        FieldKind::TcpFlags,
        8,
        "TCP flags: syn ack fin rst psh urg",
    ),
    def(
        "ttl",
        field::TTL,
        FieldKind::Uint,
        8,
        "IPv4 TTL / IPv6 hop limit",
    ),
    FieldDef {
        drop_only: true,
        ..def(
            "reason",
            field::REASON,
            FieldKind::Reason,
            32,
            "drop reason (drops only: `drop`, drop functions)",
        )
    },
    def(
        "func",
        field::FUNC,
        FieldKind::Func,
        32,
        "kernel function the event came from (glob)",
    ),
    def("cpu", field::CPU, FieldKind::Uint, 32, "CPU id"),
];

/// Extra keys that `count by` accepts beside the fields.
pub const COUNT_ONLY_KEYS: &[&str] = &["rule"];

pub fn lookup(name: &str) -> Option<&'static FieldDef> {
    FIELDS.iter().find(|f| f.name == name)
}

pub fn by_id(id: u8) -> Option<&'static FieldDef> {
    if id == field::PCAP {
        return Some(&PCAP_FIELD);
    }
    FIELDS.iter().find(|f| f.id == id)
}

/// Not a field a rule names: the bits of the rule's pcap-filter parts
/// that accepted the packet (`Meta::pcap`), which the checker's atoms for
/// pcap-filter text test.
pub const PCAP_FIELD: FieldDef = def(
    "pcap-filter",
    field::PCAP,
    FieldKind::Uint,
    8,
    "the rule's pcap-filter parts that accept the packet, one bit each",
);

pub fn names() -> impl Iterator<Item = &'static str> {
    FIELDS.iter().map(|f| f.name)
}

impl FieldDef {
    /// All-ones for the field's width, as a 128-bit mask.
    pub fn full_mask(&self) -> u128 {
        if self.bits >= 128 {
            u128::MAX
        } else {
            (1u128 << self.bits) - 1
        }
    }

    /// Fields stored as raw bytes (compared with `==`/`!=` and masks only).
    pub fn is_bytes(&self) -> bool {
        matches!(self.kind, FieldKind::Addr | FieldKind::Name)
    }

    /// Whether `<`, `>`, ranges make sense.
    pub fn is_ordered(&self) -> bool {
        matches!(
            self.kind,
            FieldKind::Port | FieldKind::Uint | FieldKind::Netns
        )
    }

    /// The value of this field in `meta` as the checker's 128-bit view, or
    /// `None` when the packet does not carry it.
    pub fn value_in(&self, meta: &abi::Meta) -> Option<u128> {
        if meta.present & (1u32 << self.id) == 0 {
            return None;
        }
        Some(match meta.field(self.id)? {
            FieldValue::Bytes(b) => u128::from_be_bytes(b),
            FieldValue::Number(n) => n.into(),
        })
    }
}

/// Well-known service names for ports (what tcpdump users type most; the
/// table is built in so that checking stays pure and the same everywhere).
pub const SERVICES: &[(&str, u16)] = &[
    ("ftp-data", 20),
    ("ftp", 21),
    ("ssh", 22),
    ("telnet", 23),
    ("smtp", 25),
    ("dns", 53),
    ("domain", 53),
    ("bootps", 67),
    ("bootpc", 68),
    ("tftp", 69),
    ("http", 80),
    ("kerberos", 88),
    ("pop3", 110),
    ("ntp", 123),
    ("imap", 143),
    ("snmp", 161),
    ("bgp", 179),
    ("ldap", 389),
    ("https", 443),
    ("smtps", 465),
    ("syslog", 514),
    ("submission", 587),
    ("ldaps", 636),
    ("imaps", 993),
    ("pop3s", 995),
    ("mysql", 3306),
    ("rdp", 3389),
    ("vxlan", 4789),
    ("geneve", 6081),
    ("postgresql", 5432),
    ("redis", 6379),
    ("http-alt", 8080),
];

pub const PROTOCOLS: &[(&str, u8)] = &[
    ("icmp", 1),
    ("tcp", 6),
    ("udp", 17),
    ("icmp6", 58),
    ("sctp", 132),
];
pub const FAMILIES: &[(&str, u16)] = &[("ip4", 0x0800), ("ip6", 0x86dd), ("arp", 0x0806)];
pub const TCP_FLAGS: &[(&str, u8)] = &[
    ("fin", abi::TCP_FIN),
    ("syn", abi::TCP_SYN),
    ("rst", abi::TCP_RST),
    ("psh", abi::TCP_PSH),
    ("ack", abi::TCP_ACK),
    ("urg", abi::TCP_URG),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_fit_the_presence_mask() {
        for (i, a) in FIELDS.iter().enumerate() {
            assert!(a.id < 32, "{} does not fit the presence bitmask", a.name);
            for b in &FIELDS[i + 1..] {
                assert_ne!(a.id, b.id, "{} and {} share an id", a.name, b.name);
                assert_ne!(a.name, b.name);
            }
        }
    }

    #[test]
    fn absent_fields_have_no_value() {
        let meta = abi::Meta {
            dport: 443,
            present: 1 << field::DPORT,
            ..abi::Meta::default()
        };
        assert_eq!(lookup("dport").unwrap().value_in(&meta), Some(443));
        assert_eq!(lookup("sport").unwrap().value_in(&meta), None);
    }
}
