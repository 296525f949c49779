use super::describe;
use etherparse::PacketBuilder;

const MAC_A: [u8; 6] = [2, 0, 0, 0, 0, 1];
const MAC_B: [u8; 6] = [2, 0, 0, 0, 0, 2];

fn udp4_frame(payload: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv4([198, 18, 0, 1], [198, 18, 0, 2], 64)
        .udp(40000, 9);
    let mut out = Vec::new();
    b.write(&mut out, payload).unwrap();
    out
}

#[test]
fn udp_over_ethernet_reads_like_tcpdump() {
    let frame = udp4_frame(&[0x66; 32]);
    let len = frame.len() as u32;
    assert_eq!(
        describe(&frame, true, len),
        "02:00:00:00:00:01 > 02:00:00:00:00:02, IP 198.18.0.1.40000 > 198.18.0.2.9: UDP, length 32"
    );
}

#[test]
fn tcp_syn_over_raw_ipv6_shows_flags() {
    let b = PacketBuilder::ipv6(
        [0x20, 0x01, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        [0x20, 0x01, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
        64,
    )
    .tcp(40000, 443, 1000, 64240)
    .syn();
    let mut pkt = Vec::new();
    b.write(&mut pkt, &[]).unwrap();
    let len = pkt.len() as u32;
    assert_eq!(
        describe(&pkt, false, len),
        "IP6 2001:2::1.40000 > 2001:2::2.443: Flags [S], seq 1000, win 64240, length 0"
    );
}

#[test]
fn a_snapped_packet_is_described_as_far_as_it_goes() {
    let frame = udp4_frame(&[0x66; 200]);
    let wire = frame.len() as u32;
    let text = describe(&frame[..64], true, wire);
    assert!(
        text.starts_with(
            "02:00:00:00:00:01 > 02:00:00:00:00:02, IP 198.18.0.1.40000 > 198.18.0.2.9: UDP"
        ),
        "{text}"
    );
    assert!(
        text.ends_with(&format!("[64 of {wire} bytes captured]")),
        "{text}"
    );
    assert_eq!(
        describe(&frame[..20], true, wire),
        format!(
            "02:00:00:00:00:01 > 02:00:00:00:00:02, IP, header cut short [20 of {wire} bytes captured]"
        )
    );
}

#[test]
fn lengths_are_the_declared_ones_when_the_payload_is_cut() {
    let frame = udp4_frame(&[0x66; 200]);
    let wire = frame.len() as u32;
    let text = describe(&frame[..60], true, wire);
    assert!(text.contains("UDP, length 200 [60 of"), "{text}");
    let b = PacketBuilder::ipv4([198, 18, 0, 1], [198, 18, 0, 2], 64)
        .tcp(40000, 80, 7, 1000)
        .psh()
        .ack(9);
    let mut pkt = Vec::new();
    b.write(&mut pkt, &[0x61; 300]).unwrap();
    let len = pkt.len() as u32;
    assert_eq!(
        describe(&pkt[..80], false, len),
        format!("IP 198.18.0.1.40000 > 198.18.0.2.80: Flags [P.], seq 7, ack 9, win 1000, length 300 [80 of {len} bytes captured]")
    );
}

#[test]
fn arp_requests_and_garbage() {
    let b = PacketBuilder::ethernet2(MAC_A, [0xff; 6]).arp(
        etherparse::ArpPacket::new(
            etherparse::ArpHardwareId::ETHERNET,
            etherparse::EtherType::IPV4,
            etherparse::ArpOperation::REQUEST,
            &MAC_A,
            &[198, 18, 0, 1],
            &[0; 6],
            &[198, 18, 0, 2],
        )
        .unwrap(),
    );
    let mut frame = Vec::new();
    b.write(&mut frame).unwrap();
    let len = frame.len() as u32;
    assert!(
        describe(&frame, true, len).ends_with("ARP, Request who-has 198.18.0.2 tell 198.18.0.1"),
        "{}",
        describe(&frame, true, len)
    );
    assert!(describe(&[1, 2, 3], true, 3).starts_with("undecodable"));
    assert!(!describe(&[0x45, 0], false, 2).is_empty());
}
