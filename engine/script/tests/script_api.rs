//! The playbook host without root: a fake tracer takes the rules, events
//! are made by hand, and the script API is checked through what the
//! script writes and what the host reports.

use ferret_core::abi::field;
use ferret_core::output::Names;
use ferret_core::reasons::DropReasons;
use ferret_core::testing::tcp_drop;
use ferret_script::facts::KernelInfo;
use ferret_script::{Host, HostOptions, Limits, Playbook, ScriptErrorKind, ScriptEvent};
use ferret_session::control::RuleControl;
use ferret_session::system::SystemFacts;
use ferret_session::testing::FakeTracer;
use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;

#[derive(Clone, Default)]
struct Buf(Rc<RefCell<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buf {
    fn text(&self) -> String {
        String::from_utf8(self.0.borrow().clone()).unwrap()
    }
}

fn facts() -> SystemFacts {
    SystemFacts {
        reasons: Ok(DropReasons::from_pairs([
            ("NOT_SPECIFIED", 2),
            ("NO_SOCKET", 3),
            ("NETFILTER_DROP", 12),
        ])),
        funcs: ferret_core::hooks::HookNames::tracepoints(),
        kernel: Default::default(),
    }
}

fn host_with(text: &str, opts: HostOptions) -> (Host<FakeTracer>, Buf) {
    let pb = Playbook::from_text("test.rhai", text).unwrap_or_else(|e| panic!("{e}"));
    let buf = Buf::default();
    let kernel = KernelInfo::new("6.18.0-test".into(), Some("no kprobes here".into()), 3);
    let host = Host::new(
        pb,
        FakeTracer::default(),
        facts(),
        kernel,
        Box::new(buf.clone()),
        opts,
    );
    (host, buf)
}

fn host(text: &str) -> (Host<FakeTracer>, Buf) {
    host_with(text, HostOptions::default())
}

fn context() -> Names {
    Names {
        kallsyms: ferret_core::kallsyms::Kallsyms::parse(
            "ffffffff81000100 T nf_hook_slow\nffffffff81000200 T nft_do_chain\n",
        ),
        reasons: facts().reasons.ok(),
        funcs: ferret_core::hooks::HookNames::tracepoints(),
    }
}

/// A drop of 198.18.0.1:40000 -> 198.18.0.2:443 (tcp, SYN) by nftables,
/// in `nft_do_chain`, with its stack.
fn drop_event(rules: Vec<usize>) -> ScriptEvent {
    let mut ev = tcp_drop(rules);
    ev.meta.location = 0xffff_ffff_8100_0210;
    ev.meta.present &= !(1 << field::LEN);
    ev.stack_id = Some(1);
    ev.wire_len = 60;
    let stack = vec![
        "nft_do_chain+0x46f".to_string(),
        "nf_hook_slow+0x43".to_string(),
        "ip_local_deliver+0x119".to_string(),
    ];
    ScriptEvent::new(&ev, Some(&stack), &context(), "lab-b")
}

#[test]
fn rules_are_added_and_removed_and_events_reach_hooks_and_handlers() {
    let (mut h, out) = host(
        r#"
        let seen = 0;
        let id = rule("on drop where dport == 443 call alert");
        let other = rule("on recv");
        fn on_event(ev) { seen += 1; }
        fn alert(ev) { print(`alert ${ev.reason} ${ev.tuple} seen=${seen}`); }
        fn on_end() {
            let st = rule_stats(id);
            print(`stats ${st.matched} ${st.limited} ${rule_stats(99) == ()}`);
            remove_rule(other);
            print(`rules ${rules().len()} seen ${seen}`);
        }
        "#,
    );
    h.start().unwrap();
    assert_eq!(h.tracer().rule_list().len(), 2);
    let first = h
        .tracer()
        .table
        .by_slot(0)
        .map(|r| r.plan.actions.call.clone());
    assert_eq!(first, Some(Some("alert".to_string())));
    h.tracer().set_counters(1, 10, 0, 0, 1);
    h.deliver(&drop_event(vec![1])).unwrap();
    h.deliver(&drop_event(vec![2])).unwrap();
    h.end().unwrap();
    assert_eq!(h.tracer().rule_list().len(), 1);
    assert_eq!(
        out.text(),
        "alert NETFILTER_DROP 198.18.0.1:40000->198.18.0.2:443(tcp) seen=1\nstats 10 1 true\nrules 1 seen 2\n"
    );
}

#[test]
fn every_language_field_and_the_userspace_extras_read_from_the_event() {
    let (mut h, out) = host(
        r#"
        fn on_event(ev) {
            emit(#{
                saddr: ev.saddr, daddr: ev.daddr, sport: ev.sport, dport: ev.dport,
                proto: ev.proto, family: ev.family, len: ev.len, mark: ev.mark,
                ifname: ev.ifname, ifindex: ev.ifindex, netns: ev.netns,
                netns_name: ev.netns_name, pid: ev.pid, comm: ev.comm,
                tcpflags: ev.tcpflags, ttl: ev.ttl, reason: ev.reason, func: ev.func,
                cpu: ev.cpu, stack: ev.stack, stack_funcs: ev.stack_funcs,
                rules: ev.rules, time: ev.time, location: ev.location,
                trigger: ev.trigger, skb: ev.skb, text: `${ev}`,
            });
        }
        "#,
    );
    h.start().unwrap();
    h.deliver(&drop_event(vec![3])).unwrap();
    let v: serde_json::Value = serde_json::from_str(out.text().trim()).unwrap();
    let want = serde_json::json!({
        "saddr": "198.18.0.1", "daddr": "198.18.0.2", "sport": 40000, "dport": 443,
        "proto": "tcp", "family": "ip4", "len": 60, "mark": 0, "ifname": "fb0",
        "ifindex": 2, "netns": 4026532000u64, "netns_name": "lab-b", "pid": 77,
        "comm": "curl", "tcpflags": ["syn"], "ttl": 64, "reason": "NETFILTER_DROP",
        "func": "kfree_skb", "cpu": 1,
        "stack": ["nft_do_chain+0x46f", "nf_hook_slow+0x43", "ip_local_deliver+0x119"],
        "stack_funcs": ["nft_do_chain", "nf_hook_slow", "ip_local_deliver"],
        "rules": [3], "time": 123456789, "location": "nft_do_chain+0x10",
        "trigger": "drop", "skb": "0xffff888001234500",
        "text": "drop 198.18.0.1:40000->198.18.0.2:443(tcp) kfree_skb_reason(SKB_DROP_REASON_NETFILTER_DROP) on fb0",
    });
    assert_eq!(v, want);
}

