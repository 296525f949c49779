//! libpcap's filter compiler and its own interpreter, through a small FFI
//! of the C API (`pcap_open_dead`, `pcap_compile`, `pcap_offline_filter`,
//! `pcap_freecode`).
//!
//! Why not the `pcap` crate: its instructions hide their fields (only a
//! `Display` of them), its `BpfProgram::filter` sets the captured length to
//! the wire length, so truncated captures cannot be replayed, and it
//! brings a build script with regex and libloading for five calls.

use std::ffi::{c_char, c_int, c_uint, CStr, CString};
use std::sync::Mutex;

use super::insn::Insn;
use super::validate::{InvalidProgram, Limits, Program};

/// The link layer a program is compiled for, as a libpcap `DLT_` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkType {
    /// Ethernet frames (`DLT_EN10MB`), the skb from its MAC header.
    Ethernet,
    /// Raw IPv4 or IPv6 with no link header (`DLT_RAW`, Linux's value),
    /// the skb from its network header.
    RawIp,
}

impl LinkType {
    pub const fn dlt(self) -> c_int {
        match self {
            LinkType::Ethernet => 1,
            LinkType::RawIp => 12,
        }
    }

    /// The `LINKTYPE_` value a pcap file of such packets carries.
    pub const fn pcap_file_linktype(self) -> u32 {
        match self {
            LinkType::Ethernet => 1,
            LinkType::RawIp => 101,
        }
    }
}

/// The netmask `pcap_compile` is given when there is none to give; only
/// `ip broadcast` needs one, and libpcap refuses it then.
pub const NETMASK_UNKNOWN: u32 = 0xffff_ffff;

/// The snapshot length of the dead handle, libpcap's maximum; an accepting
/// program returns it.
pub const SNAPLEN: u32 = 262_144;

/// Why libpcap did not compile an expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    /// libpcap's own message, e.g. "non-network bits set in \"192.0.2.5/24\"".
    #[error("{message}")]
    Refused { message: String },
    #[error("the expression contains a NUL byte")]
    Nul,
    #[error("libpcap could not open a handle for link type {dlt}")]
    NoHandle { dlt: i32 },
}

#[repr(C)]
struct RawProgram {
    bf_len: c_uint,
    bf_insns: *mut Insn,
}

#[repr(C)]
struct PktHdr {
    ts: libc::timeval,
    caplen: u32,
    len: u32,
}

#[repr(C)]
struct PcapT {
    _opaque: [u8; 0],
}

#[link(name = "pcap")]
extern "C" {
    fn pcap_open_dead(linktype: c_int, snaplen: c_int) -> *mut PcapT;
    fn pcap_close(p: *mut PcapT);
    fn pcap_compile(
        p: *mut PcapT,
        fp: *mut RawProgram,
        text: *const c_char,
        optimize: c_int,
        netmask: u32,
    ) -> c_int;
    fn pcap_geterr(p: *mut PcapT) -> *const c_char;
    fn pcap_freecode(fp: *mut RawProgram);
    fn pcap_offline_filter(fp: *const RawProgram, h: *const PktHdr, pkt: *const u8) -> c_int;
    fn pcap_lib_version() -> *const c_char;
}

/// libpcap's name resolution (`getservbyname`, `getprotobyname`) keeps
/// static state, so one compile runs at a time.
static COMPILE_LOCK: Mutex<()> = Mutex::new(());

/// libpcap's version string, e.g. "libpcap version 1.10.3 (with TPACKET_V3)".
pub fn version() -> String {
    // SAFETY: libpcap returns a static NUL-terminated string.
    unsafe { CStr::from_ptr(pcap_lib_version()) }
        .to_string_lossy()
        .into_owned()
}

/// A program libpcap compiled; it owns libpcap's allocation.
#[derive(Debug)]
pub struct Compiled {
    raw: RawProgram,
}

// SAFETY: the program is plain memory that only `Drop` frees; filtering
// reads it without mutation.
unsafe impl Send for Compiled {}
unsafe impl Sync for Compiled {}

impl std::fmt::Debug for RawProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RawProgram({} insns)", self.bf_len)
    }
}

/// Compiles `expr` for `link` the way tcpdump does (`optimize` is
/// tcpdump's default; `-O` turns it off).
pub fn compile(
    expr: &str,
    link: LinkType,
    optimize: bool,
    netmask: u32,
) -> Result<Compiled, CompileError> {
    let text = CString::new(expr).map_err(|_| CompileError::Nul)?;
    let _guard = COMPILE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: plain C calls; the handle is closed on every path and the
    // program is owned by `Compiled` only when pcap_compile filled it.
    unsafe {
        let handle = pcap_open_dead(link.dlt(), SNAPLEN as c_int);
        if handle.is_null() {
            return Err(CompileError::NoHandle { dlt: link.dlt() });
        }
        let mut raw = RawProgram {
            bf_len: 0,
            bf_insns: std::ptr::null_mut(),
        };
        let rc = pcap_compile(
            handle,
            &mut raw,
            text.as_ptr(),
            c_int::from(optimize),
            netmask,
        );
        let result = if rc == 0 {
            Ok(Compiled { raw })
        } else {
            let message = CStr::from_ptr(pcap_geterr(handle))
                .to_string_lossy()
                .into_owned();
            Err(CompileError::Refused { message })
        };
        pcap_close(handle);
        result
    }
}

impl Compiled {
    pub fn insns(&self) -> &[Insn] {
        if self.raw.bf_insns.is_null() {
            return &[];
        }
        // SAFETY: libpcap allocated bf_len instructions laid out as `Insn`
        // (same `struct bpf_insn`), alive until `Drop`.
        unsafe { std::slice::from_raw_parts(self.raw.bf_insns, self.raw.bf_len as usize) }
    }

    /// The instructions as a validated [`Program`].
    pub fn program(&self, limits: &Limits) -> Result<Program, InvalidProgram> {
        Program::new(self.insns().to_vec(), limits)
    }

    /// libpcap's own verdict (`pcap_offline_filter`) on `data`, captured
    /// from a packet `wirelen` bytes long: 0 rejects.
    pub fn filter(&self, data: &[u8], wirelen: u32) -> u32 {
        let hdr = PktHdr {
            ts: libc::timeval {
                tv_sec: 0,
                tv_usec: 0,
            },
            caplen: data.len() as u32,
            len: wirelen,
        };
        // SAFETY: libpcap reads at most caplen bytes of `data`.
        let rc = unsafe { pcap_offline_filter(&self.raw, &hdr, data.as_ptr()) };
        rc as u32
    }
}

impl Drop for Compiled {
    fn drop(&mut self) {
        // SAFETY: the program came from pcap_compile and is freed once.
        unsafe { pcap_freecode(&mut self.raw) }
    }
}

#[cfg(test)]
#[path = "libpcap_tests.rs"]
mod tests;
