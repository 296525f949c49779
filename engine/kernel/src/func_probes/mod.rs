//! Function probes: which backend, attaching many functions fast, and
//! detaching them fast too.
//!
//! - kprobe.multi (5.18+, CONFIG_FPROBE): one link per argument position
//!   over all its functions at once; the function id is each one's cookie.
//! - single kprobes: one program per argument position, loaded once and
//!   linked to each function with its id as cookie, from many threads at
//!   once (each attach waits on the kernel, not the CPU). Detaching closes
//!   the links from many threads too: each close waits for an RCU grace
//!   period, which is what makes a serial detach take tens of seconds.
//!
//! - fentry, where kprobes are missing but BPF trampolines work: a
//!   trampoline program is verified for one target function, so one is
//!   loaded per function (from as many threads as CPUs), each linked with
//!   its id as cookie.
//!
//! Every cookie is [`FuncEntry::cookie`]: the function id, and for drop
//! functions the position of their reason argument, which the program reads
//! into the event's `reason`.

mod attach;
mod backend;
mod fentry_target;
mod floor;
mod parallel;
pub(crate) mod refusal;

use super::error::KernelError;
use super::funcload::FuncObject;
use super::{funclink, Kernel};
use crate::func_catalog::FuncEntry;
pub use floor::{EmptyFuncProbes, Floor, FloorError};
use parallel::close_parallel;
pub use refusal::{BackendRefusal, FentryRefusal, FuncRefusal, KprobeRefusal, MultiRefusal};
use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How function triggers reach the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FuncBackend {
    KprobeMulti,
    Kprobe,
    Fentry,
}

impl FuncBackend {
    pub fn name(self) -> &'static str {
        match self {
            FuncBackend::KprobeMulti => "kprobe.multi",
            FuncBackend::Kprobe => "kprobe",
            FuncBackend::Fentry => "fentry",
        }
    }
}

/// `--backend`: automatic (kprobe.multi, else kprobes), or one forced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendChoice {
    #[default]
    Auto,
    Only(FuncBackend),
}

/// Called with (done, total) while probes attach; draws the progress bar.
pub type Progress = Arc<dyn Fn(usize, usize) + Send + Sync>;

/// What one attach call did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuncAttachReport {
    pub backend: FuncBackend,
    pub attached: Vec<u32>,
    /// (function, why it was not attached).
    pub skipped: Vec<(String, String)>,
    pub elapsed: Duration,
}

/// The function programs and links of one Kernel.
#[derive(Default)]
pub(super) struct FuncProbes {
    object: Option<FuncObject>,
    backend: Option<FuncBackend>,
    /// Loaded programs by (argument position, kprobe.multi?).
    progs: HashMap<(usize, bool), OwnedFd>,
    /// kprobe.multi links and the function ids each serves.
    multi: Vec<(OwnedFd, Vec<u32>)>,
    /// Single-kprobe links by function id.
    single: HashMap<u32, OwnedFd>,
    clone_link: Option<OwnedFd>,
    pub(super) choice: BackendChoice,
    pub(super) progress: Option<Progress>,
}

impl std::fmt::Debug for FuncProbes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FuncProbes")
            .field("backend", &self.backend)
            .field("multi_links", &self.multi.len())
            .field("single_links", &self.single.len())
            .finish_non_exhaustive()
    }
}

impl Drop for FuncProbes {
    /// Closing links one by one takes a grace period each: close them all
    /// at once.
    fn drop(&mut self) {
        let mut fds: Vec<OwnedFd> = self.single.drain().map(|(_, fd)| fd).collect();
        fds.extend(self.multi.drain(..).map(|(fd, _)| fd));
        fds.extend(self.clone_link.take());
        close_parallel(fds);
    }
}

/// Why function triggers are likely missing here, or `None` when kprobes
/// exist. Cheap (no BPF load): kprobe.multi and fentry can only be known
/// by trying, which a session does when a rule needs them.
pub fn function_backend_status() -> Option<String> {
    match funclink::kprobe_pmu_type() {
        Ok(_) => None,
        Err(_) => Some(
            "this kernel was built without CONFIG_KPROBES (no kprobe event source in \
             /sys/bus/event_source/devices); kprobe.multi and fentry are tried when a rule \
             needs them"
                .into(),
        ),
    }
}

