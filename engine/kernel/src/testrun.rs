//! Running kernel code on synthetic input with BPF_PROG_TEST_RUN: the
//! filter interpreter, for differential tests against the Rust reference
//! evaluator (`ferret_core::plan::eval`), and the aggregation of a match.
//!
//! `ferret_test_filter` and `ferret_test_count` are raw_tp programs calling
//! the same BPF functions as the hook programs (`run_filter`, `aggregate`).
//! aya 0.14 wraps BPF_PROG_TEST_RUN for raw tracepoints (`TestRun` +
//! `RawTracePointRunOptions`): the context is the u64 argument array (the
//! rule slot), and the program's return value is the answer.

use super::{program, Kernel, KernelError};
use crate::wire::Wire;
use aya::programs::{RawTracePoint, RawTracePointRunOptions, TestRun};
use ferret_core::abi::{self, Meta, Rule};

pub(super) const PROGRAM: &str = "ferret_test_filter";
pub(super) const COUNT_PROGRAM: &str = "ferret_test_count";

impl Kernel {
    /// Evaluates `rule`'s branch program on `meta` in the kernel. Uses the
    /// reserved rule slot `abi::TEST_SLOT`, never one the rule loop visits.
    pub fn test_filter(&mut self, rule: &Rule, meta: &Meta) -> Result<bool, KernelError> {
        self.set_test_rule(rule)?;
        match self.test_run(PROGRAM, abi::TEST_SLOT, meta)? {
            0 => Ok(false),
            1 => Ok(true),
            value => Err(KernelError::TestVerdict {
                program: PROGRAM,
                value,
            }),
        }
    }

    /// Counts `meta` in the aggregation maps as a match of the rule in
    /// `slot` would be counted. `slot` may be `abi::TEST_SLOT` (written by
    /// [`Kernel::set_test_rule`]), which has no dense entry and so always
    /// takes the hash path. Returns false when the count map was full.
    pub fn test_count(&mut self, slot: usize, meta: &Meta) -> Result<bool, KernelError> {
        match self.test_run(COUNT_PROGRAM, slot, meta)? {
            0 => Ok(true),
            1 => Ok(false),
            value => Err(KernelError::TestVerdict {
                program: COUNT_PROGRAM,
                value,
            }),
        }
    }

    /// Writes the reserved rule slot `abi::TEST_SLOT`.
    pub fn set_test_rule(&mut self, rule: &Rule) -> Result<(), KernelError> {
        self.maps.rules.set(abi::TEST_SLOT as u32, Wire(*rule))
    }

    /// Runs test program `name` once on rule slot `slot` and `meta`.
    fn test_run(
        &mut self,
        name: &'static str,
        slot: usize,
        meta: &Meta,
    ) -> Result<u32, KernelError> {
        self.maps.test_meta.set(0, Wire(*meta))?;
        self.load_raw(name)?;
        let prog: &mut RawTracePoint = program(&mut self.ebpf, name)?;
        let mut opts = RawTracePointRunOptions::new();
        opts.args[0] = slot as u64;
        let result = prog.test_run(opts).map_err(|e| KernelError::TestRun {
            program: name,
            source: Box::new(e),
        })?;
        Ok(result.return_value)
    }
}
