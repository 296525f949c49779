//! The kernel stage: the only part of ferret that makes BPF syscalls.
//!
//! One eBPF object (ebpf/ferret.bpf.c, built by this crate's build.rs and embedded
//! here) holds generic programs that interpret rules from maps, so changing
//! rules never reloads code. [`Kernel`] owns the loaded object:
//!
//! ```text
//! Kernel::load(&LoadOptions)            object + maps + BTF relocations; no probe attached
//! Kernel::load_with_btf(&opts, btf)    the same, with the session's KernelBtf (read once)
//!   .set_rule(slot, &abi::Rule)         write a rule slot (0..abi::MAX_RULES)
//!   .clear_rule(slot)                   empty it, zero its counters, limit and track bits
//!   .set_config(&abi::Config)           nrules / needs / hooks / wakeup_bytes
//!   .attach(hook) -> AttachKind         tp_btf first, raw_tp fallback; idempotent
//!   .detach(hook)                       idempotent
//!   .attach_tp(slot, "cat:name", arg)   a `tp` trigger in slot 0..abi::TP_SLOTS, hook TP0+slot
//!   .counters() -> Vec<abi::Counters>   per rule slot, summed over CPUs
//!   .counts() -> Vec<(AggKey, u64)>     `count by` entries of all slots, summed over CPUs
//!   .hist(slot) -> abi::Hist            a slot's `hist` buckets, summed over CPUs
//!   .dense(slot) -> abi::Dense          a slot's dense `count` counters (already in counts())
//!   .compact_counts()                   the compact `count by` map's raw keys (already in counts())
//!   .stack(stack_id) -> Vec<u64>        kernel instruction pointers, innermost first
//!   .take_events() -> EventStream       the ring buffer reader (once per Kernel)
//!   .test_filter(&rule, &meta) -> bool  the kernel interpreter via BPF_PROG_TEST_RUN
//!   .set_pcap_prog(slot, &abi::CbpfProg) a classic BPF program slot (0..abi::CBPF_PROGS)
//!   .test_cbpf(slot, frame, caplen, wirelen) -> u32  run it via BPF_PROG_TEST_RUN
//! ```
//!
//! [`EventStream::wait`] sleeps until the kernel wakes the reader or the
//! timeout passes (the kernel batches wakeups, so callers poll on a short
//! timer too); [`EventStream::drain`] hands out records straight from the
//! memory-mapped ring, without a syscall per record.
//!
//! Everything needs root (or CAP_BPF + CAP_PERFMON) and kernel BTF; both
//! are reported as [`KernelError`]s that say so.

mod agg;
mod attach;
mod attach_kind;
pub mod bpf_progs;
mod btf_objects;
pub mod btf_scan;
mod btf_types;
mod btf_walk;
mod cbpf;
mod compact;
pub mod drop_reasons;
mod error;
mod events;
pub mod features;
pub mod func_catalog;
mod func_probes;
mod funclink;
mod funcload;
mod guard_skips;
pub mod kernel_btf;
mod kfunc;
mod maps;
pub mod module_btf;
mod percpu;
mod probe_list;
mod prog_probes;
mod sys;
mod tables;
mod testrun;
mod track;
mod wire;

pub use agg::COUNT_CAPACITY;
pub use attach_kind::AttachKind;
pub use error::ProgTraceError;
pub use error::{FuncObjectError, KernelError, StackMiss, TracepointSlotProblem};
pub use events::EventStream;
pub use func_probes::{
    function_backend_status, BackendChoice, BackendRefusal, EmptyFuncProbes, FentryRefusal, Floor,
    FloorError, FuncAttachReport, FuncBackend, FuncRefusal, KprobeRefusal, MultiRefusal, Progress,
};
pub use prog_probes::{ProgTraceReport, TracedProg};

use aya::programs::RawTracePoint;
use aya::{Btf, Ebpf, EbpfLoader, VerifierLogLevel};
use ferret_core::abi;
use kernel_btf::KernelBtf;
use std::collections::HashMap as StdHashMap;
use std::sync::Arc;

/// The compiled eBPF object (8-aligned, as the ELF parser wants).
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/ferret.bpf.o"));
/// The same object for kernels without bpf_loop (ebpf/compat.bpf.h).
static OBJECT_COMPAT: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/ferret_compat.bpf.o"));

