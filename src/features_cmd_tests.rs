use super::*;
use ferret_kernel::drop_reasons::ReasonsError;
use ferret_kernel::features::TriggerPath;
use ferret_kernel::{AttachKind, BackendRefusal, FentryRefusal, FuncBackend, KprobeRefusal};
use std::io;

fn eperm() -> io::Error {
    io::Error::from_raw_os_error(libc::EPERM)
}

/// A 6.18 like this project's host: BTF, tp_btf, no kprobes, fentry refused.
fn modern() -> Report {
    Report {
        features: Features {
            release: Ok("6.18.0-test".into()),
            vmlinux_btf: true,
            module_btf: Ok(0),
            drop_reasons: Ok(120),
            sk_skb_reason_drop: true,
            kfree_skb_reason: false,
            rdonly_cast: true,
            bpf_loop: Ok(true),
            ringbuf: Ok(true),
            triggers: vec![TriggerPath {
                trigger: "drop",
                tracepoint: "skb:kfree_skb",
                kind: AttachKind::TpBtf,
            }],
            functions: Ok(FunctionBackends {
                tried_on: "ip_rcv".into(),
                each: vec![
                    (
                        FuncBackend::Kprobe,
                        Some(BackendRefusal::Kprobe {
                            reason: KprobeRefusal::NotBuilt,
                        }),
                    ),
                    (
                        FuncBackend::Fentry,
                        Some(BackendRefusal::Fentry {
                            reason: FentryRefusal::LoadRefused { source: eperm() },
                        }),
                    ),
                ],
            }),
            programs: Ok(Some(
                "the kernel refuses fentry/fexit on BPF programs (Operation not permitted)".into(),
            )),
            lockdown: Ok(None),
            unprivileged_bpf_disabled: Ok(2),
            perf_event_paranoid: Ok(2),
        },
        caps: Ok(CapSets::only(&[Cap::Bpf, Cap::Perfmon, Cap::NetAdmin])),
        has_cap_bpf: true,
    }
}

/// An old kernel, probed without privilege.
fn old_unprivileged() -> Report {
    let mut r = modern();
    let f = &mut r.features;
    f.drop_reasons = Err(ReasonsError::NoEnum {
        path: "/sys/kernel/btf/vmlinux".into(),
    });
    f.sk_skb_reason_drop = false;
    f.rdonly_cast = false;
    f.bpf_loop = Ok(false);
    f.ringbuf = Err(NotProbed::MapRefused { source: eperm() });
    f.functions = Err(NotProbed::EmptyCatalog);
    f.programs = Err(NotProbed::MapRefused { source: eperm() });
    f.lockdown = Ok(Some("integrity".into()));
    f.triggers[0].kind = AttachKind::RawTp;
    r.caps = Ok(CapSets::default());
    r
}

#[test]
fn json_keys_are_the_documented_ones() {
    let v = to_json(&modern());
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    let mut want = vec![
        "ferret_version",
        "kernel_release",
        "btf",
        "drop_reasons",
        "drop_functions",
        "kfuncs",
        "helpers",
        "triggers",
        "functions",
        "programs",
        "paths",
        "limits",
        "not_probed",
    ];
    want.sort_unstable();
    assert_eq!(keys, want, "serde_json maps are sorted");
    assert_eq!(v["drop_reasons"]["count"], 120);
    assert_eq!(v["drop_reasons"]["enum"], true);
    assert_eq!(v["triggers"]["drop"], "tp_btf");
    assert_eq!(v["functions"]["backend"], Value::Null);
    assert_eq!(v["functions"]["backends"]["fentry"]["usable"], false);
    let why = v["functions"]["backends"]["fentry"]["why"]
        .as_str()
        .unwrap();
    assert!(why.contains("os error 1"), "{why}");
    assert_eq!(v["paths"]["functions"], "not available");
    assert_eq!(v["paths"]["ipv4_headers"], "bpf_rdonly_cast (typed)");
    assert_eq!(v["programs"]["traceable"], false);
    assert!(v["programs"]["why"]
        .as_str()
        .unwrap()
        .contains("refuses fentry/fexit"));
    assert_eq!(v["paths"]["programs"], "not available");
    assert_eq!(v["helpers"]["ringbuf"], true);
    assert_eq!(v["limits"]["lockdown"], Value::Null);
    assert_eq!(v["limits"]["unprivileged_bpf_disabled"], 2);
    let missing = &v["limits"]["capabilities"]["missing_for_tracing"];
    assert_eq!(missing.as_array().unwrap().len(), 0);
    assert_eq!(v["not_probed"].as_array().unwrap().len(), 0);
}

