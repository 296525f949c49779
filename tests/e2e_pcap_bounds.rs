//! Never past the packet: a rule's verdict on a frame must not depend on
//! the frame before it. Probes are IPv4 and IPv6 frames cut short so that
//! a header they announce is missing (the TCP or UDP header, IPv4 options,
//! an IPv6 extension header whose next header would say TCP); before each
//! probe goes a frame of the same shape, whole, carrying a chosen pattern
//! where the missing bytes would be (ports 443 -> 80, extension headers
//! that lead to TCP), or another pattern. Written one after the other from
//! one CPU, the probe's buffer is usually the one the frame before it
//! left, so a read past the probe's end would see that pattern.
//!
//! The same without the Ethernet header, written into a TUN device: skbs
//! with no MAC header, which ferret sees from the IP header.
//!
//! On the `recv` and `drop` triggers (the probes go to another host's MAC
//! address, so IPv4 drops them as OTHERHOST and IPv6, off in the lab, as
//! IPV6DISABLED), and on function triggers where this kernel has them:
//! pcap-filter words must give libpcap's verdict on the probe alone, and
//! ferret's own fields the same verdict after either pattern (and, with no
//! port bytes in the probe, `dport == 80` is false).

mod common;
mod pcap_lab;

use common::{root_or_skip, Trace};
use ferret_core::pcap::libpcap::{self, LinkType};
use pcap_lab::{VethNs, MARK_BASE, RECV, RX, TUN};
use std::collections::BTreeMap;

/// pcap-filter words, held to libpcap.
const PCAP_WORDS: &[&str] = &[
    "tcp port 80",
    "tcp dst port 80",
    "tcp src port 443",
    "port 80",
    "udp port 80",
    "ip6 and tcp",
    "ip and tcp",
    "tcp",
    "udp",
    "ip6 protochain 6",
    "tcp[2:2] == 80",
    "tcp[0:2] == 443",
    "udp[2:2] == 80",
    "tcp[tcpflags] & tcp-syn != 0",
    "ip6[40:2] == 443",
    "ip6[48:2] == 80",
    "ip[20:2] == 443",
    "ip[24:2] == 80",
    "not tcp port 80",
];

/// ferret's own fields: the same verdict whatever came before.
const FIELDS: &[&str] = &[
    "dport == 80",
    "sport == 443",
    "proto == tcp",
    "proto == udp",
    "proto == tcp and dport == 80",
    "tcpflags == syn",
];

/// Fields that read the missing ports: false on every probe.
const PORT_FIELDS: &[&str] = &[
    "dport == 80",
    "sport == 443",
    "proto == tcp and dport == 80",
];

const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86dd;

/// What a frame's bytes past the probe's end say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pattern {
    /// Ports 443 -> 80, SYN, extension headers leading to TCP.
    Lure,
    /// Ports 9 -> 7, extension headers leading to UDP, options 0xee.
    Other,
}

fn ethernet(ethertype: u16) -> Vec<u8> {
    // To a MAC address that is not the receiver's: IPv4 drops it.
    let mut f = vec![0x02, 0, 0, 0, 0, 0x99, 0x02, 0, 0, 0, 0, 0x01];
    f.extend_from_slice(&ethertype.to_be_bytes());
    f
}

fn transport(f: &mut Vec<u8>, proto: u8, p: Pattern) {
    let (sport, dport) = match p {
        Pattern::Lure => (443u16, 80u16),
        Pattern::Other => (9, 7),
    };
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    if proto == 6 {
        f.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]);
    } else {
        f.extend_from_slice(&[0, 8, 0, 0]);
    }
}

/// IPv4 with `options` bytes of options, then TCP or UDP.
fn ipv4(proto: u8, options: usize, p: Pattern) -> Vec<u8> {
    let mut f = ethernet(ETH_IPV4);
    let l4 = if proto == 6 { 20 } else { 8 };
    let total = (20 + options + l4) as u16;
    f.push(0x45 + (options / 4) as u8);
    f.push(0);
    f.extend_from_slice(&total.to_be_bytes());
    f.extend_from_slice(&[0, 1, 0, 0, 64, proto, 0, 0]);
    f.extend_from_slice(&[192, 0, 2, 1, 192, 0, 2, 2]);
    let opt = match p {
        Pattern::Lure => 1, // NOP
        Pattern::Other => 0xee,
    };
    f.extend(std::iter::repeat_n(opt, options));
    transport(&mut f, proto, p);
    f
}

