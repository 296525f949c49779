//! Attaching the functions with the chosen backend: kprobe.multi links
//! (bisected around functions the kernel refuses), single kprobes and
//! fentry programs from many threads at once.

use super::parallel::{run_parallel, worker_count};
use super::refusal::{BackendRefusal, FuncRefusal, KprobeRefusal};
use super::Attached;
use crate::error::{FuncObjectError, KernelError};
use crate::func_catalog::FuncEntry;
use crate::{funclink, Kernel};
use aya_obj::generated::bpf_attach_type;
use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

impl Kernel {
    pub(super) fn attach_fentry(&mut self, targets: &[FuncEntry]) -> Result<Attached, KernelError> {
        let ids = self
            .fentry_targets(targets)
            .map_err(|source| KernelError::TracepointArgs { source })?;
        let object = self.funcs.object.as_ref().expect("prepared before");
        // Verifying is CPU work: one thread per CPU.
        let workers = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .min(targets.len().max(1));
        let results = run_parallel(targets.len(), workers, self.funcs.progress.as_ref(), |i| {
            let t = &targets[i];
            let (btf_id, module_btf) = ids.of(t)?;
            object
                .load_fentry(
                    &format!("ferret_fentry_arg{}", t.position),
                    btf_id,
                    module_btf,
                )
                .map_err(|e| FuncRefusal::Load {
                    source: Arc::new(e),
                })
                .and_then(|prog| {
                    funclink::attach_fentry(prog.as_fd(), t.cookie())
                        .map_err(FuncRefusal::from_attach)
                })
        });
        Ok(self.keep_links(targets, results))
    }

    /// Keeps the links that were made; names the functions that failed.
    fn keep_links(
        &mut self,
        targets: &[FuncEntry],
        results: Vec<(usize, Result<OwnedFd, FuncRefusal>)>,
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
                Err(why) => skipped.push((t.display_name(), why.to_string())),
            }
        }
        attached.sort_unstable();
        (attached, skipped)
    }

    /// The entry program for an argument position, loaded on first use.
    pub(super) fn prog(
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

    pub(super) fn attach_multi(&mut self, targets: &[FuncEntry]) -> Result<Attached, KernelError> {
        let mut attached = Vec::new();
        let mut skipped = Vec::new();
        let total = targets.len();
        for position in 1..=crate::func_catalog::MAX_POSITION {
            let (group, shared): (Vec<&FuncEntry>, Vec<&FuncEntry>) = targets
                .iter()
                .filter(|t| t.position == position)
                .partition(|t| !(t.module.is_some() && t.shared_name));
            for t in shared {
                let module = t.module.clone().unwrap_or_default();
                skipped.push((
                    t.display_name(),
                    FuncRefusal::SharedName { module }.to_string(),
                ));
            }
            if group.is_empty() {
                continue;
            }
            let prog = self
                .prog(position, true)?
                .try_clone_to_owned()
                .map_err(|source| KernelError::FuncObject {
                    source: FuncObjectError::DupProgramFd { source },
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

    pub(super) fn attach_single(&mut self, targets: &[FuncEntry]) -> Result<Attached, KernelError> {
        let pmu = funclink::kprobe_pmu_type().map_err(|source| KernelError::NoFunctionBackend {
            refusals: vec![BackendRefusal::Kprobe {
                reason: KprobeRefusal::EventSource { source },
            }],
        })?;
        let mut progs: HashMap<usize, OwnedFd> = HashMap::new();
        let mut positions: Vec<usize> = targets.iter().map(|t| t.position).collect();
        positions.sort_unstable();
        positions.dedup();
        for position in positions {
            let fd = self
                .prog(position, false)?
                .try_clone_to_owned()
                .map_err(|source| KernelError::FuncObject {
                    source: FuncObjectError::DupProgramFd { source },
                })?;
            progs.insert(position, fd);
        }
        let workers = worker_count(targets.len());
        let results = run_parallel(targets.len(), workers, self.funcs.progress.as_ref(), |i| {
            let t = &targets[i];
            let symbol = t.kprobe_symbol();
            funclink::attach_kprobe(progs[&t.position].as_fd(), pmu, &symbol, t.cookie())
                .map_err(FuncRefusal::from_attach)
        });
        Ok(self.keep_links(targets, results))
    }
}

/// Links `group` in one kprobe.multi link; when the kernel refuses, halves
/// the group until the functions it refuses are found and skipped.
pub(super) fn bisect_multi(
    prog: std::os::fd::BorrowedFd<'_>,
    group: &[&FuncEntry],
    links: &mut Vec<(OwnedFd, Vec<u32>)>,
    skipped: &mut Vec<(String, String)>,
) {
    let names: Vec<&str> = group.iter().map(|t| t.name.as_str()).collect();
    let cookies: Vec<u64> = group.iter().map(|t| t.cookie()).collect();
    match funclink::attach_kprobe_multi(prog, &names, &cookies) {
        Ok(fd) => links.push((fd, group.iter().map(|t| t.id).collect())),
        Err(e) if group.len() == 1 => skipped.push((
            group[0].display_name(),
            FuncRefusal::from_attach(e).to_string(),
        )),
        Err(_) => {
            let (a, b) = group.split_at(group.len() / 2);
            bisect_multi(prog, a, links, skipped);
            bisect_multi(prog, b, links, skipped);
        }
    }
}
