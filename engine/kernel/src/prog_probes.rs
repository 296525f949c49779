//! `on tc` and `on xdp`: fentry and fexit on the tc and XDP programs loaded
//! on the machine, as pwru does. A trampoline program is verified for one
//! target, so each traced program gets its own pair, loaded with
//! attach_prog_fd = the target and attach_btf_id = its main function in
//! its own BTF (bpf_progs.rs), and linked with the id ferret gave it as the
//! cookie (`PROG_ID0 + i`, the event's `func_id`). The `func_rules` map
//! says which rule slots each program serves, as it does for functions.
//!
//! Programs are found when a rule is added: one loaded later is traced
//! from the next rule change on. A traced program's links hold it, so it
//! stays known until the session ends; the links stay too (a program no
//! rule selects any more returns at once, its mask being 0).

use crate::bpf_progs::{self, LoadedProg};
use crate::error::{KernelError, ProgTraceError};
use crate::{funclink, Kernel};
use aya_obj::generated::bpf_attach_type;
use ferret_core::abi;
use ferret_core::bpf_prog::ProgKind;
use ferret_core::hooks::glob_match;
use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsFd, OwnedFd};

/// A tc or XDP program ferret traces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracedProg {
    /// Ferret's id of it: the events' `func_id`, the `func_rules` index.
    pub id: u32,
    pub kind: ProgKind,
    pub name: String,
    /// The kernel's id of the program.
    pub prog_id: u32,
}

/// What one `trace_programs` call found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProgTraceReport {
    /// Every matching program now traced (newly or before).
    pub traced: Vec<TracedProg>,
    /// (program, why it cannot be traced).
    pub skipped: Vec<(String, String)>,
}

/// The tracers of one Kernel, by the kernel's program id.
#[derive(Debug, Default)]
pub(crate) struct ProgProbes {
    traced: BTreeMap<u32, (TracedProg, [OwnedFd; 2])>,
    /// Ids handed out so far (never reused in a session).
    issued: u32,
}

/// Errors that mean "this kernel does not let trampolines attach to BPF
/// programs", not "this program": the lockdown or a sandbox (EPERM, also
/// as root), no trampolines at all (ENOTSUPP, EOPNOTSUPP).
fn refusal(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EPERM) | Some(libc::EACCES) | Some(libc::EOPNOTSUPP) | Some(524)
    )
}

/// A load error as a refusal, when the kernel said no rather than the
/// verifier.
fn load_refusal(e: KernelError) -> Result<ProgTraceError, KernelError> {
    match e {
        KernelError::NotPermitted { source, .. } => Ok(ProgTraceError::Refused { source }),
        other => Err(other),
    }
}

impl Kernel {
    /// Traces every loaded program of `kind` whose name matches one of
    /// `globs` (fentry and fexit each), keeping those already traced.
    pub fn trace_programs(
        &mut self,
        kind: ProgKind,
        globs: &[String],
    ) -> Result<ProgTraceReport, KernelError> {
        let loaded = bpf_progs::loaded(kind).map_err(|source| ProgTraceError::List { source })?;
        let mut report = ProgTraceReport::default();
        for p in loaded {
            if !globs.iter().any(|g| glob_match(g, &p.name)) {
                continue;
            }
            if let Some((t, _)) = self.progs.traced.get(&p.prog_id) {
                report.traced.push(t.clone());
                continue;
            }
            let Some(main) = p.main_func else {
                report.skipped.push((
                    p.name.clone(),
                    "loaded without BTF: fentry/fexit attach to a program's main function \
                     as its BTF names it"
                        .into(),
                ));
                continue;
            };
            if self.progs.issued >= abi::MAX_PROGS {
                return Err(ProgTraceError::TooMany {
                    max: abi::MAX_PROGS,
                }
                .into());
            }
            let id = abi::PROG_ID0 + self.progs.issued;
            let links = self.trace_one(&p, main, id)?;
            self.progs.issued += 1;
            let traced = TracedProg {
                id,
                kind,
                name: p.name.clone(),
                prog_id: p.prog_id,
            };
            report.traced.push(traced.clone());
            self.progs.traced.insert(p.prog_id, (traced, links));
        }
        Ok(report)
    }

