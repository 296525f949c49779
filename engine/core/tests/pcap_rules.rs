//! pcap-filter inside ferret's language, held to libpcap without root:
//! every expression of `pcap::exprs` written after `where` must either be
//! refused for libpcap's own reason (or because it needs a name looked
//! up), or compile to a rule whose reference evaluation — the rule's
//! pcap-filter parts run by the Rust interpreter, then its branch program
//! and its IR — accepts exactly the frames libpcap's `pcap_offline_filter`
//! accepts, on thousands of generated ordinary, cut and mutated frames,
//! seen from the Ethernet header and from the IP header.
//!
//! Then the same through mixed filters, where ferret's own fields and
//! pcap-filter parts meet.

use ferret_core::abi::{field, Meta};
use ferret_core::check::{CheckEnv, NoNetnsNames};
use ferret_core::hooks::HookNames;
use ferret_core::pcap::exprs;
use ferret_core::pcap::frames::{self, FrameLink};
use ferret_core::pcap::libpcap::{self, LinkType};
use ferret_core::plan::RulePlan;
use ferret_core::reasons::DropReasons;

/// tcpdump -r compiles with netmask 0, and so does ferret.
const NETMASK: u32 = 0;

/// The rule for `on recv where EXPR`, or ferret's first error.
fn rule(expr: &str) -> Result<RulePlan, String> {
    let reasons = DropReasons::from_pairs([("NETFILTER_DROP", 12)]);
    let funcs = HookNames::tracepoints();
    let env = CheckEnv {
        reasons: Ok(&reasons),
        funcs: &funcs,
        netns: &NoNetnsNames,
    };
    let text = format!("on recv where {expr}");
    let (plan, diags) = ferret_core::compile(&text, &env);
    match plan {
        Some(mut p) if diags.is_empty() => Ok(p.rules.remove(0)),
        _ => Err(diags
            .first()
            .map_or("no plan".into(), |d| d.message.clone())),
    }
}

#[test]
fn every_expression_means_in_a_rule_what_it_means_to_libpcap() {
    let ether = frames::with_cuts(FrameLink::Ethernet, 0x51ed, 2500, 40);
    let raw = frames::with_cuts(FrameLink::RawIp, 0x51ee, 1200, 20);
    let (mut compared, mut runs, mut refused) = (0, 0usize, Vec::new());
    let mut wrong = Vec::new();
    for expr in exprs::all() {
        if exprs::reads_ferret_len(&expr) {
            continue;
        }
        let theirs = libpcap::compile(&expr, LinkType::Ethernet, true, NETMASK);
        let ours = rule(&expr);
        let (r, compiled) = match (ours, theirs) {
            (Ok(r), Ok(c)) => (r, c),
            (Err(why), Err(e)) => {
                let theirs = e.to_string();
                assert!(
                    why.contains(&theirs),
                    "`{expr}`: ferret says {why:?}, libpcap {theirs:?}"
                );
                refused.push(expr);
                continue;
            }
            (Err(why), Ok(_)) => panic!("ferret refuses `{expr}`, libpcap compiles it: {why}"),
            (Ok(_), Err(e)) => panic!("ferret accepts `{expr}`, libpcap refuses it: {e}"),
        };
        let raw_compiled = libpcap::compile(&expr, LinkType::RawIp, true, NETMASK).ok();
        assert_eq!(r.pcap.len(), 1, "`{expr}` is one pcap-filter part");
        assert_eq!(
            r.pcap[0].raw.is_some(),
            raw_compiled.is_some(),
            "`{expr}` raw IP"
        );
        for (frames, is_raw) in [(&ether, false), (&raw, true)] {
            for f in frames.iter() {
                // libpcap's protochain loop never ends on some AH headers
                // (tests/pcap_oracle.rs): where ours runs out of steps,
                // libpcap is not asked.
                let prog = if is_raw {
                    r.pcap[0].raw.as_ref()
                } else {
                    Some(&r.pcap[0].ether)
                };
                if prog.is_some_and(|p| ferret_core::pcap::run(p, &f.data, f.wirelen).out_of_steps)
                {
                    continue;
                }
                let want = match (is_raw, &raw_compiled) {
                    (false, _) => compiled.filter(&f.data, f.wirelen) != 0,
                    (true, Some(c)) => c.filter(&f.data, f.wirelen) != 0,
                    // Refused without a link layer: false there.
                    (true, None) => false,
                };
                let m = r.with_pcap(&Meta::default(), &f.data, f.wirelen, is_raw);
                let (insns, ir) = (r.matches(&m), r.filter.eval(&m));
                runs += 1;
                if insns != want || ir != want {
                    wrong.push(format!(
                        "`{expr}` on {} ({}): libpcap {want}, branch program {insns}, IR {ir}",
                        f.label,
                        if is_raw { "raw IP" } else { "Ethernet" }
                    ));
                }
            }
        }
        compared += 1;
    }
    eprintln!(
        "{compared} expressions compared on {runs} frame runs; refused as libpcap refuses: {refused:?}"
    );
    assert!(
        wrong.is_empty(),
        "{} disagreements:\n{}",
        wrong.len(),
        wrong[..wrong.len().min(20)].join("\n")
    );
    assert!(compared > 300, "only {compared} expressions compared");
}

