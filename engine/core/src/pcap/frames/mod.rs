//! A seeded generator of varied and hostile frames, to hold filters to
//! libpcap with: Ethernet with IPv4 (options, fragments, bad IHL and
//! version), IPv6 (extension header chains and fragments), TCP, UDP, ICMP,
//! ICMPv6, SCTP, IGMP, GRE and IP-in-IP tunnels, VLAN and QinQ, ARP,
//! 802.3/LLC, PPPoE, MPLS and other ethertypes, IPv4-mapped addresses;
//! then cut (captures shorter than the wire, and runts) and mutated.
//!
//! The same seed gives the same frames on every run and every machine.

mod builder;
mod ip;
mod link;
mod pools;
pub mod rng;
mod transport;

use builder::Builder;
use rng::Rng;

/// The link layer a frame starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameLink {
    Ethernet,
    /// IPv4 or IPv6 with no link header (and now and then neither).
    RawIp,
}

/// One generated packet: the captured bytes and the wire length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub data: Vec<u8>,
    /// The length on the wire; more than `data.len()` when the capture was
    /// cut short (libpcap's `len` against `caplen`).
    pub wirelen: u32,
    /// What the frame is, for failure messages.
    pub label: String,
    /// Offsets where headers and fields start: the places worth cutting at.
    pub marks: Vec<usize>,
}

impl Frame {
    /// The frame cut just before, at and after every mark, as captures
    /// shorter than the wire, plus the empty capture.
    pub fn every_cut(&self) -> Vec<Frame> {
        let mut cuts: Vec<usize> = self
            .marks
            .iter()
            .flat_map(|&m| [m.saturating_sub(1), m, m + 1])
            .filter(|&c| c < self.data.len())
            .collect();
        cuts.push(0);
        cuts.sort_unstable();
        cuts.dedup();
        cuts.into_iter()
            .map(|c| Frame {
                data: self.data[..c].to_vec(),
                wirelen: self.wirelen,
                label: format!("{} cut@{c}", self.label),
                marks: self.marks.iter().copied().filter(|&m| m <= c).collect(),
            })
            .collect()
    }
}

/// `count` frames from `seed`, then every cut of `cut_bases` more whole
/// frames (captures shorter than the wire, down to the empty one).
pub fn with_cuts(link: FrameLink, seed: u64, count: usize, cut_bases: usize) -> Vec<Frame> {
    let mut all = generate(link, seed, count);
    let mut rng = Rng::new(seed ^ 0xc075);
    for _ in 0..cut_bases {
        all.extend(whole(&mut rng, link).every_cut());
    }
    all
}

/// `count` frames from `seed`.
pub fn generate(link: FrameLink, seed: u64, count: usize) -> Vec<Frame> {
    let mut rng = Rng::new(seed);
    (0..count).map(|_| frame(&mut rng, link)).collect()
}

/// One frame as built, before any cut or mutation.
pub fn whole(rng: &mut Rng, link: FrameLink) -> Frame {
    let mut b = Builder::default();
    match link {
        FrameLink::Ethernet => link::ethernet(&mut b, rng, transport::transport),
        FrameLink::RawIp => match rng.below(100) {
            0..=47 => ip::ipv4(&mut b, rng, 0, transport::transport),
            48..=93 => ip::ipv6(&mut b, rng, 0, transport::transport),
            _ => {
                b.tag("garbage");
                let n = rng.below(60);
                b.put(&rng.bytes(n));
            }
        },
    }
    // Ethernet pads short frames to 60 bytes on the wire.
    if link == FrameLink::Ethernet && b.len() < 60 && rng.one_in(2) {
        b.buf.resize(60, 0);
        b.tag("padded");
    }
    Frame {
        wirelen: b.len() as u32,
        data: b.buf,
        label: b.label.join(" "),
        marks: b.marks,
    }
}

fn frame(rng: &mut Rng, link: FrameLink) -> Frame {
    let mut f = whole(rng, link);
    let len = f.data.len();
    let cut = match rng.below(100) {
        0..=24 if !f.marks.is_empty() => {
            let m = rng.pick(&f.marks) as isize + rng.pick(&[-1isize, 0, 0, 1, 2, 3]);
            Some(m.clamp(0, len as isize) as usize)
        }
        25..=29 => Some(rng.below(len + 1)),
        _ => None,
    };
    if let Some(c) = cut {
        f.data.truncate(c);
        if rng.one_in(2) {
            f.label.push_str(&format!(" snap@{c}"));
        } else {
            f.wirelen = c as u32;
            f.label.push_str(&format!(" runt@{c}"));
        }
    }
    if rng.one_in(7) && !f.data.is_empty() {
        mutate(rng, &mut f);
    }
    if rng.one_in(40) {
        f.wirelen += 1 + rng.below(1500) as u32;
        f.label.push_str(" longer-wire");
    }
    f
}

/// Overwrites one to four bytes: random values, flipped bits or values
/// that mean something in a header (versions, protocols, lengths).
fn mutate(rng: &mut Rng, f: &mut Frame) {
    let n = 1 + rng.below(4);
    for _ in 0..n {
        let at = if rng.one_in(2) && !f.marks.is_empty() {
            rng.pick(&f.marks).min(f.data.len() - 1)
        } else {
            rng.below(f.data.len())
        };
        f.data[at] = match rng.below(3) {
            0 => rng.u8(),
            1 => f.data[at] ^ (1 << rng.below(8)),
            _ => rng.pick(&[
                0, 0xff, 0x45, 0x4f, 0x60, 6, 17, 58, 0x81, 0x86, 0x08, 44, 0,
            ]),
        };
        f.label.push_str(&format!(" mut@{at}"));
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
