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

use super::error::KernelError;
use super::funcload::FuncObject;
use super::{funclink, Kernel};
use crate::func_catalog::FuncEntry;
use aya::maps::{Array, MapData};
use aya_obj::generated::bpf_attach_type;
use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
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

/// Errors of kprobe.multi that mean "not on this kernel", not "not this
/// function".
fn multi_unsupported(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        // 524 is the kernel's internal ENOTSUPP, which some paths leak.
        Some(libc::EOPNOTSUPP) | Some(524) | Some(libc::ENOSYS)
    )
}

impl Kernel {
    /// Attaches probes to `targets` (functions not attached yet).
    pub fn attach_functions(
        &mut self,
        targets: &[FuncEntry],
    ) -> Result<FuncAttachReport, KernelError> {
        let start = Instant::now();
        if self.funcs.object.is_none() {
            self.funcs.object = Some(FuncObject::prepare(&self.map_fds, &self.btf)?);
        }
        funclink::raise_nofile_limit();
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
        let map = self.map_mut("func_rules")?;
        let mut arr: Array<&mut MapData, u64> =
            Array::try_from(map).map_err(|e| KernelError::map("func_rules", e))?;
        for (id, mask) in masks {
            arr.set(*id, mask, 0)
                .map_err(|e| KernelError::map("func_rules", e))?;
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
            match FuncObject::prepare(&self.map_fds, &self.btf) {
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

    fn pick_backend(&mut self, targets: &[FuncEntry]) -> Result<FuncBackend, KernelError> {
        let kprobe_pmu = funclink::kprobe_pmu_type();
        let mut why_not: Vec<String> = Vec::new();
        let try_multi = matches!(
            self.funcs.choice,
            BackendChoice::Auto | BackendChoice::Only(FuncBackend::KprobeMulti)
        );
        if try_multi {
            match self.probe_multi(targets) {
                Ok(()) => return self.chose(FuncBackend::KprobeMulti),
                Err(why) => why_not.push(format!("kprobe.multi: {why}")),
            }
        }
        let try_single = matches!(
            self.funcs.choice,
            BackendChoice::Auto | BackendChoice::Only(FuncBackend::Kprobe)
        );
        if try_single {
            match &kprobe_pmu {
                Ok(_) => return self.chose(FuncBackend::Kprobe),
                Err(_) => why_not.push(
                    "kprobes: the kernel was built without CONFIG_KPROBES (no \
                     /sys/bus/event_source/devices/kprobe)"
                        .into(),
                ),
            }
        }
        let try_fentry = matches!(
            self.funcs.choice,
            BackendChoice::Auto | BackendChoice::Only(FuncBackend::Fentry)
        );
        if try_fentry {
            match self.probe_fentry(targets) {
                Ok(()) => return self.chose(FuncBackend::Fentry),
                Err(why) => why_not.push(format!("fentry: {why}")),
            }
        }
        Err(KernelError::NoFunctionBackend {
            why: why_not.join("; "),
        })
    }

    fn chose(&mut self, b: FuncBackend) -> Result<FuncBackend, KernelError> {
        self.funcs.backend = Some(b);
        Ok(b)
    }

    /// Whether kprobe.multi works here: load its program and link it to
    /// one function. The probe link is dropped again.
    fn probe_multi(&mut self, targets: &[FuncEntry]) -> Result<(), String> {
        let Some(t) = targets.first() else {
            return Err("nothing to attach".into());
        };
        let prog = self.prog(t.position, true).map_err(|e| e.to_string())?;
        match funclink::attach_kprobe_multi(prog, &[t.name.as_str()], &[t.id as u64]) {
            Ok(_) => Ok(()),
            Err(e) if multi_unsupported(&e) => Err(format!(
                "not supported by this kernel ({e}; it needs 5.18+ built with CONFIG_FPROBE)"
            )),
            // The function itself may be the problem: the bisection in
            // attach_multi finds that out.
            Err(_) => Ok(()),
        }
    }

    /// Whether BPF trampolines work here: load and link the first target.
    fn probe_fentry(&mut self, targets: &[FuncEntry]) -> Result<(), String> {
        let Some(t) = targets.first() else {
            return Err("nothing to attach".into());
        };
        let btf = crate::kernel_btf::KernelBtf::load().map_err(|e| e.to_string())?;
        let id = btf
            .func_ids(&[t.name.as_str()])
            .get(&t.name)
            .copied()
            .ok_or_else(|| format!("{} is not in the kernel's BTF", t.name))?;
        let object = self.funcs.object.as_ref().expect("prepared before");
        let prog = object
            .load_fentry(&format!("ferret_fentry_arg{}", t.position), id)
            .map_err(|e| match e {
                // Root and still EPERM: the kernel (lockdown, a sandbox)
                // refuses trampolines; "run as root" would mislead.
                KernelError::NotPermitted { source, .. } => {
                    format!("the kernel refuses BPF trampolines ({source})")
                }
                other => other.to_string(),
            })?;
        funclink::attach_fentry(prog.as_fd(), t.id as u64)
            .map(drop)
            .map_err(|e| format!("the kernel refuses trampolines ({e})"))
    }

    fn attach_fentry(&mut self, targets: &[FuncEntry]) -> Result<Attached, KernelError> {
        let btf = crate::kernel_btf::KernelBtf::load()
            .map_err(|source| KernelError::TracepointArgs { source })?;
        let names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
        let ids = btf.func_ids(&names);
        let object = self.funcs.object.as_ref().expect("prepared before");
        // Verifying is CPU work: one thread per CPU.
        let workers = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .min(targets.len().max(1));
        let results = run_parallel(targets.len(), workers, self.funcs.progress.as_ref(), |i| {
            let t = &targets[i];
            match ids.get(&t.name) {
                None => Err("not in the kernel's BTF".to_string()),
                Some(btf_id) => object
                    .load_fentry(&format!("ferret_fentry_arg{}", t.position), *btf_id)
                    .map_err(|e| e.to_string())
                    .and_then(|prog| {
                        funclink::attach_fentry(prog.as_fd(), t.id as u64).map_err(|e| explain(&e))
                    }),
            }
        });
        Ok(self.keep_links(targets, results))
    }

    /// Keeps the links that were made; names the functions that failed.
    fn keep_links(
        &mut self,
        targets: &[FuncEntry],
        results: Vec<(usize, Result<OwnedFd, String>)>,
    ) -> Attached {
        let mut attached = Vec::new();
        let mut skipped = Vec::new();
        for (i, r) in results {
            let t = &targets[i];
            match r {
                Ok(fd) => {
                    self.funcs.single.insert(t.id, fd);
                    attached.push(t.id);
                }
                Err(why) => skipped.push((t.name.clone(), why)),
            }
        }
        attached.sort_unstable();
        (attached, skipped)
    }

    /// The entry program for an argument position, loaded on first use.
    fn prog(
        &mut self,
        position: usize,
        multi: bool,
    ) -> Result<std::os::fd::BorrowedFd<'_>, KernelError> {
        if !self.funcs.progs.contains_key(&(position, multi)) {
            let object = self.funcs.object.as_ref().expect("prepared before");
            let name = format!("ferret_kprobe_arg{position}");
            let attach = multi.then_some(bpf_attach_type::BPF_TRACE_KPROBE_MULTI);
            let fd = object.load_kprobe(&name, attach)?;
            self.funcs.progs.insert((position, multi), fd);
        }
        Ok(self.funcs.progs[&(position, multi)].as_fd())
    }

    fn attach_multi(&mut self, targets: &[FuncEntry]) -> Result<Attached, KernelError> {
        let mut attached = Vec::new();
        let mut skipped = Vec::new();
        let total = targets.len();
        for position in 1..=crate::func_catalog::MAX_POSITION {
            let group: Vec<&FuncEntry> =
                targets.iter().filter(|t| t.position == position).collect();
            if group.is_empty() {
                continue;
            }
            let prog = self
                .prog(position, true)?
                .try_clone_to_owned()
                .map_err(|e| KernelError::FuncObject {
                    why: format!("dup program fd: {e}"),
                })?;
            let mut links = Vec::new();
            bisect_multi(prog.as_fd(), &group, &mut links, &mut skipped);
            for (fd, ids) in links {
                attached.extend(ids.iter().copied());
                self.funcs.multi.push((fd, ids));
            }
            if let Some(p) = &self.funcs.progress {
                p(attached.len() + skipped.len(), total);
            }
        }
        Ok((attached, skipped))
    }

    fn attach_single(&mut self, targets: &[FuncEntry]) -> Result<Attached, KernelError> {
        let pmu = funclink::kprobe_pmu_type().map_err(|e| KernelError::NoFunctionBackend {
            why: format!("kprobes: {e}"),
        })?;
        let mut progs: HashMap<usize, OwnedFd> = HashMap::new();
        let mut positions: Vec<usize> = targets.iter().map(|t| t.position).collect();
        positions.sort_unstable();
        positions.dedup();
        for position in positions {
            let fd = self
                .prog(position, false)?
                .try_clone_to_owned()
                .map_err(|e| KernelError::FuncObject {
                    why: format!("dup program fd: {e}"),
                })?;
            progs.insert(position, fd);
        }
        let workers = worker_count(targets.len());
        let results = run_parallel(targets.len(), workers, self.funcs.progress.as_ref(), |i| {
            let t = &targets[i];
            funclink::attach_kprobe(progs[&t.position].as_fd(), pmu, &t.name, t.id as u64)
                .map_err(|e| explain(&e))
        });
        Ok(self.keep_links(targets, results))
    }
}

/// Links `group` in one kprobe.multi link; when the kernel refuses, halves
/// the group until the functions it refuses are found and skipped.
fn bisect_multi(
    prog: std::os::fd::BorrowedFd<'_>,
    group: &[&FuncEntry],
    links: &mut Vec<(OwnedFd, Vec<u32>)>,
    skipped: &mut Vec<(String, String)>,
) {
    let names: Vec<&str> = group.iter().map(|t| t.name.as_str()).collect();
    let cookies: Vec<u64> = group.iter().map(|t| t.id as u64).collect();
    match funclink::attach_kprobe_multi(prog, &names, &cookies) {
        Ok(fd) => links.push((fd, group.iter().map(|t| t.id).collect())),
        Err(e) if group.len() == 1 => skipped.push((group[0].name.clone(), explain(&e))),
        Err(_) => {
            let (a, b) = group.split_at(group.len() / 2);
            bisect_multi(prog, a, links, skipped);
            bisect_multi(prog, b, links, skipped);
        }
    }
}

/// Runs `work(i)` for every i < n on `workers` threads, reporting progress
/// every 16 done (and at the end); results come in completion order.
fn run_parallel<R: Send>(
    n: usize,
    workers: usize,
    progress: Option<&Progress>,
    work: impl Fn(usize) -> R + Sync,
) -> Vec<(usize, R)> {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, R)>> = Mutex::new(Vec::with_capacity(n));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let r = work(i);
                results.lock().expect("no panics hold it").push((i, r));
                let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                if let Some(p) = progress {
                    if finished % 16 == 0 || finished == n {
                        p(finished, n);
                    }
                }
            });
        }
    });
    results.into_inner().expect("threads joined")
}

