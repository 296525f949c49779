//! What this kernel offers ferret, found by trying (never by version
//! number), and which path ferret takes for each: the facts behind
//! `ferret features`, which is also what a bug report should carry.
//!
//! Most facts need no privilege (BTF, kallsyms names, sysctls); the ring
//! buffer and the function backends are found out by creating a map and
//! loading programs, which needs CAP_BPF (or root). A fact that could not
//! be probed is kept as a [`NotProbed`] saying why, never a failure.

use crate::drop_reasons::ReasonsError;
use crate::func_catalog::FuncCatalog;
use crate::kernel_btf::{KbtfError, KernelBtf};
use crate::{sys, AttachKind, BackendRefusal, FuncBackend, Kernel, KernelError, LoadOptions};
use aya_obj::generated::{bpf_cmd, bpf_map_type};
use ferret_core::hooks::TRIGGERS;
use std::io;
use std::path::Path;
use std::sync::Arc;

const BTF_DIR: &str = "/sys/kernel/btf";
const KALLSYMS: &str = "/proc/kallsyms";
const LOCKDOWN: &str = "/sys/kernel/security/lockdown";
const OSRELEASE: &str = "/proc/sys/kernel/osrelease";
const UNPRIVILEGED_BPF: &str = "/proc/sys/kernel/unprivileged_bpf_disabled";
const PERF_PARANOID: &str = "/proc/sys/kernel/perf_event_paranoid";
/// The kfunc of the typed IPv4 header reads (see kfunc.rs).
pub const RDONLY_CAST: &str = "bpf_rdonly_cast";
/// The function the backends are tried on when the catalog has it.
const PROBE_FUNCTION: &str = "ip_rcv";

/// Why a fact is unknown.
#[derive(Debug, thiserror::Error)]
pub enum NotProbed {
    #[error("cannot read {path}: {source}")]
    Unreadable {
        path: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("{path} says {text:?}, not a number")]
    NotANumber { path: &'static str, text: String },
    #[error("creating a map was refused ({source}); needs CAP_BPF or root")]
    MapRefused {
        #[source]
        source: io::Error,
    },
    #[error("creating a ring buffer failed: {source}")]
    MapCreate {
        #[source]
        source: io::Error,
    },
    #[error("ferret's eBPF object did not load: {source}")]
    Object {
        #[source]
        source: Box<KernelError>,
    },
    #[error("no function to try the backends on: {source}")]
    Catalog {
        #[source]
        source: KbtfError,
    },
    #[error("no function in the catalog to try the backends on")]
    EmptyCatalog,
}

/// How a built-in trigger's program attaches on this kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerPath {
    pub trigger: &'static str,
    pub tracepoint: &'static str,
    pub kind: AttachKind,
}

/// Every function backend, tried in the order automatic selection tries
/// them, each `None` when usable or with why not.
#[derive(Debug)]
pub struct FunctionBackends {
    /// The function they were tried on.
    pub tried_on: String,
    pub each: Vec<(FuncBackend, Option<BackendRefusal>)>,
}

impl FunctionBackends {
    /// What `--backend auto` takes: the first usable one.
    pub fn chosen(&self) -> Option<FuncBackend> {
        self.each.iter().find(|(_, r)| r.is_none()).map(|(b, _)| *b)
    }
}

