//! Running the kernel's filter interpreter on synthetic input with
//! BPF_PROG_TEST_RUN, for differential tests against the Rust reference
//! evaluator (`crate::plan::eval`).
//!
//! `ferret_test_filter` is a raw_tp program calling the same `run_filter`
//! BPF function as the hook programs. aya 0.14 wraps BPF_PROG_TEST_RUN for
//! raw tracepoints (`TestRun` + `RawTracePointRunOptions`): the context is
//! the u64 argument array, and the program's return value is the verdict.

use super::{program, Kernel, KernelError};
use crate::abi::{self, Meta, Rule};
use aya::maps::{Array, MapData};
use aya::programs::{RawTracePoint, RawTracePointRunOptions, TestRun};

pub(super) const PROGRAM: &str = "ferret_test_filter";

impl Kernel {
    /// Evaluates `rule`'s branch program on `meta` in the kernel. Uses the
    /// reserved rule slot `abi::TEST_SLOT`, never one the rule loop visits.
    pub fn test_filter(&mut self, rule: &Rule, meta: &Meta) -> Result<bool, KernelError> {
        let map = self.map_mut("rules")?;
        let mut rules: Array<&mut MapData, Rule> =
            Array::try_from(map).map_err(|e| KernelError::map("rules", e))?;
        rules
            .set(abi::TEST_SLOT as u32, rule, 0)
            .map_err(|e| KernelError::map("rules", e))?;
        let map = self.map_mut("test_meta")?;
        let mut metas: Array<&mut MapData, Meta> =
            Array::try_from(map).map_err(|e| KernelError::map("test_meta", e))?;
        metas
            .set(0, meta, 0)
            .map_err(|e| KernelError::map("test_meta", e))?;

        self.load_raw(PROGRAM)?;
        let prog: &mut RawTracePoint = program(&mut self.ebpf, PROGRAM)?;
        let mut opts = RawTracePointRunOptions::new();
        opts.args[0] = abi::TEST_SLOT as u64;
        let result = prog.test_run(opts).map_err(|e| KernelError::TestRun {
            source: Box::new(e),
        })?;
        match result.return_value {
            0 => Ok(false),
            1 => Ok(true),
            value => Err(KernelError::TestVerdict { value }),
        }
    }
}
