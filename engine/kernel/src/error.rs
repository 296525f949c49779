//! What can go wrong on the kernel side, worded for the person at the
//! terminal: each message says what to do about it.

use crate::func_probes::refusal::BackendRefusal;
use std::fmt;
use std::io;

#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error(
        "permission denied while trying to {action}: run ferret as root, or give it \
         CAP_BPF and CAP_PERFMON (for example `sudo setcap cap_bpf,cap_perfmon+ep \
         $(command -v ferret)`)"
    )]
    NotPermitted {
        action: String,
        #[source]
        source: io::Error,
    },

    #[error(
        "this kernel exposes no BTF ({path} is missing or unreadable): ferret needs a kernel \
         built with CONFIG_DEBUG_INFO_BTF=y (every major distribution enables it)"
    )]
    NoBtf {
        path: String,
        #[source]
        source: Box<aya::BtfError>,
    },

    /// The full verifier log stays in `log` for `-v`; see [`KernelError::verifier_log`].
    #[error(
        "the kernel's BPF verifier rejected program `{program}`: {summary} \
         (run with -v for the full verifier log)"
    )]
    Verifier {
        program: String,
        summary: String,
        log: String,
    },

    #[error("could not load the eBPF object into the kernel: {source}")]
    Load {
        #[source]
        source: Box<aya::EbpfError>,
    },

    #[error(
        "tracepoint `{tracepoint}` does not exist on this kernel \
         (the list is in /sys/kernel/tracing/available_events)"
    )]
    NoTracepoint { tracepoint: String },

    #[error("could not attach `{trigger}` to tracepoint {tracepoint}: {source}{fallback}")]
    Attach {
        trigger: String,
        tracepoint: String,
        /// Why tp_btf was not used, when the raw_tp fallback failed too.
        fallback: String,
        #[source]
        source: Box<aya::programs::ProgramError>,
    },

    #[error("could not detach `{trigger}`: {source}")]
    Detach {
        trigger: String,
        #[source]
        source: Box<aya::programs::ProgramError>,
    },

    #[error("BPF map `{map}`: {source}")]
    Map {
        map: &'static str,
        #[source]
        source: Box<aya::maps::MapError>,
    },

    #[error(
        "the embedded eBPF object has no {kind} `{name}`; it does not match this ferret build"
    )]
    MissingObject { kind: &'static str, name: String },

    #[error("cannot count the possible CPUs ({path}): {source}")]
    Cpus {
        path: &'static str,
        #[source]
        source: io::Error,
    },

    #[error("rule slot {slot} is out of range (0..{max})")]
    BadSlot { slot: usize, max: usize },

    #[error("hook {hook} is not a tracepoint trigger ferret knows")]
    BadHook { hook: u32 },

    #[error(transparent)]
    TracepointArgs { source: crate::btf_types::KbtfError },
    #[error("tracepoint slot {slot}: {problem}")]
    BadTracepointSlot {
        slot: u32,
        #[source]
        problem: TracepointSlotProblem,
    },

    /// Every backend that was tried, with why it cannot be used.
    #[error(
        "function triggers (`func`, `any`) cannot run on this kernel: {}; the tracepoint \
         triggers (drop, free, recv, xmit, queue, `tp CAT:NAME`) still work",
        Joined(.refusals)
    )]
    NoFunctionBackend { refusals: Vec<BackendRefusal> },

    #[error(
        "pcap-filter rules need the kernel's bpf_loop helper (Linux 5.17+), which this kernel \
         lacks; write the filter with ferret's fields instead (for example `tcp and dport == \
         443` for `tcp dst port 443`)"
    )]
    PcapNeedsBpfLoop,

    /// `on tc`, `on xdp`.
    #[error(transparent)]
    ProgTrace(#[from] ProgTraceError),

    #[error("cannot link a tc/XDP program tracer: {source}")]
    ProgLink {
        #[source]
        source: io::Error,
    },

    #[error("cannot prepare the function-trigger object: {source}")]
    FuncObject {
        #[source]
        source: FuncObjectError,
    },

    #[error("stack {stack_id} is not available: {miss}")]
    NoStack {
        stack_id: i32,
        #[source]
        miss: StackMiss,
    },

    #[error("the event stream was already taken from this kernel session")]
    EventsTaken,

    #[error("reading events needs a tokio runtime; call take_events inside one")]
    NoRuntime,

    #[error("cannot watch the ring buffer: {source}")]
    Poll {
        #[source]
        source: io::Error,
    },

    #[error("BPF_PROG_TEST_RUN of {program} failed: {source}")]
    TestRun {
        program: &'static str,
        #[source]
        source: Box<aya::programs::ProgramError>,
    },

    #[error("the test program {program} returned {value}, not an answer")]
    TestVerdict { program: &'static str, value: u32 },
}

#[derive(Debug, thiserror::Error)]
pub enum TracepointSlotProblem {
    #[error("only {slots} slots exist")]
    NoSuchSlot { slots: u32 },
    #[error("the skb must be among the first {args} arguments, not argument {skb_arg}")]
    SkbArgument { skb_arg: u32, args: u32 },
}

/// Which step of preparing the function-trigger object failed.
#[derive(Debug, thiserror::Error)]
pub enum FuncObjectError {
    #[error("parse: {source}")]
    Parse {
        #[source]
        source: Box<aya_obj::ParseError>,
    },
    #[error("BTF fixup: {source}")]
    BtfFixup {
        #[source]
        source: Box<aya_obj::btf::BtfError>,
    },
    #[error("loading its BTF: {source}")]
    LoadBtf {
        #[source]
        source: io::Error,
    },
    #[error("CO-RE relocation: {source}")]
    CoRe {
        #[source]
        source: Box<aya_obj::btf::BtfRelocationError>,
    },
    #[error("dup map fd: {source}")]
    DupMapFd {
        #[source]
        source: io::Error,
    },
    #[error("map relocation: {source}")]
    MapRelocation {
        #[source]
        source: Box<aya_obj::relocation::EbpfRelocationError>,
    },
    #[error("call relocation: {source}")]
    CallRelocation {
        #[source]
        source: Box<aya_obj::relocation::EbpfRelocationError>,
    },
    #[error("dup program fd: {source}")]
    DupProgramFd {
        #[source]
        source: io::Error,
    },
}

/// Why a recorded stack cannot be read back.
#[derive(Debug, thiserror::Error)]
pub enum StackMiss {
    #[error("the kernel could not record it (stack map bucket taken or stack unreadable)")]
    NotRecorded,
    #[error("{source}")]
    Lookup {
        #[source]
        source: Box<aya::maps::MapError>,
    },
}

/// Items shown one after another, separated by "; ".
pub(crate) struct Joined<'a, T>(pub(crate) &'a [T]);

