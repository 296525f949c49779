//! Classic BPF programs (pcap filters) in the `pcap_progs` map, and their
//! test runs: `ferret_test_cbpf` runs slot K's program over a frame with
//! the interpreter of `ebpf/cbpf.bpf.h`, for the differential test against
//! `ferret_core::pcap::run`. Writing a slot is a map write; nothing is
//! reloaded.

use super::{program, Kernel, KernelError, ObjectBuild};
use crate::wire::Wire;
use aya::programs::{RawTracePoint, RawTracePointRunOptions, TestRun};
use ferret_core::abi::{CbpfFrame, CbpfProg, CBPF_PROGS, CBPF_TEST_BYTES};

pub(super) const PROGRAM: &str = "ferret_test_cbpf";

impl Kernel {
    /// Writes program slot `slot` (0..`abi::CBPF_PROGS`).
    /// Refused with [`KernelError::PcapNeedsBpfLoop`] on kernels without
    /// bpf_loop, whose object has no classic BPF interpreter (an empty
    /// program, which rejects everything, is still written).
    pub fn set_pcap_prog(&mut self, slot: usize, prog: &CbpfProg) -> Result<(), KernelError> {
        check_prog_slot(slot)?;
        if self.build == ObjectBuild::Bounded && prog.len != 0 {
            return Err(KernelError::PcapNeedsBpfLoop);
        }
        self.maps.pcap_progs.set(slot as u32, Wire(*prog))
    }

    /// Empties program slot `slot`: its program rejects every packet.
    pub fn clear_pcap_prog(&mut self, slot: usize) -> Result<(), KernelError> {
        self.set_pcap_prog(slot, &CbpfProg::default())
    }

    /// Runs program slot `slot` in the kernel over `frame`'s first `caplen`
    /// bytes (at most `abi::CBPF_TEST_BYTES`, and at most `frame.len()`),
    /// a packet `wirelen` bytes long on the wire; returns the program's
    /// `ret` value (0 rejects).
    pub fn test_cbpf(
        &mut self,
        slot: usize,
        frame: &[u8],
        caplen: u32,
        wirelen: u32,
    ) -> Result<u32, KernelError> {
        check_prog_slot(slot)?;
        let caplen = (caplen as usize).min(frame.len()).min(CBPF_TEST_BYTES);
        let mut input = CbpfFrame {
            caplen: caplen as u32,
            wirelen,
            ..CbpfFrame::default()
        };
        input.data[..caplen].copy_from_slice(&frame[..caplen]);
        self.maps.cbpf_test_frame.set(0, Wire(input))?;
        self.test_cbpf_again(slot)
    }

    /// Runs program slot `slot` over the frame the last
    /// [`Kernel::test_cbpf`] wrote, without writing it again (for timing:
    /// raw_tp test runs take no repeat count).
    pub fn test_cbpf_again(&mut self, slot: usize) -> Result<u32, KernelError> {
        check_prog_slot(slot)?;
        self.load_raw(PROGRAM)?;
        let prog: &mut RawTracePoint = program(&mut self.ebpf, PROGRAM)?;
        let mut opts = RawTracePointRunOptions::new();
        opts.args[0] = slot as u64;
        let result = prog.test_run(opts).map_err(|e| KernelError::TestRun {
            program: PROGRAM,
            source: Box::new(e),
        })?;
        Ok(result.return_value)
    }

    /// The test program's bpf_stats so far (runs, time in the kernel);
    /// zero unless statistics are on (`BPF_ENABLE_STATS`).
    pub fn test_cbpf_stats(&mut self) -> Result<(u64, std::time::Duration), KernelError> {
        self.load_raw(PROGRAM)?;
        let prog: &mut RawTracePoint = program(&mut self.ebpf, PROGRAM)?;
        let info = prog.info().map_err(|e| KernelError::TestRun {
            program: PROGRAM,
            source: Box::new(e),
        })?;
        Ok((info.run_count(), info.run_time()))
    }
}

fn check_prog_slot(slot: usize) -> Result<(), KernelError> {
    if slot < CBPF_PROGS {
        Ok(())
    } else {
        Err(KernelError::BadSlot {
            slot,
            max: CBPF_PROGS,
        })
    }
}
