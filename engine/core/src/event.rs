//! Ring buffer records → events. Decoding takes only the bytes: no syscall
//! per event. Malformed records are errors with what was wrong, never
//! panics, so a bad record costs one event, not the session.

use crate::abi::{self, EventHeader, Meta};
use std::mem::size_of;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("truncated record: {len} bytes, an event needs at least {need}")]
    Truncated { len: usize, need: usize },
    #[error("unknown record kind {kind}")]
    UnknownKind { kind: u32 },
    #[error("record claims {cap_len} captured bytes but carries {available}")]
    CaptureOverrun { cap_len: u32, available: usize },
}

/// One decoded packet event. `meta` keeps the kernel's view; the helpers
/// below give the fields as users see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub hook: u32,
    /// Rule numbers (1-based) that matched and asked for this event.
    pub rules: Vec<usize>,
    pub stack_id: Option<i32>,
    pub meta: Meta,
    /// Packet bytes, when a `capture` rule matched.
    pub capture: Vec<u8>,
    /// Whether `capture` starts at the MAC header (else the network header).
    pub capture_l2: bool,
    /// The whole packet's length from where `capture` starts (at least
    /// `capture.len()`; more when the snaplen or the linear data cut it).
    pub wire_len: u32,
    /// What `explain` found behind this drop; filled in by the session.
    /// Boxed: most events have none, and events are moved around a lot.
    pub verdict: Option<Box<crate::verdict::Verdict>>,
}

pub fn decode(record: &[u8]) -> Result<Event, DecodeError> {
    let need = size_of::<EventHeader>();
    let header: EventHeader = abi::read_pod(record).ok_or(DecodeError::Truncated {
        len: record.len(),
        need,
    })?;
    if header.kind != abi::EVENT_PACKET {
        return Err(DecodeError::UnknownKind { kind: header.kind });
    }
    let rest = &record[need..];
    let cap = header.cap_len as usize;
    if cap > rest.len() {
        return Err(DecodeError::CaptureOverrun {
            cap_len: header.cap_len,
            available: rest.len(),
        });
    }
    let rules = (0..abi::MAX_RULES)
        .filter(|i| header.rules & (1u64 << i) != 0)
        .map(|i| i + 1)
        .collect();
    Ok(Event {
        hook: header.hook,
        rules,
        stack_id: (header.stack_id >= 0).then_some(header.stack_id),
        meta: header.meta,
        capture: rest[..cap].to_vec(),
        capture_l2: header.cap_l2 != 0,
        wire_len: header.wire_len.max(header.cap_len),
        verdict: None,
    })
}

impl Event {
    pub fn has(&self, field: u8) -> bool {
        self.meta.present & (1u32 << field) != 0
    }

    pub fn saddr(&self) -> Option<std::net::IpAddr> {
        self.has(abi::field::SADDR)
            .then(|| ip_of(&self.meta.saddr, self.meta.family))
    }

    pub fn daddr(&self) -> Option<std::net::IpAddr> {
        self.has(abi::field::DADDR)
            .then(|| ip_of(&self.meta.daddr, self.meta.family))
    }

    pub fn sport(&self) -> Option<u16> {
        self.has(abi::field::SPORT).then_some(self.meta.sport)
    }

    pub fn dport(&self) -> Option<u16> {
        self.has(abi::field::DPORT).then_some(self.meta.dport)
    }

    pub fn proto(&self) -> Option<u8> {
        self.has(abi::field::PROTO).then_some(self.meta.proto)
    }

    /// A drop: the `drop` trigger's tracepoint, or a call of a drop
    /// function (one with an `enum skb_drop_reason` argument, which the
    /// function programs read into `reason`).
    pub fn is_drop(&self) -> bool {
        self.hook == abi::hook::DROP || self.is_drop_function()
    }

    /// For an event of a traced tc/XDP program (`on tc`, `on xdp`): which
    /// kind, and whether it entered or left it (with the verdict).
    pub fn prog_point(&self) -> Option<(crate::bpf_prog::ProgKind, crate::bpf_prog::ProgPoint)> {
        let kind = crate::bpf_prog::ProgKind::of_hook(self.hook)?;
        Some((kind, crate::bpf_prog::ProgPoint::of_meta(&self.meta)?))
    }

