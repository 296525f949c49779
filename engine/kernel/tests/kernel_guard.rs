//! The hook pre-check (ebpf/guard.bpf.h) in the kernel: it turns away
//! the calls no rule can match, counts them so every rule's `seen` still
//! includes them, and changes nothing about what matches. Needs root;
//! skips (and says so) without.

mod kernel_common;

use ferret_core::abi::{field, hook, Config, Guard, GUARD_HOOKS};
use ferret_kernel::{AttachKind, EventStream, Kernel, LoadOptions};
use kernel_common::{
    closed_port, collect, comparable, dport_is, have_root, kernel_printing, rule, send_udp,
};
use std::net::UdpSocket;
use std::time::Duration;

/// Slot 0 prints drops to `port`; the drop hook's pre-check admits `port` only.
fn kernel_guarded(port: u16, kind: AttachKind) -> (Kernel, EventStream) {
    let mut guards = [Guard::default(); GUARD_HOOKS];
    guards[hook::DROP as usize] = Guard {
        field: field::DPORT.into(),
        nranges: 1,
        lo: [port.into(), 0, 0, 0],
        hi: [port.into(), 0, 0, 0],
    };
    kernel_printing(port, kind, guards)
}

fn send_udp6(port: u16, count: usize) {
    let tx = UdpSocket::bind("[::1]:0").unwrap();
    for _ in 0..count {
        tx.send_to(&[0x66; 32], ("::1", port)).unwrap();
    }
}

#[tokio::test(flavor = "current_thread")]
async fn the_precheck_turns_calls_away_and_credits_them_to_seen() {
    if !have_root("the_precheck_turns_calls_away_and_credits_them_to_seen") {
        return;
    }
    let (port, other) = (closed_port(), closed_port());
    let (k, mut events) = kernel_guarded(port, AttachKind::TpBtf);
    let skips_before = k.guard_skips().unwrap()[hook::DROP as usize];
    let seen_before = k.counters().unwrap()[0].seen;

    send_udp(port, 5, 32);
    send_udp(other, 7, 32);
    let got = collect(&mut events, 5).await;

    let c = k.counters().unwrap()[0];
    let skipped = k.guard_skips().unwrap()[hook::DROP as usize] - skips_before;
    assert_eq!(c.matched, 5);
    assert_eq!(got.len(), 5);
    assert!(
        skipped >= 7,
        "the 7 drops to another port were turned away: {skipped}"
    );
    assert!(
        c.seen - seen_before >= 12,
        "seen counts the turned-away calls too: {} -> {}",
        seen_before,
        c.seen
    );
}

#[tokio::test(flavor = "current_thread")]
async fn an_address_precheck_reads_the_address_the_rules_read() {
    if !have_root("an_address_precheck_reads_the_address_the_rules_read") {
        return;
    }
    let port = closed_port();
    let mut k = Kernel::load(&LoadOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    // Slot 0: drops to `port` (no pre-check of its own); the drop hook's
    // pre-check admits daddr 127.0.0.0/24 or 127.0.0.1 exactly.
    k.set_rule(0, &rule(1 << hook::DROP, 0, &[dport_is(port)]))
        .unwrap();
    let mut cfg = Config {
        nrules: 1,
        needs: 1 << field::DPORT | 1 << field::DADDR,
        hooks: 1 << hook::DROP,
        ..Config::default()
    };
    let admit = |cfg: &mut Config, lo: u32, hi: u32| {
        cfg.guards[hook::DROP as usize] = Guard {
            field: field::DADDR.into(),
            nranges: 1,
            lo: [lo.into(), 0, 0, 0],
            hi: [hi.into(), 0, 0, 0],
        };
    };
    admit(&mut cfg, 0x7f00_0000, 0x7f00_00ff);
    k.set_config(&cfg).unwrap();
    k.attach_as(hook::DROP, AttachKind::TpBtf).unwrap();
    send_udp(port, 3, 32);
    assert_eq!(
        k.counters().unwrap()[0].matched,
        3,
        "127.0.0.1 is in 127.0.0.0/24"
    );

    admit(&mut cfg, 0x7f00_0002, 0x7f00_0002);
    k.set_config(&cfg).unwrap();
    let skipped = k.guard_skips().unwrap()[hook::DROP as usize];
    send_udp(port, 4, 32);
    assert_eq!(
        k.counters().unwrap()[0].matched,
        3,
        "127.0.0.1 is not 127.0.0.2"
    );
    assert!(k.guard_skips().unwrap()[hook::DROP as usize] - skipped >= 4);
}

#[tokio::test(flavor = "current_thread")]
async fn the_precheck_changes_nothing_that_matches() {
    if !have_root("the_precheck_changes_nothing_that_matches") {
        return;
    }
    let (port, other) = (closed_port(), closed_port());
    // raw_tp programs never run the pre-check: the reference.
    let (_typed, mut typed_events) = kernel_guarded(port, AttachKind::TpBtf);
    let (_helper, mut helper_events) = kernel_guarded(port, AttachKind::RawTp);

    // IPv6 is left to the full path by the pre-check; IPv4 is decided by it.
    send_udp(port, 3, 32);
    send_udp(other, 3, 32);
    send_udp6(port, 2);
    let _ = std::net::TcpStream::connect_timeout(
        &([127, 0, 0, 1], port).into(),
        Duration::from_millis(500),
    );

    let typed = collect(&mut typed_events, 6).await;
    let helper = collect(&mut helper_events, 6).await;
    assert!(typed.len() >= 6, "typed path saw {} drops", typed.len());
    assert_eq!(typed.len(), helper.len());
    for (t, h) in typed.iter().zip(&helper) {
        assert_eq!(comparable(&t.meta), comparable(&h.meta));
        assert_eq!(t.meta.dport, port);
    }
    assert_eq!(
        typed.iter().filter(|e| e.meta.family == 0x86dd).count(),
        2,
        "both IPv6 drops matched"
    );
}
