//! The interpreter over the real rule table and a fake kernel.

use super::*;
use ferret_core::abi::hook;
use ferret_core::hooks::HookNames;
use ferret_core::reasons::DropReasons;
use ferret_session::testing::FakeTracer;

fn repl() -> Interpreter<FakeTracer> {
    let facts = SystemFacts {
        reasons: Ok(DropReasons::from_pairs([
            ("NO_SOCKET", 3),
            ("NETFILTER_DROP", 12),
        ])),
        funcs: HookNames::tracepoints(),
        kernel: Default::default(),
    };
    let vocab = Arc::new(Vocabulary::fixed(
        &["NO_SOCKET", "NETFILTER_DROP"],
        &["ip_rcv", "ip_rcv_core", "tcp_v4_rcv"],
    ));
    Interpreter::new(FakeTracer::default(), facts, vocab, false)
}

fn run(r: &mut Interpreter<FakeTracer>, line: &str) -> String {
    r.execute_line(line).text
}

#[test]
fn a_rule_attaches_its_probe_and_del_detaches_it() {
    let mut r = repl();
    let out = run(&mut r, "on drop where dport == 443 print");
    assert!(
        out.contains("rule 1 added: on drop where dport == 443 print"),
        "{out}"
    );
    assert!(out.contains("probes: drop (tp_btf)"), "{out}");
    assert_eq!(r.tracer().kernel.attached, [hook::DROP]);
    assert_eq!(r.tracer().kernel.config.nrules, 1);

    let out = run(&mut r, "del 1");
    assert!(out.contains("rule 1 deleted"), "{out}");
    assert!(out.contains("probes: none attached"), "{out}");
    assert!(r.tracer().kernel.attached.is_empty());
    assert!(r.tracer().kernel.rules.is_empty(), "the slot is cleared");
    assert_eq!(r.tracer().kernel.log, ["attach 0", "detach 0"]);

    let out = run(&mut r, "del 1");
    assert!(out.contains("error: there is no rule 1"), "{out}");
}

#[test]
fn a_probe_stays_while_another_rule_needs_it() {
    let mut r = repl();
    run(&mut r, "on drop where dport == 443");
    run(&mut r, "on drop, recv where udp");
    assert_eq!(r.tracer().kernel.attached, [hook::DROP, hook::RECV]);
    run(&mut r, "del 1");
    assert_eq!(r.tracer().kernel.attached, [hook::DROP, hook::RECV]);
    run(&mut r, "del 2");
    assert!(r.tracer().kernel.attached.is_empty());
}

#[test]
fn numbers_are_never_reused() {
    let mut r = repl();
    run(&mut r, "on drop");
    run(&mut r, "del 1");
    let out = run(&mut r, "on free");
    assert!(out.contains("rule 2 added"), "{out}");
    assert_eq!(r.vocab.rule_ids(), [2], "completion sees the live numbers");
}

#[test]
fn pause_and_resume_change_maps_and_probes_only() {
    let mut r = repl();
    run(&mut r, "on drop where dport == 443");
    run(&mut r, "on recv");
    let out = run(&mut r, "pause all");
    assert!(
        out.contains("rule 1 paused") && out.contains("rule 2 paused"),
        "{out}"
    );
    assert_eq!(r.tracer().kernel.config.hooks, 0);
    assert!(r.tracer().kernel.attached.is_empty());
    assert_eq!(
        r.tracer().kernel.rules.len(),
        2,
        "paused rules keep their slots"
    );
    assert!(run(&mut r, "list").contains("paused"));

    let out = run(&mut r, "resume 2");
    assert!(
        out.contains("rule 2 resumed") && out.contains("probes: recv"),
        "{out}"
    );
    assert_eq!(r.tracer().kernel.attached, [hook::RECV]);
    let out = run(&mut r, "resume all");
    assert!(
        out.contains("rule 1 resumed") && !out.contains("rule 2"),
        "{out}"
    );
    assert_eq!(run(&mut r, "resume all"), "no rule to be resumed");
    assert!(run(&mut r, "pause 9").contains("error: there is no rule 9"));
}