/// Function ids attached, and (function, why not) for the rest.
type Attached = (Vec<u32>, Vec<(String, String)>);

impl Kernel {
    /// The function object, prepared on first use (the tc/XDP tracers of
    /// prog_probes.rs live in it too).
    pub(crate) fn func_object(&mut self) -> Result<&FuncObject, KernelError> {
        if self.funcs.object.is_none() {
            self.funcs.object = Some(FuncObject::prepare(
                &self.map_fds,
                &self.aya_btf,
                self.build,
                self.btf.kfunc_id(crate::kfunc::NAME),
            )?);
        }
        Ok(self.funcs.object.as_ref().expect("prepared above"))
    }

    /// Attaches probes to `targets` (functions not attached yet).
    pub fn attach_functions(
        &mut self,
        targets: &[FuncEntry],
    ) -> Result<FuncAttachReport, KernelError> {
        let start = Instant::now();
        self.func_object()?;
        crate::sys::raise_nofile_limit();
        let backend = match self.funcs.backend {
            Some(b) => b,
            None => self.pick_backend(targets)?,
        };
        let (attached, skipped) = match backend {
            FuncBackend::KprobeMulti => self.attach_multi(targets)?,
            FuncBackend::Kprobe => self.attach_single(targets)?,
            FuncBackend::Fentry => self.attach_fentry(targets)?,
        };
        Ok(FuncAttachReport {
            backend,
            attached,
            skipped,
            elapsed: start.elapsed(),
        })
    }

    /// Closes the probes of these functions, from many threads at once.
    pub fn detach_functions(&mut self, ids: &[u32]) -> Duration {
        let start = Instant::now();
        let mut closing: Vec<OwnedFd> = ids
            .iter()
            .filter_map(|id| self.funcs.single.remove(id))
            .collect();
        // A kprobe.multi link goes once none of its functions is wanted;
        // until then its leftover functions return at once (func_rules 0).
        let (gone, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.funcs.multi)
            .into_iter()
            .map(|(fd, mut served)| {
                served.retain(|id| !ids.contains(id));
                (fd, served)
            })
            .partition(|(_, served)| served.is_empty());
        self.funcs.multi = keep;
        closing.extend(gone.into_iter().map(|(fd, _)| fd));
        close_parallel(closing);
        start.elapsed()
    }

    /// Detaches every function probe (end of session); returns how long.
    pub fn detach_all_functions(&mut self) -> Duration {
        let ids: Vec<u32> = self
            .funcs
            .single
            .keys()
            .copied()
            .chain(self.funcs.multi.iter().flat_map(|(_, v)| v.iter().copied()))
            .collect();
        let t = self.detach_functions(&ids);
        self.funcs.clone_link = None;
        t
    }

    /// Which rule slots each function serves (`func_rules`).
    pub fn set_func_rules(&mut self, masks: &[(u32, u64)]) -> Result<(), KernelError> {
        for (id, mask) in masks {
            self.maps.func_rules.set(*id, *mask)?;
        }
        Ok(())
    }

    /// Lets clones and copies inherit `track` bits (a probe on
    /// __copy_skb_header). Returns why not, when this kernel cannot.
    pub fn enable_clone_tracking(&mut self) -> Option<String> {
        if self.funcs.clone_link.is_some() {
            return None;
        }
        if self.funcs.object.is_none() {
            match FuncObject::prepare(
                &self.map_fds,
                &self.aya_btf,
                self.build,
                self.btf.kfunc_id(crate::kfunc::NAME),
            ) {
                Ok(o) => self.funcs.object = Some(o),
                Err(e) => return Some(e.to_string()),
            }
        }
        let pmu = match funclink::kprobe_pmu_type() {
            Ok(p) => p,
            Err(_) => return Some("this kernel has no kprobes".into()),
        };
        let object = self.funcs.object.as_ref().expect("prepared above");
        let prog = match object.load_kprobe("ferret_kprobe_clone", None) {
            Ok(p) => p,
            Err(e) => return Some(e.to_string()),
        };
        match funclink::attach_kprobe(prog.as_fd(), pmu, "__copy_skb_header", 0) {
            Ok(link) => {
                self.funcs.clone_link = Some(link);
                None
            }
            Err(e) => Some(format!("cannot probe __copy_skb_header: {e}")),
        }
    }
}
