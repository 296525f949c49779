//! `on tc` / `on xdp` on this kernel: the tc/XDP tracers load (the
//! verifier accepts them against a real tc program) or the kernel refuses
//! trampolines on BPF programs, which must come out as the one clear
//! refusal, never as a verifier or permission error. The packet-level
//! checks run in tests/vm, where kernels allow fentry. Needs root.

mod kernel_common;

use ferret_core::bpf_prog::ProgKind;
use ferret_kernel::{Kernel, KernelError, ProgTraceError};
use kernel_common::have_root;

#[test]
fn tracing_a_tc_program_works_or_is_refused_in_words() {
    if !have_root("tracing_a_tc_program_works_or_is_refused_in_words") {
        return;
    }
    let mut k = Kernel::load(&Default::default()).expect("loads");
    match k.probe_prog_tracing() {
        Ok(()) => eprintln!("fentry on BPF programs works here"),
        Err(KernelError::ProgTrace(ProgTraceError::Refused { source })) => {
            eprintln!("refused here: {source}");
        }
        Err(e) => panic!("neither traced nor refused: {e}"),
    }
}

#[test]
fn a_glob_that_matches_no_program_traces_nothing() {
    if !have_root("a_glob_that_matches_no_program_traces_nothing") {
        return;
    }
    let mut k = Kernel::load(&Default::default()).expect("loads");
    for kind in ProgKind::ALL {
        let report = k
            .trace_programs(kind, &["no_such_program_*".into()])
            .expect("listing programs works as root");
        assert!(report.traced.is_empty() && report.skipped.is_empty());
    }
}
