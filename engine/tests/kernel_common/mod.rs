//! Helpers shared by the kernel_* integration tests (each test crate uses
//! some of them, hence the allow).
#![allow(dead_code)]

pub mod filter_gen;

use ferret_engine::abi::{self, field, op, Insn, Rule};
use std::net::UdpSocket;

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
