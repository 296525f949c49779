use super::*;
use crate::pcap::validate::Limits;

fn eth(expr: &str) -> Result<Compiled, CompileError> {
    compile(expr, LinkType::Ethernet, true, NETMASK_UNKNOWN)
}

#[test]
fn compiles_to_the_program_tcpdump_prints() {
    // `tcpdump -d ip` on Ethernet: ldh [12]; jeq #0x800; ret #262144; ret #0.
    let p = eth("ip").unwrap();
    let text: Vec<String> = p.insns().iter().map(ToString::to_string).collect();
    assert_eq!(
        text,
        [
            "ldh [12]",
            "jeq #0x800 jt +0 jf +1",
            "ret #262144",
            "ret #0"
        ]
    );
}

#[test]
fn raw_ip_checks_the_version_nibble() {
    let p = compile("ip6", LinkType::RawIp, true, NETMASK_UNKNOWN).unwrap();
    let mut v6 = vec![0u8; 40];
    v6[0] = 0x60;
    assert_ne!(p.filter(&v6, 40), 0);
    v6[0] = 0x45;
    assert_eq!(p.filter(&v6, 40), 0);
}

#[test]
fn refusals_carry_libpcaps_message() {
    let err = eth("net 192.0.2.5/24").unwrap_err();
    assert!(err.to_string().contains("non-network bits set"), "{err}");
    let err = eth("port nosuchservice").unwrap_err();
    assert!(err.to_string().contains("nosuchservice"), "{err}");
    assert_eq!(eth("ip\0").unwrap_err(), CompileError::Nul);
    let err = eth("ip broadcast").unwrap_err();
    assert!(err.to_string().contains("netmask not known"), "{err}");
}

#[test]
fn offline_filter_uses_the_captured_length_and_the_wire_length() {
    // `greater 100` reads the wire length; `ip[0] == 0x45` needs byte 14.
    let g = eth("greater 100").unwrap();
    assert_ne!(g.filter(&[0u8; 20], 200), 0);
    assert_eq!(g.filter(&[0u8; 20], 20), 0);
    let b = eth("ether[14] == 0x45").unwrap();
    let mut pkt = vec![0u8; 15];
    pkt[14] = 0x45;
    assert_ne!(b.filter(&pkt, 60), 0);
    assert_eq!(b.filter(&pkt[..14], 60), 0);
}

#[test]
fn ip6_protochain_loops_back_and_runs_under_the_step_budget() {
    let p = eth("ip6 protochain 6").unwrap();
    let forward_only = Limits {
        backward_jumps: false,
        ..Limits::KERNEL
    };
    assert!(matches!(
        p.program(&forward_only),
        Err(InvalidProgram::BackwardJump { .. })
    ));
    let kernel = p.program(&Limits::KERNEL).unwrap();
    assert!(kernel.loops());
    assert_eq!(kernel.max_steps(), Limits::KERNEL.max_steps);
}

#[test]
fn version_names_libpcap() {
    assert!(version().starts_with("libpcap version 1."), "{}", version());
}

#[test]
fn linux_ancillary_loads_compile_but_do_not_validate() {
    // On a dead handle libpcap emits Linux's ancillary loads (SKF_AD_OFF);
    // tcpdump -r refuses these words instead, and so does the validator.
    for expr in ["inbound", "outbound", "ifindex 3"] {
        let p = eth(expr).unwrap();
        let err = p.program(&Limits::KERNEL).unwrap_err();
        assert!(
            matches!(err, InvalidProgram::LinuxOffset { pc: 0, .. }),
            "{expr}: {err}"
        );
    }
}
