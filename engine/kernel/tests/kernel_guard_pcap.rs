//! The pcap-filter pre-check (field PCAP, ebpf/pcap_view.bpf.h) in the
//! kernel, with the rule and pre-check ferret compiles for a real filter:
//! packets of another class are turned away before the rule loop and
//! counted, and the packets the rule matches still arrive, each one.
//! Needs root; skips (and says so) without.

mod kernel_common;

use ferret_core::abi::{self, hook, CbpfProg, Config};
use ferret_core::plan::guard::hook_guards;
use ferret_core::plan::RulePlan;
use ferret_kernel::{AttachKind, Kernel, LoadOptions};
use kernel_common::{closed_port, collect, have_root, send_udp};
use std::net::{Ipv4Addr, TcpStream};
use std::time::Duration;

fn plan(text: &str) -> RulePlan {
    ferret_core::testing::compile_ok(text).rules.remove(0)
}

/// TCP connections to a closed loopback port: each SYN is dropped.
fn refused_tcp(port: u16, count: usize) {
    for _ in 0..count {
        let addr = (Ipv4Addr::LOCALHOST, port).into();
        let _ = TcpStream::connect_timeout(&addr, Duration::from_millis(200));
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_pcap_filter_precheck_turns_other_protocols_away() {
    if !have_root("a_pcap_filter_precheck_turns_other_protocols_away") {
        return;
    }
    let port = closed_port();
    let rule = plan(&format!("on drop where udp dst port {port} print"));
    let entry = rule.to_abi(0);
    let guards = hook_guards(&[entry], &[&rule.pcap[..]]);
    let guard = guards[hook::DROP as usize];
    assert_eq!(guard.field, u32::from(abi::field::PCAP), "{guard:?}");

    let mut k = Kernel::load(&LoadOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    if k.btf().kfunc_id("bpf_rdonly_cast").is_none() {
        eprintln!("skipped: the pre-check needs bpf_rdonly_cast (Linux 6.2+)");
        return;
    }
    k.set_rule(0, &entry).unwrap();
    let unit = &rule.pcap[0];
    k.set_pcap_prog(
        abi::pcap_prog_index(0, 0, false),
        &CbpfProg::new(&unit.ether).unwrap(),
    )
    .unwrap();
    let raw = unit.raw.as_ref().expect("udp compiles for raw IP");
    k.set_pcap_prog(
        abi::pcap_prog_index(0, 0, true),
        &CbpfProg::new(raw).unwrap(),
    )
    .unwrap();
    k.set_config(&Config {
        nrules: 1,
        needs: rule.needs,
        hooks: 1 << hook::DROP,
        guards,
        ..Config::default()
    })
    .unwrap();
    k.attach_as(hook::DROP, AttachKind::TpBtf)
        .unwrap_or_else(|e| panic!("{e}\n{}", e.verifier_log().unwrap_or("")));
    let mut events = k.take_events().unwrap();
    let skips_before = k.guard_skips().unwrap()[hook::DROP as usize];

    refused_tcp(closed_port(), 6);
    send_udp(port, 5, 32);
    send_udp(closed_port(), 4, 32);
    let got = collect(&mut events, 5).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let late = collect(&mut events, 1).await;

    let skipped = k.guard_skips().unwrap()[hook::DROP as usize] - skips_before;
    let c = k.counters().unwrap()[0];
    assert_eq!(
        got.len() + late.len(),
        5,
        "the five datagrams to {port}, no other"
    );
    assert!(got.iter().all(|e| e.meta.dport == port));
    assert_eq!(c.matched, 5);
    assert!(
        skipped >= 6,
        "the 6 refused SYNs were turned away: {skipped}"
    );
}