/// What this kernel offers; see the module docs.
#[derive(Debug)]
pub struct Features {
    /// For information only: nothing is decided by it.
    pub release: Result<String, NotProbed>,
    pub vmlinux_btf: bool,
    /// BTF files of modules (/sys/kernel/btf/* besides vmlinux).
    pub module_btf: Result<usize, NotProbed>,
    /// How many drop reasons `enum skb_drop_reason` names.
    pub drop_reasons: Result<usize, ReasonsError>,
    pub sk_skb_reason_drop: bool,
    pub kfree_skb_reason: bool,
    pub rdonly_cast: bool,
    pub bpf_loop: Result<bool, NotProbed>,
    pub ringbuf: Result<bool, NotProbed>,
    pub triggers: Vec<TriggerPath>,
    pub functions: Result<FunctionBackends, NotProbed>,
    /// `on tc`/`on xdp`: `Ok(None)` when fentry/fexit on a BPF program
    /// works here, `Ok(Some(why))` when the kernel refuses it.
    pub programs: Result<Option<String>, NotProbed>,
    /// The lockdown mode in force ("none", "integrity", ...); `Ok(None)`
    /// when the kernel has no lockdown file.
    pub lockdown: Result<Option<String>, NotProbed>,
    pub unprivileged_bpf_disabled: Result<i64, NotProbed>,
    pub perf_event_paranoid: Result<i64, NotProbed>,
}

impl Features {
    /// Probes everything; loads ferret's object and programs (nothing is
    /// attached for longer than the probe) when privileged enough.
    pub fn probe(btf: &Arc<KernelBtf>) -> Features {
        let vmlinux_btf = btf.path().exists();
        let has_func = |name| vmlinux_btf && btf.kfunc_id(name).is_some();
        Features {
            release: read_trimmed(OSRELEASE),
            vmlinux_btf,
            module_btf: count_module_btf(Path::new(BTF_DIR)),
            // Names, as `ferret reasons` lists them (the MAX sentinel is no reason).
            drop_reasons: btf.drop_reasons().map(|r| r.names().count()),
            sk_skb_reason_drop: has_func("sk_skb_reason_drop"),
            kfree_skb_reason: has_func("kfree_skb_reason"),
            rdonly_cast: has_func(RDONLY_CAST),
            bpf_loop: has_bpf_loop(),
            ringbuf: has_ringbuf(),
            triggers: trigger_paths(btf),
            functions: probe_function_backends(btf),
            programs: probe_prog_tracing(btf),
            lockdown: lockdown(),
            unprivileged_bpf_disabled: read_number(UNPRIVILEGED_BPF),
            perf_event_paranoid: read_number(PERF_PARANOID),
        }
    }

    /// How IPv4 headers are read by tp_btf programs.
    pub fn ipv4_header_path(&self) -> &'static str {
        if self.rdonly_cast {
            "bpf_rdonly_cast (typed)"
        } else {
            "bpf_probe_read_kernel (no kfunc)"
        }
    }

    /// How the rule interpreter runs a program past its first two
    /// instructions.
    pub fn interpreter_path(&self) -> &'static str {
        match self.bpf_loop {
            Ok(true) => "bpf_loop",
            Ok(false) => {
                "bounded loop (no bpf_loop before Linux 5.17; pcap-filter rules are refused)"
            }
            Err(_) => "unknown",
        }
    }

    /// Where a drop's cause comes from.
    pub fn drop_cause_path(&self) -> &'static str {
        match self.drop_reasons {
            Ok(n) if n > 0 => "reason from the tracepoint",
            Ok(_) | Err(ReasonsError::NoEnum { .. }) => "drop location only (no drop reasons here)",
            Err(ReasonsError::Unreadable(_)) => "unknown",
        }
    }

    /// Whether drop reasons are missing because the enum is (kernels
    /// before 5.17), as opposed to BTF being unreadable.
    pub fn drop_reason_enum_missing(&self) -> bool {
        matches!(self.drop_reasons, Err(ReasonsError::NoEnum { .. }))
    }
}

fn read_trimmed(path: &'static str) -> Result<String, NotProbed> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|source| NotProbed::Unreadable { path, source })
}

fn read_number(path: &'static str) -> Result<i64, NotProbed> {
    let text = read_trimmed(path)?;
    text.parse()
        .map_err(|_| NotProbed::NotANumber { path, text })
}

