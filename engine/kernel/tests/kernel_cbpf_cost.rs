//! What a classic BPF filter costs in the kernel, measured, not checked:
//! `cargo test -p ferret-kernel --release --test kernel_cbpf_cost -- --ignored --nocapture`
//! (root). Each line is the mean time in the kernel of one run of
//! ferret_test_cbpf (bpf_stats' run_time_ns / run_cnt over many
//! BPF_PROG_TEST_RUN calls), for a program slot and a frame; the empty
//! slot is the floor (map lookups, no copy, no interpretation).

mod kernel_common;

use ferret_core::abi::CbpfProg;
use ferret_core::pcap::libpcap::{self, LinkType};
use ferret_core::pcap::{Insn, Limits, Program};
use ferret_kernel::{Kernel, LoadOptions};
use kernel_common::have_root;
use std::time::Duration;

const RUNS: u64 = 20_000;

/// An Ethernet + IPv4 + TCP frame to `dport` with `flags`, `payload`
/// bytes after the 20-byte TCP header.
fn tcp_frame(dport: u16, flags: u8, payload: usize) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00];
    let total = (20 + 20 + payload) as u16;
    f.extend_from_slice(&[0x45, 0, (total >> 8) as u8, total as u8, 0, 1, 0x40, 0]);
    f.extend_from_slice(&[64, 6, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2]);
    f.extend_from_slice(&[0xc3, 0x50, (dport >> 8) as u8, dport as u8, 0, 0, 0, 1]);
    f.extend_from_slice(&[0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    f.resize(f.len() + payload, 0x41);
    f
}

/// An Ethernet + IPv4 + UDP frame to port 53.
fn udp_frame() -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00];
    f.extend_from_slice(&[0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 17, 0, 0]);
    f.extend_from_slice(&[192, 0, 2, 1, 192, 0, 2, 2, 0xc3, 0x50, 0, 53, 0, 20, 0, 0]);
    f.resize(54, 0);
    f
}

fn mean_ns(kernel: &mut Kernel, slot: usize, frame: &[u8]) -> (u32, f64) {
    let ret = kernel
        .test_cbpf(slot, frame, frame.len() as u32, frame.len() as u32)
        .expect("run");
    let (n0, t0) = kernel.test_cbpf_stats().expect("stats");
    for _ in 0..RUNS {
        kernel.test_cbpf_again(slot).expect("run");
    }
    let (n1, t1) = kernel.test_cbpf_stats().expect("stats");
    let runs = n1 - n0;
    assert!(
        runs >= RUNS,
        "bpf_stats counted {runs} runs: are statistics on?"
    );
    let time: Duration = t1 - t0;
    (ret, time.as_nanos() as f64 / runs as f64)
}

#[test]
#[ignore = "a measurement: run with --ignored --nocapture"]
fn cost_per_call_of_pcap_filters() {
    if !have_root("cost_per_call_of_pcap_filters") {
        return;
    }
    let _stats = aya::sys::enable_stats(aya::sys::Stats::RunTime).expect("BPF_ENABLE_STATS");
    let mut kernel = Kernel::load(&LoadOptions::default()).expect("load");
    let ret_only = Program::new(vec![Insn::new(0x06, 0, 0, 0)], &Limits::KERNEL).unwrap();
    let mut slots = vec![("(empty slot)".to_string(), 0)];
    kernel
        .set_pcap_prog(1, &CbpfProg::new(&ret_only).unwrap())
        .unwrap();
    slots.push(("ret #0".to_string(), 1));
    for (i, expr) in [
        "tcp port 443",
        "tcp[tcpflags] & tcp-syn != 0 and tcp dst port 443",
    ]
    .iter()
    .enumerate()
    {
        let compiled = libpcap::compile(expr, LinkType::Ethernet, true, 0).expect("compile");
        let prog = compiled.program(&Limits::KERNEL).expect("kernel limits");
        eprintln!("`{expr}`: {} instructions", prog.insns().len());
        kernel
            .set_pcap_prog(2 + i, &CbpfProg::new(&prog).unwrap())
            .unwrap();
        slots.push((expr.to_string(), 2 + i));
    }
    let frames = [
        ("TCP SYN :443, 54 B", tcp_frame(443, 0x02, 0)),
        ("TCP ACK :443, 1514 B", tcp_frame(443, 0x10, 1460)),
        ("UDP :53, 54 B", udp_frame()),
    ];
    for (name, slot) in &slots {
        for (fname, frame) in &frames {
            let (ret, ns) = mean_ns(&mut kernel, *slot, frame);
            eprintln!("{name:<52} {fname:<22} ret {ret:>6}  {ns:6.1} ns/run");
        }
    }
}