    /// fentry and fexit on one program, linked with `id` as the cookie.
    fn trace_one(
        &mut self,
        p: &LoadedProg,
        main: u32,
        id: u32,
    ) -> Result<[OwnedFd; 2], KernelError> {
        let (enter, leave) = match p.kind {
            ProgKind::Tc => ("ferret_tc_enter", "ferret_tc_leave"),
            ProgKind::Xdp => ("ferret_xdp_enter", "ferret_xdp_leave"),
        };
        let enter = self.tracer(p, enter, bpf_attach_type::BPF_TRACE_FENTRY, main, id)?;
        let leave = self.tracer(p, leave, bpf_attach_type::BPF_TRACE_FEXIT, main, id)?;
        Ok([enter, leave])
    }

    fn tracer(
        &mut self,
        p: &LoadedProg,
        name: &str,
        attach: bpf_attach_type,
        main: u32,
        id: u32,
    ) -> Result<OwnedFd, KernelError> {
        let failed = |source: KernelError| ProgTraceError::Load {
            kind: p.kind.name(),
            program: p.name.clone(),
            prog_id: p.prog_id,
            source: Box::new(source),
        };
        let object = self.func_object()?;
        let prog = match object.load_prog_tracer(name, attach, main, p.fd.as_fd()) {
            Ok(prog) => prog,
            Err(e) => return Err(load_refusal(e).unwrap_or_else(failed).into()),
        };
        funclink::attach_tracing(prog.as_fd(), attach, u64::from(id)).map_err(|source| {
            if refusal(&source) {
                ProgTraceError::Refused { source }.into()
            } else {
                KernelError::from(failed(KernelError::ProgLink { source }))
            }
        })
    }

    /// Whether fentry on a BPF program works here (`ferret features`): the
    /// object's own tc program is the target, and everything is closed
    /// again at once.
    pub fn probe_prog_tracing(&mut self) -> Result<(), KernelError> {
        let object = self.func_object()?;
        let target = object.load_tc_target()?;
        let info =
            bpf_progs::info_of(target.as_fd()).map_err(|source| ProgTraceError::List { source })?;
        let main = info.main_func.ok_or_else(|| ProgTraceError::Refused {
            source: io::Error::new(
                io::ErrorKind::Unsupported,
                "the kernel keeps no BTF for BPF programs",
            ),
        })?;
        let prog = match object.load_prog_tracer(
            "ferret_tc_enter",
            bpf_attach_type::BPF_TRACE_FENTRY,
            main,
            target.as_fd(),
        ) {
            Ok(prog) => prog,
            Err(e) => return Err(load_refusal(e).map_or_else(|e| e, KernelError::from)),
        };
        match funclink::attach_tracing(prog.as_fd(), bpf_attach_type::BPF_TRACE_FENTRY, 0) {
            Ok(_) => Ok(()),
            Err(source) if refusal(&source) => Err(ProgTraceError::Refused { source }.into()),
            Err(source) => Err(KernelError::ProgLink { source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_kernel_saying_no_is_a_refusal() {
        for errno in [libc::EPERM, libc::EACCES, libc::EOPNOTSUPP, 524] {
            assert!(refusal(&io::Error::from_raw_os_error(errno)), "{errno}");
        }
        for errno in [libc::EINVAL, libc::ENOENT, libc::E2BIG] {
            assert!(!refusal(&io::Error::from_raw_os_error(errno)), "{errno}");
        }
    }

    #[test]
    fn the_refusal_says_what_works_instead() {
        let e = ProgTraceError::Refused {
            source: io::Error::from_raw_os_error(libc::EPERM),
        };
        let text = e.to_string();
        assert!(text.contains("refuses fentry/fexit"), "{text}");
        assert!(
            text.contains("on drop where reason == TC_INGRESS"),
            "{text}"
        );
    }
}
