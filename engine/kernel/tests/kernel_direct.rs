//! The typed fast path (tp_btf: plain loads of skb, device and IPv4 header
//! fields, through bpf_rdonly_cast) against the helper path (raw_tp:
//! bpf_probe_read_kernel): two kernels loaded side by side, one attached
//! each way, see the same drops and must report the same packet, field by
//! field. Needs root; skips (and says so) without.

mod kernel_common;

use ferret_core::abi::field;
use ferret_kernel::AttachKind;
use kernel_common::{closed_port, collect, comparable, have_root, kernel_printing, send_udp};
use std::time::Duration;

#[tokio::test(flavor = "current_thread")]
async fn typed_reads_and_helper_reads_see_the_same_packets() {
    if !have_root("typed_reads_and_helper_reads_see_the_same_packets") {
        return;
    }
    let port = closed_port();
    let (_typed, mut typed_events) = kernel_printing(port, AttachKind::TpBtf, Default::default());
    let (_helper, mut helper_events) = kernel_printing(port, AttachKind::RawTp, Default::default());

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