impl<T: fmt::Display> fmt::Display for Joined<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, item) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{item}")?;
        }
        Ok(())
    }
}

impl KernelError {
    /// The complete verifier output of a rejected program, for `-v`.
    pub fn verifier_log(&self) -> Option<&str> {
        match self {
            KernelError::Verifier { log, .. } => Some(log),
            _ => None,
        }
    }

    pub(crate) fn map(map: &'static str, source: aya::maps::MapError) -> KernelError {
        KernelError::Map {
            map,
            source: Box::new(source),
        }
    }
}

pub(crate) fn is_permission(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EPERM) | Some(libc::EACCES))
}

/// Sorts a failed object load (map creation, mostly) into the errors above.
pub(crate) fn classify_load(e: aya::EbpfError) -> KernelError {
    match e {
        aya::EbpfError::MapError(aya::maps::MapError::CreateError { name, io_error })
            if is_permission(&io_error) =>
        {
            KernelError::NotPermitted {
                action: format!("create BPF map `{name}`"),
                source: io_error,
            }
        }
        aya::EbpfError::ProgramError(p) => classify_program(String::new(), p),
        other => KernelError::Load {
            source: Box::new(other),
        },
    }
}

/// Sorts a failed program load: missing privileges, or the verifier.
pub(crate) fn classify_program(program: String, e: aya::programs::ProgramError) -> KernelError {
    use aya::programs::ProgramError;
    match e {
        ProgramError::LoadError {
            io_error,
            verifier_log,
        } => {
            let log = verifier_log.to_string();
            // EPERM is privileges; the verifier answers EACCES/EINVAL + a log.
            if io_error.raw_os_error() == Some(libc::EPERM) && log.trim().is_empty() {
                return KernelError::NotPermitted {
                    action: format!("load BPF program `{program}`"),
                    source: io_error,
                };
            }
            KernelError::Verifier {
                summary: verifier_summary(&log, &io_error),
                program,
                log,
            }
        }
        ProgramError::SyscallError(aya::sys::SyscallError { call, io_error })
            if is_permission(&io_error) =>
        {
            KernelError::NotPermitted {
                action: format!("{call} for `{program}`"),
                source: io_error,
            }
        }
        other => KernelError::Load {
            source: Box::new(aya::EbpfError::ProgramError(other)),
        },
    }
}

/// The verifier's reason is the last line before its statistics.
fn verifier_summary(log: &str, io_error: &io::Error) -> String {
    let is_stat = |l: &str| {
        l.starts_with("processed ")
            || l.starts_with("verification time")
            || l.starts_with("stack depth")
            || l.starts_with("max_states_per_insn")
    };
    let last = log
        .lines()
        .map(str::trim)
        .rev()
        .find(|l| !l.is_empty() && !is_stat(l))
        .map_or_else(|| io_error.to_string(), str::to_owned);
    match missing_helper(&last) {
        Some((name, since)) => format!("{last}: this kernel lacks the helper {name} ({since})"),
        None => last,
    }
}

