//! Differential test of the branch-program interpreter: the kernel's (run
//! through BPF_PROG_TEST_RUN on the same BPF function the hooks call) against
//! the Rust reference evaluator `plan::eval::eval_insns`, on generated rules
//! and packets (kernel_common/filter_gen.rs). Needs root; skips (and says
//! so) without.

mod kernel_common;

use ferret_core::abi::{self, field, op, Insn, Meta, Rule, MAX_INSNS};
use ferret_core::plan::eval::eval_insns;
use ferret_kernel::{Kernel, LoadOptions};
use kernel_common::filter_gen::{addr, meta, rule, words};
use kernel_common::have_root;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::cell::{Cell, RefCell};

const CASES: u32 = 20_000;
const SEED: [u8; 32] = *b"ferret-kernel-filter-difftest-01";

fn reference(rule: &Rule, meta: &Meta) -> bool {
    let n = (rule.ninsns as usize).min(MAX_INSNS);
    eval_insns(&rule.insns[..n], meta)
}

#[test]
fn kernel_interpreter_agrees_with_the_reference_evaluator() {
    if !have_root("kernel_interpreter_agrees_with_the_reference_evaluator") {
        return;
    }
    let kernel = RefCell::new(Kernel::load(&LoadOptions::default()).expect("load"));
    let (ran, matched) = (Cell::new(0u32), Cell::new(0u32));
    let config = Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &SEED));
    let result = runner.run(&(rule(), meta()), |(rule, meta)| {
        let got = kernel
            .borrow_mut()
            .test_filter(&rule, &meta)
            .expect("test run");
        let want = reference(&rule, &meta);
        ran.set(ran.get() + 1);
        matched.set(matched.get() + u32::from(want));
        prop_assert_eq!(got, want, "kernel and reference disagree");
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let (ran, matched) = (ran.get(), matched.get());
    eprintln!(
        "{ran} generated cases agree; {matched} match, {} do not",
        ran - matched
    );
    assert!(ran >= CASES);
    // Both verdicts must be well represented, or the test proves little.
    assert!(
        matched > ran / 10 && matched < ran * 9 / 10,
        "{matched} of {ran} matched"
    );
}

fn one(insn: Insn) -> Rule {
    let mut rule = Rule {
        state: abi::RULE_ACTIVE,
        ninsns: 1,
        ..Rule::default()
    };
    rule.insns[0] = insn;
    rule
}

fn cmp(f: u8, o: u8, value_lo: u64) -> Insn {
    Insn {
        field: f,
        op: o,
        jt: abi::TARGET_MATCH,
        jf: abi::TARGET_NOMATCH,
        value_lo,
        mask_hi: u64::MAX,
        mask_lo: u64::MAX,
        ..Insn::default()
    }
}

#[test]
fn hand_picked_edges_agree_and_mean_what_the_abi_says() {
    if !have_root("hand_picked_edges_agree_and_mean_what_the_abi_says") {
        return;
    }
    let mut k = Kernel::load(&LoadOptions::default()).expect("load");
    let v4 = Meta {
        dport: 443,
        saddr: addr("10.0.0.1"),
        present: 1 << field::DPORT | 1 << field::SADDR,
        ..Meta::default()
    };
    let (hi, lo) = words(addr("10.0.0.1"));
    let net8 = words((u128::MAX << 120).to_be_bytes());
    let in_10_8 = Insn {
        value_hi: hi & net8.0,
        value_lo: lo & net8.1,
        mask_hi: net8.0,
        mask_lo: net8.1,
        ..cmp(field::SADDR, op::EQ, 0)
    };
    let mut backward = one(cmp(field::DPORT, op::EQ, 443));
    backward.insns[0].jt = 1;
    backward.insns[1] = Insn {
        jt: 0,
        ..cmp(field::DPORT, op::EQ, 443)
    };
    backward.ninsns = 2;
    let mut off_the_end = one(cmp(field::DPORT, op::EQ, 443));
    off_the_end.insns[0].jt = 1;
    let cases: Vec<(&str, Rule, bool)> = vec![
        (
            "empty program",
            Rule {
                state: abi::RULE_ACTIVE,
                ..Rule::default()
            },
            true,
        ),
        ("dport == 443", one(cmp(field::DPORT, op::EQ, 443)), true),
        ("dport != 443", one(cmp(field::DPORT, op::NE, 443)), false),
        ("dport < 1024", one(cmp(field::DPORT, op::LT, 1024)), true),
        ("dport >= 444", one(cmp(field::DPORT, op::GE, 444)), false),
        (
            "absent sport != 1 is false",
            one(cmp(field::SPORT, op::NE, 1)),
            false,
        ),
        ("saddr in 10.0.0.0/8", one(in_10_8), true),
        ("backward jump", backward, false),
        ("running off the end", off_the_end, false),
    ];
    for (what, rule, expected) in cases {
        assert_eq!(reference(&rule, &v4), expected, "reference: {what}");
        assert_eq!(
            k.test_filter(&rule, &v4).unwrap(),
            expected,
            "kernel: {what}"
        );
    }
}
