//! pcap-filter expressions as classic BPF: libpcap's compiler (feature
//! `libpcap`), a Rust interpreter with exactly libpcap's `bpf_filter`
//! semantics, the validator an in-kernel interpreter relies on, and a
//! seeded generator of ordinary and hostile frames to hold them to
//! libpcap with.

/// The expressions the differential tests hold interpreters to (libpcap's,
/// this crate's, the kernel's): test support, data only.
pub mod abstract_run;
mod abstract_value;
pub mod exprs;
pub mod frames;
pub mod insn;
pub mod interp;
#[cfg(feature = "libpcap")]
pub mod libpcap;
pub mod prefilter;
pub mod validate;
pub mod words;

pub use insn::Insn;
pub use interp::{run, Run};
pub use validate::{InvalidProgram, Limits, Program};
