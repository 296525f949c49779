//! The real eBPF object on the running kernel: it loads, every trigger
//! attaches and detaches, bad requests are clear errors, and a real drop on
//! loopback reaches the ring buffer. Needs root; skips (and says so) without.

mod kernel_common;

use ferret_core::abi::{self, act, field, hook, Config, Rule};
use ferret_kernel::AttachKind;
use ferret_kernel::{Kernel, KernelError, LoadOptions};
use kernel_common::{closed_port, dport_is, have_root, send_udp};
use std::time::{Duration, Instant};

fn load() -> Kernel {
    match Kernel::load(&LoadOptions::default()) {
        Ok(k) => k,
        Err(e) => panic!("{e}\n{}", e.verifier_log().unwrap_or("")),
    }
}

const TRIGGERS: [u32; 5] = [hook::DROP, hook::FREE, hook::RECV, hook::XMIT, hook::QUEUE];

#[test]
fn every_trigger_attaches_and_detaches_twice_over() {
    if !have_root("every_trigger_attaches_and_detaches_twice_over") {
        return;
    }
    let mut k = load();
    // Sessions verify programs as they attach them; check every one here.
    if let Err(e) = k.verify_all() {
        panic!("{e}\n{}", e.verifier_log().unwrap_or(""));
    }
    for h in TRIGGERS {
        let kind = k.attach(h).unwrap();
        assert_eq!(k.attach(h).unwrap(), kind, "attach is idempotent");
        eprintln!("hook {h}: {}", kind.name());
    }
    assert_eq!(k.attached().len(), TRIGGERS.len());
    for h in TRIGGERS {
        k.detach(h).unwrap();
        k.detach(h).unwrap();
    }
    assert!(k.attached().is_empty());
    let counters = k.counters().unwrap();
    assert_eq!(counters.len(), abi::MAX_RULES);
    assert!(counters.iter().all(|c| *c == abi::Counters::default()));
    for (name, insns) in k.verified_insns() {
        eprintln!("{name}: {insns} instructions verified");
        assert!(insns < 100_000, "{name} is heavy for the verifier: {insns}");
    }
}

#[test]
fn without_privileges_loading_says_what_to_do() {
    // The root runs cover the rest; this one is for the unprivileged run.
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return;
    }
    let err = Kernel::load(&LoadOptions::default()).unwrap_err();
    eprintln!("{err}");
    assert!(
        matches!(
            err,
            KernelError::NotPermitted { .. } | KernelError::NoBtf { .. }
        ),
        "{err:?}"
    );
}

#[test]
fn raw_tp_twins_attach_on_their_own() {
    if !have_root("raw_tp_twins_attach_on_their_own") {
        return;
    }
    let mut k = load();
    for h in TRIGGERS {
        k.attach_as(h, AttachKind::RawTp).unwrap();
    }
    assert!(k
        .attached()
        .iter()
        .all(|(_, kind)| *kind == AttachKind::RawTp));
    // Switching kind replaces the attachment; plain attach keeps it.
    k.attach_as(hook::DROP, AttachKind::TpBtf).unwrap();
    assert_eq!(k.attach(hook::DROP).unwrap(), AttachKind::TpBtf);
    assert_eq!(k.attach(hook::FREE).unwrap(), AttachKind::RawTp);
    for h in TRIGGERS {
        k.detach(h).unwrap();
    }
    assert!(k.attached().is_empty());
}

#[test]
fn tp_slots_attach_and_missing_tracepoints_are_named() {
    if !have_root("tp_slots_attach_and_missing_tracepoints_are_named") {
        return;
    }
    let mut k = load();
    k.attach_tp(0, "skb:kfree_skb", 0).unwrap();
    k.attach_tp(0, "net:netif_rx", 0).unwrap(); // moves the slot
    k.attach_tp(7, "skb:consume_skb", 0).unwrap();
    let err = k.attach_tp(1, "nosuch:ferret_test_tp", 0).unwrap_err();
    assert!(
        matches!(&err, KernelError::NoTracepoint { tracepoint } if tracepoint == "nosuch:ferret_test_tp"),
        "{err:?}"
    );
    assert!(err.to_string().contains("does not exist"));
    assert!(matches!(
        k.attach_tp(abi::TP_SLOTS, "skb:kfree_skb", 0),
        Err(KernelError::BadTracepointSlot { .. })
    ));
    assert!(matches!(
        k.attach_tp(2, "skb:kfree_skb", 5),
        Err(KernelError::BadTracepointSlot { .. })
    ));
    k.detach(hook::TP0).unwrap();
    k.detach(hook::TP0 + 7).unwrap();
}

