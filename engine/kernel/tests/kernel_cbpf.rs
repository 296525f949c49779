//! Differential test of the classic BPF interpreter in the kernel
//! (ebpf/cbpf.bpf.h, run through BPF_PROG_TEST_RUN of ferret_test_cbpf)
//! against the Rust one (`ferret_core::pcap::run`, itself held to libpcap
//! and tcpdump by ferret-core's pcap_oracle test): the pcap-filter
//! expressions of `ferret_core::pcap::exprs`, compiled by libpcap for
//! Ethernet and raw IP, over seeded generated frames (cut, runt, mutated,
//! and longer than the kernel's copy window) must return the same value on
//! every frame. Needs root; skips (and says so) without.

mod kernel_common;

use ferret_core::abi::{CbpfProg, CBPF_PROGS, CBPF_WINDOW};
use ferret_core::pcap::frames::{self, rng::Rng, Frame, FrameLink};
use ferret_core::pcap::libpcap::{self, LinkType};
use ferret_core::pcap::{exprs, run, InvalidProgram, Limits, Program};
use ferret_kernel::{Kernel, LoadOptions};
use kernel_common::have_root;

/// tcpdump compiles with netmask 0 when it reads a file.
const NETMASK: u32 = 0;

/// Expressions that load far into the packet, past the copy window: fixed
/// offsets beyond it, and variable ones (the last byte of the IP packet,
/// the end of the frame) through X.
const FAR_LOADS: &[&str] = &[
    "ether[300] = 0x41",
    "ether[255:2] = 0x4141",
    "ether[254:4] = 0x41414141 or ether[256] = 0x41",
    "ip[270:2] > 0x100",
    "len > 300 and ether[len - 1] != 0",
    "len >= 258 and ether[len - 2:2] != 0xffff",
    "ip and ether[14 + ip[2:2] - 1] & 1 = 1",
    "ip6 and ip6[40 + ip6[4:2] - 1] != 7",
    "ip[(ip[0] & 0xf) * 4 + 250] = 0x41",
];

fn link_type(link: FrameLink) -> LinkType {
    match link {
        FrameLink::Ethernet => LinkType::Ethernet,
        FrameLink::RawIp => LinkType::RawIp,
    }
}

/// Generated frames, every cut of a few whole ones, and whole frames
/// stretched past the copy window (trailing bytes, captured in full or
/// snapped short of the wire length).
fn frames(link: FrameLink, seed: u64) -> Vec<Frame> {
    let mut all = frames::generate(link, seed, 500);
    let mut rng = Rng::new(seed ^ 0x10c);
    for _ in 0..6 {
        all.extend(frames::whole(&mut rng, link).every_cut());
    }
    for i in 0..120 {
        let mut f = frames::whole(&mut rng, link);
        let target = CBPF_WINDOW - 4 + rng.below(1200);
        while f.data.len() < target {
            f.data.push(if i % 2 == 0 {
                0x41
            } else {
                rng.below(256) as u8
            });
        }
        f.wirelen = f.data.len() as u32;
        if i % 3 == 0 {
            let snap = CBPF_WINDOW - 2 + rng.below(f.data.len() - CBPF_WINDOW + 2);
            f.data.truncate(snap);
            f.label.push_str(&format!(" long snap@{snap}"));
        } else {
            f.label.push_str(" long");
        }
        all.push(f);
    }
    all
}

struct Outcome {
    programs: usize,
    runs: usize,
    accepted: usize,
    not_for_kernel: Vec<(String, InvalidProgram)>,
    disagreements: Vec<String>,
}

/// Runs every expression that compiles for `link` and passes
/// `Limits::KERNEL` on every frame, in the kernel and in Rust.
fn compare(kernel: &mut Kernel, link: FrameLink, exprs: &[String], frames: &[Frame]) -> Outcome {
    let mut programs: Vec<(String, Program)> = Vec::new();
    let mut not_for_kernel = Vec::new();
    for expr in exprs {
        let Ok(compiled) = libpcap::compile(expr, link_type(link), true, NETMASK) else {
            continue;
        };
        match compiled.program(&Limits::KERNEL) {
            Ok(p) => programs.push((expr.clone(), p)),
            Err(e) => not_for_kernel.push((expr.clone(), e)),
        }
    }
    let mut out = Outcome {
        programs: programs.len(),
        runs: 0,
        accepted: 0,
        not_for_kernel,
        disagreements: Vec::new(),
    };
    // A batch fills every slot; each frame is written once per batch.
    for batch in programs.chunks(CBPF_PROGS) {
        for (slot, (_, prog)) in batch.iter().enumerate() {
            let k = CbpfProg::new(prog).expect("passed Limits::KERNEL");
            kernel.set_pcap_prog(slot, &k).expect("write slot");
        }
        for (i, f) in frames.iter().enumerate() {
            for (slot, (expr, prog)) in batch.iter().enumerate() {
                let got = if slot == 0 {
                    kernel.test_cbpf(slot, &f.data, f.data.len() as u32, f.wirelen)
                } else {
                    kernel.test_cbpf_again(slot)
                }
                .expect("test run");
                let want = run(prog, &f.data, f.wirelen).ret;
                out.runs += 1;
                out.accepted += usize::from(want != 0);
                if got != want {
                    out.disagreements.push(format!(
                        "`{expr}` ({link:?}) frame {i} ({}, caplen {} wirelen {}): kernel {got}, Rust {want}",
                        f.label,
                        f.data.len(),
                        f.wirelen
                    ));
                }
            }
        }
    }
    out
}

