//! Linux capabilities of this thread (capget/capset, raw syscalls): which
//! ones tracing needs, which are missing, and setting the kept ones after
//! giving up root (see privdrop.rs and docs/guarantees.md).

use std::io;

/// The capabilities ferret asks about, by their kernel numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cap {
    NetAdmin = 12,
    SysAdmin = 21,
    SysResource = 24,
    Perfmon = 38,
    Bpf = 39,
}

impl Cap {
    pub fn name(self) -> &'static str {
        match self {
            Cap::NetAdmin => "CAP_NET_ADMIN",
            Cap::SysAdmin => "CAP_SYS_ADMIN",
            Cap::SysResource => "CAP_SYS_RESOURCE",
            Cap::Perfmon => "CAP_PERFMON",
            Cap::Bpf => "CAP_BPF",
        }
    }

    /// What ferret uses it for, for the error that names it.
    pub fn why(self) -> &'static str {
        match self {
            Cap::Bpf => "to create maps and load programs",
            Cap::Perfmon => "to attach kprobes, tracepoints and fentry programs",
            Cap::NetAdmin => "for the packet helpers of the programs",
            Cap::SysAdmin => "on kernels before 5.8, which have no CAP_BPF or CAP_PERFMON",
            Cap::SysResource => {
                "on kernels before 5.11, to lift the locked-memory limit that BPF maps count against"
            }
        }
    }

    fn bit(self) -> u64 {
        1 << self as u32
    }
}

/// The capability sets of this thread, 64 bits each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CapSets {
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
}

impl CapSets {
    pub fn has(&self, cap: Cap) -> bool {
        self.effective & cap.bit() != 0
    }

    /// Exactly `caps` effective and permitted; nothing inheritable.
    pub fn only(caps: &[Cap]) -> CapSets {
        let bits = caps.iter().fold(0, |acc, c| acc | c.bit());
        CapSets {
            effective: bits,
            permitted: bits,
            inheritable: 0,
        }
    }
}

