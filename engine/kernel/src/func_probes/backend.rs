//! Choosing how function triggers attach on this kernel: kprobe.multi,
//! single kprobes or fentry, each tried in turn unless `--backend` forces
//! one, with the reasons the others were not usable.

use super::refusal::{BackendRefusal, FentryRefusal, KprobeRefusal, MultiRefusal};
use super::{BackendChoice, FuncBackend};
use crate::error::KernelError;
use crate::func_catalog::FuncEntry;
use crate::{funclink, Kernel};
use std::io;
use std::os::fd::AsFd;

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
    pub(super) fn pick_backend(
        &mut self,
        targets: &[FuncEntry],
    ) -> Result<FuncBackend, KernelError> {
        let kprobe_pmu = funclink::kprobe_pmu_type();
        let mut refusals: Vec<BackendRefusal> = Vec::new();
        let try_multi = matches!(
            self.funcs.choice,
            BackendChoice::Auto | BackendChoice::Only(FuncBackend::KprobeMulti)
        );
        if try_multi {
            match self.probe_multi(targets) {
                Ok(()) => return self.chose(FuncBackend::KprobeMulti),
                Err(reason) => refusals.push(BackendRefusal::KprobeMulti { reason }),
            }
        }
        let try_single = matches!(
            self.funcs.choice,
            BackendChoice::Auto | BackendChoice::Only(FuncBackend::Kprobe)
        );
        if try_single {
            match kprobe_pmu.map(|_| self.probe_kprobe(targets)) {
                Ok(Ok(())) => return self.chose(FuncBackend::Kprobe),
                Ok(Err(reason)) => refusals.push(BackendRefusal::Kprobe { reason }),
                Err(_) => refusals.push(BackendRefusal::Kprobe {
                    reason: KprobeRefusal::NotBuilt,
                }),
            }
        }
        let try_fentry = matches!(
            self.funcs.choice,
            BackendChoice::Auto | BackendChoice::Only(FuncBackend::Fentry)
        );
        if try_fentry {
            match self.probe_fentry(targets) {
                Ok(()) => return self.chose(FuncBackend::Fentry),
                Err(reason) => refusals.push(BackendRefusal::Fentry { reason }),
            }
        }
        Err(KernelError::NoFunctionBackend { refusals })
    }

    /// Tries every backend on `target` in the order `pick_backend` does,
    /// without choosing one (`ferret features`): `None` where usable, else
    /// why not. Probe links are closed again at once.
    pub fn probe_function_backends(
        &mut self,
        target: &FuncEntry,
    ) -> Result<Vec<(FuncBackend, Option<BackendRefusal>)>, KernelError> {
        self.func_object()?;
        let one = std::slice::from_ref(target);
        let multi = self.probe_multi(one).err();
        let kprobe = match funclink::kprobe_pmu_type() {
            Ok(_) => self.probe_kprobe(one).err(),
            Err(_) => Some(KprobeRefusal::NotBuilt),
        };
        let fentry = self.probe_fentry(one).err();
        Ok(vec![
            (
                FuncBackend::KprobeMulti,
                multi.map(|reason| BackendRefusal::KprobeMulti { reason }),
            ),
            (
                FuncBackend::Kprobe,
                kprobe.map(|reason| BackendRefusal::Kprobe { reason }),
            ),
            (
                FuncBackend::Fentry,
                fentry.map(|reason| BackendRefusal::Fentry { reason }),
            ),
        ])
    }

    fn chose(&mut self, b: FuncBackend) -> Result<FuncBackend, KernelError> {
        self.funcs.backend = Some(b);
        Ok(b)
    }

    /// Whether kprobe.multi works here: load its program and link it to
    /// one function. The probe link is dropped again.
    fn probe_multi(&mut self, targets: &[FuncEntry]) -> Result<(), MultiRefusal> {
        let Some(t) = targets.first() else {
            return Err(MultiRefusal::NothingToAttach);
        };
        let prog = self
            .prog(t.position, true)
            .map_err(|e| MultiRefusal::Program {
                source: Box::new(e),
            })?;
        match funclink::attach_kprobe_multi(prog, &[t.name.as_str()], &[t.id as u64]) {
            Ok(_) => Ok(()),
            Err(e) if multi_unsupported(&e) => Err(MultiRefusal::Unsupported { source: e }),
            // The function itself may be the problem: the bisection in
            // attach_multi finds that out.
            Err(_) => Ok(()),
        }
    }

    /// Whether the single-kprobe program loads here (its helpers, such as
    /// the link's cookie, came in 5.15).
    fn probe_kprobe(&mut self, targets: &[FuncEntry]) -> Result<(), KprobeRefusal> {
        let position = targets.first().map_or(1, |t| t.position);
        self.prog(position, false)
            .map(drop)
            .map_err(|e| KprobeRefusal::Program {
                source: Box::new(e),
            })
    }

    /// Whether BPF trampolines work here: load and link the first target.
    fn probe_fentry(&mut self, targets: &[FuncEntry]) -> Result<(), FentryRefusal> {
        let Some(t) = targets.first() else {
            return Err(FentryRefusal::NothingToAttach);
        };
        let found = self
            .fentry_targets(std::slice::from_ref(t))
            .map_err(|source| FentryRefusal::Btf { source })?;
        let (id, module_btf) = found.of(t).map_err(|_| FentryRefusal::NotInBtf {
            function: t.display_name(),
        })?;
        let object = self.funcs.object.as_ref().expect("prepared before");
        let prog = object
            .load_fentry(&format!("ferret_fentry_arg{}", t.position), id, module_btf)
            .map_err(|e| match e {
                // Root and still EPERM: the kernel (lockdown, a sandbox)
                // refuses trampolines; "run as root" would mislead.
                KernelError::NotPermitted { source, .. } => FentryRefusal::LoadRefused { source },
                other => FentryRefusal::Load {
                    source: Box::new(other),
                },
            })?;
        funclink::attach_fentry(prog.as_fd(), t.id as u64)
            .map(drop)
            .map_err(|source| FentryRefusal::LinkRefused { source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
