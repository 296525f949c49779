//! The links behind function triggers: BPF_LINK_CREATE for kprobe.multi
//! (one link, many functions, a cookie each), for single kprobes (a perf
//! kprobe event per function, linked with a cookie) and for fentry. aya 0.14 offers neither: it has no kprobe.multi at all, and
//! its kprobes take no cookie and attach one at a time behind `&mut self`.
//!
//! The attr builders are pure so their layout is unit-tested; the calls
//! that use them (through sys.rs) return owned descriptors: closing one
//! detaches.

use crate::sys::{self, zeroed_attr};
use aya_obj::generated::{bpf_attach_type, bpf_attr, bpf_cmd, perf_event_attr};
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

const KPROBE_PMU_TYPE: &str = "/sys/bus/event_source/devices/kprobe/type";

/// BPF_LINK_CREATE of a kprobe.multi link. `syms` are pointers to
/// NUL-terminated names and `cookies` their function ids, index for index;
/// both must outlive the syscall.
pub(super) fn kprobe_multi_attr(prog_fd: u32, syms: &[u64], cookies: &[u64]) -> bpf_attr {
    assert_eq!(syms.len(), cookies.len(), "one cookie per function");
    let mut attr = zeroed_attr();
    // SAFETY: writing integers into the zeroed LINK_CREATE member.
    let l = unsafe { &mut attr.link_create };
    l.__bindgen_anon_1.prog_fd = prog_fd;
    l.attach_type = bpf_attach_type::BPF_TRACE_KPROBE_MULTI as u32;
    l.__bindgen_anon_3.kprobe_multi.cnt = syms.len() as u32;
    l.__bindgen_anon_3.kprobe_multi.syms = syms.as_ptr() as u64;
    l.__bindgen_anon_3.kprobe_multi.cookies = cookies.as_ptr() as u64;
    attr
}

/// BPF_LINK_CREATE of a program to a perf event (here, a kprobe), with the
/// cookie `bpf_get_attach_cookie` returns (5.15+).
pub(super) fn perf_link_attr(prog_fd: u32, perf_fd: u32, cookie: u64) -> bpf_attr {
    let mut attr = zeroed_attr();
    // SAFETY: as above.
    let l = unsafe { &mut attr.link_create };
    l.__bindgen_anon_1.prog_fd = prog_fd;
    l.__bindgen_anon_2.target_fd = perf_fd;
    l.attach_type = bpf_attach_type::BPF_PERF_EVENT as u32;
    l.__bindgen_anon_3.perf_event.bpf_cookie = cookie;
    attr
}

/// BPF_LINK_CREATE of an fentry program (its target is fixed at load
/// time) with the cookie `bpf_get_attach_cookie` returns (5.19+).
pub(super) fn fentry_link_attr(prog_fd: u32, cookie: u64) -> bpf_attr {
    tracing_link_attr(prog_fd, bpf_attach_type::BPF_TRACE_FENTRY, cookie)
}

/// BPF_LINK_CREATE of a tracing program (fentry or fexit, `attach`: the
/// kernel wants the type the program was loaded with) with its cookie.
pub(super) fn tracing_link_attr(prog_fd: u32, attach: bpf_attach_type, cookie: u64) -> bpf_attr {
    let mut attr = zeroed_attr();
    // SAFETY: as above.
    let l = unsafe { &mut attr.link_create };
    l.__bindgen_anon_1.prog_fd = prog_fd;
    l.attach_type = attach as u32;
    l.__bindgen_anon_3.tracing.cookie = cookie;
    attr
}

/// Links a loaded fentry or fexit program whose target came at load time.
pub(super) fn attach_tracing(
    prog: BorrowedFd<'_>,
    attach: bpf_attach_type,
    cookie: u64,
) -> io::Result<OwnedFd> {
    let mut attr = tracing_link_attr(prog.as_raw_fd() as u32, attach, cookie);
    sys::bpf(bpf_cmd::BPF_LINK_CREATE, &mut attr)
}

/// Links a loaded fentry program; the link keeps the program alive.
pub(super) fn attach_fentry(prog: BorrowedFd<'_>, cookie: u64) -> io::Result<OwnedFd> {
    let mut attr = fentry_link_attr(prog.as_raw_fd() as u32, cookie);
    sys::bpf(bpf_cmd::BPF_LINK_CREATE, &mut attr)
}

/// A kprobe on the entry of the function named by `name` (a pointer to a
/// NUL-terminated string that must outlive the syscall).
pub(super) fn kprobe_perf_attr(pmu_type: u32, name: *const libc::c_char) -> perf_event_attr {
    // SAFETY: perf_event_attr is plain integers and unions of them.
    let mut attr: perf_event_attr = unsafe { std::mem::zeroed() };
    attr.type_ = pmu_type;
    attr.size = std::mem::size_of::<perf_event_attr>() as u32;
    attr.config = 0; // entry, not return
    attr.__bindgen_anon_3.kprobe_func = name as u64;
    attr.__bindgen_anon_4.probe_offset = 0;
    attr
}

/// The dynamic PMU type of kprobes, or why there is none.
pub(super) fn kprobe_pmu_type() -> io::Result<u32> {
    let text = std::fs::read_to_string(KPROBE_PMU_TYPE)?;
    text.trim()
        .parse()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad kprobe PMU type"))
}

/// One kprobe.multi link over `names`, each with its cookie.
pub(super) fn attach_kprobe_multi(
    prog: BorrowedFd<'_>,
    names: &[&str],
    cookies: &[u64],
) -> io::Result<OwnedFd> {
    let cnames: Vec<CString> = names
        .iter()
        .map(|n| CString::new(*n).map_err(|_| io::ErrorKind::InvalidInput.into()))
        .collect::<io::Result<_>>()?;
    let ptrs: Vec<u64> = cnames.iter().map(|c| c.as_ptr() as u64).collect();
    let mut attr = kprobe_multi_attr(prog.as_raw_fd() as u32, &ptrs, cookies);
    sys::bpf(bpf_cmd::BPF_LINK_CREATE, &mut attr)
}

