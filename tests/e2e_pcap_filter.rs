//! pcap-filter on the real kernel, held to libpcap frame by frame: seeded
//! ordinary, cut and mutated Ethernet frames are written into a veth, and
//! every expression of `pcap::exprs` runs as `on recv where EXPR`, up to
//! 63 of them in one session beside a catch-all rule that shows which
//! frames arrived. For each rule and each frame that arrived, ferret's
//! verdict (the rule is in the event's `rules`) must be libpcap's
//! (`pcap_offline_filter`, the function `tcpdump -r` filters with) on the
//! bytes written.
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
use pcap_lab::{VethNs, MARK_BASE, RECV, RX};

const SEED: u64 = 0x7e57_f11e;
/// tcpdump -r compiles with netmask 0, and so does ferret.
const NETMASK: u32 = 0;
/// 64 rules a session, one of them the catch-all.
const BATCH: usize = 63;

struct Case {
    expr: String,
    libpcap: Compiled,
    /// ferret's program for Ethernet, to leave out the frames on which its
    /// step budget ends (libpcap's protochain loop has no end on some AH
    /// chains, see engine/core/tests/pcap_oracle.rs).
    ether: Program,
}

/// Expressions whose leading `len` ferret reads as its own field.
fn ferret_len(expr: &str) -> bool {
    let mut words = expr.split_whitespace();
    words.next() == Some("len")
        && words
            .next()
            .is_some_and(|op| ["==", "!=", "<", "<=", ">", ">="].contains(&op))
}

/// The expressions ferret accepts (those it refuses, libpcap refuses too
/// or they need a name looked up: engine/core/tests/pcap_rules.rs holds
/// the reasons to libpcap's).
fn cases() -> (Vec<Case>, usize) {
    let mut cases = Vec::new();
    let mut refused = 0;
    for expr in exprs::all() {
        if ferret_len(&expr) {
            continue;
        }
        let (Ok(rule), Ok(compiled)) = (
            pcap_lab::recv_rule(&expr),
            libpcap::compile(&expr, LinkType::Ethernet, true, NETMASK),
        ) else {
            refused += 1;
            continue;
        };
        assert_eq!(rule.pcap.len(), 1, "`{expr}` is one pcap-filter part");
        cases.push(Case {
            expr,
            libpcap: compiled,
            ether: rule.pcap[0].ether.clone(),
        });
    }
    (cases, refused)
}

/// Generated frames plus every cut of a few whole ones, as written: at
/// least an Ethernet header, at most a standard frame.
fn frames() -> Vec<Frame> {
    let mut all = frames::generate(FrameLink::Ethernet, SEED, 500);
    let mut rng = frames::rng::Rng::new(SEED ^ 0xc07);
    for _ in 0..6 {
        all.extend(frames::whole(&mut rng, FrameLink::Ethernet).every_cut());
    }
    all.retain(|f| (14..=1514).contains(&f.data.len()));
    for f in &mut all {
        f.wirelen = f.data.len() as u32;
    }
    all
}

fn vlan_tagged(f: &Frame) -> bool {
    let tpid = u16::from_be_bytes([f.data[12], f.data[13]]);
    [0x8100, 0x88a8, 0x9100].contains(&tpid)
}

#[test]
fn recv_rules_match_the_frames_libpcap_matches() {
    if !root_or_skip("recv_rules_match_the_frames_libpcap_matches") {
        return;
    }
    let (cases, refused) = cases();
    let frames = frames();
    let lab = VethNs::create("pcapdiff");
    let catch_all = format!("on recv where ifname == \"{RX}\"");
    let (mut compared, mut skipped_steps) = (0usize, 0usize);
    let mut delivered_min = usize::MAX;
    let mut wrong: Vec<String> = Vec::new();
    let mut wrong_vlan = 0usize;
    for batch in cases.chunks(BATCH) {
        let mut rules = vec![catch_all.clone()];
        rules.extend(batch.iter().map(|c| format!("on recv where {}", c.expr)));
        let trace = Trace::start(&[&rules.join("\n")]);
        let written: Vec<(u32, Vec<u8>)> = frames
            .iter()
            .enumerate()
            .map(|(i, f)| (MARK_BASE + i as u32, f.data.clone()))
            .collect();
        let sent = lab.send(written);
        assert_eq!(sent, frames.len(), "every frame written");
        let out = trace.stop();
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        let lost = &out.summary.as_ref().expect("summary")["rules"];
        for r in lost.as_array().unwrap() {
            assert_eq!(r["lost_ring_full"], 0, "no event lost: {r}");
        }
        let seen = pcap_lab::Seen::from_events(&lab, &out.events);
        let mut delivered = 0;
        for (i, f) in frames.iter().enumerate() {
            let mark = MARK_BASE + i as u32;
            let Some(printed) = seen.printed(RECV, mark) else {
                continue;
            };
            assert!(printed.contains(&1), "the catch-all sees frame {i}");
            assert_eq!(
                seen.events[&(RECV.to_string(), mark)],
                1,
                "one event a frame"
            );
            delivered += 1;
            for (k, case) in batch.iter().enumerate() {
                let reference = ferret_core::pcap::run(&case.ether, &f.data, f.wirelen);
                if reference.out_of_steps {
                    skipped_steps += 1;
                    continue;
                }
                let want = case.libpcap.filter(&f.data, f.wirelen) != 0;
                let got = printed.contains(&(k as u64 + 2));
                compared += 1;
                if got != want {
                    wrong_vlan += usize::from(vlan_tagged(f));
                    wrong.push(format!(
                        "`{}` on frame {i} ({}, {} bytes: {}): libpcap {want}, ferret {got} \
                         (its reference interpreter {} in {} steps)",
                        case.expr,
                        f.label,
                        f.data.len(),
                        hex(&f.data[..f.data.len().min(64)]),
                        reference.accepted(),
                        reference.steps
                    ));
                }
            }
        }
        delivered_min = delivered_min.min(delivered);
    }
    let vlan_frames = frames.iter().filter(|f| vlan_tagged(f)).count();
    eprintln!(
        "{} expressions ({refused} refused as libpcap refuses or needing lookups) x {} frames \
         written ({vlan_frames} VLAN-tagged), at least {delivered_min} delivered in every \
         session: {compared} verdicts compared, {skipped_steps} left out (step budget), \
         {} disagreements ({wrong_vlan} on VLAN-tagged frames)",
        cases.len(),
        frames.len(),
        wrong.len()
    );
    assert!(
        delivered_min * 10 >= frames.len() * 9,
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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
