//! Helpers shared by the kernel_* integration tests (each test crate uses
//! some of them, hence the allow).
#![allow(dead_code)]

pub mod filter_gen;

use ferret_core::abi::{self, act, field, hook, op, Config, Guard, Insn, Meta, Rule, GUARD_HOOKS};
use ferret_core::event::{decode, Event};
use ferret_kernel::{AttachKind, EventStream, Kernel, LoadOptions};
use std::net::UdpSocket;
use std::time::{Duration, Instant};

/// Loading eBPF needs root; without it a test says why it skips.
pub fn have_root(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        eprintln!("skipping {test}: loading eBPF programs needs root");
    }
    root
}

pub fn cmp(f: u8, value: u64, jt: u8, jf: u8) -> Insn {
    Insn {
        field: f,
        op: op::EQ,
        jt,
        jf,
        value_lo: value,
        mask_lo: u64::MAX,
        ..Insn::default()
    }
}

pub fn dport_is(port: u16) -> Insn {
    cmp(
        field::DPORT,
        port.into(),
        abi::TARGET_MATCH,
        abi::TARGET_NOMATCH,
    )
}

/// An active rule on `hooks` with `actions` and a branch program.
pub fn rule(hooks: u32, actions: u32, insns: &[Insn]) -> Rule {
    let mut r = Rule {
        state: abi::RULE_ACTIVE,
        hooks,
        actions,
        ninsns: insns.len() as u32,
        ..Rule::default()
    };
    r.insns[..insns.len()].copy_from_slice(insns);
    r
}

/// A loopback UDP port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Sends `count` datagrams of `size` bytes to 127.0.0.1:`port`; returns
/// the source port.
pub fn send_udp(port: u16, count: usize, size: usize) -> u16 {
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    for _ in 0..count {
        tx.send_to(&vec![0x66; size], ("127.0.0.1", port)).unwrap();
    }
    tx.local_addr().unwrap().port()
}

/// A kernel whose slot 0 prints drops to `port`, with these hook
/// pre-checks, its drop hook attached as `kind`.
pub fn kernel_printing(
    port: u16,
    kind: AttachKind,
    guards: [Guard; GUARD_HOOKS],
) -> (Kernel, EventStream) {
    let mut k = Kernel::load(&LoadOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    k.set_rule(0, &rule(1 << hook::DROP, act::PRINT, &[dport_is(port)]))
        .unwrap();
    k.set_config(&Config {
        nrules: 1,
        needs: 1 << field::DPORT,
        hooks: 1 << hook::DROP,
        guards,
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

/// Events decoded from the ring until `want` arrived or 5 s passed.
pub async fn collect(events: &mut EventStream, want: usize) -> Vec<Event> {
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while got.len() < want && Instant::now() < deadline {
        events.wait(Duration::from_millis(20)).await;
        events.drain(|r| got.push(decode(r).expect("well-formed record")));
    }
    got
}

/// What two paths reporting the same packet must agree on: all but the clock.
pub fn comparable(m: &Meta) -> Meta {
    Meta { ts_ns: 0, ..*m }
}
