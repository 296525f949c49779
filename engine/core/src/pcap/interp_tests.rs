use super::*;
use crate::pcap::validate::Limits;

const LOOPS: Limits = Limits {
    max_insns: 64,
    backward_jumps: true,
    max_steps: 50,
};

fn prog(insns: &[Insn]) -> Program {
    Program::new(insns.to_vec(), &LOOPS).unwrap()
}

fn i(code: u16, k: u32) -> Insn {
    Insn::new(code, 0, 0, k)
}

const RET_A: u16 = 0x16;

#[test]
fn loads_are_big_endian_and_past_the_capture_reject() {
    let pkt = [0x12, 0x34, 0x56, 0x78, 0x9a];
    let ld = |code, k| run(&prog(&[i(code, k), i(RET_A, 0)]), &pkt, 100).ret;
    assert_eq!(ld(0x20, 1), 0x3456_789a); // ld [1]
    assert_eq!(ld(0x28, 3), 0x789a); // ldh [3]
    assert_eq!(ld(0x30, 4), 0x9a); // ldb [4]
                                   // One byte short: libpcap rejects the packet (ret 0), whatever follows.
    let short = prog(&[i(0x28, 4), i(0x06, 1)]);
    assert_eq!(
        run(&short, &pkt, 100),
        Run {
            ret: 0,
            steps: 1,
            out_of_steps: false
        }
    );
    assert_eq!(
        run(&prog(&[i(0x20, 0x7fff_ffff), i(0x06, 1)]), &pkt, 100).ret,
        0
    );
}

#[test]
fn indexed_loads_add_x_without_wrapping() {
    let pkt = [0u8, 1, 2, 3, 4, 5, 6, 7];
    let ind = |x: u32, k: u32| {
        run(&prog(&[i(0x01, x), i(0x50, k), i(RET_A, 0)]), &pkt, 8).ret // ldx #x; ldb [x+k]
    };
    assert_eq!(ind(3, 4), 7);
    assert_eq!(ind(4, 4), 0);
    // X + k wraps to 2 in 32 bits; libpcap checks before adding, so: reject.
    assert_eq!(ind(u32::MAX, 3), 0);
}

#[test]
fn msh_takes_four_times_the_low_nibble() {
    let p = prog(&[i(0xb1, 0), i(0x87, 0), i(RET_A, 0)]); // ldx 4*([0]&0xf); txa
    assert_eq!(run(&p, &[0x46], 1).ret, 24);
    assert_eq!(run(&p, &[], 0).ret, 0);
}

#[test]
fn len_is_the_wire_length() {
    let p = prog(&[i(0x80, 0), i(RET_A, 0)]);
    assert_eq!(run(&p, &[0; 10], 1514).ret, 1514);
    let px = prog(&[i(0x81, 0), i(0x87, 0), i(RET_A, 0)]);
    assert_eq!(run(&px, &[], 60).ret, 60);
}

#[test]
fn alu_wraps_and_division_by_a_zero_x_rejects() {
    let alu = |a: u32, code: u16, x: u32| {
        let p = prog(&[i(0x00, a), i(0x01, x), i(code, 0), i(RET_A, 0)]);
        run(&p, &[], 0).ret
    };
    assert_eq!(alu(1, 0x1c, 2), u32::MAX); // sub x
    assert_eq!(alu(7, 0x3c, 2), 3); // div x
    assert_eq!(alu(7, 0x9c, 4), 3); // mod x
    assert_eq!(alu(7, 0x3c, 0), 0);
    assert_eq!(alu(7, 0x9c, 0), 0);
    assert_eq!(alu(1, 0x6c, 31), 0x8000_0000); // lsh x
    assert_eq!(alu(1, 0x6c, 32), 0);
    assert_eq!(alu(u32::MAX, 0x7c, 40), 0);
    assert_eq!(alu(6, 0xac, 3), 5); // xor x
    let neg = prog(&[i(0x00, 5), i(0x84, 0), i(RET_A, 0)]);
    assert_eq!(run(&neg, &[], 0).ret, 5u32.wrapping_neg());
}

#[test]
fn scratch_words_and_registers_start_at_zero() {
    let p = prog(&[
        i(0x00, 9),
        i(0x02, 3),
        i(0x00, 0),
        i(0x60, 3),
        i(0x61, 4),
        i(0x0c, 0),
        i(RET_A, 0),
    ]);
    assert_eq!(run(&p, &[], 0).ret, 9);
}

#[test]
fn conditional_jumps_skip_forward() {
    // A = 5; jgt #4 ? ret 1 : ret 2
    let p =
        |code: u16, k: u32| prog(&[i(0x00, 5), Insn::new(code, 0, 1, k), i(0x06, 1), i(0x06, 2)]);
    assert_eq!(run(&p(0x25, 4), &[], 0).ret, 1);
    assert_eq!(run(&p(0x25, 5), &[], 0).ret, 2);
    assert_eq!(run(&p(0x35, 5), &[], 0).ret, 1);
    assert_eq!(run(&p(0x15, 5), &[], 0).ret, 1);
    assert_eq!(run(&p(0x45, 2), &[], 0).ret, 2);
    assert_eq!(run(&p(0x45, 4), &[], 0).steps, 3);
}

#[test]
fn backward_jumps_loop_until_the_step_budget() {
    // A += 1 until A > 3, then ret A.
    let counting = prog(&[
        i(0x04, 1),
        Insn::new(0x25, 1, 0, 3),
        i(0x05, (-3i32) as u32),
        i(RET_A, 0),
    ]);
    assert_eq!(
        run(&counting, &[], 0),
        Run {
            ret: 4,
            steps: 12,
            out_of_steps: false
        }
    );
    let forever = prog(&[i(0x05, u32::MAX), i(0x06, 1)]);
    assert_eq!(
        run(&forever, &[], 0),
        Run {
            ret: 0,
            steps: 50,
            out_of_steps: true
        }
    );
}
