//! The raw syscalls ferret makes itself, where aya has no call for what
//! it needs: bpf(2) for the function-trigger object and its links,
//! perf_event_open(2) for single kprobes, and the odd process or mount
//! setting. Everything unsafe about calling the kernel directly is here;
//! the attr builders that fill the arguments are in funclink.rs.

use aya_obj::generated::{bpf_attr, bpf_cmd, perf_event_attr};
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

/// `PERF_FLAG_FD_CLOEXEC`.
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 8;

/// An all-zero `bpf_attr`, the "unset" of every member.
pub(crate) fn zeroed_attr() -> bpf_attr {
    // SAFETY: bpf_attr is a C union of integers; all-zero is its "unset".
    unsafe { std::mem::zeroed() }
}

/// `bpf(cmd, attr)` for the commands that return a new descriptor.
pub(crate) fn bpf(cmd: bpf_cmd, attr: &mut bpf_attr) -> io::Result<OwnedFd> {
    let rc = bpf_call(cmd, attr)?;
    Ok(owned(rc))
}

/// `bpf(cmd, attr)` for the commands that return 0 (or a count) and write
/// their answer into `attr` or a buffer it points to.
pub(crate) fn bpf_call(cmd: bpf_cmd, attr: &mut bpf_attr) -> io::Result<i32> {
    // SAFETY: attr is a valid, initialised bpf_attr of the size passed;
    // every pointer inside it is kept alive by the caller for the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd as libc::c_long,
            attr as *mut bpf_attr,
            std::mem::size_of::<bpf_attr>(),
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(rc as i32)
}

/// A perf event (here, a kprobe) for every task, opened on CPU 0: for a
/// kprobe that fires on every CPU. Pointers inside `attr` must outlive the
/// call.
pub(crate) fn perf_event_open(attr: &perf_event_attr) -> io::Result<OwnedFd> {
    // SAFETY: attr and what it points to live across the call; pid -1 with
    // cpu 0 is "every task" for a kprobe, which fires on every CPU.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            attr as *const perf_event_attr,
            -1 as libc::pid_t,
            0 as libc::c_int,
            -1 as libc::c_int,
            PERF_FLAG_FD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(owned(fd as i32))
}

/// Raises the soft open-files limit to the hard one: one descriptor per
/// single kprobe goes past the usual soft limit of 1024.
pub(crate) fn raise_nofile_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain struct out-parameter.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 && lim.rlim_cur < lim.rlim_max
    {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: as above; failure leaves the old limit, which is reported
        // later as EMFILE on the probes that did not fit.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
    }
}

/// Mounts tracefs at `dir`.
pub(crate) fn mount_tracefs(dir: &str) -> io::Result<()> {
    let target = std::ffi::CString::new(dir).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: valid NUL-terminated strings; no data argument.
    let rc = unsafe {
        libc::mount(
            c"nodev".as_ptr(),
            target.as_ptr(),
            c"tracefs".as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Takes ownership of a descriptor the kernel just returned.
fn owned(fd: i32) -> OwnedFd {
    // SAFETY: callers pass a descriptor the kernel just returned to us.
    unsafe { OwnedFd::from_raw_fd(fd) }
}