/// Threads for attaching or closing: these calls sleep in the kernel, so
/// more threads than CPUs help; bounded so a huge list does not spawn
/// hundreds.
fn worker_count(n: usize) -> usize {
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    (cpus * 8).clamp(1, 64).min(n.max(1))
}

fn close_parallel(fds: Vec<OwnedFd>) {
    if fds.len() < 8 {
        drop(fds);
        return;
    }
    let workers = worker_count(fds.len());
    let chunk = fds.len().div_ceil(workers);
    let mut fds = fds;
    std::thread::scope(|s| {
        while !fds.is_empty() {
            let part: Vec<OwnedFd> = fds.split_off(fds.len().saturating_sub(chunk));
            s.spawn(move || drop(part));
        }
    });
}

/// The reasons users meet, in words.
fn explain(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::ENOENT) => "not found in the running kernel".into(),
        Some(libc::EADDRNOTAVAIL) => "ambiguous or unprobeable symbol".into(),
        Some(libc::EINVAL) => "the kernel refuses to probe it (blacklisted or notrace)".into(),
        Some(libc::EMFILE) | Some(libc::ENFILE) => "too many open files".into(),
        Some(libc::EBUSY) => "already probed exclusively by someone else".into(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_counts_are_bounded() {
        assert_eq!(worker_count(1), 1);
        assert!(worker_count(10_000) <= 64);
        assert!(worker_count(10_000) >= 8);
    }

    #[test]
    fn only_missing_support_stops_kprobe_multi() {
        assert!(multi_unsupported(&io::Error::from_raw_os_error(
            libc::EOPNOTSUPP
        )));
        assert!(!multi_unsupported(&io::Error::from_raw_os_error(
            libc::ENOENT
        )));
        assert!(!multi_unsupported(&io::Error::from_raw_os_error(
            libc::EINVAL
        )));
    }
}
