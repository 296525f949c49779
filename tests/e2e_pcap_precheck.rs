//! The pcap-filter pre-check on the real kernel, held to libpcap: rules
//! whose hook gets a pcap-filter pre-check (ebpf/pcap_view.bpf.h) run
//! without the catch-all rule of e2e_pcap_filter.rs (which would turn the
//! pre-check off), a few with neighbouring keys per session, on seeded
//! ordinary, cut and mutated Ethernet frames written into a veth. Each
//! rule's verdict on each frame must be libpcap's; the frames the
//! pre-check turns away are counted, so the test shows it was at work.
//!
//! Without a catch-all, a frame that did not arrive looks like one no rule
//! matched: e2e_pcap_filter.rs shows every frame of this generator arrives
//! on the veth, and any lost frame libpcap matches fails the test.

mod common;
mod pcap_lab;

use common::{root_or_skip, Trace};
use ferret_core::abi::{field, Guard};
use ferret_core::pcap::exprs;
use ferret_core::pcap::frames::{self, Frame, FrameLink};
use ferret_core::pcap::libpcap::{self, Compiled, LinkType};
use ferret_core::plan::guard::hook_guards;
use ferret_core::plan::guard_pcap::admits_frame;
use ferret_core::plan::RulePlan;
use pcap_lab::{VethNs, MARK_BASE, RECV};

const SEED: u64 = 0x9c3e_0b17;
const NETMASK: u32 = 0;
/// Rules a session: few, so that their joined keys stay selective.
const BATCH: usize = 12;

struct Case {
    expr: String,
    libpcap: Compiled,
    rule: RulePlan,
}

/// The recv hook's pre-check for these rules, as the session computes it.
fn recv_guard(rules: &[&RulePlan]) -> Guard {
    let entries: Vec<_> = rules.iter().map(|r| r.to_abi(0)).collect();
    let pcap: Vec<_> = rules.iter().map(|r| &r.pcap[..]).collect();
    hook_guards(&entries, &pcap)[ferret_core::abi::hook::RECV as usize]
}

fn frames() -> Vec<Frame> {
    let mut all = frames::generate(FrameLink::Ethernet, SEED, 400);
    let mut rng = frames::rng::Rng::new(SEED ^ 0xc07);
    for _ in 0..4 {
        all.extend(frames::whole(&mut rng, FrameLink::Ethernet).every_cut());
    }
    all.retain(|f| (14..=1500).contains(&f.data.len()));
    for f in &mut all {
        f.wirelen = f.data.len() as u32;
    }
    all
}

/// Expressions whose rule alone gets a pcap-filter pre-check that turns
/// some of `frames` away, ordered by their first admitted key.
fn guarded_cases(frames: &[Frame]) -> Vec<Case> {
    let mut cases: Vec<(u64, Case)> = Vec::new();
    for expr in exprs::all() {
        if exprs::reads_ferret_len(&expr) {
            continue;
        }
        let (Ok(rule), Ok(compiled)) = (
            pcap_lab::recv_rule(&expr),
            libpcap::compile(&expr, LinkType::Ethernet, true, NETMASK),
        ) else {
            continue;
        };
        let g = recv_guard(&[&rule]);
        if g.field != u32::from(field::PCAP)
            || frames.iter().all(|f| admits_frame(&g, &f.data, false))
        {
            continue;
        }
        let case = Case {
            expr,
            libpcap: compiled,
            rule,
        };
        cases.push((g.lo[0], case));
    }
    cases.sort_by_key(|(k, _)| *k);
    cases.into_iter().map(|(_, c)| c).collect()
}

/// Per frame, the rules of its event (none when no event).
fn session(lab: &VethNs, rules: &[String], frames: &[Frame]) -> Vec<Vec<u64>> {
    let trace = Trace::start(&[&rules.join("\n")]);
    let written = frames
        .iter()
        .enumerate()
        .map(|(i, f)| (MARK_BASE + i as u32, f.data.clone()))
        .collect();
    assert_eq!(lab.send(written), frames.len(), "every frame written");
    let out = trace.stop();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let seen = pcap_lab::Seen::from_events(lab, &out.events);
    (0..frames.len())
        .map(|i| {
            seen.printed(RECV, MARK_BASE + i as u32)
                .map_or_else(Vec::new, <[u64]>::to_vec)
        })
        .collect()
}

#[test]
fn rules_behind_a_pcap_filter_precheck_match_what_libpcap_matches() {
    if !root_or_skip("rules_behind_a_pcap_filter_precheck_match_what_libpcap_matches") {
        return;
    }
    let frames = frames();
    let cases = guarded_cases(&frames);
    let lab = VethNs::create("pcapguard");
    let (mut compared, mut turned_away, mut sessions) = (0usize, 0usize, 0usize);
    let mut wrong = Vec::new();
    for batch in cases.chunks(BATCH) {
        let g = recv_guard(&batch.iter().map(|c| &c.rule).collect::<Vec<_>>());
        if g.field != u32::from(field::PCAP) {
            continue;
        }
        sessions += 1;
        turned_away += frames
            .iter()
            .filter(|f| !admits_frame(&g, &f.data, false))
            .count();
        let rules: Vec<String> = batch
            .iter()
            .map(|c| format!("on recv where {}", c.expr))
            .collect();
        let printed = session(&lab, &rules, &frames);
        for (i, (f, printed)) in frames.iter().zip(&printed).enumerate() {
            for (k, case) in batch.iter().enumerate() {
                if ferret_core::pcap::run(&case.rule.pcap[0].ether, &f.data, f.wirelen).out_of_steps
                {
                    continue;
                }
                let want = case.libpcap.filter(&f.data, f.wirelen) != 0;
                let got = printed.contains(&(k as u64 + 1));
                compared += 1;
                if got != want {
                    wrong.push(format!(
                        "`{}` on frame {i} ({}): libpcap {want}, ferret {got}",
                        case.expr, f.label
                    ));
                }
            }
        }
    }
    eprintln!(
        "{} guarded expressions in {sessions} sessions x {} frames: {compared} verdicts compared, \
         {turned_away} frame calls turned away by the pre-check, {} disagreements",
        cases.len(),
        frames.len(),
        wrong.len()
    );
    assert!(
        wrong.is_empty(),
        "{} disagreements:\n{}",
        wrong.len(),
        wrong[..wrong.len().min(30)].join("\n")
    );
    assert!(
        cases.len() > 100,
        "only {} guarded expressions",
        cases.len()
    );
    assert!(
        turned_away > 1000,
        "the pre-check turned only {turned_away} frame calls away"
    );
}