#[test]
fn json_says_what_could_not_be_probed_and_the_fallbacks() {
    let v = to_json(&old_unprivileged());
    assert_eq!(v["drop_reasons"]["count"], Value::Null);
    assert_eq!(v["drop_reasons"]["enum"], false);
    assert_eq!(v["helpers"]["ringbuf"], Value::Null);
    assert_eq!(v["helpers"]["bpf_loop"], false);
    assert_eq!(v["functions"]["backends"], Value::Null);
    assert_eq!(v["paths"]["functions"], "unknown");
    assert_eq!(
        v["paths"]["ipv4_headers"],
        "bpf_probe_read_kernel (no kfunc)"
    );
    assert_eq!(
        v["paths"]["interpreter"],
        "bounded loop (no bpf_loop before Linux 5.17; pcap-filter rules are refused)"
    );
    assert_eq!(
        v["paths"]["drop_cause"],
        "drop location only (no drop reasons here)"
    );
    assert_eq!(v["triggers"]["drop"], "raw_tp");
    assert_eq!(v["limits"]["lockdown"], "integrity");
    let facts: Vec<&str> = v["not_probed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["fact"].as_str().unwrap())
        .collect();
    // A missing enum is a fact about the kernel, not a failed probe.
    assert_eq!(facts, ["ringbuf", "functions", "programs"]);
    assert_eq!(v["programs"]["traceable"], Value::Null);
    assert_eq!(v["paths"]["programs"], "unknown");
}

#[test]
fn text_is_one_aligned_screen() {
    let text = to_text(&modern());
    assert!(text.starts_with("ferret "), "{text}");
    assert!(text.contains("on Linux 6.18.0-test"), "{text}");
    let column = |line: &str| line.find("this kernel offers");
    let header = text.lines().find_map(column).expect("a header row");
    let drop = text
        .lines()
        .find(|l| l.starts_with("trigger drop"))
        .unwrap();
    assert_eq!(drop.find("skb:kfree_skb"), Some(header), "{text}");
    assert!(drop.ends_with("drop: tp_btf"), "{drop}");
    assert!(text.contains("120 (enum skb_drop_reason)"), "{text}");
    assert!(text.contains("func/any: not available"), "{text}");
    let progs = text
        .lines()
        .find(|l| l.starts_with("tc/XDP programs"))
        .unwrap();
    assert!(
        progs.contains("no: the kernel refuses fentry/fexit"),
        "{progs}"
    );
    assert!(text.contains("tc/xdp: not available"), "{text}");
    // Each refusal once, in its own words, under its backend.
    let fentry = text
        .lines()
        .find(|l| l.trim_start().starts_with("fentry"))
        .unwrap();
    assert!(
        fentry.contains("no: the kernel refuses BPF trampolines"),
        "{fentry}"
    );
    assert!(!fentry.contains("fentry: the kernel"), "{fentry}");
    assert!(text.contains("enough to trace"), "{text}");
    assert!(!text.contains("not probed:"), "{text}");
    assert!(text.lines().count() < 40, "one screen:\n{text}");
}

#[test]
fn text_names_unprobed_facts_and_missing_privileges() {
    let text = to_text(&old_unprivileged());
    assert!(
        text.contains("none: the BTF has no enum skb_drop_reason"),
        "{text}"
    );
    assert!(
        text.contains("not probed:\n  ringbuf: creating a map was refused"),
        "{text}"
    );
    assert!(text.contains("  functions: "), "{text}");
    assert!(
        text.contains("tracing lacks CAP_BPF CAP_PERFMON CAP_NET_ADMIN"),
        "{text}"
    );
    assert!(
        text.contains("rule interpreter: bounded loop (no bpf_loop before Linux 5.17"),
        "{text}"
    );
}
