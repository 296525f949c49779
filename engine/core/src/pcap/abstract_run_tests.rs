use super::*;
use crate::pcap::insn::{class, mode, op, size, src};
use crate::pcap::{run, Limits};

fn prog(insns: &[Insn]) -> Program {
    Program::new(insns.to_vec(), &Limits::KERNEL).expect("valid")
}

const RET_0: Insn = Insn::new(class::RET | src::K, 0, 0, 0);
const RET_1: Insn = Insn::new(class::RET | src::K, 0, 0, 1);

fn ldh_abs(k: u32) -> Insn {
    Insn::new(class::LD | size::H | mode::ABS, 0, 0, k)
}

fn jeq(k: u32, jt: u8, jf: u8) -> Insn {
    Insn::new(class::JMP | op::JEQ | src::K, jt, jf, k)
}

/// `ether proto 0x800`, by hand.
fn ipv4_only() -> Program {
    prog(&[ldh_abs(12), jeq(0x800, 0, 1), RET_1, RET_0])
}

fn ethertype(e: u16) -> Facts {
    Facts {
        bytes: vec![(12, (e >> 8) as u8, 0xff), (13, e as u8, 0xff)],
        ..Facts::default()
    }
}

#[test]
fn a_known_ethertype_decides_the_branch() {
    assert!(may_accept(&ipv4_only(), &ethertype(0x800)));
    assert!(!may_accept(&ipv4_only(), &ethertype(0x806)));
}

#[test]
fn an_unknown_byte_goes_both_ways_and_an_excluded_one_does_not() {
    assert!(may_accept(&ipv4_only(), &Facts::default()));
    let not_ip = Facts {
        excluded: Some(Excluded {
            offset: 12,
            bytes: 2,
            values: vec![0x800],
        }),
        ..Facts::default()
    };
    assert!(!may_accept(&ipv4_only(), &not_ip));
}

#[test]
fn a_load_past_the_bound_rejects() {
    let short = Facts {
        max_len: Some(13),
        ..Facts::default()
    };
    assert!(!may_accept(&ipv4_only(), &short));
    let enough = Facts {
        max_len: Some(14),
        ..Facts::default()
    };
    assert!(may_accept(&ipv4_only(), &enough));
}

#[test]
fn half_known_bytes_decide_masked_tests() {
    // ldb [0]; and #0xf0; jeq #0x40: the raw-IP `ip` test.
    let p = prog(&[
        Insn::new(class::LD | size::B | mode::ABS, 0, 0, 0),
        Insn::new(class::ALU | op::AND | src::K, 0, 0, 0xf0),
        jeq(0x40, 0, 1),
        RET_1,
        RET_0,
    ]);
    let version = |v: u8| Facts {
        bytes: vec![(0, v << 4, 0xf0)],
        ..Facts::default()
    };
    assert!(may_accept(&p, &version(4)));
    assert!(!may_accept(&p, &version(6)));
}

#[test]
fn a_division_by_a_zero_constant_rejects() {
    let p = prog(&[
        Insn::new(class::LD | mode::LEN, 0, 0, 0),
        Insn::new(class::ALU | op::DIV | src::X, 0, 0, 0),
        RET_1,
    ]);
    assert!(!may_accept(&p, &Facts::default()));
}

#[test]
fn bit_operations_keep_what_is_known() {
    let a = Bits {
        value: 0x40,
        unknown: 0x0f,
    };
    assert_eq!(a.and(Bits::known(0xf0)), Bits::known(0x40));
    assert_eq!(a.or(Bits::known(0x0f)), Bits::known(0x4f));
    assert_eq!(
        a.shift(4, false),
        Bits {
            value: 0x4,
            unknown: 0
        }
    );
    assert_eq!(a.shift(32, true), Bits::known(0));
    assert_eq!((a.min(), a.max()), (0x40, 0x4f));
}

#[test]
fn with_every_byte_known_it_agrees_with_the_interpreter() {
    // A packet fully described is one packet: "no" must mean rejected.
    let p = prog(&[
        ldh_abs(12),
        jeq(0x800, 0, 3),
        Insn::new(class::LD | size::B | mode::ABS, 0, 0, 23),
        jeq(6, 0, 1),
        RET_1,
        RET_0,
    ]);
    for (e, proto) in [(0x800u16, 6u8), (0x800, 17), (0x86dd, 6)] {
        let mut frame = vec![0u8; 40];
        frame[12..14].copy_from_slice(&e.to_be_bytes());
        frame[23] = proto;
        let facts = Facts {
            bytes: frame
                .iter()
                .enumerate()
                .map(|(i, &b)| (i as u32, b, 0xff))
                .collect(),
            max_len: Some(frame.len() as u32),
            ..Facts::default()
        };
        let concrete = run(&p, &frame, frame.len() as u32).accepted();
        assert_eq!(may_accept(&p, &facts), concrete, "{e:#x} {proto}");
    }
}