/// Ethernet IPv4 TCP from `src` to port `dport` with `flags`.
fn tcp4(src: [u8; 4], dport: u16, flags: u8) -> Vec<u8> {
    let mut f = vec![0u8; 54];
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f[14] = 0x45;
    f[16..18].copy_from_slice(&40u16.to_be_bytes());
    f[22] = 64;
    f[23] = 6;
    f[26..30].copy_from_slice(&src);
    f[30..34].copy_from_slice(&[198, 18, 0, 2]);
    f[34..36].copy_from_slice(&40000u16.to_be_bytes());
    f[36..38].copy_from_slice(&dport.to_be_bytes());
    f[46] = 0x50;
    f[47] = flags;
    f
}

#[test]
fn ferret_fields_and_pcap_filter_parts_mix_in_one_filter() {
    let r = rule("mark == 12 and tcp[tcpflags] & tcp-syn != 0 and not src net 10.0.0.0/8").unwrap();
    // The two pcap-filter words stand together: one part, read by libpcap.
    assert_eq!(r.pcap.len(), 1, "{:?}", r.pcap);
    assert_eq!(
        r.pcap[0].text,
        "tcp[tcpflags] & tcp-syn != 0 and not src net 10.0.0.0/8"
    );
    let meta = |v: u32| Meta {
        mark: v,
        present: 1 << field::MARK,
        ..Meta::default()
    };
    let syn_out = tcp4([198, 18, 0, 1], 443, 0x02);
    let syn_in = tcp4([10, 1, 2, 3], 443, 0x02);
    let ack_out = tcp4([198, 18, 0, 1], 443, 0x10);
    let wl = |f: &Vec<u8>| f.len() as u32;
    assert!(r.matches_frame(&meta(12), &syn_out, wl(&syn_out), false));
    assert!(!r.matches_frame(&meta(13), &syn_out, wl(&syn_out), false));
    assert!(!r.matches_frame(&meta(12), &syn_in, wl(&syn_in), false));
    assert!(!r.matches_frame(&meta(12), &ack_out, wl(&ack_out), false));
    // The same packet seen from its IP header.
    assert!(r.matches_frame(&meta(12), &syn_out[14..], wl(&syn_out) - 14, true));
}

#[test]
fn implicit_repetition_and_precedence_are_libpcaps_inside_a_run() {
    let r = rule("dport == 443 or tcp dst port 80 or 8080").unwrap();
    let f = |p| tcp4([198, 18, 0, 1], p, 0x02);
    let m = Meta {
        dport: 1,
        present: 1 << field::DPORT,
        ..Meta::default()
    };
    for (port, want) in [(80, true), (8080, true), (81, false)] {
        let frame = f(port);
        assert_eq!(
            r.matches_frame(&m, &frame, frame.len() as u32, false),
            want,
            "{port}"
        );
    }
}
