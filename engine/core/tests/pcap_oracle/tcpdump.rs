//! tcpdump as the oracle: frames go into a pcap file (the frame's index as
//! its timestamp, its wire length as the original length), tcpdump reads
//! it with an expression and writes what matched to its stdout.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ferret_core::pcap::frames::Frame;
use ferret_core::pcap::libpcap::{LinkType, SNAPLEN};
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapReader, PcapWriter};
use pcap_file::DataLink;

/// A directory under the system's temporary directory, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("ferret-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn write_pcap(path: &Path, link: LinkType, frames: &[Frame]) {
    let datalink = match link {
        LinkType::Ethernet => DataLink::ETHERNET,
        LinkType::RawIp => DataLink::RAW,
    };
    let header = PcapHeader {
        datalink,
        snaplen: SNAPLEN,
        ..PcapHeader::default()
    };
    let file = std::fs::File::create(path).unwrap();
    let mut w = PcapWriter::with_header(file, header).unwrap();
    for (i, f) in frames.iter().enumerate() {
        w.write_packet(&PcapPacket::new(
            Duration::from_secs(i as u64),
            f.wirelen,
            &f.data,
        ))
        .unwrap();
    }
}

/// The indexes of the frames of `pcap` that tcpdump's `expr` matches, or
/// tcpdump's complaint.
pub fn matches(pcap: &Path, expr: &str) -> Result<BTreeSet<usize>, String> {
    let out = Command::new("tcpdump")
        .arg("-r")
        .arg(pcap)
        .args(["-w", "-", "--", expr])
        .output()
        .unwrap_or_else(|e| panic!("tcpdump could not run ({e}); install it (tools/deps.sh)"));
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let mut r = PcapReader::new(&out.stdout[..]).unwrap();
    let mut seen = BTreeSet::new();
    while let Some(p) = r.next_packet() {
        seen.insert(p.unwrap().timestamp.as_secs() as usize);
    }
    Ok(seen)
}