#[test]
fn a_wrong_rule_shows_the_caret_and_adds_nothing() {
    let mut r = repl();
    let out = run(&mut r, "on drop where dprt == 443");
    assert!(out.contains("error: unknown field `dprt`"), "{out}");
    assert!(out.contains("<repl>:1:15"), "{out}");
    assert!(out.contains("^^^^ did you mean `dport`?"), "{out}");
    assert!(out.contains("no rule added"), "{out}");
    assert!(r.tracer().rule_list().is_empty());
    assert!(r.tracer().kernel.log.is_empty());
}

#[test]
fn one_bad_rule_on_a_line_keeps_the_others_out_too() {
    let mut r = repl();
    let out = run(&mut r, "on drop; on recv where reason == NO_SUCH");
    assert!(out.contains("no rule added"), "{out}");
    assert!(r.tracer().rule_list().is_empty());
    let out = run(
        &mut r,
        "on drop where reason == no_socket; on recv where udp",
    );
    assert!(
        out.contains("rule 1 added") && out.contains("rule 2 added"),
        "{out}"
    );
}

#[test]
fn rules_that_cannot_run_here_are_refused_before_the_kernel() {
    let mut r = repl();
    // `call` needs a playbook's handler; the REPL has none.
    let out = run(&mut r, "on drop; on drop call alert");
    assert!(out.contains("playbook"), "{out}");
    assert!(out.contains("no rule added"), "{out}");
    assert!(r.tracer().kernel.log.is_empty());
}

#[test]
fn a_probe_the_kernel_refuses_leaves_no_rule_behind() {
    let mut r = repl();
    r.tracer_mut().kernel.refuse_attach = true;
    let out = run(&mut r, "on recv");
    assert!(out.contains("error: rule not added"), "{out}");
    assert!(
        r.tracer().rule_list().is_empty(),
        "{:?}",
        r.tracer().rule_list()
    );
    assert!(r.tracer().kernel.rules.is_empty());
    let out = run(&mut r, "on recv");
    assert!(
        out.contains("rule 1 added"),
        "a refused rule uses no number: {out}"
    );
}

#[test]
fn stats_show_the_kernel_counters_per_rule() {
    let mut r = repl();
    run(&mut r, "on drop where dport == 443");
    run(&mut r, "on recv limit 10/s");
    let slot = r.tracer().slot_of(2);
    r.tracer_mut()
        .kernel
        .counters
        .insert(slot, (500, 40, 7, 460));
    run(&mut r, "pause 1");
    for _ in 0..3 {
        r.hide(2);
    }
    let out = run(&mut r, "stats");
    let line2 = out
        .lines()
        .find(|l| l.trim_start().starts_with("2 "))
        .unwrap();
    let cols: Vec<&str> = line2.split_whitespace().collect();
    assert_eq!(
        &cols[..7],
        ["2", "active", "500", "40", "30", "7", "460"],
        "SHOWN leaves out lost and hidden events: {out}"
    );
    let line1 = out
        .lines()
        .find(|l| l.trim_start().starts_with("1 "))
        .unwrap();
    assert!(line1.contains("paused"), "{out}");
    assert!(
        out.contains("--ring-mib"),
        "lost events say what to do: {out}"
    );
}

