//! Measurements for choosing how filters run in the kernel, not checks:
//! `cargo test -p ferret-core --release --test pcap_measure -- --ignored --nocapture`.
//! Program sizes and instruction mix of libpcap's output, interpreter steps
//! on non-matching frames, the interpreter's speed, and how much of the
//! same expression list ferret's native `where` accepts today.

use std::time::Instant;

use ferret_core::check::{CheckEnv, NoNetnsNames};
use ferret_core::hooks::HookNames;
use ferret_core::pcap::exprs;
use ferret_core::pcap::frames::{self, FrameLink};
use ferret_core::pcap::insn::{class, mode};
use ferret_core::pcap::libpcap::{self, LinkType};
use ferret_core::pcap::{run, Limits, Program};
use ferret_core::reasons::DropReasons;

const LOOSE: Limits = Limits {
    max_insns: 1 << 20,
    backward_jumps: true,
    max_steps: 1_000_000,
};

fn percentile(sorted: &[usize], p: usize) -> usize {
    sorted[(sorted.len() - 1) * p / 100]
}

#[test]
#[ignore = "measurement; run by hand"]
fn program_sizes_and_instruction_mix() {
    for link in [LinkType::Ethernet, LinkType::RawIp] {
        let mut sizes = Vec::new();
        let mut unopt = Vec::new();
        let (mut max_k, mut max_mem, mut loops, mut over_kernel) =
            (0u32, 0u32, Vec::new(), Vec::new());
        let (mut ind, mut msh, mut len, mut alu_x) = (0, 0, 0, 0);
        for expr in exprs::all() {
            let Ok(c) = libpcap::compile(&expr, link, true, 0) else {
                continue;
            };
            let p = c.program(&LOOSE).unwrap();
            sizes.push((p.insns().len(), expr.clone()));
            if let Ok(u) = libpcap::compile(&expr, link, false, 0) {
                unopt.push(u.insns().len());
            }
            if p.loops() {
                loops.push(expr.clone());
            }
            if Program::new(p.insns().to_vec(), &Limits::KERNEL).is_err() {
                over_kernel.push(expr.clone());
            }
            let mut uses = (false, false, false, false);
            for i in p.insns() {
                match (i.class(), i.mode()) {
                    (class::LD, mode::ABS) => max_k = max_k.max(i.k),
                    (class::LD, mode::IND) => uses.0 = true,
                    (class::LDX, mode::MSH) => uses.1 = true,
                    (class::LD | class::LDX, mode::LEN) => uses.2 = true,
                    (class::ST | class::STX, _) => max_mem = max_mem.max(i.k + 1),
                    (class::ALU, _) if i.src() != 0 => uses.3 = true,
                    _ => {}
                }
            }
            ind += usize::from(uses.0);
            msh += usize::from(uses.1);
            len += usize::from(uses.2);
            alu_x += usize::from(uses.3);
        }
        sizes.sort();
        unopt.sort_unstable();
        let n: Vec<usize> = sizes.iter().map(|s| s.0).collect();
        println!("## {link:?}: {} programs", n.len());
        println!(
            "optimized insns: min {} median {} p90 {} p99 {} max {} ({})",
            n[0],
            percentile(&n, 50),
            percentile(&n, 90),
            percentile(&n, 99),
            n[n.len() - 1],
            sizes[sizes.len() - 1].1
        );
        println!("largest five: {:?}", &sizes[sizes.len() - 5..]);
        println!(
            "unoptimized insns: median {} max {}",
            percentile(&unopt, 50),
            unopt[unopt.len() - 1]
        );
        println!("highest absolute load offset {max_k}; scratch words used {max_mem}");
        println!("programs with [x+k] loads {ind}, 4*([k]&0xf) {msh}, len {len}, alu on x {alu_x}");
        println!("backward jumps (loops): {loops:?}");
        println!("not within Limits::KERNEL: {over_kernel:?}");
        for e in [
            "tcp port 443",
            "tcp[tcpflags] & tcp-syn != 0 and tcp dst port 443",
            "host 192.0.2.1",
            "port 80 or 443",
            "ip6 protochain 6",
        ] {
            let c = libpcap::compile(e, link, true, 0).unwrap();
            println!("`{e}`: {} insns", c.insns().len());
        }
    }
}