fn count_module_btf(dir: &Path) -> Result<usize, NotProbed> {
    let entries = std::fs::read_dir(dir).map_err(|source| NotProbed::Unreadable {
        path: BTF_DIR,
        source,
    })?;
    let names = entries.filter_map(|e| e.ok()).map(|e| e.file_name());
    Ok(names.filter(|n| n != "vmlinux").count())
}

/// Helpers are not in BTF. The kernel symbol of the helper's body
/// (`bpf_loop`, a text symbol whenever the helper is built in) is the
/// cheapest reliable sign: kallsyms lists names to every user (only the
/// addresses are hidden), and no program has to be verified. The
/// `bpf_loop_proto` data symbol counts too, where KALLSYMS_ALL lists it.
pub fn has_bpf_loop() -> Result<bool, NotProbed> {
    let text = std::fs::read_to_string(KALLSYMS).map_err(|source| NotProbed::Unreadable {
        path: KALLSYMS,
        source,
    })?;
    Ok(kallsyms_has(&text, "bpf_loop") || kallsyms_has(&text, "bpf_loop_proto"))
}

/// Whether kallsyms `text` lists a symbol of the core kernel named `name`.
pub fn kallsyms_has(text: &str, name: &str) -> bool {
    text.lines().any(|line| {
        let mut parts = line.split_ascii_whitespace();
        let (_addr, _kind) = (parts.next(), parts.next());
        parts.next() == Some(name) && parts.next().is_none()
    })
}

/// Creates a one-page BPF_MAP_TYPE_RINGBUF map and closes it again: a
/// kernel without ring buffers (before 5.8) answers EINVAL.
fn has_ringbuf() -> Result<bool, NotProbed> {
    let mut attr = sys::zeroed_attr();
    // SAFETY: writing integers into the zeroed MAP_CREATE member.
    let m = unsafe { &mut attr.__bindgen_anon_1 };
    m.map_type = bpf_map_type::BPF_MAP_TYPE_RINGBUF as u32;
    m.max_entries = 4096;
    match sys::bpf(bpf_cmd::BPF_MAP_CREATE, &mut attr) {
        Ok(fd) => {
            drop(fd);
            Ok(true)
        }
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(false),
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => Err(NotProbed::MapRefused { source: e }),
        Err(source) => Err(NotProbed::MapCreate { source }),
    }
}

/// tp_btf needs the tracepoint's `btf_trace_<name>` typedef in the
/// kernel's BTF (what the tp_btf load resolves); without it, or without
/// BTF, the raw_tp twin is what attach() falls back to. Inferred, so
/// nothing is loaded or attached.
fn trigger_paths(btf: &KernelBtf) -> Vec<TriggerPath> {
    TRIGGERS
        .iter()
        .map(|t| {
            let typed = match btf.tracepoint_skb_arg(t.event()) {
                Ok(_) | Err(KbtfError::NoSkbArgument { .. }) => true,
                Err(_) => false,
            };
            TriggerPath {
                trigger: t.name,
                tracepoint: t.tracepoint,
                kind: if typed {
                    AttachKind::TpBtf
                } else {
                    AttachKind::RawTp
                },
            }
        })
        .collect()
}

/// Loads ferret's object (the smallest ring) and tries every function
/// backend on one function, as a session's automatic choice would.
fn probe_function_backends(btf: &Arc<KernelBtf>) -> Result<FunctionBackends, NotProbed> {
    let catalog = FuncCatalog::discover(btf).map_err(|source| NotProbed::Catalog { source })?;
    let target = catalog
        .all()
        .iter()
        .find(|f| f.name == PROBE_FUNCTION)
        .or_else(|| catalog.all().first())
        .ok_or(NotProbed::EmptyCatalog)?;
    let mut kernel = probe_kernel(btf)?;
    let each = kernel
        .probe_function_backends(target)
        .map_err(|e| NotProbed::Object {
            source: Box::new(e),
        })?;
    Ok(FunctionBackends {
        tried_on: target.name.clone(),
        each,
    })
}

