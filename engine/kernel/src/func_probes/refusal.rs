//! Why function probes could not be used: a whole backend on this kernel
//! ([`BackendRefusal`]), or one function under the chosen backend
//! ([`FuncRefusal`]). The words are the ones users read in the error and in
//! the "skipped" list of the ready line.

use crate::btf_types::KbtfError;
use std::io;
use std::sync::Arc;

/// A program that did not load, as the kernel stage reported it (a
/// `KernelError`, kept behind the trait so that this file, which
/// `KernelError` itself names, imports nothing from it).
pub type LoadError = Box<dyn std::error::Error + Send + Sync>;

/// Why one backend cannot attach function triggers on this kernel.
#[derive(Debug, thiserror::Error)]
pub enum BackendRefusal {
    #[error("kprobe.multi: {reason}")]
    KprobeMulti {
        #[source]
        reason: MultiRefusal,
    },
    #[error("kprobes: {reason}")]
    Kprobe {
        #[source]
        reason: KprobeRefusal,
    },
    #[error("fentry: {reason}")]
    Fentry {
        #[source]
        reason: FentryRefusal,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum MultiRefusal {
    #[error("nothing to attach")]
    NothingToAttach,
    #[error("{source}")]
    Program {
        #[source]
        source: LoadError,
    },
    #[error("not supported by this kernel ({source}; it needs 5.18+ built with CONFIG_FPROBE)")]
    Unsupported {
        #[source]
        source: io::Error,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum KprobeRefusal {
    /// What backend selection says: the event source is missing.
    #[error(
        "the kernel was built without CONFIG_KPROBES (no /sys/bus/event_source/devices/kprobe)"
    )]
    NotBuilt,
    /// The kprobe program did not load (the verifier names what is missing).
    #[error("{source}")]
    Program {
        #[source]
        source: LoadError,
    },
    /// The kprobe event source was there when chosen, and is not now.
    #[error("{source}")]
    EventSource {
        #[source]
        source: io::Error,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum FentryRefusal {
    #[error("nothing to attach")]
    NothingToAttach,
    #[error("{source}")]
    Btf {
        #[source]
        source: KbtfError,
    },
    #[error("{function} is not in the kernel's BTF")]
    NotInBtf { function: String },
    /// Root and still EPERM on load: the kernel (lockdown, a sandbox)
    /// refuses trampolines, where "run as root" would mislead.
    #[error("the kernel refuses BPF trampolines ({source})")]
    LoadRefused {
        #[source]
        source: io::Error,
    },
    #[error("{source}")]
    Load {
        #[source]
        source: LoadError,
    },
    #[error("the kernel refuses trampolines ({source})")]
    LinkRefused {
        #[source]
        source: io::Error,
    },
}

/// Why one function was not attached (the others were). Clone, because
/// the session keeps the list for the ready line and the status.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FuncRefusal {
    #[error("not in the kernel's BTF")]
    NotInBtf,
    #[error("not found in the running kernel")]
    NotFound,
    #[error("ambiguous or unprobeable symbol")]
    Unprobeable,
    #[error("the kernel refuses to probe it (blacklisted or notrace)")]
    Blacklisted,
    #[error("too many open files")]
    TooManyFiles,
    #[error("already probed exclusively by someone else")]
    Busy,
    /// kprobe.multi takes bare names: a module function whose name is
    /// also a function elsewhere cannot be told apart.
    #[error("its name is also a function outside module {module}; kprobe.multi attaches by name only (try --backend kprobe)")]
    SharedName { module: String },
    /// fentry on a module function needs the module's BTF object.
    #[error("no BTF object of module {module} is loaded")]
    NoModuleBtf { module: String },
    /// Any other errno of the attach call.
    #[error("{source}")]
    Attach {
        #[source]
        source: Arc<io::Error>,
    },
    /// The fentry program for this function did not load.
    #[error("{source}")]
    Load {
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
}

impl FuncRefusal {
    /// The reasons users meet, by the errno of the attach call.
    pub(super) fn from_attach(e: io::Error) -> FuncRefusal {
        match e.raw_os_error() {
            Some(libc::ENOENT) => FuncRefusal::NotFound,
            Some(libc::EADDRNOTAVAIL) => FuncRefusal::Unprobeable,
            Some(libc::EINVAL) => FuncRefusal::Blacklisted,
            Some(libc::EMFILE) | Some(libc::ENFILE) => FuncRefusal::TooManyFiles,
            Some(libc::EBUSY) => FuncRefusal::Busy,
            _ => FuncRefusal::Attach {
                source: Arc::new(e),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_read_as_before() {
        let multi = BackendRefusal::KprobeMulti {
            reason: MultiRefusal::Unsupported {
                source: io::Error::from_raw_os_error(libc::EOPNOTSUPP),
            },
        };
        assert_eq!(
            multi.to_string(),
            "kprobe.multi: not supported by this kernel (Operation not supported (os error 95); \
             it needs 5.18+ built with CONFIG_FPROBE)"
        );
        let fentry = BackendRefusal::Fentry {
            reason: FentryRefusal::LoadRefused {
                source: io::Error::from_raw_os_error(libc::EPERM),
            },
        };
        assert_eq!(
            fentry.to_string(),
            "fentry: the kernel refuses BPF trampolines (Operation not permitted (os error 1))"
        );
    }

    #[test]
    fn attach_errnos_name_their_case() {
        let of = |errno| FuncRefusal::from_attach(io::Error::from_raw_os_error(errno));
        assert!(matches!(of(libc::ENOENT), FuncRefusal::NotFound));
        assert!(matches!(of(libc::EINVAL), FuncRefusal::Blacklisted));
        assert!(matches!(of(libc::ENFILE), FuncRefusal::TooManyFiles));
        let other = of(libc::E2BIG);
        assert!(matches!(other, FuncRefusal::Attach { .. }));
        assert_eq!(
            other.to_string(),
            io::Error::from_raw_os_error(libc::E2BIG).to_string()
        );
    }
}