#[test]
#[ignore = "measurement; run by hand"]
fn steps_and_speed_on_generated_frames() {
    let frames = frames::generate(FrameLink::Ethernet, 0x5bee, 20_000);
    let bytes: usize = frames.iter().map(|f| f.data.len()).sum();
    println!(
        "## {} Ethernet frames, {} bytes on average",
        frames.len(),
        bytes / frames.len()
    );
    let mut worst = (0u32, String::new());
    for expr in exprs::all() {
        let Ok(c) = libpcap::compile(&expr, LinkType::Ethernet, true, 0) else {
            continue;
        };
        let p = c.program(&LOOSE).unwrap();
        if p.loops() {
            continue;
        }
        let m = frames
            .iter()
            .map(|f| run(&p, &f.data, f.wirelen).steps)
            .max()
            .unwrap();
        if m > worst.0 {
            worst = (m, expr.clone());
        }
    }
    println!(
        "most steps of any loop-free program on any frame: {} (`{}`)",
        worst.0, worst.1
    );
    for e in [
        "tcp port 443",
        "tcp[tcpflags] & tcp-syn != 0 and tcp dst port 443",
        "host 192.0.2.1",
        "port 80 or 443",
        "ip6 protochain 6",
        "vlan and tcp port 80",
    ] {
        let c = libpcap::compile(e, LinkType::Ethernet, true, 0).unwrap();
        let p = c.program(&LOOSE).unwrap();
        let runs: Vec<_> = frames.iter().map(|f| run(&p, &f.data, f.wirelen)).collect();
        let mut rejected: Vec<usize> = runs
            .iter()
            .filter(|r| !r.accepted() && !r.out_of_steps)
            .map(|r| r.steps as usize)
            .collect();
        rejected.sort_unstable();
        let matched = runs.iter().filter(|r| r.accepted()).count();
        let endless = runs.iter().filter(|r| r.out_of_steps).count();
        let mean = rejected.iter().sum::<usize>() as f64 / rejected.len() as f64;
        // Speed: every frame, repeated, loop-free frames only for protochain.
        let usable: Vec<_> = frames
            .iter()
            .zip(&runs)
            .filter(|(_, r)| !r.out_of_steps)
            .map(|(f, _)| f)
            .collect();
        let reps = 20;
        let t = Instant::now();
        let mut acc = 0u64;
        for _ in 0..reps {
            for f in &usable {
                acc += u64::from(run(&p, &f.data, f.wirelen).ret);
            }
        }
        let ns_ours = t.elapsed().as_nanos() as f64 / (reps * usable.len()) as f64;
        let t = Instant::now();
        for _ in 0..reps {
            for f in &usable {
                acc += u64::from(c.filter(&f.data, f.wirelen));
            }
        }
        let ns_pcap = t.elapsed().as_nanos() as f64 / (reps * usable.len()) as f64;
        println!(
            "`{e}`: {} insns; matched {matched}, endless {endless}; steps on non-matching: median {} mean {mean:.1} max {}; {ns_ours:.1} ns/frame ours, {ns_pcap:.1} ns/frame libpcap ({acc})",
            p.insns().len(),
            percentile(&rejected, 50),
            rejected[rejected.len() - 1]
        );
    }
}

#[test]
#[ignore = "measurement; run by hand"]
fn how_much_the_native_filter_accepts() {
    let reasons = DropReasons::from_pairs([("NOT_SPECIFIED", 2), ("NETFILTER_DROP", 12)]);
    let funcs = HookNames::tracepoints();
    let env = CheckEnv {
        reasons: Ok(&reasons),
        funcs: &funcs,
        netns: &NoNetnsNames,
    };
    for (name, list) in [
        (
            "hand-written",
            exprs::hand_written()
                .iter()
                .map(|s| s.to_string())
                .collect(),
        ),
        ("all", exprs::all()),
    ] {
        let list: Vec<String> = list;
        let mut refused = Vec::new();
        for expr in &list {
            let text = format!("on recv where {expr}");
            let (plan, diags) = ferret_core::compile(&text, &env);
            if plan.is_none() {
                let first = diags
                    .iter()
                    .find(|d| d.is_error())
                    .map(|d| d.message.clone())
                    .unwrap_or_default();
                refused.push((expr.clone(), first));
            }
        }
        println!(
            "## native `where`, {name}: {} of {} accepted, {} refused",
            list.len() - refused.len(),
            list.len(),
            refused.len()
        );
        if name == "hand-written" {
            for (e, m) in &refused {
                println!("  refused `{e}`: {m}");
            }
        }
    }
}