    /// A drop that carries its reason: every drop function's call, and the
    /// `drop` tracepoint's where the kernel passes one (5.17+; before,
    /// only the drop's location is known).
    pub fn has_reason(&self) -> bool {
        self.is_drop() && self.has(abi::field::REASON)
    }

    /// A call of a drop function, which carries its reason.
    pub fn is_drop_function(&self) -> bool {
        self.hook == abi::hook::FUNC && self.has(abi::field::REASON)
    }

    pub fn ifname(&self) -> &str {
        cstr(&self.meta.ifname)
    }

    pub fn comm(&self) -> &str {
        cstr(&self.meta.comm)
    }
}

/// An address as stored by the kernel side: IPv4 mapped into IPv6.
pub fn ip(bytes: &[u8; 16]) -> std::net::IpAddr {
    let v6 = std::net::Ipv6Addr::from(*bytes);
    match v6.to_ipv4_mapped() {
        Some(v4) => v4.into(),
        None => v6.into(),
    }
}

/// An address of a packet of `family`: an IPv6 packet's address stays
/// IPv6 even in the IPv4-mapped range (`::ffff:192.0.2.1`), as tcpdump
/// prints it.
pub fn ip_of(bytes: &[u8; 16], family: u16) -> std::net::IpAddr {
    match family {
        0x86dd => std::net::Ipv6Addr::from(*bytes).into(),
        _ => ip(bytes),
    }
}

/// A NUL-terminated kernel name; invalid UTF-8 shows as `?`.
pub fn cstr(bytes: &[u8]) -> &str {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    std::str::from_utf8(&bytes[..end]).unwrap_or("?")
}

pub fn proto_name(p: u8) -> Option<&'static str> {
    crate::catalog::PROTOCOLS
        .iter()
        .find(|(_, v)| *v == p)
        .map(|(n, _)| *n)
}

pub fn family_name(f: u16) -> Option<&'static str> {
    crate::catalog::FAMILIES
        .iter()
        .find(|(_, v)| *v == f)
        .map(|(n, _)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(header: &EventHeader, extra: &[u8]) -> Vec<u8> {
        let mut v = abi::bytes_of(header).to_vec();
        v.extend_from_slice(extra);
        v
    }

    fn header() -> EventHeader {
        EventHeader {
            kind: abi::EVENT_PACKET,
            rules: 0b101,
            stack_id: -1,
            ..EventHeader::default()
        }
    }

    #[test]
    fn decodes_rules_and_capture() {
        let h = EventHeader {
            cap_len: 3,
            ..header()
        };
        let ev = decode(&record(&h, &[1, 2, 3, 4])).unwrap();
        assert_eq!(ev.rules, vec![1, 3]);
        assert_eq!(ev.capture, vec![1, 2, 3]);
        assert_eq!(ev.stack_id, None);
    }

    #[test]
    fn malformed_records_are_errors_not_panics() {
        let full = record(&header(), &[]);
        assert!(matches!(
            decode(&full[..10]),
            Err(DecodeError::Truncated { len: 10, .. })
        ));
        let h = EventHeader {
            cap_len: 100,
            ..header()
        };
        assert!(matches!(
            decode(&record(&h, &[0; 4])),
            Err(DecodeError::CaptureOverrun { .. })
        ));
        let h = EventHeader {
            kind: 77,
            ..header()
        };
        assert_eq!(
            decode(&record(&h, &[])),
            Err(DecodeError::UnknownKind { kind: 77 })
        );
    }

    #[test]
    fn mapped_addresses_show_as_ipv4() {
        let mut b = [0u8; 16];
        b[10] = 0xff;
        b[11] = 0xff;
        b[12..].copy_from_slice(&[198, 18, 0, 2]);
        assert_eq!(ip(&b).to_string(), "198.18.0.2");
        assert_eq!(ip_of(&b, 0x0800).to_string(), "198.18.0.2");
        assert_eq!(ip_of(&b, 0x86dd).to_string(), "::ffff:198.18.0.2");
    }
}