/// ferret's object, loaded with a small ring for a probe.
fn probe_kernel(btf: &Arc<KernelBtf>) -> Result<Kernel, NotProbed> {
    let opts = LoadOptions {
        ring_bytes: 4096,
        verbose_verifier: false,
    };
    Kernel::load_with_btf(&opts, btf.clone()).map_err(|e| NotProbed::Object {
        source: Box::new(e),
    })
}

/// Loads ferret's object and tries fentry on its own tc program, as `on
/// tc` and `on xdp` attach to the machine's programs.
fn probe_prog_tracing(btf: &Arc<KernelBtf>) -> Result<Option<String>, NotProbed> {
    let mut kernel = probe_kernel(btf)?;
    match kernel.probe_prog_tracing() {
        Ok(()) => Ok(None),
        Err(KernelError::ProgTrace(crate::ProgTraceError::Refused { source })) => Ok(Some(
            format!("the kernel refuses fentry/fexit on BPF programs ({source})"),
        )),
        Err(e) => Ok(Some(e.to_string())),
    }
}

fn lockdown() -> Result<Option<String>, NotProbed> {
    match std::fs::read_to_string(LOCKDOWN) {
        Ok(text) => Ok(Some(lockdown_mode(&text).to_string())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(NotProbed::Unreadable {
            path: LOCKDOWN,
            source,
        }),
    }
}

/// The mode in brackets of "none [integrity] confidentiality".
pub fn lockdown_mode(text: &str) -> &str {
    text.split_ascii_whitespace()
        .find_map(|w| w.strip_prefix('[')?.strip_suffix(']'))
        .unwrap_or_else(|| text.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lockdown_mode_is_the_bracketed_word() {
        assert_eq!(lockdown_mode("[none] integrity confidentiality\n"), "none");
        assert_eq!(
            lockdown_mode("none [integrity] confidentiality"),
            "integrity"
        );
        assert_eq!(
            lockdown_mode("none integrity [confidentiality]"),
            "confidentiality"
        );
        assert_eq!(lockdown_mode("odd\n"), "odd");
    }

    #[test]
    fn kallsyms_names_match_whole_and_core_only() {
        let text = "ffffffff8152e480 T bpf_loop\n\
                    0000000000000000 t bpf_loop_x\n\
                    ffffffffc0000000 t bpf_loop_m\t[some_mod]\n";
        assert!(kallsyms_has(text, "bpf_loop"));
        assert!(!kallsyms_has(text, "bpf_loo"));
        assert!(
            !kallsyms_has(text, "bpf_loop_m"),
            "module symbols are not the core's"
        );
        assert!(!kallsyms_has("", "bpf_loop"));
    }

    #[test]
    fn module_btf_leaves_vmlinux_out() {
        let dir = std::env::temp_dir().join(format!("ferret-btf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["vmlinux", "nf_tables", "veth"] {
            std::fs::write(dir.join(name), b"").unwrap();
        }
        let n = count_module_btf(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(n, 2);
        assert!(count_module_btf(Path::new("/nonexistent/ferret-btf")).is_err());
    }

    #[test]
    fn without_btf_every_trigger_takes_raw_tp() {
        let btf = KernelBtf::from_file(Path::new("/nonexistent/ferret-test-btf"));
        let paths = trigger_paths(&btf);
        assert_eq!(paths.len(), TRIGGERS.len());
        assert!(paths.iter().all(|p| p.kind == AttachKind::RawTp));
    }

    #[test]
    fn the_running_kernel_types_its_tracepoints_when_it_has_btf() {
        let btf = KernelBtf::running();
        if !btf.path().exists() {
            eprintln!("skipped: no kernel BTF on this machine");
            return;
        }
        let paths = trigger_paths(&btf);
        let drop = paths.iter().find(|p| p.trigger == "drop").unwrap();
        assert_eq!(drop.kind, AttachKind::TpBtf);
    }
}
