//! `ferret merge` of pcap-ng recordings: one section, one interface per
//! node and device (named `NODE:IFNAME`), packets ordered by time. Every
//! input interface's timestamp resolution and offset are applied, so the
//! output is in nanoseconds throughout whatever wrote the inputs (ferret
//! writes ns; tcpdump writes µs). Packet comments are kept with `node=NODE`
//! in front. Simple and obsolete packet blocks carry no usable time and are
//! counted, not written. pcap-ng times are wall-clock already, so the
//! alignment caveats of the JSON merge apply unchanged (docs/agent.md).

use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::blocks::section_header::{SectionHeaderBlock, SectionHeaderOption};
use pcap_file::pcapng::{Block, PcapNgReader, PcapNgWriter};
use pcap_file::Endianness;
use std::borrow::Cow;
use std::io::{Read, Write};
use std::time::Duration;

/// The first four bytes of a pcap-ng file (a section header block).
pub const MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PcapMergeReport {
    pub packets: u64,
    pub interfaces: u64,
    /// Simple or obsolete packet blocks, which carry no time.
    pub skipped: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum PcapMergeError {
    #[error("{name}: not a readable pcap-ng file: {source}")]
    Read {
        name: String,
        source: pcap_file::PcapError,
    },
    #[error("{name}: a packet names interface {id}, which the file never described")]
    NoInterface { name: String, id: u32 },
    #[error("cannot write the merged pcap-ng: {source}")]
    Write { source: pcap_file::PcapError },
}

/// (time in ns, input, order in input, packet with its new interface id)
type Timed = (u128, usize, u64, EnhancedPacketBlock<'static>);

/// Merges `inputs` (node name, pcap-ng stream) into `out`.
pub fn merge<R: Read, W: Write>(
    inputs: Vec<(String, R)>,
    out: W,
) -> Result<PcapMergeReport, PcapMergeError> {
    let mut interfaces: Vec<InterfaceDescriptionBlock<'static>> = Vec::new();
    let mut packets: Vec<Timed> = Vec::new();
    let mut report = PcapMergeReport::default();
    let nodes: Vec<String> = inputs.iter().map(|(n, _)| n.clone()).collect();
    for (index, (node, reader)) in inputs.into_iter().enumerate() {
        let read_error = |source| PcapMergeError::Read {
            name: node.clone(),
            source,
        };
        let mut reader = PcapNgReader::new(reader).map_err(read_error)?;
        // This section's interfaces: (global id, ns per tick, offset in ns).
        let mut section: Vec<(u32, Scale, u128)> = Vec::new();
        let mut seq = 0u64;
        while let Some(block) = reader.next_block() {
            match block.map_err(read_error)? {
                Block::SectionHeader(_) => section.clear(),
                Block::InterfaceDescription(idb) => {
                    let (scale, offset) = timing(&idb);
                    section.push((interfaces.len() as u32, scale, offset));
                    interfaces.push(renamed(idb.into_owned(), &node));
                }
                Block::EnhancedPacket(epb) => {
                    let Some(&(id, scale, offset)) = section.get(epb.interface_id as usize) else {
                        return Err(PcapMergeError::NoInterface {
                            name: node.clone(),
                            id: epb.interface_id,
                        });
                    };
                    let ns = scale.to_ns(epb.timestamp.as_nanos()) + offset;
                    let mut epb = epb.into_owned();
                    epb.interface_id = id;
                    for o in &mut epb.options {
                        if let EnhancedPacketOption::Comment(c) = o {
                            *c = Cow::Owned(format!("node={node} {c}"));
                        }
                    }
                    packets.push((ns, index, seq, epb));
                    seq += 1;
                }
                Block::SimplePacket(_) | Block::Packet(_) => report.skipped += 1,
                _ => {}
            }
        }
    }
    packets.sort_by_key(|(ns, file, seq, _)| (*ns, *file, *seq));
    let section = SectionHeaderBlock {
        endianness: Endianness::native(),
        options: vec![
            SectionHeaderOption::UserApplication(Cow::Owned(format!(
                "ferret merge {}",
                env!("CARGO_PKG_VERSION")
            ))),
            SectionHeaderOption::Comment(Cow::Owned(format!("nodes: {}", nodes.join(", ")))),
        ],
        ..SectionHeaderBlock::default()
    };
    let write_error = |source| PcapMergeError::Write { source };
    let mut w = PcapNgWriter::with_section_header(out, section).map_err(write_error)?;
    for idb in &interfaces {
        w.write_pcapng_block(idb.clone()).map_err(write_error)?;
    }
    for (ns, .., mut epb) in packets {
        epb.timestamp = Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX));
        w.write_pcapng_block(epb).map_err(write_error)?;
        report.packets += 1;
    }
    w.get_mut()
        .flush()
        .map_err(|e| write_error(pcap_file::PcapError::IoError(e)))?;
    report.interfaces = interfaces.len() as u64;
    Ok(report)
}

/// A timestamp unit: 10^-n or 2^-n seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scale {
    Decimal(u8),
    Binary(u8),
}

impl Scale {
    fn to_ns(self, ticks: u128) -> u128 {
        match self {
            Scale::Decimal(n) if n <= 9 => ticks * 10u128.pow(u32::from(9 - n)),
            Scale::Decimal(n) => ticks / 10u128.pow(u32::from(n - 9).min(30)),
            Scale::Binary(n) => (ticks * 1_000_000_000) >> n.min(100),
        }
    }
}

/// The interface's `if_tsresol` (default: microseconds) and
/// `if_tsoffset` (seconds), as the reader hands ticks back unscaled.
fn timing(idb: &InterfaceDescriptionBlock<'_>) -> (Scale, u128) {
    let mut scale = Scale::Decimal(6);
    let mut offset = 0;
    for o in &idb.options {
        match o {
            InterfaceDescriptionOption::IfTsResol(r) if r & 0x80 == 0 => {
                scale = Scale::Decimal(*r);
            }
            InterfaceDescriptionOption::IfTsResol(r) => scale = Scale::Binary(r & 0x7f),
            InterfaceDescriptionOption::IfTsOffset(s) => offset = u128::from(*s) * 1_000_000_000,
            _ => {}
        }
    }
    (scale, offset)
}

/// The interface as `NODE:NAME`, its times in nanoseconds.
fn renamed(
    mut idb: InterfaceDescriptionBlock<'static>,
    node: &str,
) -> InterfaceDescriptionBlock<'static> {
    let mut name = String::from("?");
    let mut description = None;
    idb.options.retain(|o| match o {
        InterfaceDescriptionOption::IfName(n) => {
            name = n.to_string();
            false
        }
        InterfaceDescriptionOption::IfDescription(d) => {
            description = Some(d.to_string());
            false
        }
        InterfaceDescriptionOption::IfTsResol(_) | InterfaceDescriptionOption::IfTsOffset(_) => {
            false
        }
        _ => true,
    });
    idb.options.extend([
        InterfaceDescriptionOption::IfName(Cow::Owned(format!("{node}:{name}"))),
        InterfaceDescriptionOption::IfDescription(Cow::Owned(format!(
            "{node}: {}",
            description.unwrap_or(name)
        ))),
        InterfaceDescriptionOption::IfTsResol(9),
    ]);
    idb
}

#[cfg(test)]
#[path = "merge_pcap_tests.rs"]
mod tests;
