//! The `--pcap FILE` output of `capture` rules: pcap-ng (written with the
//! pcap-file crate) that Wireshark and tshark open. One interface block per
//! device, namespace and link type (Ethernet when the capture starts at
//! the MAC header, raw IP when at the network header); each packet carries
//! a comment naming the function, the drop reason and the rules, e.g.
//! `func=kfree_skb reason=NO_SOCKET location=__udp4_lib_rcv+0x5e7 rules=1`.

use super::Names;
use crate::event::Event;
use crate::summary::PcapSummary;
use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::blocks::section_header::{SectionHeaderBlock, SectionHeaderOption};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::{DataLink, Endianness};
use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum PcapError {
    #[error("the capture file (--pcap): {source}")]
    Create {
        #[from]
        source: crate::outfile::OutFileError,
    },
    #[error("cannot write the capture file {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
}

/// Interface blocks are keyed by where the packet was and how it starts.
type IfKey = (u32, u32, bool);

pub struct PcapWriter<W: Write> {
    out: PcapNgWriter<W>,
    path: PathBuf,
    interfaces: HashMap<IfKey, u32>,
    packets: u64,
    /// Wall clock minus the monotonic clock that events carry, in ns.
    clock_offset_ns: i128,
}

impl<W: Write> std::fmt::Debug for PcapWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcapWriter")
            .field("path", &self.path)
            .field("packets", &self.packets)
            .finish_non_exhaustive()
    }
}

impl PcapWriter<BufWriter<File>> {
    /// Creates `path` (as [`crate::outfile::create`]: mode 0600, replacing
    /// a previous file) and writes the section header; `rules` go into its
    /// comment.
    pub fn create(path: &Path, rules: &[String]) -> Result<Self, PcapError> {
        let file = crate::outfile::create(path)?;
        PcapWriter::new(BufWriter::with_capacity(64 * 1024, file), path, rules)
    }
}

impl<W: Write> PcapWriter<W> {
    pub fn new(out: W, path: &Path, rules: &[String]) -> Result<Self, PcapError> {
        let mut options = vec![SectionHeaderOption::UserApplication(Cow::Owned(format!(
            "ferret {}",
            env!("CARGO_PKG_VERSION")
        )))];
        if let Ok(release) = std::fs::read_to_string("/proc/sys/kernel/osrelease") {
            options.push(SectionHeaderOption::OS(Cow::Owned(format!(
                "Linux {}",
                release.trim()
            ))));
        }
        options.push(SectionHeaderOption::Comment(Cow::Owned(rules.join("\n"))));
        let section = SectionHeaderBlock {
            endianness: Endianness::native(),
            options,
            ..SectionHeaderBlock::default()
        };
        let out =
            PcapNgWriter::with_section_header(out, section).map_err(|e| write_error(path, e))?;
        Ok(PcapWriter {
            out,
            path: path.to_path_buf(),
            interfaces: HashMap::new(),
            packets: 0,
            clock_offset_ns: clock_offset_ns(),
        })
    }

    /// Writes the event's packet; an event without captured bytes (no
    /// header to start from yet) is skipped and `false` returned.
    pub fn write(&mut self, ev: &Event, ctx: &Names) -> Result<bool, PcapError> {
        if ev.capture.is_empty() {
            return Ok(false);
        }
        let interface_id = self.interface(ev)?;
        let ts = (i128::from(ev.meta.ts_ns) + self.clock_offset_ns).max(0);
        let packet = EnhancedPacketBlock {
            interface_id,
            timestamp: Duration::from_nanos(u64::try_from(ts).unwrap_or(u64::MAX)),
            original_len: ev.wire_len.max(ev.capture.len() as u32),
            data: Cow::Borrowed(&ev.capture),
            options: vec![EnhancedPacketOption::Comment(Cow::Owned(comment(ev, ctx)))],
        };
        self.out
            .write_pcapng_block(packet)
            .map_err(|e| write_error(&self.path, e))?;
        self.packets += 1;
        Ok(true)
    }