/// Which build of the eBPF objects to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectBuild {
    /// The interpreters hand long programs to bpf_loop (Linux 5.17+).
    BpfLoop,
    /// No bpf_loop (5.10 to 5.16): a bounded filter loop, no pcap-filter
    /// interpreter, static subprograms, no fetching atomics.
    Bounded,
}

impl ObjectBuild {
    /// The build this kernel can run: [`ObjectBuild::BpfLoop`] when it has
    /// the helper, or when that cannot be told (kallsyms unreadable: the
    /// verifier then says what is missing).
    pub fn probe() -> ObjectBuild {
        match features::has_bpf_loop() {
            Ok(false) => ObjectBuild::Bounded,
            Ok(true) | Err(_) => ObjectBuild::BpfLoop,
        }
    }

    fn main_object(self) -> &'static [u8] {
        match self {
            ObjectBuild::BpfLoop => OBJECT,
            ObjectBuild::Bounded => OBJECT_COMPAT,
        }
    }
}

/// The ring must be a power-of-two number of pages; requests are rounded up.
const MIN_RING: u32 = 4096;
const MAX_RING: u32 = 1 << 30;

#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Ring buffer size in bytes; rounded up to a power of two, >= 4096.
    pub ring_bytes: u32,
    /// Ask the verifier for its verbose log (shown when a program is rejected).
    pub verbose_verifier: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            ring_bytes: 8 << 20,
            verbose_verifier: false,
        }
    }
}

/// The loaded ferret object; see the module docs for the API at a glance.
#[derive(Debug)]
pub struct Kernel {
    ebpf: Ebpf,
    /// The kernel's BTF, shared with whoever loaded it first (the session).
    btf: Arc<KernelBtf>,
    /// Its aya parse, for tp_btf programs and the function object.
    aya_btf: Btf,
    attached: StdHashMap<u32, attach::Attachment>,
    /// The object's maps, typed, taken out of `ebpf` at load.
    maps: maps::Maps,
    /// Function probes (`func`/`any`), in their own object.
    funcs: func_probes::FuncProbes,
    /// fentry/fexit on tc and XDP programs (`on tc`, `on xdp`).
    progs: prog_probes::ProgProbes,
    /// Every map's descriptor, for the function object (funcload.rs).
    map_fds: StdHashMap<String, std::os::fd::OwnedFd>,
    /// Pre-check skips credited to rule slots (guard_skips.rs).
    skips: guard_skips::SkipLedger,
    /// The build of the objects loaded (the function object follows it).
    build: ObjectBuild,
}

impl Kernel {
    /// Loads the object: maps and BTF relocations. Programs are verified
    /// when first attached (each costs the verifier ~10k instructions, and
    /// a session needs one or two of the 19), so startup stays short;
    /// [`Kernel::verify_all`] verifies every one up front.
    pub fn load(opts: &LoadOptions) -> Result<Kernel, KernelError> {
        Kernel::load_with_btf(opts, Arc::new(KernelBtf::running()))
    }

    /// [`Kernel::load`] with the kernel's BTF as already read (once per
    /// session, see [`KernelBtf`]).
    pub fn load_with_btf(opts: &LoadOptions, btf: Arc<KernelBtf>) -> Result<Kernel, KernelError> {
        Kernel::load_build(opts, btf, ObjectBuild::probe())
    }

    /// [`Kernel::load_with_btf`] with the build chosen by the caller (tests
    /// run the bounded build on kernels that have bpf_loop too).
    pub fn load_build(
        opts: &LoadOptions,
        btf: Arc<KernelBtf>,
        build: ObjectBuild,
    ) -> Result<Kernel, KernelError> {
        let aya_btf = btf.for_aya().map_err(|e| KernelError::NoBtf {
            path: btf.path().display().to_string(),
            source: Box::new(e),
        })?;
        let level = if opts.verbose_verifier {
            VerifierLogLevel::VERBOSE | VerifierLogLevel::STATS
        } else {
            VerifierLogLevel::DEBUG | VerifierLogLevel::STATS
        };
        let ring = ring_size(opts.ring_bytes);
        let base = build.main_object();
        let patched = btf.kfunc_id(kfunc::NAME).map(|id| kfunc::patch(base, id));
        let object = patched.as_ref().map_or(base, |p| p.bytes());
        let have_cast = u32::from(patched.is_some());
        let mut ebpf = EbpfLoader::new()
            .btf(Some(&aya_btf))
            .override_global(kfunc::FLAG, &have_cast, true)
            .map_max_entries(maps::RING, ring)
            .verifier_log_level(level)
            .load(object)
            .map_err(error::classify_load)?;
        // Before the maps leave `ebpf`: the function object needs them all.
        let map_fds = funcload::map_fds(&ebpf)?;
        let maps = maps::Maps::take(&mut ebpf)?;
        Ok(Kernel {
            map_fds,
            maps,
            skips: Default::default(),
            ebpf,
            btf,
            aya_btf,
            attached: StdHashMap::new(),
            funcs: func_probes::FuncProbes::default(),
            progs: prog_probes::ProgProbes::default(),
            build,
        })
    }

