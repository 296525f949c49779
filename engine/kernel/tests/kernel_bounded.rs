//! The build for kernels without bpf_loop (before 5.17), run on this
//! kernel: every program verifies, its bounded filter loop agrees with the
//! reference evaluator, pcap-filter programs are refused with the reason,
//! and a drop reaches the ring. Needs root; skips (and says so) without.

mod kernel_common;

use ferret_core::abi::{self, act, field, hook, CbpfProg, Config, Rule, MAX_INSNS};
use ferret_core::plan::eval::eval_insns;
use ferret_kernel::kernel_btf::KernelBtf;
use ferret_kernel::{Kernel, KernelError, LoadOptions, ObjectBuild};
use kernel_common::filter_gen::{meta, rule};
use kernel_common::{closed_port, dport_is, have_root, send_udp};
use proptest::test_runner::{Config as PtConfig, RngAlgorithm, TestRng, TestRunner};
use std::cell::RefCell;
use std::sync::Arc;
use std::time::{Duration, Instant};

const CASES: u32 = 5_000;
const SEED: [u8; 32] = *b"ferret-kernel-bounded-difftest-1";

fn load() -> Kernel {
    let btf = Arc::new(KernelBtf::running());
    match Kernel::load_build(&LoadOptions::default(), btf, ObjectBuild::Bounded) {
        Ok(k) => k,
        Err(e) => panic!("{e}\n{}", e.verifier_log().unwrap_or("")),
    }
}

#[test]
fn every_program_of_the_bounded_build_verifies() {
    if !have_root("every_program_of_the_bounded_build_verifies") {
        return;
    }
    let mut k = load();
    assert_eq!(k.build(), ObjectBuild::Bounded);
    if let Err(e) = k.verify_all() {
        panic!("{e}\n{}", e.verifier_log().unwrap_or(""));
    }
    for (name, insns) in k.verified_insns() {
        eprintln!("{name}: {insns} instructions verified");
        // Older verifiers prune less: leave them room below the 1M limit.
        assert!(insns < 400_000, "{name} is heavy for the verifier: {insns}");
    }
}

#[test]
fn the_bounded_interpreter_agrees_with_the_reference_evaluator() {
    if !have_root("the_bounded_interpreter_agrees_with_the_reference_evaluator") {
        return;
    }
    let kernel = RefCell::new(load());
    let config = PtConfig {
        cases: CASES,
        failure_persistence: None,
        ..PtConfig::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &SEED));
    let result = runner.run(&(rule(), meta()), |(rule, meta)| {
        let got = kernel
            .borrow_mut()
            .test_filter(&rule, &meta)
            .expect("test run");
        let n = (rule.ninsns as usize).min(MAX_INSNS);
        proptest::prop_assert_eq!(got, eval_insns(&rule.insns[..n], &meta));
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn pcap_programs_are_refused_naming_bpf_loop() {
    if !have_root("pcap_programs_are_refused_naming_bpf_loop") {
        return;
    }
    let mut k = load();
    let ret_all = CbpfProg {
        len: 1,
        ..CbpfProg::default()
    };
    let err = k.set_pcap_prog(0, &ret_all).unwrap_err();
    assert!(matches!(err, KernelError::PcapNeedsBpfLoop), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("bpf_loop") && text.contains("Linux 5.17"),
        "{text}"
    );
    // Emptying a slot stays possible.
    k.clear_pcap_prog(0).unwrap();
}

#[tokio::test]
async fn a_drop_reaches_the_ring_through_the_bounded_build() {
    if !have_root("a_drop_reaches_the_ring_through_the_bounded_build") {
        return;
    }
    let port = closed_port();
    let mut k = load();
    let mut ours = Rule {
        state: abi::RULE_ACTIVE,
        hooks: 1 << hook::DROP,
        actions: act::PRINT | act::TRACK,
        ninsns: 1,
        limit_per_sec: 1000,
        ..Rule::default()
    };
    ours.insns[0] = dport_is(port);
    k.set_rule(0, &ours).unwrap();
    k.set_config(&Config {
        nrules: 1,
        needs: 1 << field::DPORT,
        hooks: 1 << hook::DROP,
        ..Config::default()
    })
    .unwrap();
    k.attach(hook::DROP).unwrap();
    let mut events = k.take_events().unwrap();
    send_udp(port, 3, 6);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = 0;
    while seen < 3 && Instant::now() < deadline {
        events.wait(Duration::from_millis(50)).await;
        events.drain(|record| {
            let ev = ferret_core::event::decode(record).expect("well-formed record");
            if ev.dport() == Some(port) {
                seen += 1;
            }
        });
    }
    assert_eq!(seen, 3, "every drop of ours arrived under the limit");
    assert!(k.counters().unwrap()[0].rate_limited == 0);
}