#[test]
fn save_then_load_gives_the_same_rules() {
    let dir = std::env::temp_dir().join(format!("ferret-repl-save-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("rules.ferret");
    let mut r = repl();
    run(&mut r, "on drop where dport == 443 print");
    run(&mut r, "on recv where udp");
    run(&mut r, "pause 2");
    let out = run(&mut r, &format!("save {}", file.display()));
    assert!(out.contains("saved 2 rules"), "{out}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("# rule 2 was paused when saved\non recv where udp"),
        "{text}"
    );

    let mut fresh = repl();
    let out = run(&mut fresh, &format!("load {}", file.display()));
    assert!(
        out.contains("rule 1 added: on drop where dport == 443 print"),
        "{out}"
    );
    assert!(out.contains("rule 2 added: on recv where udp"), "{out}");
    let texts: Vec<String> = fresh
        .tracer()
        .rule_list()
        .into_iter()
        .map(|v| v.text)
        .collect();
    let orig: Vec<String> = r.tracer().rule_list().into_iter().map(|v| v.text).collect();
    assert_eq!(texts, orig);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn load_reports_unreadable_files_and_points_playbooks_elsewhere() {
    let mut r = repl();
    let out = run(&mut r, "load /nonexistent/ferret/rules.ferret");
    assert!(out.starts_with("error: cannot "), "{out}");
    assert!(
        out.contains("/nonexistent/ferret/rules.ferret") && out.contains("No such file"),
        "{out}"
    );
    let out = run(&mut r, "load triage.rhai");
    assert!(out.contains("ferret run triage.rhai"), "{out}");
    assert!(r.tracer().rule_list().is_empty());
}

#[test]
fn errors_in_a_loaded_file_name_the_file() {
    let dir = std::env::temp_dir().join(format!("ferret-repl-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.ferret");
    std::fs::write(&file, "on drop\non recv where prot == tcp\n").unwrap();
    let mut r = repl();
    let out = run(&mut r, &format!("load {}", file.display()));
    assert!(out.contains(&format!("{}:2:", file.display())), "{out}");
    assert!(r.tracer().rule_list().is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn interrupt_pauses_what_runs_and_says_how_to_resume() {
    let mut r = repl();
    run(&mut r, "on drop");
    run(&mut r, "on recv");
    run(&mut r, "pause 2");
    let out = r.interrupt();
    assert!(
        out.contains("rule 1 paused") && !out.contains("rule 2"),
        "{out}"
    );
    assert!(out.contains("resume all"), "{out}");
    assert!(r.tracer().kernel.attached.is_empty());
    assert!(r.interrupt().contains("Ctrl-D"));
}

#[test]
fn clear_deletes_every_rule() {
    let mut r = repl();
    assert_eq!(run(&mut r, "clear"), "no rules to delete");
    run(&mut r, "on drop");
    run(&mut r, "on recv");
    let out = run(&mut r, "clear");
    assert!(
        out.contains("rule 1 deleted") && out.contains("rule 2 deleted"),
        "{out}"
    );
    assert!(r.tracer().kernel.attached.is_empty());
    assert!(run(&mut r, "list").starts_with("no rules"));
}

#[test]
fn stop_after_deletes_only_that_rule() {
    let mut r = repl();
    run(&mut r, "on drop stop after 1");
    run(&mut r, "on recv");
    let out = r.stop_rule(1, 1);
    assert!(
        out.contains("rule 1 deleted after 1 (stop after 1)"),
        "{out}"
    );
    assert_eq!(r.tracer().kernel.attached, [hook::RECV]);
}

#[test]
fn reference_commands_answer_from_the_vocabulary() {
    let mut r = repl();
    let out = run(&mut r, "funcs ip_rcv*");
    assert!(out.contains("ip_rcv\nip_rcv_core\n2 of 3"), "{out}");
    let out = run(&mut r, "reasons");
    assert!(out.contains("  12  NETFILTER_DROP"), "{out}");
    let out = run(&mut r, "fields");
    assert!(out.lines().any(|l| l.starts_with("dport ")), "{out}");
    let out = run(&mut r, "help");
    for (name, ..) in crate::command::COMMANDS {
        assert!(
            out.contains(&format!("  {name}")),
            "help lists {name}: {out}"
        );
    }
    assert!(run(&mut r, "lsit").contains("did you mean `list`?"));
    assert!(r.execute_line("quit").quit);
    assert!(!r.execute_line("list").quit);
}

#[test]
fn as_root_load_refuses_files_others_can_change() {
    use std::os::unix::fs::PermissionsExt;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: the refusal applies to root only");
        return;
    }
    let dir = std::env::temp_dir().join(format!("ferret-repl-trust-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let file = dir.join("open.ferret");
    std::fs::write(&file, "on drop\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
    let line = format!("load {}", file.display());
    let mut r = repl();
    let out = run(&mut r, &line);
    assert!(out.contains("writable by other users"), "{out}");
    assert!(r.tracer().rule_list().is_empty());
    let mut trusting = repl().allow_unsafe_files(true);
    assert!(run(&mut trusting, &line).contains("rule 1 added"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn count_tables_show_in_stats_and_when_their_rule_goes() {
    let mut r = repl();
    run(&mut r, "on drop count by reason");
    run(&mut r, "on recv where udp");
    let out = run(&mut r, "stats");
    assert!(out.ends_with("table of rule 1"), "{out}");
    let out = run(&mut r, "del 1");
    assert!(out.starts_with("table of rule 1\nrule 1 deleted"), "{out}");
    let out = run(&mut r, "del 2");
    assert!(!out.contains("table"), "{out}");
}
