//! The differential test of pcap-filter semantics, without root: every
//! expression of `ferret_core::pcap::exprs` compiled by libpcap, run by our
//! interpreter and by libpcap's own (`pcap_offline_filter`) on thousands of
//! generated frames (ordinary, cut, mutated), must give the same verdict
//! on every frame; and for a sample, the same as `tcpdump -r`.

#[path = "pcap_oracle/tcpdump.rs"]
mod tcpdump;

use ferret_core::pcap::exprs;
use ferret_core::pcap::frames::{self, Frame, FrameLink};
use ferret_core::pcap::libpcap::{self, CompileError, LinkType, NETMASK_UNKNOWN};
use ferret_core::pcap::{run, Limits, Program};

/// Expressions libpcap refuses, with a fragment of the message it gives.
const REFUSED: &[(&str, &str)] = &[
    ("net 192.0.2.5/24", "non-network bits set"),
    ("net 10.0.0.1 mask 255.0.0.0", "non-network bits set"),
    ("net 2001:db8::1/32", "non-network bits set"),
    ("port 70000", "illegal port number 70000 > 65535"),
    ("portrange 1-70000", "> 65535"),
    ("port nosuchservice", "unknown port"),
    ("udp port http", "http"),
    ("ip proto nosuchproto", "unknown ip proto"),
    ("ether host 00:11:22", "bogus ethernet address"),
    ("ether host nosuchhost", "unknown ether host"),
    ("vlan 5000", "greater than maximum"),
    ("tcp[tcpflags] & tcp-bogus != 0", "syntax error"),
    ("ip[0] / 0 == 1", "division by zero"),
    ("ip broadcast", "netmask not known"),
    ("gateway 192.0.2.1", "gateway"),
    ("ip host 2001:db8::1", "'ip' modifier applied to ip6 host"),
    ("ip6 net 10.0.0.0/8", "'ip6' modifier applied to ip host"),
    ("tcp host", "syntax error"),
    ("(ip", "syntax error"),
    // `tcp` is a keyword; pcap-filter(7) says to write `\tcp`.
    ("ip proto tcp", "syntax error"),
    // libpcap 1.10 takes a divisor that is a load at index 0 for the
    // constant 0: it checks the first statement of the divisor, which is
    // the index.
    ("ip[1] / ip[0] > 0", "division by zero"),
    ("tcp[2:2] / tcp[0:2] == 0", "division by zero"),
    ("ip[1] % (ip[0] - 0x45) == 0", "modulus by zero"),
    // The optimizer refuses what it proves can never match.
    ("icmp6 and ip", "expression rejects all packets"),
    ("ip6 and icmp", "expression rejects all packets"),
];

/// tcpdump compiles with netmask 0 when it reads a file.
const TCPDUMP_NETMASK: u32 = 0;

/// Bounds far above what libpcap's programs need on these frames (at most
/// a few thousand steps), except for libpcap's `protochain` loop on an AH
/// header: that step sets X to the AH length instead of adding it, so an AH
/// header whose length points back at itself loops forever in libpcap's
/// own `pcap_filter` (and hangs tcpdump). Such runs stop here at the budget
/// and reject; libpcap is not asked about them.
const UNBOUNDED: Limits = Limits {
    max_insns: 1 << 20,
    backward_jumps: true,
    max_steps: 1_000_000,
};

/// Generated frames, then every cut of a few dozen whole frames.
fn frames(link: FrameLink, seed: u64, count: usize, cut_bases: usize) -> Vec<Frame> {
    frames::with_cuts(link, seed, count, cut_bases)
}

fn link_of(link: FrameLink) -> LinkType {
    match link {
        FrameLink::Ethernet => LinkType::Ethernet,
        FrameLink::RawIp => LinkType::RawIp,
    }
}

/// Compares our interpreter with libpcap's on every frame for every
/// expression that compiles for `link`; returns the refused ones.
fn agree_on_every_frame(
    link: FrameLink,
    exprs: &[String],
    frames: &[Frame],
) -> Vec<(String, String)> {
    let mut refused = Vec::new();
    let mut disagreements = Vec::new();
    let mut never_matched = Vec::new();
    let mut endless = Vec::new();
    for expr in exprs {
        let compiled = match libpcap::compile(expr, link_of(link), true, TCPDUMP_NETMASK) {
            Ok(c) => c,
            Err(e) => {
                refused.push((expr.clone(), e.to_string()));
                continue;
            }
        };
        let again = libpcap::compile(expr, link_of(link), true, TCPDUMP_NETMASK).unwrap();
        assert_eq!(
            compiled.insns(),
            again.insns(),
            "libpcap compiled `{expr}` two ways"
        );
        let prog = compiled.program(&UNBOUNDED).unwrap();
        let unoptimized = libpcap::compile(expr, link_of(link), false, TCPDUMP_NETMASK).unwrap();
        let unopt_prog = unoptimized.program(&UNBOUNDED).unwrap();
        let mut matched = 0;
        for (i, f) in frames.iter().enumerate() {
            let ours = run(&prog, &f.data, f.wirelen);
            if ours.out_of_steps {
                endless.push(format!("`{expr}` frame {i} ({})", f.label));
                continue;
            }
            let theirs = compiled.filter(&f.data, f.wirelen);
            if ours.ret != theirs {
                disagreements.push(format!(
                    "`{expr}` frame {i} ({}): ours {} libpcap {theirs}",
                    f.label, ours.ret
                ));
            }
            matched += usize::from(theirs != 0);
            // The unoptimized program, on a tenth of the frames.
            if i % 10 == 0 {
                let ours = run(&unopt_prog, &f.data, f.wirelen).ret;
                let theirs = unoptimized.filter(&f.data, f.wirelen);
                if ours != theirs {
                    disagreements.push(format!(
                        "`{expr}` unoptimized frame {i}: ours {ours} libpcap {theirs}"
                    ));
                }
            }
        }
        if matched == 0 {
            never_matched.push(expr.clone());
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} disagreements:\n{}",
        disagreements.len(),
        disagreements[..disagreements.len().min(30)].join("\n")
    );
    // Only protochain loops, and only on a frame with AH.
    eprintln!(
        "{link:?}: {} runs of libpcap's endless protochain loop: {:?}",
        endless.len(),
        &endless[..endless.len().min(5)]
    );
    assert!(
        endless.iter().all(|e| e.contains("protochain")),
        "{endless:?}"
    );
    let compiled = exprs.len() - refused.len();
    eprintln!(
        "{link:?}: {compiled} expressions x {} frames agree; never matched: {never_matched:?}",
        frames.len()
    );
    // The frames must exercise the expressions, or agreement says little.
    assert!(
        never_matched.len() * 10 < compiled,
        "too many expressions never match: {never_matched:?}"
    );
    refused
}

