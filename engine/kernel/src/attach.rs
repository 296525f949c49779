//! Attaching the hook programs: tp_btf first (typed context), raw_tp when the
//! kernel refuses it; `tp CAT:NAME` triggers through the raw_tp slots.

use super::error::{classify_program, is_permission, KernelError, TracepointSlotProblem};
use super::{program, AttachKind, Kernel};
use aya::programs::raw_trace_point::RawTracePointLinkId;
use aya::programs::tp_btf::BtfTracePointLinkId;
use aya::programs::{BtfTracePoint, ProgramError, RawTracePoint};
use aya::Ebpf;
use ferret_core::abi::{self, hook};
use ferret_core::hooks::{self, TRIGGERS};

/// The `tp_slot_arg` entry must stay within what the C side accepts.
const MAX_SKB_ARG: u32 = abi::TP_SKB_ARG_MAX;

#[derive(Debug)]
pub(super) struct Attachment {
    kind: AttachKind,
    program: String,
    link: Link,
}

#[derive(Debug)]
enum Link {
    Btf(BtfTracePointLinkId),
    Raw(RawTracePointLinkId),
}

/// Every raw_tp program ([`Kernel::verify_all`]).
pub(super) fn eager_programs() -> Vec<String> {
    let triggers = TRIGGERS.iter().map(|t| t.raw_program.to_owned());
    let slots = (0..abi::TP_SLOTS).map(|k| format!("ferret_tp_slot{k}"));
    triggers
        .chain(slots)
        .chain([super::testrun::PROGRAM, super::testrun::COUNT_PROGRAM].map(str::to_owned))
        .collect()
}

impl Kernel {
    /// Attaches a built-in trigger's program, tp_btf first and raw_tp when
    /// that fails; attaching twice is a no-op that returns how the first
    /// attach went.
    pub fn attach(&mut self, hook: u32) -> Result<AttachKind, KernelError> {
        if let Some(a) = self.attached.get(&hook) {
            return Ok(a.kind);
        }
        let btf_err = match self.attach_as(hook, AttachKind::TpBtf) {
            Ok(()) => return Ok(AttachKind::TpBtf),
            Err(e) => e,
        };
        match self.attach_as(hook, AttachKind::RawTp) {
            Ok(()) => Ok(AttachKind::RawTp),
            Err(KernelError::Attach {
                trigger,
                tracepoint,
                source,
                ..
            }) => Err(KernelError::Attach {
                trigger,
                tracepoint,
                fallback: format!(" (tp_btf was not usable either: {btf_err})"),
                source,
            }),
            Err(e) => Err(e),
        }
    }

    /// Attaches a built-in trigger with exactly `kind`, no fallback (tests,
    /// and diagnosing a kernel); replaces an attachment of the other kind.
    pub fn attach_as(&mut self, hook: u32, kind: AttachKind) -> Result<(), KernelError> {
        match self.attached.get(&hook) {
            Some(a) if a.kind == kind => return Ok(()),
            Some(_) => self.detach(hook)?,
            None => {}
        }
        let t = hooks::trigger(hook).ok_or(KernelError::BadHook { hook })?;
        let (name, link) = match kind {
            AttachKind::TpBtf => {
                let name = t.btf_program.to_owned();
                let id = attach_btf(&mut self.ebpf, &self.aya_btf, &name, t.event())?;
                (name, Link::Btf(id))
            }
            AttachKind::RawTp => {
                let name = t.raw_program.to_owned();
                self.load_raw(&name)?;
                let prog: &mut RawTracePoint = program(&mut self.ebpf, &name)?;
                let id = prog
                    .attach(t.event())
                    .map_err(|e| attach_error(t.name, t.event(), e))?;
                (name, Link::Raw(id))
            }
        };
        self.record(hook, name, link, kind);
        Ok(())
    }

