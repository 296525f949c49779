use super::*;

fn eth(ethertype: u16, len: usize, proto_at: Option<(usize, u8)>) -> Vec<u8> {
    let mut f = vec![0u8; len.max(14)];
    f[12..14].copy_from_slice(&ethertype.to_be_bytes());
    if let Some((at, p)) = proto_at {
        f[at] = p;
    }
    f.truncate(len);
    f
}

#[test]
fn ethernet_keys_are_the_ethertype_and_the_protocol_byte() {
    assert_eq!(
        frame_key(&eth(0x800, 40, Some((23, 6))), false),
        0x800 << 9 | 6
    );
    assert_eq!(
        frame_key(&eth(0x86dd, 60, Some((20, 17))), false),
        0x86dd << 9 | 17
    );
    assert_eq!(frame_key(&eth(0x806, 42, None), false), 0x806 << 9);
    assert_eq!(
        frame_key(&eth(0x800, 23, None), false),
        0x800 << 9 | KEY_NO_PROTO
    );
    assert_eq!(frame_key(&eth(0x800, 13, None), false), KEY_SHORT);
}

#[test]
fn raw_keys_are_the_version_and_the_protocol_byte() {
    let mut v4 = vec![0x45u8; 20];
    v4[9] = 1;
    assert_eq!(frame_key(&v4, true), KEY_RAW | 4 << 9 | 1);
    assert_eq!(frame_key(&v4[..9], true), KEY_RAW | 4 << 9 | KEY_NO_PROTO);
    let mut v6 = vec![0x60u8; 40];
    v6[6] = 58;
    assert_eq!(frame_key(&v6, true), KEY_RAW | 6 << 9 | 58);
    assert_eq!(frame_key(&[0x20], true), KEY_RAW | 2 << 9);
    assert_eq!(frame_key(&[], true), KEY_RAW | KEY_SHORT);
}

#[test]
fn gaps_are_the_values_left_out() {
    assert_eq!(gaps(&[0, 6, 7, 300], 0xff), vec![(1, 5), (8, 0xff)]);
    assert_eq!(gaps(&[], 0xff), vec![(0, 0xff)]);
    assert_eq!(gaps(&[0xff], 0xff), vec![(0, 0xfe)]);
}

#[test]
fn merged_ranges_join_when_they_touch() {
    assert_eq!(
        merge(vec![(5, 6), (0, 2), (3, 3), (9, 9)]),
        vec![(0, 3), (5, 6), (9, 9)]
    );
}