/// IPv6 with the extension headers `exts` (by number), then TCP or UDP.
/// The last extension header's next header comes from the pattern: TCP
/// for the lure, UDP for the other, whatever `proto` says.
fn ipv6(exts: &[u8], proto: u8, p: Pattern) -> Vec<u8> {
    let mut f = ethernet(ETH_IPV6);
    let l4 = if proto == 6 { 20 } else { 8 };
    let payload = (exts.len() * 8 + l4) as u16;
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&payload.to_be_bytes());
    f.push(exts.first().copied().unwrap_or(proto));
    f.push(64);
    for addr in [1u8, 2] {
        f.extend_from_slice(&[
            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, addr,
        ]);
    }
    for (i, _) in exts.iter().enumerate() {
        let next = match (exts.get(i + 1), p) {
            (Some(&n), _) => n,
            (None, Pattern::Lure) => 6,
            (None, Pattern::Other) => 17,
        };
        // Hop-by-hop, routing, fragment (offset 0) and destination options
        // all fit in 8 bytes with a length field of 0.
        f.extend_from_slice(&[next, 0, 0, 0, 0, 0, 0, 0]);
    }
    let proto = if exts.is_empty() {
        proto
    } else {
        match p {
            Pattern::Lure => 6,
            Pattern::Other => 17,
        }
    };
    transport(&mut f, proto, p);
    f
}

/// A probe: a whole frame's shape and where it is cut.
struct Shape {
    name: &'static str,
    build: fn(Pattern) -> Vec<u8>,
    cuts: &'static [usize],
}

const SHAPES: &[Shape] = &[
    Shape {
        name: "IPv4 TCP",
        build: |p| ipv4(6, 0, p),
        cuts: &[34, 35, 36, 37],
    },
    Shape {
        name: "IPv4 UDP",
        build: |p| ipv4(17, 0, p),
        cuts: &[34, 36, 37],
    },
    Shape {
        name: "IPv4 options TCP",
        build: |p| ipv4(6, 8, p),
        cuts: &[34, 38, 42, 44],
    },
    Shape {
        name: "IPv6 TCP",
        build: |p| ipv6(&[], 6, p),
        cuts: &[54, 55, 56, 57],
    },
    Shape {
        name: "IPv6 UDP",
        build: |p| ipv6(&[], 17, p),
        cuts: &[54, 56],
    },
    Shape {
        name: "IPv6 hop-by-hop",
        build: |p| ipv6(&[0], 6, p),
        cuts: &[54, 55, 56, 58, 62, 63, 64],
    },
    Shape {
        name: "IPv6 destination options",
        build: |p| ipv6(&[60], 6, p),
        cuts: &[54, 55, 62],
    },
    Shape {
        name: "IPv6 routing",
        build: |p| ipv6(&[43], 6, p),
        cuts: &[54, 55, 62],
    },
    Shape {
        name: "IPv6 fragment",
        build: |p| ipv6(&[44], 6, p),
        cuts: &[54, 55, 62],
    },
    Shape {
        name: "IPv6 hop-by-hop, destination options",
        build: |p| ipv6(&[0, 60], 6, p),
        cuts: &[54, 62, 63, 70],
    },
];

struct Probe {
    what: String,
    bytes: Vec<u8>,
    /// The marks of its copy after the lure and of its copy after the other.
    marks: [u32; 2],
}

/// Every probe, and the frames written, `(mark, bytes)`: each probe after
/// the lure and after the other pattern.
fn frames() -> (Vec<Probe>, Vec<(u32, Vec<u8>)>) {
    let (mut probes, mut written) = (Vec::new(), Vec::new());
    let mut next = MARK_BASE;
    let mut mark = || {
        next += 1;
        next
    };
    for shape in SHAPES {
        for &cut in shape.cuts {
            let whole = (shape.build)(Pattern::Lure);
            assert!(cut < whole.len(), "{} cut at {cut}", shape.name);
            let probe = whole[..cut].to_vec();
            let mut marks = [0; 2];
            for (slot, p) in [Pattern::Lure, Pattern::Other].into_iter().enumerate() {
                written.push((mark(), (shape.build)(p)));
                marks[slot] = mark();
                written.push((marks[slot], probe.clone()));
            }
            probes.push(Probe {
                what: format!("{} cut at {cut}", shape.name),
                bytes: probe,
                marks,
            });
        }
    }
    (probes, written)
}

