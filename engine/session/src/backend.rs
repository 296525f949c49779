//! The port the rule table drives: the real [`Kernel`], or a fake in tests.
//! It lives with the rule table so that the kernel layer knows nothing of
//! rules and slots beyond the maps it writes.

use ferret_core::abi;
use ferret_core::bpf_prog::ProgKind;
use ferret_kernel::func_catalog::FuncEntry;
use ferret_kernel::{AttachKind, FuncAttachReport, Kernel, KernelError, ProgTraceReport};
use std::time::Duration;

/// What the rule table needs from the kernel side.
pub trait Backend {
    type Error: std::error::Error + Send + Sync + 'static;
    fn set_rule(&mut self, slot: usize, rule: &abi::Rule) -> Result<(), Self::Error>;
    fn clear_rule(&mut self, slot: usize) -> Result<(), Self::Error>;
    /// Writes `pcap_progs` entry `index` (`abi::pcap_prog_index`).
    fn set_pcap_prog(&mut self, index: usize, prog: &abi::CbpfProg) -> Result<(), Self::Error>;
    fn set_config(&mut self, cfg: &abi::Config) -> Result<(), Self::Error>;
    fn attach(&mut self, hook: u32) -> Result<AttachKind, Self::Error>;
    fn detach(&mut self, hook: u32) -> Result<(), Self::Error>;
    /// Points `tp` slot `slot` (hook `TP0 + slot`) at `category:name`.
    fn attach_tracepoint(&mut self, slot: u32, tracepoint: &str)
        -> Result<AttachKind, Self::Error>;
    /// Attaches function probes to functions not attached yet.
    fn attach_functions(&mut self, targets: &[FuncEntry]) -> Result<FuncAttachReport, Self::Error>;
    /// Detaches the probes of these functions; returns how long it took.
    fn detach_functions(&mut self, ids: &[u32]) -> Result<Duration, Self::Error>;
    /// Writes which rule slots each function serves.
    fn set_func_rules(&mut self, masks: &[(u32, u64)]) -> Result<(), Self::Error>;
    /// Clones and copies inherit `track`; `Some(why)` when they cannot.
    fn enable_clone_tracking(&mut self) -> Option<String>;
    /// Traces (fentry/fexit) the loaded tc or XDP programs whose name
    /// matches a glob, keeping those already traced (`on tc`, `on xdp`).
    fn trace_programs(
        &mut self,
        kind: ProgKind,
        globs: &[String],
    ) -> Result<ProgTraceReport, Self::Error>;
}

impl Backend for Kernel {
    type Error = KernelError;
    fn set_rule(&mut self, slot: usize, rule: &abi::Rule) -> Result<(), KernelError> {
        Kernel::set_rule(self, slot, rule)
    }
    fn clear_rule(&mut self, slot: usize) -> Result<(), KernelError> {
        Kernel::clear_rule(self, slot)
    }
    fn set_pcap_prog(&mut self, index: usize, prog: &abi::CbpfProg) -> Result<(), KernelError> {
        Kernel::set_pcap_prog(self, index, prog)
    }
    fn set_config(&mut self, cfg: &abi::Config) -> Result<(), KernelError> {
        Kernel::set_config(self, cfg)
    }
    fn attach(&mut self, hook: u32) -> Result<AttachKind, KernelError> {
        Kernel::attach(self, hook)
    }
    fn detach(&mut self, hook: u32) -> Result<(), KernelError> {
        Kernel::detach(self, hook)
    }
    fn attach_tracepoint(
        &mut self,
        slot: u32,
        tracepoint: &str,
    ) -> Result<AttachKind, KernelError> {
        Kernel::attach_tp_named(self, slot, tracepoint)
    }
    fn attach_functions(&mut self, targets: &[FuncEntry]) -> Result<FuncAttachReport, KernelError> {
        Kernel::attach_functions(self, targets)
    }
    fn detach_functions(&mut self, ids: &[u32]) -> Result<Duration, KernelError> {
        Ok(Kernel::detach_functions(self, ids))
    }
    fn set_func_rules(&mut self, masks: &[(u32, u64)]) -> Result<(), KernelError> {
        Kernel::set_func_rules(self, masks)
    }
    fn enable_clone_tracking(&mut self) -> Option<String> {
        Kernel::enable_clone_tracking(self)
    }
    fn trace_programs(
        &mut self,
        kind: ProgKind,
        globs: &[String],
    ) -> Result<ProgTraceReport, KernelError> {
        Kernel::trace_programs(self, kind, globs)
    }
}
