//! pcap-filter on the real kernel, held to libpcap frame by frame: seeded
//! ordinary, cut and mutated Ethernet frames are written into a veth, and
//! every expression of `pcap::exprs` runs as `on recv where EXPR`, up to
//! 63 of them in one session beside a catch-all rule that shows which
//! frames arrived. For each rule and each frame that arrived, ferret's
//! verdict (the rule is in the event's `rules`) must be libpcap's
//! (`pcap_offline_filter`, the function `tcpdump -r` filters with) on the
//! bytes written. The same with seeded IP packets written into a TUN
//! device, whose skbs have no MAC header: there ferret runs the programs
//! libpcap compiled for raw IP (DLT_RAW).
//!
//! VLAN tags written into the frame stay in its bytes up to the `recv`
//! trigger (veth does not move them to `skb->vlan_tci`; the stack takes
//! them out after the tracepoint), so tagged frames are compared as any.
//!
//! The kernel sees what was written: the frames are linear, the capture is
//! the whole frame, so libpcap is given the written length as both the
//! captured and the wire length. Frames under 14 bytes are not written
//! (the kernel refuses them), nor are expressions of `len` (ferret's
//! `len` field is `skb->len`, a documented difference).

mod common;
mod pcap_lab;

use common::{root_or_skip, Trace};
use ferret_core::pcap::exprs;
use ferret_core::pcap::frames::{self, Frame, FrameLink};
use ferret_core::pcap::libpcap::{self, Compiled, LinkType};
use ferret_core::pcap::Program;
use pcap_lab::{VethNs, MARK_BASE, RECV, RX, TUN};

const SEED: u64 = 0x7e57_f11e;
/// tcpdump -r compiles with netmask 0, and so does ferret.
const NETMASK: u32 = 0;
/// 64 rules a session, one of them the catch-all.
const BATCH: usize = 63;

struct Case {
    expr: String,
    ether: Compiled,
    /// libpcap's program without a link layer; `None` where it refuses
    /// the expression there (`ether host`, `vlan`): false then.
    raw: Option<Compiled>,
    /// ferret's programs, to leave out the frames on which their step
    /// budget ends (libpcap's protochain loop has no end on some AH
    /// chains, see engine/core/tests/pcap_oracle.rs).
    ours: [Option<Program>; 2],
}

/// Where the frames are written and which programs see them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// Ethernet frames into a veth: seen from the MAC header.
    Veth,
    /// IP packets into a TUN device: no MAC header, seen from the IP header.
    Tun,
}

impl Case {
    fn libpcap(&self, link: Link) -> Option<&Compiled> {
        match link {
            Link::Veth => Some(&self.ether),
            Link::Tun => self.raw.as_ref(),
        }
    }

    fn ours(&self, link: Link) -> Option<&Program> {
        self.ours[usize::from(link == Link::Tun)].as_ref()
    }
}

/// The expressions ferret accepts (those it refuses, libpcap refuses too
/// or they need a name looked up: engine/core/tests/pcap_rules.rs holds
/// the reasons to libpcap's).
fn cases() -> (Vec<Case>, usize) {
    let mut cases = Vec::new();
    let mut refused = 0;
    for expr in exprs::all() {
        if ferret_core::pcap::exprs::reads_ferret_len(&expr) {
            continue;
        }
        let (Ok(rule), Ok(ether)) = (
            pcap_lab::recv_rule(&expr),
            libpcap::compile(&expr, LinkType::Ethernet, true, NETMASK),
        ) else {
            refused += 1;
            continue;
        };
        assert_eq!(rule.pcap.len(), 1, "`{expr}` is one pcap-filter part");
        let unit = &rule.pcap[0];
        cases.push(Case {
            raw: libpcap::compile(&expr, LinkType::RawIp, true, NETMASK).ok(),
            expr,
            ether,
            ours: [Some(unit.ether.clone()), unit.raw.clone()],
        });
    }
    (cases, refused)
}

/// Generated frames plus every cut of a few whole ones, as written: at
/// least an Ethernet header (the kernel refuses less), at most a standard
/// frame; for the TUN device, at least one byte.
fn frames(link: Link) -> Vec<Frame> {
    let (kind, seed, min) = match link {
        Link::Veth => (FrameLink::Ethernet, SEED, 14),
        Link::Tun => (FrameLink::RawIp, SEED ^ 0x1f, 1),
    };
    let mut all = frames::generate(kind, seed, 500);
    let mut rng = frames::rng::Rng::new(seed ^ 0xc07);
    for _ in 0..6 {
        all.extend(frames::whole(&mut rng, kind).every_cut());
    }
    all.retain(|f| (min..=1500).contains(&f.data.len()));
    for f in &mut all {
        f.wirelen = f.data.len() as u32;
    }
    all
}

fn vlan_tagged(f: &Frame) -> bool {
    let tpid = u16::from_be_bytes([f.data[12], f.data[13]]);
    [0x8100, 0x88a8, 0x9100].contains(&tpid)
}

