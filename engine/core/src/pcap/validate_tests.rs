use super::*;

fn i(code: u16, k: u32) -> Insn {
    Insn::new(code, 0, 0, k)
}

fn check(insns: &[Insn]) -> Result<Program, InvalidProgram> {
    Program::new(insns.to_vec(), &Limits::KERNEL)
}

#[test]
fn accepts_a_straight_program_and_bounds_its_steps() {
    let p = check(&[
        i(0x28, 12),
        Insn::new(0x15, 0, 1, 0x800),
        i(0x06, 1),
        i(0x06, 0),
    ])
    .unwrap();
    assert_eq!(p.max_steps(), 4);
    assert!(!p.loops());
}

#[test]
fn refuses_what_an_unchecked_interpreter_would_trip_on() {
    use InvalidProgram::*;
    assert_eq!(check(&[]), Err(Empty));
    let long = vec![i(0x06, 0); 513];
    assert_eq!(check(&long), Err(TooLong { len: 513, max: 512 }));
    assert_eq!(
        check(&[i(0x0e, 0)]),
        Err(UnknownOpcode { pc: 0, code: 0x0e })
    );
    assert_eq!(
        check(&[i(0x08, 0), i(0x06, 0)]),
        Err(UnknownOpcode { pc: 0, code: 0x08 })
    );
    assert_eq!(
        check(&[Insn::new(0x15, 0, 1, 0), i(0x06, 0)]),
        Err(JumpOutOfRange { pc: 0, target: 2 })
    );
    assert_eq!(
        check(&[i(0x05, 1), i(0x06, 0)]),
        Err(JumpOutOfRange { pc: 0, target: 2 })
    );
    let forward_only = Limits {
        backward_jumps: false,
        ..Limits::KERNEL
    };
    assert_eq!(
        Program::new(
            vec![i(0x06, 0), i(0x05, u32::MAX - 1), i(0x06, 0)],
            &forward_only
        ),
        Err(BackwardJump { pc: 1 })
    );
    assert_eq!(
        check(&[i(0x02, 16), i(0x06, 0)]),
        Err(ScratchOutOfRange { pc: 0, k: 16 })
    );
    assert_eq!(
        check(&[i(0x61, 99), i(0x06, 0)]),
        Err(ScratchOutOfRange { pc: 0, k: 99 })
    );
    assert_eq!(
        check(&[i(0x34, 0), i(0x06, 0)]),
        Err(DivisionByZero { pc: 0 })
    );
    assert_eq!(
        check(&[i(0x94, 0), i(0x06, 0)]),
        Err(DivisionByZero { pc: 0 })
    );
    assert_eq!(
        check(&[i(0x64, 32), i(0x06, 0)]),
        Err(ShiftTooFar { pc: 0, k: 32 })
    );
    assert_eq!(check(&[i(0x00, 1)]), Err(NoFinalRet));
    assert_eq!(
        check(&[i(0x28, 0xffff_f004), i(0x06, 0)]),
        Err(LinuxOffset {
            pc: 0,
            k: 0xffff_f004
        })
    );
}

#[test]
fn backward_jumps_only_when_admitted_and_then_under_a_budget() {
    let limits = Limits {
        backward_jumps: true,
        max_steps: 1000,
        ..Limits::KERNEL
    };
    let p = Program::new(
        vec![i(0x04, 1), i(0x05, (-2i32) as u32), i(0x06, 0)],
        &limits,
    )
    .unwrap();
    assert!(p.loops());
    assert_eq!(p.max_steps(), 1000);
    let before_start = Program::new(vec![i(0x05, (-2i32) as u32), i(0x06, 0)], &limits);
    assert_eq!(
        before_start,
        Err(InvalidProgram::JumpOutOfRange { pc: 0, target: -1 })
    );
}