/// A kprobe on `name` linked to `prog` with `cookie`. The link holds the
/// perf event, so only the link's descriptor is kept: closing it detaches.
pub(super) fn attach_kprobe(
    prog: BorrowedFd<'_>,
    pmu_type: u32,
    name: &str,
    cookie: u64,
) -> io::Result<OwnedFd> {
    let cname = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let attr = kprobe_perf_attr(pmu_type, cname.as_ptr());
    let perf = sys::perf_event_open(&attr)?;
    let mut link = perf_link_attr(prog.as_raw_fd() as u32, perf.as_raw_fd() as u32, cookie);
    sys::bpf(bpf_cmd::BPF_LINK_CREATE, &mut link)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes<T>(v: &T) -> &[u8] {
        // SAFETY: reading the bytes of a plain C struct.
        unsafe { std::slice::from_raw_parts(v as *const T as *const u8, std::mem::size_of::<T>()) }
    }

    fn u32_at(b: &[u8], off: usize) -> u32 {
        u32::from_ne_bytes(b[off..off + 4].try_into().unwrap())
    }

    fn u64_at(b: &[u8], off: usize) -> u64 {
        u64::from_ne_bytes(b[off..off + 8].try_into().unwrap())
    }

    /// Offsets from include/uapi/linux/bpf.h's `link_create` member.
    #[test]
    fn kprobe_multi_attr_is_laid_out_like_the_uapi() {
        let syms = [0x1000u64, 0x2000, 0x3000];
        let cookies = [1024u64, 1025, 1026];
        let attr = kprobe_multi_attr(7, &syms, &cookies);
        let b = bytes(&attr);
        assert_eq!(u32_at(b, 0), 7, "prog_fd");
        assert_eq!(u32_at(b, 4), 0, "target_fd unused");
        assert_eq!(u32_at(b, 8), 42, "attach_type BPF_TRACE_KPROBE_MULTI");
        assert_eq!(u32_at(b, 12), 0, "link flags");
        assert_eq!(u32_at(b, 16), 0, "kprobe_multi.flags: entry probes");
        assert_eq!(u32_at(b, 20), 3, "kprobe_multi.cnt");
        assert_eq!(u64_at(b, 24), syms.as_ptr() as u64, "kprobe_multi.syms");
        assert_eq!(u64_at(b, 32), 0, "kprobe_multi.addrs unused");
        assert_eq!(
            u64_at(b, 40),
            cookies.as_ptr() as u64,
            "kprobe_multi.cookies"
        );
        assert!(b[48..].iter().all(|x| *x == 0), "the rest stays zero");
    }

    #[test]
    #[should_panic(expected = "one cookie per function")]
    fn kprobe_multi_needs_a_cookie_per_function() {
        kprobe_multi_attr(1, &[1, 2], &[1]);
    }

    #[test]
    fn perf_link_attr_carries_the_cookie() {
        let attr = perf_link_attr(5, 9, 1234);
        let b = bytes(&attr);
        assert_eq!(u32_at(b, 0), 5, "prog_fd");
        assert_eq!(u32_at(b, 4), 9, "target_fd: the perf event");
        assert_eq!(u32_at(b, 8), 41, "attach_type BPF_PERF_EVENT");
        assert_eq!(u64_at(b, 16), 1234, "perf_event.bpf_cookie");
        assert!(b[24..].iter().all(|x| *x == 0));
    }

    #[test]
    fn fentry_link_attr_puts_the_cookie_after_the_btf_id() {
        let attr = fentry_link_attr(4, 2048);
        let b = bytes(&attr);
        assert_eq!(u32_at(b, 0), 4, "prog_fd");
        assert_eq!(u32_at(b, 4), 0, "no target fd: the target came at load");
        assert_eq!(u32_at(b, 8), 24, "attach_type BPF_TRACE_FENTRY");
        assert_eq!(u32_at(b, 16), 0, "tracing.target_btf_id unused");
        assert_eq!(u64_at(b, 24), 2048, "tracing.cookie");
    }

    #[test]
    fn fexit_links_carry_their_own_attach_type() {
        let attr = tracing_link_attr(4, bpf_attach_type::BPF_TRACE_FEXIT, 300);
        let b = bytes(&attr);
        assert_eq!(u32_at(b, 8), 25, "attach_type BPF_TRACE_FEXIT");
        assert_eq!(u64_at(b, 24), 300, "tracing.cookie");
    }

    /// Offsets from include/uapi/linux/perf_event.h.
    #[test]
    fn kprobe_perf_attr_names_the_function_in_config1() {
        let name = c"ip_rcv";
        let attr = kprobe_perf_attr(6, name.as_ptr());
        let b = bytes(&attr);
        assert_eq!(u32_at(b, 0), 6, "type: the kprobe PMU");
        assert_eq!(u32_at(b, 4) as usize, b.len(), "size");
        assert_eq!(u64_at(b, 8), 0, "config: entry probe");
        assert_eq!(u64_at(b, 56), name.as_ptr() as u64, "config1: kprobe_func");
        assert_eq!(u64_at(b, 64), 0, "config2: probe_offset");
    }

    #[test]
    fn a_kernel_without_kprobes_has_no_kprobe_pmu() {
        let exists = std::path::Path::new(KPROBE_PMU_TYPE).exists();
        assert_eq!(kprobe_pmu_type().is_ok(), exists);
    }
}