#[test]
fn out_of_range_requests_are_refused() {
    if !have_root("out_of_range_requests_are_refused") {
        return;
    }
    let mut k = load();
    assert!(matches!(
        k.set_rule(abi::MAX_RULES, &Rule::default()),
        Err(KernelError::BadSlot { .. })
    ));
    assert!(matches!(
        k.attach(hook::FUNC),
        Err(KernelError::BadHook { .. })
    ));
    assert!(matches!(k.stack(-14), Err(KernelError::NoStack { .. })));
    k.clear_rule(abi::MAX_RULES - 1).unwrap();
}

#[tokio::test]
async fn a_udp_drop_on_loopback_reaches_the_ring_with_its_reason() {
    if !have_root("a_udp_drop_on_loopback_reaches_the_ring_with_its_reason") {
        return;
    }
    let no_socket = ferret_kernel::kernel_btf::KernelBtf::running()
        .drop_reasons()
        .ok()
        .and_then(|r| r.value_of("NO_SOCKET"));
    let port = closed_port();
    let mut k = load();
    // Slot 0 prints every drop; slot 1 counts only ours, without delivery.
    let print_all = Rule {
        state: abi::RULE_ACTIVE,
        hooks: 1 << hook::DROP,
        actions: act::PRINT,
        ..Rule::default()
    };
    let mut ours = Rule {
        state: abi::RULE_ACTIVE,
        hooks: 1 << hook::DROP,
        ninsns: 1,
        ..Rule::default()
    };
    ours.insns[0] = dport_is(port);
    k.set_rule(0, &print_all).unwrap();
    k.set_rule(1, &ours).unwrap();
    k.set_config(&Config {
        nrules: 2,
        needs: 1 << field::DPORT,
        hooks: 1 << hook::DROP,
        wakeup_bytes: 0,
        ..Config::default()
    })
    .unwrap();
    k.attach(hook::DROP).unwrap();
    let mut events = k.take_events().unwrap();

    let sport = send_udp(port, 1, 6);

    let deadline = Instant::now() + Duration::from_secs(5);
    let mut found = None;
    while found.is_none() && Instant::now() < deadline {
        events.wait(Duration::from_millis(50)).await;
        events.drain(|record| {
            let ev = ferret_core::event::decode(record).expect("well-formed record");
            if ev.dport() == Some(port) && ev.sport() == Some(sport) {
                found = Some(ev);
            }
        });
    }
    let ev = found.expect("the drop of our datagram arrived");
    eprintln!(
        "drop of 127.0.0.1:{sport} -> :{port} on {} reason {} (NO_SOCKET = {no_socket:?})",
        ev.ifname(),
        ev.meta.reason
    );
    assert_eq!(ev.hook, hook::DROP);
    assert_eq!(ev.rules, vec![1], "only the printing rule delivers");
    assert_eq!(ev.proto(), Some(17));
    assert_eq!(ev.saddr(), Some("127.0.0.1".parse().unwrap()));
    assert_eq!(ev.meta.family, 0x0800);
    assert_eq!(ev.ifname(), "lo");
    if let Some(reason) = no_socket {
        assert_eq!(ev.meta.reason, reason, "reason is NO_SOCKET");
    }
    let c = k.counters().unwrap();
    assert!(c[0].emitted >= 1 && c[0].matched >= c[0].emitted);
    assert!(c[1].matched >= 1 && c[1].emitted == 0, "{:?}", c[1]);
    assert!(c[1].seen >= c[1].matched);
}
