//! The hook pre-check of pcap-filter parts (pcap::prefilter) against
//! libpcap: for every expression libpcap compiles, on thousands of
//! generated ordinary, cut and mutated frames seen from the Ethernet
//! header and from the IP header, a frame libpcap accepts always has a key
//! the pre-check admits. It must also turn frames away, or it is useless:
//! the everyday filters of the benchmarks are checked to do so.

use ferret_core::pcap::frames::{self, Frame, FrameLink};
use ferret_core::pcap::libpcap::{self, LinkType};
use ferret_core::pcap::prefilter::{admits, admitted_keys, frame_key, KeyRange};
use ferret_core::pcap::{exprs, Limits, Program};

const NETMASK: u32 = 0;

struct Compiled {
    ether: libpcap::Compiled,
    raw: Option<libpcap::Compiled>,
    keys: Vec<KeyRange>,
}

fn compile(expr: &str) -> Option<Compiled> {
    let ether = libpcap::compile(expr, LinkType::Ethernet, true, NETMASK).ok()?;
    let raw = libpcap::compile(expr, LinkType::RawIp, true, NETMASK).ok();
    let prog =
        |c: &libpcap::Compiled| -> Program { c.program(&Limits::KERNEL).expect("kernel-valid") };
    let keys = admitted_keys(&prog(&ether), raw.as_ref().map(prog).as_ref());
    Some(Compiled { ether, raw, keys })
}

fn accepts(c: &Compiled, f: &Frame, raw_ip: bool) -> bool {
    match (raw_ip, &c.raw) {
        (false, _) => c.ether.filter(&f.data, f.wirelen) != 0,
        (true, Some(r)) => r.filter(&f.data, f.wirelen) != 0,
        (true, None) => false,
    }
}

/// libpcap's protochain loop never ends on some AH headers (see
/// pcap_rules.rs): such frames are not put to libpcap.
fn loops(c: &Compiled, f: &Frame, raw_ip: bool) -> bool {
    let prog = if raw_ip {
        c.raw.as_ref()
    } else {
        Some(&c.ether)
    };
    prog.and_then(|p| p.program(&Limits::KERNEL).ok())
        .is_some_and(|p| ferret_core::pcap::run(&p, &f.data, f.wirelen).out_of_steps)
}

#[test]
fn the_pre_check_never_turns_away_a_frame_libpcap_accepts() {
    let ether = frames::with_cuts(FrameLink::Ethernet, 0x9e1f, 2500, 40);
    let raw = frames::with_cuts(FrameLink::RawIp, 0x9e20, 1200, 20);
    let (mut exprs_seen, mut accepted, mut turned_away) = (0usize, 0usize, 0usize);
    let mut wrong = Vec::new();
    for expr in exprs::all() {
        let Some(c) = compile(&expr) else {
            continue;
        };
        exprs_seen += 1;
        for (frames, raw_ip) in [(&ether, false), (&raw, true)] {
            for f in frames.iter() {
                let key = frame_key(&f.data, raw_ip);
                let admitted = admits(&c.keys, key);
                turned_away += usize::from(!admitted);
                if loops(&c, f, raw_ip) || !accepts(&c, f, raw_ip) {
                    continue;
                }
                accepted += 1;
                if !admitted {
                    wrong.push(format!(
                        "`{expr}` on {} (key {key:#x}): libpcap accepts it",
                        f.label
                    ));
                }
            }
        }
    }
    eprintln!("{exprs_seen} expressions; {accepted} accepted frame runs all admitted; {turned_away} frame runs turned away");
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong[..wrong.len().min(20)].join("\n")
    );
    assert!(exprs_seen > 300, "only {exprs_seen} expressions");
    assert!(turned_away > 0);
}

/// Ethernet IPv4 with protocol `proto`.
fn ipv4(proto: u8) -> Vec<u8> {
    let mut f = vec![0u8; 54];
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f[14] = 0x45;
    f[23] = proto;
    f
}

#[test]
fn everyday_filters_turn_other_protocols_away() {
    let udp = frame_key(&ipv4(17), false);
    let tcp = frame_key(&ipv4(6), false);
    let arp = frame_key(
        &[0u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x06, 0, 1],
        false,
    );
    for expr in [
        "tcp port 443",
        "tcp[tcpflags] & tcp-syn != 0 and tcp dst port 443",
        "tcp",
        "ip proto 6",
    ] {
        let c = compile(expr).expect("compiles");
        assert!(admits(&c.keys, tcp), "`{expr}` admits IPv4 TCP");
        assert!(
            !admits(&c.keys, udp),
            "`{expr}` turns IPv4 UDP away: {:x?}",
            c.keys
        );
        assert!(!admits(&c.keys, arp), "`{expr}` turns ARP away");
    }
    let c = compile("udp dst port 53").expect("compiles");
    assert!(admits(&c.keys, udp) && !admits(&c.keys, tcp));
    // Tests on bytes that are not the class's say nothing about the class.
    let c = compile("ether[0] == 1").expect("compiles");
    assert!(admits(&c.keys, udp) && admits(&c.keys, arp));
}
