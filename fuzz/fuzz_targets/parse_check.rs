//! Arbitrary UTF-8 through the whole front end: parse, check, plan, and
//! render the diagnostics. None of it may panic; a plan exists exactly when
//! there is no error, and its branch programs agree with their filters.

#![no_main]

use ferret_core::abi::{Meta, MAX_INSNS};
use ferret_core::check::{CheckEnv, NoNetnsNames};
use ferret_core::hooks::HookNames;
use ferret_core::reasons::DropReasons;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Fixed, so that a crash reproduces on any machine.
    let reasons = DropReasons::from_pairs([
        ("NOT_SPECIFIED", 2),
        ("NO_SOCKET", 3),
        ("NETFILTER_DROP", 12),
        ("IP_RPFILTER", 20),
    ]);
    let funcs = HookNames::tracepoints();
    let env = CheckEnv {
        reasons: Ok(&reasons),
        funcs: &funcs,
        netns: &NoNetnsNames,
    };
    let (plan, diags) = ferret_core::compile(text, &env);
    let _ = ferret_core::diag::render("<fuzz>", text, &diags, false);
    let _ = ferret_core::diag::render("<fuzz>", text, &diags, true);
    let has_error = diags.iter().any(|d| d.is_error());
    assert_eq!(plan.is_some(), !has_error, "a plan exactly when no error");
    let Some(plan) = plan else {
        return;
    };
    let _ = plan.render_text();
    // Two packets: one carrying nothing, one carrying every field (zeros).
    let empty = Meta::default();
    let full = Meta {
        present: u32::MAX,
        ..Meta::default()
    };
    for rule in &plan.rules {
        assert!(rule.insns.len() <= MAX_INSNS);
        for m in [&empty, &full] {
            assert_eq!(rule.matches(m), rule.filter.eval(m), "rule {}", rule.text);
        }
    }
});
