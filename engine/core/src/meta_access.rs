//! Reading a field of a packet's [`Meta`] and writing one into an
//! [`AggKey`] by field id, in one place: the checker's view, the reference
//! evaluator, and both `count by` tiers all name fields by `abi::field` id,
//! and each used to spell out the same match.

use crate::abi::{field, AggKey, Meta};

/// A field's value as `Meta` holds it: a number (zero-extended), or the
/// 16 raw bytes of an address or a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValue {
    Number(u64),
    Bytes([u8; 16]),
}

impl Meta {
    /// Field `id` as stored, whether or not the packet carried it (that is
    /// `present`'s bit `id`); `None` for an id that names no field of Meta.
    pub fn field(&self, id: u8) -> Option<FieldValue> {
        let bytes = |b: [u8; 16]| Some(FieldValue::Bytes(b));
        match id {
            field::SADDR => bytes(self.saddr),
            field::DADDR => bytes(self.daddr),
            field::IFNAME => bytes(self.ifname),
            field::COMM => bytes(self.comm),
            _ => self.number(id).map(FieldValue::Number),
        }
    }

    /// Numeric field `id`, zero-extended; `None` for addresses, names and
    /// ids that name no field.
    pub fn number(&self, id: u8) -> Option<u64> {
        Some(match id {
            field::SPORT => self.sport.into(),
            field::DPORT => self.dport.into(),
            field::PROTO => self.proto.into(),
            field::FAMILY => self.family.into(),
            field::LEN => self.len.into(),
            field::MARK => self.mark.into(),
            field::IFINDEX => self.ifindex.into(),
            field::NETNS => self.netns.into(),
            field::PID => self.pid.into(),
            field::TCPFLAGS => self.tcpflags.into(),
            field::TTL => self.ttl.into(),
            field::REASON => self.reason.into(),
            field::FUNC => self.func_id.into(),
            field::CPU => self.cpu.into(),
            field::PCAP => self.pcap.into(),
            _ => return None,
        })
    }
}

impl AggKey {
    /// Sets numeric field `id` to `value`, cut to the field's width (callers
    /// take it from a field of that width or mask it to it). Returns false,
    /// changing nothing, for addresses, names and ids that name no field.
    pub fn set_number(&mut self, id: u8, value: u64) -> bool {
        match id {
            field::SPORT => self.sport = value as u16,
            field::DPORT => self.dport = value as u16,
            field::PROTO => self.proto = value as u8,
            field::FAMILY => self.family = value as u16,
            field::LEN => self.len = value as u32,
            field::MARK => self.mark = value as u32,
            field::IFINDEX => self.ifindex = value as u32,
            field::NETNS => self.netns = value as u32,
            field::PID => self.pid = value as u32,
            field::TCPFLAGS => self.tcpflags = value as u8,
            field::TTL => self.ttl = value as u8,
            field::REASON => self.reason = value as u32,
            field::FUNC => self.func_id = value as u32,
            field::CPU => self.cpu = value as u32,
            _ => return false,
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::FIELDS;

    #[test]
    fn every_catalog_field_reads_back_what_a_key_was_given() {
        let meta = Meta {
            sport: 1,
            dport: 2,
            proto: 3,
            family: 4,
            len: 5,
            mark: 6,
            ifindex: 7,
            netns: 8,
            pid: 9,
            tcpflags: 10,
            ttl: 11,
            reason: 12,
            func_id: 13,
            cpu: 14,
            saddr: [1; 16],
            comm: [2; 16],
            ..Meta::default()
        };
        let mut key = AggKey::default();
        for f in FIELDS {
            let Some(value) = meta.field(f.id) else {
                panic!("catalog field {} is not in Meta", f.name)
            };
            match value {
                FieldValue::Number(n) => {
                    assert!(key.set_number(f.id, n), "{}", f.name);
                    assert_eq!(meta.number(f.id), Some(n));
                }
                FieldValue::Bytes(_) => assert!(!key.set_number(f.id, 1), "{}", f.name),
            }
        }
        assert_eq!((key.sport, key.dport, key.proto, key.family), (1, 2, 3, 4));
        assert_eq!((key.len, key.mark, key.ifindex, key.netns), (5, 6, 7, 8));
        assert_eq!(
            (key.pid, key.tcpflags, key.ttl, key.reason),
            (9, 10, 11, 12)
        );
        assert_eq!((key.func_id, key.cpu), (13, 14));
        assert_eq!(meta.field(field::SADDR), Some(FieldValue::Bytes([1; 16])));
        assert_eq!(meta.field(field::COMM), Some(FieldValue::Bytes([2; 16])));
        assert_eq!(meta.field(field::COUNT), None);
        assert_eq!(meta.field(0), None);
    }

    #[test]
    fn values_are_cut_to_the_field_width() {
        let mut key = AggKey::default();
        assert!(key.set_number(field::DPORT, 0x1_0050));
        assert!(key.set_number(field::TTL, 0x140));
        assert_eq!((key.dport, key.ttl), (0x50, 0x40));
        assert!(!key.set_number(40, 1));
    }
}