#[test]
fn interpreter_agrees_with_libpcap_on_ethernet_frames() {
    let frames = frames(FrameLink::Ethernet, 0xe7e7, 4000, 60);
    let refused = agree_on_every_frame(FrameLink::Ethernet, &exprs::all(), &frames);
    // Every hand-written expression compiles; of the seeded combinations,
    // libpcap refuses those its optimizer proves never match and a few
    // impossible stackings (VLAN after MPLS, MPLS over PPPoE).
    for (expr, msg) in &refused {
        eprintln!("Ethernet refuses `{expr}`: {msg}");
        assert!(
            !exprs::hand_written().contains(&expr.as_str()),
            "libpcap refused `{expr}`: {msg}"
        );
    }
    assert!(refused.len() < 50, "{} combinations refused", refused.len());
}

#[test]
fn interpreter_agrees_with_libpcap_on_raw_ip_packets() {
    let frames = frames(FrameLink::RawIp, 0x4a3, 2000, 40);
    let refused = agree_on_every_frame(FrameLink::RawIp, &exprs::all(), &frames);
    // Link-layer words have nothing to read on raw IP; libpcap says so.
    for (expr, msg) in &refused {
        eprintln!("raw IP refuses `{expr}`: {msg}");
    }
    const LINK_ONLY: &[&str] = &[
        "no VLAN support",
        "no MPLS support",
        "not a broadcast link",
        "link-layer multicast",
        "ethernet addresses supported only",
        "'llc' not supported",
        "expression rejects all packets",
    ];
    for (expr, msg) in &refused {
        assert!(
            LINK_ONLY.iter().any(|m| msg.contains(m)),
            "raw IP refuses `{expr}`: {msg}"
        );
    }
    assert!(
        refused.len() < exprs::all().len() / 3,
        "{} refused",
        refused.len()
    );
}

#[test]
fn libpcap_refuses_with_its_reasons() {
    for &(expr, want) in REFUSED {
        match libpcap::compile(expr, LinkType::Ethernet, true, NETMASK_UNKNOWN) {
            Ok(_) => panic!("libpcap compiled `{expr}`"),
            Err(CompileError::Refused { message }) => {
                eprintln!("`{expr}`: {message}");
                assert!(
                    message.contains(want),
                    "`{expr}`: {message:?} lacks {want:?}"
                );
            }
            Err(e) => panic!("`{expr}`: {e}"),
        }
    }
}

/// tcpdump is the named oracle: on a sample of the expressions,
/// the frames it writes back are the ones our interpreter accepts.
#[test]
fn tcpdump_matches_the_same_frames() {
    let scratch = tcpdump::Scratch::new("pcap-oracle");
    for (link, frames, step) in [
        (
            FrameLink::Ethernet,
            frames(FrameLink::Ethernet, 0x7cd, 2500, 20),
            4,
        ),
        (
            FrameLink::RawIp,
            frames(FrameLink::RawIp, 0x7ce, 1000, 10),
            12,
        ),
    ] {
        let path = scratch.0.join(format!("{link:?}.pcap"));
        tcpdump::write_pcap(&path, link_of(link), &frames);
        let all = exprs::all();
        let mut checked = 0;
        for expr in all.iter().step_by(step) {
            let Ok(compiled) = libpcap::compile(expr, link_of(link), true, TCPDUMP_NETMASK) else {
                continue;
            };
            let prog: Program = compiled.program(&UNBOUNDED).unwrap();
            let runs: Vec<_> = frames
                .iter()
                .map(|f| run(&prog, &f.data, f.wirelen))
                .collect();
            if runs.iter().any(|r| r.out_of_steps) {
                // tcpdump would hang on that frame (see UNBOUNDED).
                eprintln!("skipping `{expr}`: libpcap loops forever on one of the frames");
                continue;
            }
            let ours: std::collections::BTreeSet<usize> = runs
                .iter()
                .enumerate()
                .filter(|(_, r)| r.accepted())
                .map(|(i, _)| i)
                .collect();
            let theirs =
                tcpdump::matches(&path, expr).unwrap_or_else(|e| panic!("tcpdump `{expr}`: {e}"));
            let only_ours: Vec<_> = ours.difference(&theirs).take(5).collect();
            let only_theirs: Vec<_> = theirs.difference(&ours).take(5).collect();
            assert!(
                ours == theirs,
                "`{expr}` on {link:?}: only ours {only_ours:?}, only tcpdump {only_theirs:?}"
            );
            checked += 1;
        }
        eprintln!(
            "{link:?}: tcpdump agrees on {checked} expressions x {} frames",
            frames.len()
        );
        assert!(checked > 20);
    }
}