    pub fn flush(&mut self) -> Result<(), PcapError> {
        self.out
            .get_mut()
            .flush()
            .map_err(|source| PcapError::Write {
                path: self.path.clone(),
                source,
            })
    }

    pub fn summary(&self) -> PcapSummary {
        PcapSummary {
            path: self.path.display().to_string(),
            packets: self.packets,
            interfaces: self.interfaces.len() as u64,
            skipped: 0,
        }
    }

    pub fn into_inner(self) -> W {
        self.out.into_inner()
    }

    /// The interface block of the event's device, written on first use.
    fn interface(&mut self, ev: &Event) -> Result<u32, PcapError> {
        let m = &ev.meta;
        let key = (m.netns, m.ifindex, ev.capture_l2);
        if let Some(id) = self.interfaces.get(&key) {
            return Ok(*id);
        }
        let name = match (ev.ifname(), m.ifindex) {
            ("", 0) => "none".to_string(),
            ("", i) => format!("if{i}"),
            (n, _) => n.to_string(),
        };
        let link = if ev.capture_l2 { "Ethernet" } else { "raw IP" };
        let block = InterfaceDescriptionBlock {
            linktype: if ev.capture_l2 {
                DataLink::ETHERNET
            } else {
                DataLink::RAW
            },
            snaplen: crate::abi::MAX_SNAPLEN,
            options: vec![
                InterfaceDescriptionOption::IfName(Cow::Owned(name.clone())),
                InterfaceDescriptionOption::IfDescription(Cow::Owned(format!(
                    "{name} ifindex {} netns {} ({link})",
                    m.ifindex, m.netns
                ))),
                // Nanoseconds: what the pcap-file writer stores.
                InterfaceDescriptionOption::IfTsResol(9),
            ],
        };
        self.out
            .write_pcapng_block(block)
            .map_err(|e| write_error(&self.path, e))?;
        let id = self.interfaces.len() as u32;
        self.interfaces.insert(key, id);
        Ok(id)
    }
}

/// `func=.. [reason=.. location=..] rules=1,2`: what Wireshark shows as the
/// packet comment (filter with `frame.comment contains "NO_SOCKET"`).
pub fn comment(ev: &Event, ctx: &Names) -> String {
    let mut parts = vec![format!(
        "func={}",
        ctx.funcs.name(ev.meta.func_id).unwrap_or("?")
    )];
    if ev.is_drop() {
        if ev.has_reason() {
            parts.push(format!("reason={}", ctx.reason_name(ev.meta.reason)));
        }
        if ev.meta.location != 0 {
            parts.push(format!(
                "location={}",
                ctx.kallsyms.describe(ev.meta.location)
            ));
        }
    }
    if let Some((kind, point)) = ev.prog_point() {
        parts.push(format!("prog={}", point.word()));
        if let crate::bpf_prog::ProgPoint::Leave { ret } = point {
            parts.push(format!("verdict={}", kind.verdict_text(ret)));
        }
    }
    let rules: Vec<String> = ev.rules.iter().map(usize::to_string).collect();
    parts.push(format!("rules={}", rules.join(",")));
    if let Some(v) = &ev.verdict {
        parts.push(format!("verdict={}", v.text()));
    }
    parts.join(" ")
}

fn write_error(path: &Path, e: pcap_file::PcapError) -> PcapError {
    let source = match e {
        pcap_file::PcapError::IoError(io) => io,
        other => io::Error::other(other.to_string()),
    };
    PcapError::Write {
        path: path.to_path_buf(),
        source,
    }
}

/// CLOCK_REALTIME - CLOCK_MONOTONIC: turns event times (monotonic, from
/// bpf_ktime_get_ns) into the wall-clock times pcap-ng stores.
pub fn clock_offset_ns() -> i128 {
    let read = |clock| {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes one timespec into a valid pointer.
        unsafe { libc::clock_gettime(clock, &mut ts) };
        i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec)
    };
    read(libc::CLOCK_REALTIME) - read(libc::CLOCK_MONOTONIC)
}

#[cfg(test)]
#[path = "pcap_tests.rs"]
mod tests;