/// Writes the frames while a session traces `rules`; per frame, the rules
/// of its event, `None` when it did not arrive.
fn session(lab: &VethNs, link: Link, rules: &[String], frames: &[Frame]) -> Vec<Option<Vec<u64>>> {
    let trace = Trace::start(&[&rules.join("\n")]);
    let taken = match link {
        Link::Veth => {
            let written = frames
                .iter()
                .enumerate()
                .map(|(i, f)| (MARK_BASE + i as u32, f.data.clone()))
                .collect();
            assert_eq!(lab.send(written), frames.len(), "every frame written");
            Vec::new()
        }
        Link::Tun => lab.write_tun(frames.iter().map(|f| f.data.clone()).collect()),
    };
    let out = trace.stop();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    for r in out.summary.as_ref().expect("summary")["rules"]
        .as_array()
        .unwrap()
    {
        assert_eq!(r["lost_ring_full"], 0, "no event lost: {r}");
    }
    match link {
        Link::Veth => {
            let seen = pcap_lab::Seen::from_events(lab, &out.events);
            (0..frames.len())
                .map(|i| {
                    let mark = MARK_BASE + i as u32;
                    let rules = seen.printed(RECV, mark)?;
                    assert_eq!(
                        seen.events[&(RECV.to_string(), mark)],
                        1,
                        "one event a frame"
                    );
                    Some(rules.to_vec())
                })
                .collect()
        }
        // The TUN device hands each packet to the stack inside the write,
        // so its events come in the order written: they are mapped in
        // order, their lengths checked.
        Link::Tun => {
            let mut events = out.events.iter().filter(|e| {
                e["netns"].as_u64() == Some(lab.inode) && e["ifname"] == TUN && e["hook"] == RECV
            });
            let mapped = frames
                .iter()
                .zip(&taken)
                .map(|(f, &taken)| {
                    if !taken {
                        return None;
                    }
                    let ev = events.next().expect("an event for every packet taken");
                    assert_eq!(ev["len"].as_u64(), Some(f.data.len() as u64), "{ev}");
                    let rules = ev["rules"].as_array().unwrap();
                    Some(rules.iter().map(|r| r.as_u64().unwrap()).collect())
                })
                .collect();
            assert!(events.next().is_none(), "no more events than packets taken");
            mapped
        }
    }
}

fn compare(link: Link) {
    let (cases, refused) = cases();
    let frames = frames(link);
    let lab = VethNs::create("pcapdiff");
    let dev = match link {
        Link::Veth => RX,
        Link::Tun => TUN,
    };
    let catch_all = format!("on recv where ifname == \"{dev}\"");
    let (mut compared, mut skipped_steps) = (0usize, 0usize);
    let mut delivered_min = usize::MAX;
    let mut wrong: Vec<String> = Vec::new();
    let mut wrong_vlan = 0usize;
    for batch in cases.chunks(BATCH) {
        let mut rules = vec![catch_all.clone()];
        rules.extend(batch.iter().map(|c| format!("on recv where {}", c.expr)));
        let printed = session(&lab, link, &rules, &frames);
        let mut delivered = 0;
        for (i, (f, printed)) in frames.iter().zip(&printed).enumerate() {
            let Some(printed) = printed else {
                continue;
            };
            assert!(printed.contains(&1), "the catch-all sees frame {i}");
            delivered += 1;
            for (k, case) in batch.iter().enumerate() {
                let reference = case
                    .ours(link)
                    .map(|p| ferret_core::pcap::run(p, &f.data, f.wirelen));
                if reference.is_some_and(|r| r.out_of_steps) {
                    skipped_steps += 1;
                    continue;
                }
                let want = case
                    .libpcap(link)
                    .is_some_and(|c| c.filter(&f.data, f.wirelen) != 0);
                let got = printed.contains(&(k as u64 + 2));
                compared += 1;
                if got != want {
                    wrong_vlan += usize::from(link == Link::Veth && vlan_tagged(f));
                    wrong.push(format!(
                        "`{}` on frame {i} ({}, {} bytes: {}): libpcap {want}, ferret {got} \
                         (its reference interpreter {:?} in {:?} steps)",
                        case.expr,
                        f.label,
                        f.data.len(),
                        hex(&f.data[..f.data.len().min(64)]),
                        reference.map(|r| r.accepted()),
                        reference.map(|r| r.steps),
                    ));
                }
            }
        }
        delivered_min = delivered_min.min(delivered);
    }
    let vlan_frames = match link {
        Link::Veth => frames.iter().filter(|f| vlan_tagged(f)).count(),
        Link::Tun => 0,
    };
    eprintln!(
        "{link:?}: {} expressions ({refused} refused as libpcap refuses or needing lookups) x {} \
         frames written ({vlan_frames} VLAN-tagged), at least {delivered_min} delivered in every \
         session: {compared} verdicts compared, {skipped_steps} left out (step budget), \
         {} disagreements ({wrong_vlan} on VLAN-tagged frames)",
        cases.len(),
        frames.len(),
        wrong.len()
    );
    assert!(
        delivered_min * 10 >= frames.len() * 8,
        "most frames arrive: {delivered_min} of {}",
        frames.len()
    );
    assert!(
        wrong.is_empty(),
        "{} disagreements:\n{}",
        wrong.len(),
        wrong[..wrong.len().min(30)].join("\n")
    );
    assert!(cases.len() > 300, "only {} expressions", cases.len());
}

#[test]
fn recv_rules_match_the_ethernet_frames_libpcap_matches() {
    if root_or_skip("recv_rules_match_the_ethernet_frames_libpcap_matches") {
        compare(Link::Veth);
    }
}

#[test]
fn recv_rules_match_the_ip_packets_libpcap_matches_without_a_link_header() {
    if root_or_skip("recv_rules_match_the_ip_packets_libpcap_matches_without_a_link_header") {
        compare(Link::Tun);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