/// Whether `ferret features` finds a backend for function triggers, and
/// why not.
fn function_backend() -> Result<(), String> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ferret"))
        .args(["features", "--json"])
        .output()
        .expect("ferret features runs");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("features JSON");
    if !v["functions"]["backend"].is_null() {
        return Ok(());
    }
    let why: Vec<String> = v["functions"]["backends"]
        .as_object()
        .map(|b| {
            b.values()
                .filter_map(|e| e["why"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    Err(why.join("; "))
}

#[test]
fn verdicts_on_cut_frames_do_not_depend_on_the_frame_before() {
    if root_or_skip("verdicts_on_cut_frames_do_not_depend_on_the_frame_before") {
        check(false);
    }
}

#[test]
fn without_a_link_header_verdicts_do_not_depend_on_the_packet_before() {
    if root_or_skip("without_a_link_header_verdicts_do_not_depend_on_the_packet_before") {
        check(true);
    }
}

/// The events of the TUN device as [`pcap_lab::Seen`]: the device hands
/// each packet to the stack inside its write, so per hook the events come
/// in the order written; each is matched to the next packet written of
/// its length (a packet a hook did not see is skipped over).
fn tun_seen(
    lab: &VethNs,
    events: &[serde_json::Value],
    written: &[(u32, Vec<u8>)],
) -> pcap_lab::Seen {
    let mut seen = pcap_lab::Seen::default();
    let mut next: BTreeMap<String, usize> = BTreeMap::new();
    for ev in events {
        if ev["netns"].as_u64() != Some(lab.inode) || ev["ifname"] != TUN {
            continue;
        }
        let hook = ev["hook"].as_str().unwrap_or("?").to_string();
        let at = next.entry(hook.clone()).or_default();
        let Some(skip) = written[*at..]
            .iter()
            .position(|(_, b)| ev["len"].as_u64() == Some(b.len() as u64))
        else {
            panic!("an event of no packet written: {ev}");
        };
        let mark = written[*at + skip].0;
        *at += skip + 1;
        let rules = ev["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_u64().unwrap());
        seen.rules
            .entry((hook.clone(), mark))
            .or_default()
            .extend(rules);
        *seen.events.entry((hook, mark)).or_default() += 1;
    }
    seen
}

/// `raw_ip`: the frames without their Ethernet header, written into a
/// TUN device, whose skbs have no MAC header (seen from the IP header).
fn check(raw_ip: bool) {
    let mut hooks = "recv, drop".to_string();
    match function_backend() {
        Ok(()) => hooks.push_str(", func ip_rcv, ipv6_rcv"),
        Err(why) => eprintln!("function triggers not tested: this kernel has none ({why})"),
    }
    let (mut probes, mut written) = frames();
    if raw_ip {
        for p in &mut probes {
            p.bytes.drain(..14);
            p.what = format!("{}, {} bytes of IP", p.what, p.bytes.len());
        }
        written.iter_mut().for_each(|(_, b)| drop(b.drain(..14)));
    }
    let dev = if raw_ip { TUN } else { RX };
    let exprs: Vec<&str> = PCAP_WORDS.iter().chain(FIELDS).copied().collect();
    let mut rules = vec![format!("on {hooks} where ifname == \"{dev}\"")];
    rules.extend(exprs.iter().map(|e| format!("on {hooks} where {e}")));
    let lab = VethNs::create("pcapbounds");
    let trace = Trace::start(&[&rules.join("\n")]);
    if raw_ip {
        let taken = lab.write_tun(written.iter().map(|(_, b)| b.clone()).collect());
        assert!(taken.iter().all(|&t| t), "every packet written");
    } else {
        assert_eq!(
            lab.send(written.clone()),
            written.len(),
            "every frame written"
        );
    }
    let out = trace.stop();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let seen = if raw_ip {
        tun_seen(&lab, &out.events, &written)
    } else {
        pcap_lab::Seen::from_events(&lab, &out.events)
    };
    let mut by_hook: BTreeMap<&str, usize> = BTreeMap::new();
    for (hook, _) in seen.events.keys() {
        *by_hook.entry(hook.as_str()).or_default() += 1;
    }
    eprintln!("frames seen per hook: {by_hook:?}");
    assert!(
        by_hook.len() >= 2,
        "the probes are seen on recv and drop: {by_hook:?}"
    );

    let libpcap: Vec<_> = PCAP_WORDS
        .iter()
        .map(|e| {
            let link = if raw_ip {
                LinkType::RawIp
            } else {
                LinkType::Ethernet
            };
            libpcap::compile(e, link, true, 0).expect("libpcap compiles it")
        })
        .collect();
    let (mut compared, mut wrong) = (0usize, Vec::new());
    for hook in by_hook.keys() {
        for probe in &probes {
            let verdicts: Vec<Option<&[u64]>> =
                probe.marks.iter().map(|&m| seen.printed(hook, m)).collect();
            if *hook == RECV {
                assert!(
                    verdicts.iter().all(Option::is_some),
                    "{} arrives on recv",
                    probe.what
                );
            }
            let [Some(after_lure), Some(after_other)] = verdicts[..] else {
                continue;
            };
            for (k, expr) in exprs.iter().enumerate() {
                let rule = k as u64 + 2;
                let got = [after_lure.contains(&rule), after_other.contains(&rule)];
                let want = match libpcap.get(k) {
                    Some(c) => Some(c.filter(&probe.bytes, probe.bytes.len() as u32) != 0),
                    None if PORT_FIELDS.contains(expr) => Some(false),
                    None => None,
                };
                compared += 1;
                if got[0] != got[1] || want.is_some_and(|w| got[0] != w) {
                    wrong.push(format!(
                        "{hook}: `{expr}` on {}: after the lure {}, after the other {}, want {}",
                        probe.what,
                        got[0],
                        got[1],
                        want.map_or("the same".into(), |w| w.to_string())
                    ));
                }
            }
        }
    }
    eprintln!(
        "{}: {} probes x {} rules on {} hooks: {compared} verdict pairs compared, {} wrong",
        if raw_ip { "raw IP" } else { "Ethernet" },
        probes.len(),
        exprs.len(),
        by_hook.len(),
        wrong.len()
    );
    assert!(
        wrong.is_empty(),
        "verdicts that depend on the frame before or differ from libpcap:\n{}",
        wrong.join("\n")
    );
}