#[test]
fn the_verdict_of_explain_reads_as_a_map_and_is_unit_without_one() {
    let (mut h, out) = host(
        r#"
        fn on_event(ev) {
            if ev.verdict == () { print("none"); return; }
            let v = ev.verdict;
            print(`${v.by} ${v.family} ${v.table} ${v.chain} ${v.handle} ${v.policy} ${v.rule}`);
        }
        "#,
    );
    h.start().unwrap();
    h.deliver(&drop_event(vec![1])).unwrap();
    let mut ev = tcp_drop(vec![1]);
    ev.verdict = Some(Box::new(ferret_core::verdict::Verdict::Nftables(
        ferret_core::verdict::NftVerdict {
            family: "ip".into(),
            table: "filter".into(),
            chain: "ufw-user-output".into(),
            handle: Some(7),
            rule: Some("tcp dport 443 drop".into()),
            policy: false,
            comment: None,
            iptables: None,
            ct: None,
        },
    )));
    h.deliver(&ScriptEvent::new(&ev, None, &context(), "lab-b"))
        .unwrap();
    assert_eq!(
        out.text(),
        "none\nnftables ip filter ufw-user-output 7 false tcp dport 443 drop\n"
    );
}

#[test]
fn every_getter_the_docs_list_exists() {
    let reads: Vec<String> = ferret_script::event::FIELDS
        .iter()
        .map(|f| format!("let _{f} = ev.{f};"))
        .collect();
    let text = format!("fn on_event(ev) {{ {} }}", reads.join(" "));
    let (mut h, _) = host(&text);
    h.start().unwrap();
    h.deliver(&drop_event(vec![1])).unwrap();
}