#[repr(C)]
struct Header {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Data {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const VERSION_3: u32 = 0x2008_0522;

/// This thread's capability sets.
pub fn current() -> io::Result<CapSets> {
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: header and two data structs are what version 3 reads and writes.
    let ret = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
    if ret != 0 {
        return Err(io::Error::last_os_error());
    }
    let join = |lo: u32, hi: u32| u64::from(hi) << 32 | u64::from(lo);
    Ok(CapSets {
        effective: join(data[0].effective, data[1].effective),
        permitted: join(data[0].permitted, data[1].permitted),
        inheritable: join(data[0].inheritable, data[1].inheritable),
    })
}

/// Sets this thread's capability sets (only ever to fewer than it has).
pub fn set(sets: CapSets) -> io::Result<()> {
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let split = |v: u64| (v as u32, (v >> 32) as u32);
    let (e0, e1) = split(sets.effective);
    let (p0, p1) = split(sets.permitted);
    let (i0, i1) = split(sets.inheritable);
    let data = [
        Data {
            effective: e0,
            permitted: p0,
            inheritable: i0,
        },
        Data {
            effective: e1,
            permitted: p1,
            inheritable: i1,
        },
    ];
    // SAFETY: header and two data structs are what version 3 reads.
    let ret = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
    if ret != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether the running kernel knows CAP_BPF and CAP_PERFMON (5.8 on).
pub fn kernel_has_cap_bpf() -> bool {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .is_some_and(|last| last >= Cap::Bpf as u32)
}

/// The capabilities a trace needs that `sets` lacks: CAP_BPF, CAP_PERFMON
/// and CAP_NET_ADMIN; on a kernel without CAP_BPF, CAP_SYS_ADMIN stands
/// for the first two.
pub fn missing_for_tracing(sets: &CapSets, has_cap_bpf: bool) -> Vec<Cap> {
    let wanted: &[Cap] = if has_cap_bpf {
        &[Cap::Bpf, Cap::Perfmon, Cap::NetAdmin]
    } else {
        &[Cap::SysAdmin, Cap::NetAdmin]
    };
    let mut missing: Vec<Cap> = wanted.iter().copied().filter(|c| !sets.has(*c)).collect();
    // CAP_SYS_ADMIN still covers CAP_BPF and CAP_PERFMON on newer kernels.
    if sets.has(Cap::SysAdmin) {
        missing.retain(|c| !matches!(c, Cap::Bpf | Cap::Perfmon));
    }
    missing
}

/// Refuses to trace (with what to do) when this process lacks what
/// loading programs takes: checked before anything is loaded.
pub fn require_for_tracing() -> Result<(), crate::exit::Exit> {
    let missing = match current() {
        Ok(sets) => missing_for_tracing(&sets, kernel_has_cap_bpf()),
        Err(e) => {
            eprintln!("ferret: error: cannot read this process's capabilities: {e}");
            return Err(crate::exit::Exit::System);
        }
    };
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!(
        "ferret: error: tracing loads eBPF programs and needs root or these capabilities, which this process lacks: {}. Run it with sudo, or grant them, e.g. setpriv --inh-caps +bpf,+perfmon,+net_admin --ambient-caps +bpf,+perfmon,+net_admin ferret ... `ferret check` works without.",
        describe(&missing)
    );
    Err(crate::exit::Exit::System)
}

/// For an error whose cause is EPERM: which capabilities to grant.
pub fn eperm_hint(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cause = Some(error);
    let mut eperm = false;
    while let Some(e) = cause {
        let io = e.downcast_ref::<io::Error>();
        eperm |= io.is_some_and(|io| io.raw_os_error() == Some(libc::EPERM))
            || e.to_string().contains("Operation not permitted");
        cause = e.source();
    }
    let missing = missing_after_eperm().filter(|_| eperm)?;
    Some(format!(
        "the kernel refused for lack of privilege; this process lacks {missing}"
    ))
}

/// When loading failed with EPERM: the capabilities this process lacks,
/// CAP_SYS_RESOURCE included on kernels where BPF memory counts against
/// the locked-memory limit; `None` when it has them all.
fn missing_after_eperm() -> Option<String> {
    let sets = current().ok()?;
    let mut missing = missing_for_tracing(&sets, kernel_has_cap_bpf());
    if !sets.has(Cap::SysResource) && kernel_before(5, 11) {
        missing.push(Cap::SysResource);
    }
    (!missing.is_empty()).then(|| describe(&missing))
}

pub fn kernel_before(major: u32, minor: u32) -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release
        .trim()
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (a, b) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (a, b) < (major, minor)
}

/// "CAP_BPF (to ...), CAP_PERFMON (to ...)".
pub fn describe(caps: &[Cap]) -> String {
    caps.iter()
        .map(|c| format!("{} ({})", c.name(), c.why()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_caps_are_named_in_order() {
        let none = CapSets::default();
        assert_eq!(
            missing_for_tracing(&none, true),
            [Cap::Bpf, Cap::Perfmon, Cap::NetAdmin]
        );
        assert_eq!(
            missing_for_tracing(&none, false),
            [Cap::SysAdmin, Cap::NetAdmin]
        );
        let some = CapSets::only(&[Cap::Bpf, Cap::NetAdmin]);
        assert_eq!(missing_for_tracing(&some, true), [Cap::Perfmon]);
        let admin = CapSets::only(&[Cap::SysAdmin, Cap::NetAdmin]);
        assert!(missing_for_tracing(&admin, true).is_empty());
        assert!(describe(&[Cap::Perfmon]).starts_with("CAP_PERFMON (to attach"));
    }

    #[test]
    fn capget_reads_this_thread() {
        let sets = current().unwrap();
        assert_eq!(
            sets.effective & !sets.permitted,
            0,
            "effective is within permitted"
        );
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 && kernel_has_cap_bpf() {
            assert!(sets.has(Cap::Bpf), "root has CAP_BPF here: {sets:?}");
        }
    }
}
