use super::{comment, PcapWriter};
use crate::abi::{hook, Meta};
use crate::event::Event;
use crate::output::Names;
use crate::reasons::DropReasons;
use crate::testing::{self, name16};
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketOption;
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
use pcap_file::pcapng::{Block, PcapNgReader};
use pcap_file::DataLink;
use std::path::Path;

fn event(ifname: &str, netns: u32, l2: bool, bytes: &[u8], rules: Vec<usize>) -> Event {
    let meta = Meta {
        netns,
        ifindex: 2,
        ifname: name16(ifname.as_bytes()),
        func_id: hook::DROP,
        reason: 3,
        present: 1 << crate::abi::field::REASON,
        location: 0xffff_ffff_8100_0110,
        ts_ns: 1_000,
        ..Meta::default()
    };
    Event {
        capture: bytes.to_vec(),
        capture_l2: l2,
        wire_len: bytes.len() as u32 + 100,
        ..testing::event(hook::DROP, meta, rules)
    }
}

fn context() -> Names {
    Names {
        kallsyms: crate::kallsyms::Kallsyms::parse("ffffffff81000100 T __udp4_lib_rcv\n"),
        reasons: Some(DropReasons::from_pairs([("NO_SOCKET", 3)])),
        funcs: crate::hooks::HookNames::tracepoints(),
    }
}

#[test]
fn comment_names_function_reason_location_and_rules() {
    let ev = event("fb0", 1, true, &[0; 20], vec![1, 3]);
    assert_eq!(
        comment(&ev, &context()),
        "func=kfree_skb reason=NO_SOCKET location=__udp4_lib_rcv+0x10 rules=1,3"
    );
    let mut recv = ev.clone();
    recv.hook = hook::RECV;
    recv.meta.func_id = hook::RECV;
    assert_eq!(
        comment(&recv, &context()),
        "func=netif_receive_skb rules=1,3"
    );
}

#[test]
fn one_interface_block_per_device_namespace_and_link_type() {
    let ctx = context();
    let rules = ["on drop capture".to_string()];
    let mut w = PcapWriter::new(Vec::new(), Path::new("test.pcapng"), &rules).unwrap();
    let frames = [
        event("fb0", 10, true, &[1; 60], vec![1]),
        event("fb0", 10, true, &[2; 61], vec![1]),
        event("fb0", 11, true, &[3; 62], vec![1]),
        event("fb0", 10, false, &[4; 46], vec![2]),
    ];
    for f in &frames {
        assert!(w.write(f, &ctx).unwrap());
    }
    let empty = event("fb0", 10, true, &[], vec![1]);
    assert!(!w.write(&empty, &ctx).unwrap(), "no bytes: nothing written");
    let summary = w.summary();
    assert_eq!((summary.packets, summary.interfaces), (4, 3));

    let bytes = w.into_inner();
    let mut reader = PcapNgReader::new(&bytes[..]).unwrap();
    let (mut idbs, mut packets) = (Vec::new(), Vec::new());
    while let Some(block) = reader.next_block() {
        match block.unwrap() {
            Block::InterfaceDescription(i) => idbs.push(i.into_owned()),
            Block::EnhancedPacket(p) => packets.push(p.into_owned()),
            _ => {}
        }
    }
    let links: Vec<DataLink> = idbs.iter().map(|i| i.linktype).collect();
    assert_eq!(
        links,
        [DataLink::ETHERNET, DataLink::ETHERNET, DataLink::RAW]
    );
    assert!(idbs[0]
        .options
        .contains(&InterfaceDescriptionOption::IfName("fb0".into())));
    assert!(idbs[0]
        .options
        .contains(&InterfaceDescriptionOption::IfTsResol(9)));
    let ids: Vec<u32> = packets.iter().map(|p| p.interface_id).collect();
    assert_eq!(ids, [0, 0, 1, 2]);
    for (p, f) in packets.iter().zip(&frames) {
        assert_eq!(p.data.as_ref(), f.capture.as_slice());
        assert_eq!(p.original_len, f.wire_len);
        assert_eq!(
            p.options,
            [EnhancedPacketOption::Comment(comment(f, &ctx).into())]
        );
    }
}
