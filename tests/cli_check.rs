//! `ferret check` as a user runs it: the built binary, its exit status and
//! what it prints. No kernel or privileges are needed for `check`.

use std::process::{Command, Output};

fn ferret(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferret"))
        .args(args)
        // Diagnostics are coloured only on a terminal; make sure of it.
        .env("NO_COLOR", "1")
        .output()
        .expect("the ferret binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_valid_rule_prints_its_plan_and_exits_0() {
    let out = ferret(&["check", "-e", "on drop where dport == 443 print stack"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert!(
        stdout.contains("rule 1: on drop where dport == 443 print stack"),
        "{stdout}"
    );
    assert!(stdout.contains("skb:kfree_skb"), "{stdout}");
    assert!(stdout.contains("1 of 32 instructions"), "{stdout}");
    assert!(stdout.contains("dport"), "{stdout}");
    assert!(
        stdout.contains("pre-check on drop: dport in {443}"),
        "{stdout}"
    );
}

#[test]
fn json_plan_parses_and_holds_the_instructions() {
    let out = ferret(&[
        "check",
        "--json",
        "-e",
        "on drop where dport == 443 or sport == 443 print stack",
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    let rules = v["rules"].as_array().expect("a rules array");
    assert_eq!(rules.len(), 1);
    let insns = rules[0]["insns"].as_array().expect("an insns array");
    assert_eq!(insns.len(), 2);
    assert_eq!(insns[0]["field"], "dport");
    assert_eq!(insns[1]["field"], "sport");
    assert!(v["needs"].is_u64());
}

#[test]
fn a_misspelt_field_exits_1_with_a_caret_and_a_suggestion() {
    let rule = "on drop where dprt == 443";
    let out = ferret(&["check", "-e", rule]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty(), "no plan on error");
    assert!(stderr.contains("unknown field `dprt`"), "{stderr}");
    assert!(stderr.contains("did you mean `dport`"), "{stderr}");
    // The caret line sits right under the rule line, `^^^^` under `dprt`.
    let lines: Vec<&str> = stderr.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.ends_with(rule))
        .expect("the rule is quoted");
    let rule_col = lines[at].find(rule).expect("rule text") + rule.find("dprt").expect("dprt");
    let caret = lines[at + 1];
    assert_eq!(caret.find('^'), Some(rule_col), "{stderr}");
    assert_eq!(caret.matches('^').count(), 4, "{stderr}");
}

#[test]
fn a_missing_file_exits_3_and_names_it() {
    let out = ferret(&["check", "/nonexistent/ferret/rules.ferret"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("/nonexistent/ferret/rules.ferret"),
        "{stderr}"
    );
    assert!(stderr.contains("cannot read"), "{stderr}");
}

#[test]
fn a_rule_file_is_checked_with_its_name_in_diagnostics() {
    let dir = std::env::temp_dir().join(format!("ferret-cli-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("web.ferret");
    std::fs::write(
        &path,
        "# web\non drop where dport == 443\non recv where proto == tpc\n",
    )
    .expect("write rules");
    let out = ferret(&["check", path.to_str().expect("UTF-8 path")]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("web.ferret:3:24"), "{stderr}");
    assert!(stderr.contains("did you mean `tcp`?"), "{stderr}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn no_rules_is_a_usage_error() {
    let out = ferret(&["check"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("-e"), "says how to give rules: {stderr}");
}
