use super::offline::{self, Offline};
use super::*;
use crate::abi::{field, hook};
use crate::event::Event;
use crate::output::agg::{Aggregates, HistTable};
use crate::output::Names;
use crate::summary::{RuleSummary, Summary};
use crate::testing::{compile_ok, tcp_drop};

fn names() -> Names {
    let mut funcs = crate::hooks::HookNames::tracepoints();
    funcs.insert(1030, "ip_rcv");
    Names {
        kallsyms: crate::kallsyms::Kallsyms::parse("ffffffff81000100 T nf_hook_slow\n"),
        reasons: Some(crate::reasons::DropReasons::from_pairs([
            ("NETFILTER_DROP", 12),
            ("NO_SOCKET", 3),
        ])),
        funcs,
    }
}

fn context(rules: &str) -> Context {
    let plan = compile_ok(rules);
    Context::for_plan(
        &plan,
        names().reasons.as_ref(),
        vec![("lab-b".into(), 4_026_532_000)],
    )
}

/// Three drops of one flow to 443 (the second with a packet and a stack),
/// one to port 80, and a function event on another skb.
pub(crate) fn sample() -> Vec<Event> {
    let mut evs: Vec<Event> = (0..3u64)
        .map(|i| {
            let mut e = tcp_drop(vec![1]);
            e.meta.ts_ns += i * 1000;
            e.meta.skb += i * 0x100;
            e
        })
        .collect();
    evs[1].capture = vec![0x45, 0, 0, 40, 1, 2, 3, 4, 5];
    evs[1].wire_len = 60;
    let mut other = tcp_drop(vec![1]);
    other.meta.dport = 80;
    other.meta.ts_ns += 5000;
    evs.push(other);
    let mut f = tcp_drop(vec![1]);
    f.hook = hook::FUNC;
    f.meta.func_id = 1030;
    f.meta.present &= !(1 << field::REASON);
    f.meta.ts_ns += 6000;
    evs.push(f);
    evs
}

fn record(ctx: &Context, evs: &[Event]) -> Vec<u8> {
    let names = names();
    let mut w = RecordingWriter::new(Vec::new(), ctx).unwrap();
    let stack = [
        "nf_hook_slow+0x10".to_string(),
        "ip_local_deliver+0x4a".to_string(),
    ];
    for (i, ev) in evs.iter().enumerate() {
        w.event(ev, (i == 1).then_some(&stack[..]), &names).unwrap();
    }
    let hist = HistTable {
        rule: 1,
        text: "on drop hist len".into(),
        field: "len".into(),
        hist: crate::abi::Hist::default(),
    };
    w.aggregates(&Aggregates {
        elapsed_ms: 7,
        last: true,
        counts: vec![],
        hists: vec![hist],
    })
    .unwrap();
    let rule = RuleSummary {
        rule: 1,
        matched: 5,
        ..RuleSummary::default()
    };
    w.summary(&Summary {
        rules: vec![rule],
        ended_by: "duration".into(),
        ..Summary::default()
    })
    .unwrap();
    w.into_inner().unwrap()
}

#[test]
fn a_recording_reads_back_with_its_events_names_stacks_and_tables() {
    let ctx = context("on drop print stack\non func ip_rcv capture");
    let evs = sample();
    let bytes = record(&ctx, &evs);
    let (rec, damage) = read(&bytes).unwrap();
    assert!(damage.is_none(), "{damage:?}");
    assert_eq!(rec.context, ctx);
    assert_eq!(rec.context.format, FORMAT_VERSION);
    let back: Vec<Event> = rec.events.iter().map(|r| r.event.clone()).collect();
    let mut want = evs.clone();
    for w in &mut want {
        w.wire_len = w.wire_len.max(w.capture.len() as u32);
    }
    assert_eq!(back, want);
    assert_eq!(
        rec.stack(&rec.events[1]).unwrap()[1],
        "ip_local_deliver+0x4a"
    );
    assert_eq!(rec.stack(&rec.events[0]), None);
    // What the outputs print comes out the same from the recording's names.
    let live = names();
    for ev in &evs {
        assert_eq!(rec.names.func_text(ev), live.func_text(ev));
        assert_eq!(
            rec.names.kallsyms.describe(ev.meta.location),
            live.kallsyms.describe(ev.meta.location)
        );
    }
    assert_eq!(rec.aggregates.len(), 1);
    assert_eq!(rec.aggregates[0].hists[0].field, "len");
    assert_eq!(rec.summary.unwrap().rules[0].matched, 5);
}

#[test]
fn a_cut_recording_keeps_everything_before_the_damage() {
    let bytes = record(&context("on drop"), &sample());
    let whole = read(&bytes).unwrap().0.events.len();
    let mut seen = Vec::new();
    // Past the section header and the context record.
    let shb = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
    let context_end =
        shb + u32::from_le_bytes(bytes[shb + 4..shb + 8].try_into().unwrap()) as usize;
    assert!(matches!(
        read(&bytes[..context_end - 1]),
        Err(ReadError::Truncated { .. })
    ));
    for cut in (context_end + 1..bytes.len()).step_by(7) {
        let (rec, damage) = match read(&bytes[..cut]) {
            Ok(r) => r,
            Err(e) => panic!("cut at {cut}: {e}"),
        };
        let damage = damage.expect("a cut file is damaged");
        assert!(matches!(damage, ReadError::Truncated { .. }), "{damage}");
        assert!(damage.to_string().contains("cut short"), "{damage}");
        seen.push(rec.events.len());
    }
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    assert_eq!(*seen.last().unwrap(), whole);
    assert!(seen.contains(&2));
}

