use super::*;

#[test]
fn a_seed_names_the_same_frames() {
    let a = generate(FrameLink::Ethernet, 42, 200);
    let b = generate(FrameLink::Ethernet, 42, 200);
    assert_eq!(a, b);
    assert_ne!(a, generate(FrameLink::Ethernet, 43, 200));
}

#[test]
fn frames_cover_the_classes_the_oracle_needs() {
    let frames = generate(FrameLink::Ethernet, 1, 3000);
    let has = |what: &str| frames.iter().filter(|f| f.label.contains(what)).count();
    for what in [
        "ipv4 v4 ihl5",
        "ihl1",
        "ihl7",
        "v6 ihl",
        "frag first",
        "frag later",
        "ipv6 v6",
        "ip6 frag first",
        "ip6 frag later",
        "ip6 ext 0",
        "ip6 ext 43",
        "ip6 ext 60",
        "ip6 ah",
        "tcp",
        "udp",
        "icmp",
        "icmp6",
        "sctp",
        "gre",
        "ip-in-ip",
        "inner ether",
        "vlan",
        "arp",
        "rarp",
        "llc",
        "pppoes",
        "mpls",
        "ethertype",
        "snap@",
        "runt@",
        "mut@",
        "padded",
    ] {
        assert!(has(what) >= 3, "only {} frames with `{what}`", has(what));
    }
    // QinQ: two tags or more.
    assert!(frames.iter().any(|f| f.label.matches("vlan").count() >= 2));
    // Captures shorter than the wire, and the wire never shorter than the capture.
    assert!(frames.iter().any(|f| (f.wirelen as usize) > f.data.len()));
    assert!(frames.iter().all(|f| f.wirelen as usize >= f.data.len()));
}

#[test]
fn every_cut_stops_at_each_mark() {
    let f = whole(&mut Rng::new(9), FrameLink::Ethernet);
    let cuts = f.every_cut();
    assert!(cuts.iter().any(|c| c.data.is_empty()));
    for &m in f.marks.iter().filter(|&&m| m < f.data.len()) {
        assert!(cuts.iter().any(|c| c.data.len() == m), "no cut at {m}");
    }
    assert!(cuts
        .iter()
        .all(|c| c.wirelen == f.wirelen && f.data.starts_with(&c.data)));
}

#[test]
fn raw_frames_start_with_the_network_header() {
    let frames = generate(FrameLink::RawIp, 5, 500);
    let v4 = frames
        .iter()
        .filter(|f| f.data.first().is_some_and(|b| b >> 4 == 4))
        .count();
    let v6 = frames
        .iter()
        .filter(|f| f.data.first().is_some_and(|b| b >> 4 == 6))
        .count();
    assert!(v4 > 150 && v6 > 150, "v4 {v4}, v6 {v6}");
}