    /// Detaches a hook (built-in or `tp` slot); detaching twice is a no-op.
    pub fn detach(&mut self, hook: u32) -> Result<(), KernelError> {
        let Some(a) = self.attached.remove(&hook) else {
            return Ok(());
        };
        let result = match a.link {
            Link::Btf(id) => program::<BtfTracePoint>(&mut self.ebpf, &a.program)?.detach(id),
            Link::Raw(id) => program::<RawTracePoint>(&mut self.ebpf, &a.program)?.detach(id),
        };
        result.map_err(|e| KernelError::Detach {
            trigger: a.program,
            source: Box::new(e),
        })
    }

    /// Points `tp` slot `slot` (hook `TP0 + slot`) at tracepoint
    /// `category:name`, whose argument `skb_arg` (0..=4) is the skb. A slot
    /// already in use is moved.
    pub fn attach_tp(
        &mut self,
        slot: u32,
        tracepoint: &str,
        skb_arg: u32,
    ) -> Result<(), KernelError> {
        let bad = |problem| KernelError::BadTracepointSlot { slot, problem };
        if slot >= abi::TP_SLOTS {
            return Err(bad(TracepointSlotProblem::NoSuchSlot {
                slots: abi::TP_SLOTS,
            }));
        }
        if skb_arg > MAX_SKB_ARG {
            return Err(bad(TracepointSlotProblem::SkbArgument {
                skb_arg,
                args: MAX_SKB_ARG + 1,
            }));
        }
        // Raw tracepoints are named without their category.
        let name = tracepoint.rsplit_once(':').map_or(tracepoint, |(_, n)| n);
        let hook = hook::TP0 + slot;
        self.detach(hook)?;
        self.maps.tp_slot_arg.set(slot, skb_arg)?;
        let prog_name = format!("ferret_tp_slot{slot}");
        self.load_raw(&prog_name)?;
        let prog: &mut RawTracePoint = program(&mut self.ebpf, &prog_name)?;
        let id = prog
            .attach(name)
            .map_err(|e| attach_error(tracepoint, tracepoint, e))?;
        self.record(hook, prog_name, Link::Raw(id), AttachKind::RawTp);
        Ok(())
    }

    /// Hooks attached now, with how.
    pub fn attached(&self) -> Vec<(u32, AttachKind)> {
        let mut v: Vec<_> = self.attached.iter().map(|(h, a)| (*h, a.kind)).collect();
        v.sort_by_key(|(h, _)| *h);
        v
    }

    fn record(&mut self, hook: u32, program: String, link: Link, kind: AttachKind) -> AttachKind {
        self.attached.insert(
            hook,
            Attachment {
                kind,
                program,
                link,
            },
        );
        kind
    }
}

fn attach_btf(
    ebpf: &mut Ebpf,
    btf: &aya::Btf,
    name: &str,
    tracepoint: &str,
) -> Result<BtfTracePointLinkId, KernelError> {
    let prog: &mut BtfTracePoint = program(ebpf, name)?;
    // Loaded on first use only: a kernel that rejects tp_btf still gets
    // the raw_tp twin, and the reason is kept for the error message.
    if prog.fd().is_err() {
        prog.load(tracepoint, btf)
            .map_err(|e| classify_program(name.to_owned(), e))?;
    }
    prog.attach().map_err(|e| attach_error(name, tracepoint, e))
}

/// The raw_tp fallback fills in `fallback` of the Attach variant.
fn attach_error(trigger: &str, tracepoint: &str, e: ProgramError) -> KernelError {
    match e {
        ProgramError::SyscallError(s) if s.io_error.raw_os_error() == Some(libc::ENOENT) => {
            KernelError::NoTracepoint {
                tracepoint: tracepoint.to_owned(),
            }
        }
        ProgramError::SyscallError(s) if is_permission(&s.io_error) => KernelError::NotPermitted {
            action: format!("attach to tracepoint {tracepoint}"),
            source: s.io_error,
        },
        other => KernelError::Attach {
            trigger: trigger.to_owned(),
            tracepoint: tracepoint.to_owned(),
            fallback: String::new(),
            source: Box::new(other),
        },
    }
}