#[test]
fn kernel_cbpf_agrees_with_the_rust_interpreter() {
    if !have_root("kernel_cbpf_agrees_with_the_rust_interpreter") {
        return;
    }
    let mut kernel = Kernel::load(&LoadOptions::default()).expect("load");
    let mut exprs = exprs::all();
    exprs.extend(FAR_LOADS.iter().map(|s| s.to_string()));
    let mut disagreements = Vec::new();
    for (link, seed) in [(FrameLink::Ethernet, 0xcb9f), (FrameLink::RawIp, 0xcba0)] {
        let frames = frames(link, seed);
        let long = frames.iter().filter(|f| f.data.len() > CBPF_WINDOW).count();
        let out = compare(&mut kernel, link, &exprs, &frames);
        eprintln!(
            "{link:?}: {} programs x {} frames ({long} longer than the {CBPF_WINDOW}-byte window): \
             {} runs, {} accepted, {} disagreements",
            out.programs,
            frames.len(),
            out.runs,
            out.accepted,
            out.disagreements.len()
        );
        for (expr, why) in &out.not_for_kernel {
            eprintln!("{link:?}: not for the kernel: `{expr}`: {why}");
            // Only protochain loops back.
            assert!(
                matches!(why, InvalidProgram::BackwardJump { .. }) && expr.contains("protochain"),
                "`{expr}`: {why}"
            );
        }
        // Both verdicts well represented, or agreement proves little.
        assert!(
            out.accepted * 20 > out.runs,
            "{} of {}",
            out.accepted,
            out.runs
        );
        assert!(out.accepted * 20 < out.runs * 19);
        assert!(out.programs > 300, "{} programs", out.programs);
        assert!(long > 50);
        if link == FrameLink::Ethernet {
            far_loads_reach_past_the_window(&frames);
        }
        disagreements.extend(out.disagreements);
    }
    let insns = kernel.verified_insns();
    eprintln!("verified instructions: {insns:?}");
    assert!(
        disagreements.is_empty(),
        "{} disagreements:\n{}",
        disagreements.len(),
        disagreements[..disagreements.len().min(30)].join("\n")
    );
}

/// The expressions meant to load past the copy window both accept and
/// reject some of the long frames, so the kernel's fallback reads decide.
fn far_loads_reach_past_the_window(frames: &[Frame]) {
    let long: Vec<&Frame> = frames
        .iter()
        .filter(|f| f.data.len() > CBPF_WINDOW)
        .collect();
    for expr in FAR_LOADS {
        let compiled = libpcap::compile(expr, LinkType::Ethernet, true, NETMASK).expect(expr);
        let prog = compiled.program(&Limits::KERNEL).expect(expr);
        let accepted = long
            .iter()
            .filter(|f| run(&prog, &f.data, f.wirelen).accepted())
            .count();
        assert!(
            accepted > 0 && accepted < long.len(),
            "`{expr}` accepts {accepted} of {} long frames",
            long.len()
        );
    }
}

#[test]
fn an_empty_slot_rejects_and_a_bad_slot_is_refused() {
    if !have_root("an_empty_slot_rejects_and_a_bad_slot_is_refused") {
        return;
    }
    let mut kernel = Kernel::load(&LoadOptions::default()).expect("load");
    let accept_all = Program::new(
        vec![ferret_core::pcap::Insn::new(0x06, 0, 0, 96)],
        &Limits::KERNEL,
    )
    .unwrap();
    kernel
        .set_pcap_prog(3, &CbpfProg::new(&accept_all).unwrap())
        .unwrap();
    assert_eq!(kernel.test_cbpf(3, &[0; 20], 20, 20).unwrap(), 96);
    kernel.clear_pcap_prog(3).unwrap();
    assert_eq!(kernel.test_cbpf(3, &[0; 20], 20, 20).unwrap(), 0);
    assert!(kernel.test_cbpf(CBPF_PROGS, &[0; 20], 20, 20).is_err());
    assert!(kernel
        .set_pcap_prog(CBPF_PROGS, &CbpfProg::default())
        .is_err());
}