/// The helpers ferret calls that came late, by the number older verifiers
/// print for a helper they do not know ("invalid func unknown#174").
const LATE_HELPERS: [(u32, &str, &str); 4] = [
    (174, "bpf_get_attach_cookie", "Linux 5.15+"),
    (181, "bpf_loop", "Linux 5.17+"),
    (183, "bpf_get_func_arg", "Linux 5.17+"),
    (173, "bpf_get_func_ip", "Linux 5.15+"),
];

fn missing_helper(summary: &str) -> Option<(&'static str, &'static str)> {
    let id: u32 = summary
        .split_once("unknown#")?
        .1
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    LATE_HELPERS
        .iter()
        .find(|(n, _, _)| *n == id)
        .map(|(_, name, since)| (*name, *since))
}

/// Why tc/XDP programs cannot be traced.
#[derive(Debug, thiserror::Error)]
pub enum ProgTraceError {
    #[error("cannot list the machine's BPF programs: {source}")]
    List {
        #[source]
        source: io::Error,
    },
    #[error(
        "this kernel refuses fentry/fexit on BPF programs ({source}), which `on tc` and `on \
         xdp` need to see a program's packets and verdicts; what still works: `on drop where \
         reason == TC_INGRESS` (or TC_EGRESS) shows the skbs a tc program drops, and `on recv` \
         and `on xmit` the packets around it; XDP drops come before any skb exists, so no other \
         trigger sees them"
    )]
    Refused {
        #[source]
        source: io::Error,
    },
    #[error("cannot trace {kind} program `{program}` (id {prog_id}): {source}")]
    Load {
        kind: &'static str,
        program: String,
        prog_id: u32,
        #[source]
        source: Box<KernelError>,
    },
    #[error("at most {max} tc and XDP programs can be traced in one session")]
    TooMany { max: u32 },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verifier_summary_is_its_last_word_before_the_statistics() {
        let log = "0: (b7) r0 = 0\n1: (95) exit\nR0 !read_ok\n\
                   processed 2 insns (limit 1000000) max_states_per_insn 0\n\
                   verification time 10 usec\nstack depth 0\n";
        let e = io::Error::from_raw_os_error(libc::EACCES);
        assert_eq!(verifier_summary(log, &e), "R0 !read_ok");
        assert_eq!(verifier_summary("", &e), e.to_string());
        assert_eq!(
            verifier_summary("invalid func unknown#174\nprocessed 9 insns\n", &e),
            "invalid func unknown#174: this kernel lacks the helper bpf_get_attach_cookie \
             (Linux 5.15+)"
        );
        assert_eq!(
            verifier_summary("invalid func unknown#999\n", &e),
            "invalid func unknown#999"
        );
    }

    #[test]
    fn slot_and_stack_messages_name_the_case() {
        let slot = |slot, problem| KernelError::BadTracepointSlot { slot, problem }.to_string();
        assert_eq!(
            slot(9, TracepointSlotProblem::NoSuchSlot { slots: 8 }),
            "tracepoint slot 9: only 8 slots exist"
        );
        assert_eq!(
            slot(
                1,
                TracepointSlotProblem::SkbArgument {
                    skb_arg: 7,
                    args: 5
                }
            ),
            "tracepoint slot 1: the skb must be among the first 5 arguments, not argument 7"
        );
        let stack = KernelError::NoStack {
            stack_id: -14,
            miss: StackMiss::NotRecorded,
        };
        assert_eq!(
            stack.to_string(),
            "stack -14 is not available: the kernel could not record it \
             (stack map bucket taken or stack unreadable)"
        );
    }

    #[test]
    fn every_refused_backend_is_named_in_order() {
        use crate::func_probes::refusal::{FentryRefusal, KprobeRefusal, MultiRefusal};
        let e = KernelError::NoFunctionBackend {
            refusals: vec![
                BackendRefusal::KprobeMulti {
                    reason: MultiRefusal::NothingToAttach,
                },
                BackendRefusal::Kprobe {
                    reason: KprobeRefusal::NotBuilt,
                },
                BackendRefusal::Fentry {
                    reason: FentryRefusal::NotInBtf {
                        function: "ip_rcv".into(),
                    },
                },
            ],
        };
        assert_eq!(
            e.to_string(),
            "function triggers (`func`, `any`) cannot run on this kernel: kprobe.multi: nothing \
             to attach; kprobes: the kernel was built without CONFIG_KPROBES (no \
             /sys/bus/event_source/devices/kprobe); fentry: ip_rcv is not in the kernel's BTF; \
             the tracepoint triggers (drop, free, recv, xmit, queue, `tp CAT:NAME`) still work"
        );
    }

    #[test]
    fn eperm_from_a_syscall_is_about_privileges() {
        let e = aya::programs::ProgramError::SyscallError(aya::sys::SyscallError {
            call: "bpf_raw_tracepoint_open",
            io_error: io::Error::from_raw_os_error(libc::EPERM),
        });
        let k = classify_program("ferret_drop_raw".into(), e);
        assert!(matches!(k, KernelError::NotPermitted { .. }), "{k:?}");
        assert!(k.to_string().contains("CAP_BPF"));
        assert!(k.verifier_log().is_none());
    }
}
