//! Golden tests of diagnostics: every `golden/diagnostics/*.rules` input is
//! compiled with a fixed environment and its rendered diagnostics compared
//! with the `.txt` next to it. The exact text is the contract users see, so
//! any change to a message, a label or a caret must show up here.
//!
//! `FERRET_BLESS=1 cargo test -p ferret-core --test golden_diagnostics`
//! rewrites the `.txt` files; review the diff before committing it.

use ferret_core::check::{CheckEnv, NoNetnsNames};
use ferret_core::hooks::HookNames;
use ferret_core::reasons::DropReasons;
use std::path::{Path, PathBuf};

/// A small, fixed set of real reason names so that the output does not
/// depend on the kernel of the machine running the tests.
fn reasons() -> DropReasons {
    DropReasons::from_pairs([
        ("NOT_SPECIFIED", 2),
        ("NO_SOCKET", 3),
        ("SOCKET_RCVBUFF", 6),
        ("TCP_CSUM", 9),
        ("NETFILTER_DROP", 12),
        ("IP_RPFILTER", 20),
        ("IP_INNOROUTES", 24),
    ])
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/diagnostics")
}

fn render_case(name: &str, source: &str) -> String {
    let reasons = reasons();
    let funcs = HookNames::tracepoints();
    let env = CheckEnv {
        reasons: Ok(&reasons),
        funcs: &funcs,
        netns: &NoNetnsNames,
    };
    let (_plan, diags) = ferret_core::compile(source, &env);
    assert!(
        !diags.is_empty(),
        "{name}: a golden input must produce at least one diagnostic"
    );
    ferret_core::diag::render(name, source, &diags, false)
}

/// A line diff (longest common subsequence) in the style of `diff -u`
/// without hunks: enough to see what changed in a few dozen lines.
fn line_diff(expected: &str, actual: &str) -> String {
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = actual.lines().collect();
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = String::new();
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push_str(&format!("  {}\n", a[i]));
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push_str(&format!("+ {}\n", b[j]));
            j += 1;
        } else {
            out.push_str(&format!("- {}\n", a[i]));
            i += 1;
        }
    }
    out
}

#[test]
fn diagnostics_match_golden_files() {
    let bless = std::env::var_os("FERRET_BLESS").is_some_and(|v| v == "1");
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .expect("golden directory exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "rules"))
        .collect();
    inputs.sort();
    assert!(
        inputs.len() >= 30,
        "only {} golden inputs; the suite promises at least 30",
        inputs.len()
    );

    let mut failures = Vec::new();
    for input in &inputs {
        let name = input
            .file_name()
            .and_then(|n| n.to_str())
            .expect("UTF-8 file name");
        let source = std::fs::read_to_string(input).expect("readable input");
        let actual = render_case(name, &source);
        let expected_path = input.with_extension("txt");
        if bless {
            std::fs::write(&expected_path, &actual).expect("writable golden file");
            continue;
        }
        match std::fs::read_to_string(&expected_path) {
            Ok(expected) if expected == actual => {}
            Ok(expected) => failures.push(format!(
                "--- {} (- expected, + actual)\n{}",
                expected_path.display(),
                line_diff(&expected, &actual)
            )),
            Err(e) => failures.push(format!(
                "--- {}: {e}; run with FERRET_BLESS=1 to create it\n{actual}",
                expected_path.display()
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} golden files differ (FERRET_BLESS=1 rewrites them):\n\n{}",
        failures.len(),
        inputs.len(),
        failures.join("\n")
    );
}

#[test]
fn every_golden_output_has_an_input() {
    // A stale .txt whose .rules was renamed would otherwise linger unseen.
    for entry in std::fs::read_dir(golden_dir()).expect("golden directory exists") {
        let path = entry.expect("readable entry").path();
        if path.extension().is_some_and(|e| e == "txt") {
            assert!(
                path.with_extension("rules").exists(),
                "{} has no .rules input",
                path.display()
            );
        }
    }
}

#[test]
fn the_diff_marks_changed_lines() {
    let d = line_diff("a\nb\nc\n", "a\nx\nc\n");
    assert_eq!(d, "  a\n+ x\n- b\n  c\n");
}
