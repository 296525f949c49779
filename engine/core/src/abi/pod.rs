//! Viewing the contract's types as bytes and back, for map values, test
//! inputs and ring buffer records.

use super::agg::{AggKey, CompactKey, Dense, Hist};
use super::cbpf::{CbpfFrame, CbpfProg};
use super::config::{Config, Guard};
use super::event::{EventHeader, Meta};
use super::rule::{Counters, Insn, Limit, Rule};

/// Plain old data shared with the C side: any bit pattern is a valid
/// value and there are no implicit padding bytes, so a value can be viewed
/// as bytes and read back from them (the kernel crate lends this to aya's
/// `Pod` for its maps).
///
/// # Safety
/// Implement only for `repr(C)` types made of integers and integer arrays,
/// with explicit padding fields.
pub unsafe trait Plain: Copy + 'static {}

// SAFETY: every type below is repr(C), made only of integers and integer
// arrays, with explicit padding fields, so every bit pattern is valid and
// there are no implicit padding bytes.
unsafe impl Plain for Insn {}
unsafe impl Plain for Rule {}
unsafe impl Plain for Config {}
unsafe impl Plain for Guard {}
unsafe impl Plain for Meta {}
unsafe impl Plain for Counters {}
unsafe impl Plain for Limit {}
unsafe impl Plain for EventHeader {}
unsafe impl Plain for AggKey {}
unsafe impl Plain for Hist {}
unsafe impl Plain for Dense {}
unsafe impl Plain for CompactKey {}
unsafe impl Plain for CbpfProg {}
unsafe impl Plain for CbpfFrame {}
// libpcap's `struct bpf_insn`: u16, u8, u8, u32, no padding.
unsafe impl Plain for crate::pcap::Insn {}
unsafe impl Plain for u32 {}
unsafe impl Plain for u64 {}

/// Views a plain-old-data value as bytes (for `BPF_PROG_TEST_RUN` inputs).
pub fn bytes_of<T: Plain>(value: &T) -> &[u8] {
    // SAFETY: T is Plain (no padding, every byte initialised).
    unsafe { std::slice::from_raw_parts((value as *const T).cast::<u8>(), size_of::<T>()) }
}

/// Reads a plain-old-data value from the front of `bytes`, if long enough.
pub fn read_pod<T: Plain>(bytes: &[u8]) -> Option<T> {
    if bytes.len() < size_of::<T>() {
        return None;
    }
    // SAFETY: length checked; T is Plain so any bytes are a valid T;
    // read_unaligned because ring buffer records are only 8-aligned.
    Some(unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<T>()) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_pod_refuses_short_input() {
        let m = Meta {
            len: 7,
            ..Meta::default()
        };
        let bytes = bytes_of(&m);
        assert_eq!(read_pod::<Meta>(bytes), Some(m));
        assert_eq!(read_pod::<Meta>(&bytes[..100]), None);
    }
}
