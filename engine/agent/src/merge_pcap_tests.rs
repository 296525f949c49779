use super::*;
use pcap_file::DataLink;

/// A pcap-ng file of one interface at `tsresol`, packets at `ticks`.
fn file(tsresol: u8, ticks: &[u64], comment: &str) -> Vec<u8> {
    let mut w = PcapNgWriter::new(Vec::new()).unwrap();
    w.write_pcapng_block(InterfaceDescriptionBlock {
        linktype: DataLink::RAW,
        snaplen: 0,
        options: vec![
            InterfaceDescriptionOption::IfName("eth0".into()),
            InterfaceDescriptionOption::IfTsResol(tsresol),
        ],
    })
    .unwrap();
    for t in ticks {
        w.write_pcapng_block(EnhancedPacketBlock {
            interface_id: 0,
            // The writer stores the raw tick count it is given.
            timestamp: Duration::from_nanos(*t),
            original_len: 4,
            data: Cow::Owned(vec![0x45, 0, 0, 4]),
            options: vec![EnhancedPacketOption::Comment(comment.to_string().into())],
        })
        .unwrap();
    }
    w.into_inner()
}

#[test]
fn two_nodes_merge_in_time_order_with_an_interface_each() {
    // Node a in ns (as ferret writes), node b in µs (as tcpdump writes).
    let a = file(9, &[1_000, 3_000], "func=kfree_skb");
    let b = file(6, &[2], "from b");
    let mut out = Vec::new();
    let r = merge(vec![("a".into(), &a[..]), ("b".into(), &b[..])], &mut out).unwrap();
    assert_eq!(
        r,
        PcapMergeReport {
            packets: 3,
            interfaces: 2,
            skipped: 0
        }
    );
    let mut reader = PcapNgReader::new(&out[..]).unwrap();
    let mut seen = Vec::new();
    while let Some(block) = reader.next_block() {
        if let Block::EnhancedPacket(p) = block.unwrap() {
            let comment = p.options.iter().find_map(|o| match o {
                EnhancedPacketOption::Comment(c) => Some(c.to_string()),
                _ => None,
            });
            seen.push((p.timestamp.as_nanos(), p.interface_id, comment.unwrap()));
        }
    }
    assert_eq!(
        seen,
        [
            (1_000, 0, "node=a func=kfree_skb".to_string()),
            (2_000, 1, "node=b from b".to_string()),
            (3_000, 0, "node=a func=kfree_skb".to_string()),
        ]
    );
    let names: Vec<String> = reader
        .interfaces()
        .iter()
        .flat_map(|i| i.options.iter())
        .filter_map(|o| match o {
            InterfaceDescriptionOption::IfName(n) => Some(n.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(names, ["a:eth0", "b:eth0"]);
}

#[test]
fn scales_turn_ticks_into_nanoseconds() {
    assert_eq!(Scale::Decimal(6).to_ns(5), 5_000);
    assert_eq!(Scale::Decimal(9).to_ns(5), 5);
    assert_eq!(Scale::Decimal(12).to_ns(5_000), 5);
    assert_eq!(Scale::Binary(10).to_ns(1024), 1_000_000_000);
}