#[test]
fn damaged_and_foreign_files_are_clear_errors() {
    let mut bytes = record(&context("on drop"), &sample());
    assert!(matches!(read(b"not a pcap"), Err(ReadError::NotPcapNg)));
    let (rec, _) = read(&bytes).unwrap();
    // Break the trailing length of the last block: everything before stays.
    let n = bytes.len();
    bytes[n - 1] ^= 0xff;
    let (broken, damage) = read(&bytes).unwrap();
    assert!(
        matches!(damage, Some(ReadError::Corrupt { .. })),
        "{damage:?}"
    );
    assert_eq!(broken.events.len(), rec.events.len());
    // A plain --pcap file holds no context.
    let mut plain = Vec::new();
    blocks::section_header(&mut plain, "ferret", "Linux", "");
    assert!(matches!(read(&plain), Err(ReadError::NoContext)));
    // A later format is refused by name.
    let mut ctx = context("on drop");
    ctx.format = FORMAT_VERSION + 1;
    let newer = record(&ctx, &[]);
    assert!(matches!(read(&newer), Err(ReadError::NewerFormat { .. })));
}

#[test]
fn offline_rules_filter_count_limit_and_stop_as_the_kernel_does() {
    let names = names();
    let evs = sample();
    let plan = compile_ok("on drop where dport == 443\non drop count by dport\non drop hist len\non func ip_* where dport == 443");
    let mut off = Offline::new(&plan, &names);
    let verdicts: Vec<Vec<usize>> = evs.iter().map(|e| off.event(e)).collect();
    assert_eq!(verdicts, vec![vec![1], vec![1], vec![1], vec![], vec![4]]);
    let aggs = off.aggregates();
    let rows: Vec<(u16, u64)> = aggs.counts[0]
        .rows
        .iter()
        .map(|(k, n)| (k.dport, *n))
        .collect();
    assert_eq!(rows, vec![(443, 3), (80, 1)]);
    assert_eq!(
        aggs.hists[0].hist.buckets[crate::abi::Hist::bucket_of(60)],
        4
    );
    let s = off.summary();
    assert_eq!((s.rules[0].seen, s.rules[0].matched), (4, 3));

    let limited = compile_ok("on drop limit 2/s");
    let mut off = Offline::new(&limited, &names);
    let n = evs.iter().filter(|e| !off.event(e).is_empty()).count();
    assert_eq!((n, off.summary().rules[0].rate_limited), (2, 2));

    let stop = compile_ok("on drop stop after 2");
    let mut off = Offline::new(&stop, &names);
    let n = evs.iter().filter(|e| !off.event(e).is_empty()).count();
    assert!(off.stopped());
    assert_eq!(n, 2);
}

#[test]
fn offline_rules_the_recording_cannot_answer_are_errors() {
    let ctx = context("on drop");
    let errs = offline::check(
        &compile_ok("on recv where dport == 443 print stack capture"),
        &ctx,
    );
    let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert!(
        text[0].contains("no `recv` events") && text[0].contains("on drop"),
        "{text:?}"
    );
    assert!(text.iter().any(|t| t.contains("kept none")), "{text:?}");
    assert!(text.iter().any(|t| t.contains("holds none")), "{text:?}");
    let mut narrow = ctx.clone();
    narrow.fields &= !(1 << field::DPORT);
    let errs = offline::check(&compile_ok("on drop where dport == 443"), &narrow);
    assert!(
        errs[0]
            .to_string()
            .contains("does not hold the field `dport`"),
        "{errs:?}"
    );
    assert!(offline::check(&compile_ok("on drop where dport == 443"), &ctx).is_empty());
    let errs = offline::check(&compile_ok("on drop explain"), &ctx);
    assert!(errs[0].to_string().contains("live firewall"), "{errs:?}");
}

#[test]
fn paths_group_events_per_skb_and_end_at_the_drop() {
    let names = names();
    let mut evs = sample();
    // The function event happens on the first drop's skb, before it.
    evs[4].meta.skb = evs[0].meta.skb;
    evs[4].meta.ts_ns = evs[0].meta.ts_ns - 500;
    evs.sort_by_key(|e| e.meta.ts_ns);
    let refs: Vec<&Event> = evs.iter().collect();
    let paths = paths::group(&refs, &names);
    assert_eq!(paths.len(), 4);
    assert_eq!(paths[0].steps.len(), 2);
    assert!(paths[0].ended);
    let text = paths::render_text(&paths, &refs, &names);
    assert!(
        text.contains("2 events in 500ns, dropped: NETFILTER_DROP"),
        "{text}"
    );
    assert!(
        text.contains("ip_rcv")
            && text.contains("<- DROP")
            && text.contains("at nf_hook_slow+0x10"),
        "{text}"
    );
    let v = paths::to_json(&paths[0], &refs, &names);
    assert_eq!(v["end"], "drop");
    assert_eq!(v["reason"], "NETFILTER_DROP");
    assert_eq!(v["steps"][1]["dt_ns"], 500);
    assert_eq!(v["steps"][0]["func"], "ip_rcv");
}

#[test]
fn no_damage_makes_the_reader_panic() {
    let bytes = record(&context("on drop print stack"), &sample());
    let whole = read(&bytes).unwrap().0.events.len();
    for at in 0..bytes.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut broken = bytes.clone();
            broken[at] ^= flip;
            // Any answer but a panic; never more events than were written.
            if let Ok((rec, _)) = read(&broken) {
                assert!(rec.events.len() <= whole);
            }
        }
    }
}