#[test]
fn counting_reporting_and_stopping_with_a_status() {
    let (mut h, out) = host(
        r#"
        fn on_event(ev) { count(ev.reason); count(ev.dport, 2); }
        fn on_end() {
            report(#{ summary: "drops seen", top: top(1) });
            report(#{ problem: true });
            stop(1);
        }
        "#,
    );
    h.start().unwrap();
    for _ in 0..3 {
        h.deliver(&drop_event(vec![1])).unwrap();
    }
    assert!(!h.stop_requested());
    h.end().unwrap();
    assert!(h.stop_requested());
    assert_eq!(h.exit_code(), 1);
    assert_eq!(
        h.report().unwrap(),
        serde_json::json!({"summary": "drops seen", "problem": true,
                           "top": [{"key": "443", "count": 6}]})
    );
    assert_eq!(out.text(), "");
}

#[test]
fn stop_refuses_statuses_outside_a_byte() {
    let (mut h, _) = host("stop(300);");
    let e = h.start().unwrap_err();
    assert!(e.to_string().contains("0 to 255"), "{e}");
    assert_eq!(e.at, Some((1, 1)));
}

#[test]
fn kernel_facts_and_args_reach_the_script() {
    let opts = HostOptions {
        args: vec!["443".into(), "extra".into()],
        ..HostOptions::default()
    };
    let (mut h, out) = host_with(
        r#"
        let k = kernel();
        print(`${k.release} ${k.functions} ${"drop" in k.triggers} ${"func" in k.triggers}`);
        print(`${ARGS.len()} ${parse_int(ARGS[0]) + 1}`);
        "#,
        opts,
    );
    h.start().unwrap();
    assert_eq!(out.text(), "6.18.0-test false true false\n2 444\n");
}

#[test]
fn timers_call_their_function_when_due() {
    let (mut h, out) = host(
        r#"
        every(50, "tick");
        fn tick() { print("tick"); }
        "#,
    );
    h.start().unwrap();
    let due = h.next_timer().expect("a timer");
    h.run_timers(due - std::time::Duration::from_millis(1))
        .unwrap();
    assert_eq!(out.text(), "");
    h.run_timers(due).unwrap();
    assert_eq!(out.text(), "tick\n");
    assert!(h.next_timer().unwrap() > due);
}

#[test]
fn bad_timers_and_handlers_are_clear_errors() {
    for (text, says) in [
        ("every(50, \"nope\");", "define `fn nope()`"),
        ("every(1, \"t\"); fn t() {}", "at least 10 ms"),
        (
            "rule(\"on drop call missing\");",
            "define `fn missing(ev)` in the playbook",
        ),
        (
            "rule(\"on drop where dprt == 1\");",
            "did you mean `dport`?",
        ),
        ("rule(\"on drop; on recv\");", "takes one rule"),
    ] {
        let (mut h, _) = host(text);
        let e = h.start().unwrap_err();
        let shown = h.playbook().render_error(&e, false);
        assert!(shown.contains(says), "{text}: {shown}");
        assert!(shown.contains("test.rhai:1:1"), "{text}: {shown}");
        assert!(h.tracer().rule_list().is_empty());
    }
}

#[test]
fn an_endless_loop_is_stopped_and_reported_and_the_host_goes_on() {
    let opts = HostOptions {
        limits: Limits {
            operations: 50_000,
            ..Limits::default()
        },
        ..HostOptions::default()
    };
    let (mut h, out) = host_with(
        "fn on_event(ev) {\n  let n = 0;\n  while true { n += 1; }\n}\nfn on_end() { print(\"ended\"); }\n",
        opts,
    );
    h.start().unwrap();
    let e = h.deliver(&drop_event(vec![1])).unwrap_err();
    assert!(
        matches!(&e.kind, ScriptErrorKind::TooManyOperations { hook, limit: 50_000 } if hook == "on_event"),
        "{e:?}"
    );
    let shown = h.playbook().render_error(&e, false);
    assert!(shown.contains("endless loop"), "{shown}");
    assert!(shown.contains("test.rhai:1:1"), "{shown}");
    assert!(shown.contains("fn on_event(ev)"), "{shown}");
    // The next call gets a fresh budget: one runaway call does not poison the host.
    h.end().unwrap();
    assert_eq!(out.text(), "ended\n");
}

#[test]
fn syntax_errors_point_at_the_line_and_column() {
    let e = Playbook::from_text(
        "bad.rhai",
        "let a = 1;\nfn on_event(ev) {\n  let x = ;\n}\n",
    )
    .unwrap_err();
    assert!(matches!(e.kind, ScriptErrorKind::Syntax { .. }), "{e:?}");
    assert_eq!(e.at.map(|(l, _)| l), Some(3));
    let shown = e.render("let a = 1;\nfn on_event(ev) {\n  let x = ;\n}\n", false);
    assert!(shown.contains("bad.rhai:3:"), "{shown}");
    assert!(shown.contains("let x = ;"), "{shown}");
    assert!(shown.contains('^'), "{shown}");
}

#[test]
fn hooks_with_the_wrong_parameters_are_refused_at_load() {
    let e = Playbook::from_text("h.rhai", "fn on_event() {}").unwrap_err();
    assert_eq!(
        e.to_string(),
        "h.rhai:1:1: `fn on_event` must take 1 parameter(s), it takes 0"
    );
}

#[test]
fn files_and_imports_are_refused_unless_allowed() {
    for text in [
        "let t = read_file(\"/etc/hostname\");",
        "write_file(\"/tmp/ferret-should-not-exist\", \"x\");",
        "import \"helpers\" as h;",
    ] {
        let (mut h, _) = host(text);
        let e = h.start().unwrap_err();
        assert!(e.to_string().contains("--allow-script-io"), "{text}: {e}");
        assert_eq!(e.at.map(|(l, _)| l), Some(1), "{text}");
    }
    assert!(!std::path::Path::new("/tmp/ferret-should-not-exist").exists());

    let path = std::env::temp_dir().join(format!("ferret-script-io-{}", std::process::id()));
    let opts = HostOptions {
        allow_io: true,
        ..HostOptions::default()
    };
    let (mut h, out) = host_with(
        &format!(
            "write_file(\"{p}\", \"one\"); append_file(\"{p}\", \"two\"); print(read_file(\"{p}\"));",
            p = path.display()
        ),
        opts,
    );
    h.start().unwrap();
    assert_eq!(out.text(), "onetwo\n");
    std::fs::remove_file(path).unwrap();
}

#[test]
fn a_misspelled_field_suggests_the_right_one() {
    let (mut h, _) = host("fn on_event(ev) {\n  if ev.dprot == 443 { print(1); }\n}\n");
    h.start().unwrap();
    let e = h.deliver(&drop_event(vec![1])).unwrap_err();
    assert!(e.to_string().contains("did you mean `dport`?"), "{e}");
    assert_eq!(e.at, Some((2, 9)));
}

#[test]
fn runtime_errors_in_helpers_show_where_and_how_they_were_reached() {
    let (mut h, _) =
        host("fn helper(x) {\n  x.no_such_method()\n}\nfn on_event(ev) {\n  helper(ev.dport)\n}\n");
    h.start().unwrap();
    let e = h.deliver(&drop_event(vec![1])).unwrap_err();
    assert_eq!(e.at, Some((2, 5)), "{e:?}");
    assert!(
        e.notes
            .iter()
            .any(|n| n.contains("`helper` at test.rhai:5:3")),
        "{e:?}"
    );
}
