//! The typed fast path (tp_btf: plain loads of skb, device and IPv4 header
//! fields, through bpf_rdonly_cast) against the helper path (raw_tp:
//! bpf_probe_read_kernel): two kernels loaded side by side, one attached
//! each way, see the same drops and must report the same packet, field by
//! field. Needs root; skips (and says so) without.

mod kernel_common;

use ferret_engine::abi::{act, field, hook, Config, Meta};
use ferret_engine::event::{decode, Event};
use ferret_engine::kernel::{AttachKind, EventStream, Kernel, LoadOptions};
use kernel_common::{closed_port, dport_is, have_root, rule, send_udp};
use std::time::{Duration, Instant};

fn kernel_printing(port: u16, kind: AttachKind) -> (Kernel, EventStream) {
    let mut k = Kernel::load(&LoadOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    k.set_rule(0, &rule(1 << hook::DROP, act::PRINT, &[dport_is(port)]))
        .unwrap();
    k.set_config(&Config {
        nrules: 1,
        needs: 1 << field::DPORT,
        hooks: 1 << hook::DROP,
        wakeup_bytes: 0,
        ..Config::default()
    })
    .unwrap();
    if let Err(e) = k.attach_as(hook::DROP, kind) {
        panic!(
            "attach as {kind:?}: {e}\n{}",
            e.verifier_log().unwrap_or("")
        );
    }
    let events = k.take_events().unwrap();
    (k, events)
}

async fn collect(events: &mut EventStream, want: usize) -> Vec<Event> {
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while got.len() < want && Instant::now() < deadline {
        events.wait(Duration::from_millis(20)).await;
        events.drain(|r| got.push(decode(r).expect("well-formed record")));
    }
    got
}

/// What must agree: everything but the clock.
fn comparable(m: &Meta) -> Meta {
    Meta { ts_ns: 0, ..*m }
}

#[tokio::test(flavor = "current_thread")]
async fn typed_reads_and_helper_reads_see_the_same_packets() {
    if !have_root("typed_reads_and_helper_reads_see_the_same_packets") {
        return;
    }
    let port = closed_port();
    let (_typed, mut typed_events) = kernel_printing(port, AttachKind::TpBtf);
    let (_helper, mut helper_events) = kernel_printing(port, AttachKind::RawTp);

    // IPv6 and IPv4 with options take the helper path in both programs;
    // plain UDP and a refused TCP connection cover what the typed path
    // reads: addresses, ttl, protocol, ports and TCP flags.
    send_udp(port, 3, 32);
    let _ = std::net::TcpStream::connect_timeout(
        &([127, 0, 0, 1], port).into(),
        Duration::from_millis(500),
    );

    let typed = collect(&mut typed_events, 4).await;
    let helper = collect(&mut helper_events, 4).await;
    assert!(typed.len() >= 4, "typed path saw {} drops", typed.len());
    assert_eq!(typed.len(), helper.len());
    for (t, h) in typed.iter().zip(&helper) {
        assert_eq!(comparable(&t.meta), comparable(&h.meta));
        assert!(t.has(field::DPORT) && t.has(field::SADDR) && t.has(field::IFNAME));
    }
    assert!(
        typed.iter().any(|e| e.has(field::TCPFLAGS)),
        "the refused TCP connection's SYN was seen"
    );
}