    /// The build of the objects this kernel session loaded.
    pub fn build(&self) -> ObjectBuild {
        self.build
    }

    /// Verifies every raw_tp program now (tests: a verifier problem in any
    /// program shows before a session meets it).
    pub fn verify_all(&mut self) -> Result<(), KernelError> {
        for name in attach::eager_programs() {
            self.load_raw(&name)?;
        }
        Ok(())
    }

    /// The kernel's BTF this object was loaded with.
    pub fn btf(&self) -> &Arc<KernelBtf> {
        &self.btf
    }

    /// How function triggers attach (`--backend`), and who hears about
    /// progress while many probes attach.
    pub fn set_function_options(&mut self, choice: BackendChoice, progress: Option<Progress>) {
        self.funcs.choice = choice;
        self.funcs.progress = progress;
    }

    /// Instructions the verifier processed per loaded program (`bpftool`'s
    /// verified_insns): how close each is to the 1M limit.
    pub fn verified_insns(&self) -> Vec<(String, u32)> {
        let mut out: Vec<(String, u32)> = self
            .ebpf
            .programs()
            .filter_map(|(name, p)| {
                let n = p.info().ok()?.verified_instruction_count()?;
                Some((name.to_owned(), n))
            })
            .collect();
        out.sort();
        out
    }

    /// Verifies a raw_tp program unless it already is.
    fn load_raw(&mut self, name: &str) -> Result<(), KernelError> {
        let prog: &mut RawTracePoint = program(&mut self.ebpf, name)?;
        if prog.fd().is_ok() {
            return Ok(());
        }
        prog.load()
            .map_err(|e| error::classify_program(name.to_owned(), e))
    }
}

/// A program of the object, as its concrete aya type.
fn program<'a, T>(ebpf: &'a mut Ebpf, name: &str) -> Result<&'a mut T, KernelError>
where
    &'a mut T: TryFrom<&'a mut aya::programs::Program>,
{
    let missing = || KernelError::MissingObject {
        kind: "program",
        name: name.into(),
    };
    let prog = ebpf.program_mut(name).ok_or_else(missing)?;
    prog.try_into().map_err(|_| missing())
}

/// The kernel wants a power-of-two number of pages.
fn ring_size(bytes: u32) -> u32 {
    bytes.clamp(MIN_RING, MAX_RING).next_power_of_two()
}

fn check_slot(slot: usize) -> Result<(), KernelError> {
    if slot < abi::MAX_RULES {
        Ok(())
    } else {
        Err(KernelError::BadSlot {
            slot,
            max: abi::MAX_RULES,
        })
    }
}

impl Kernel {
    /// Points `tp` slot `slot` at `category:name`, finding where the skb is
    /// among the tracepoint's arguments in the running kernel's BTF (it
    /// differs per tracepoint and kernel).
    pub fn attach_tp_named(
        &mut self,
        slot: u32,
        tracepoint: &str,
    ) -> Result<AttachKind, KernelError> {
        let name = tracepoint.rsplit_once(':').map_or(tracepoint, |(_, n)| n);
        let skb_arg = self
            .btf
            .tracepoint_skb_arg(name)
            .map_err(|source| KernelError::TracepointArgs { source })?;
        self.attach_tp(slot, tracepoint, skb_arg)?;
        Ok(AttachKind::RawTp)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ring_sizes_round_up_to_powers_of_two_within_bounds() {
        assert_eq!(super::ring_size(0), 4096);
        assert_eq!(super::ring_size(5000), 8192);
        assert_eq!(super::ring_size(8 << 20), 8 << 20);
        assert_eq!(super::ring_size(u32::MAX), 1 << 30);
    }
}
