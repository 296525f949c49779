//! The reference evaluator with packet bytes: a rule's pcap-filter parts
//! run by the Rust classic BPF interpreter (held to libpcap by the
//! differential tests) on a frame, their verdicts set as `Meta::pcap`
//! bits as the kernel sets them, then the branch program.

use super::RulePlan;
use crate::abi::{self, field};
use crate::pcap::run;

impl RulePlan {
    /// The bits of `Meta::pcap` for a packet whose captured bytes are
    /// `frame` (from the Ethernet header, or from the IP header when
    /// `raw_ip`), `wirelen` long on the wire.
    pub fn pcap_bits(&self, frame: &[u8], wirelen: u32, raw_ip: bool) -> u8 {
        let mut bits = 0u8;
        for (i, unit) in self.pcap.iter().enumerate() {
            let prog = if raw_ip {
                unit.raw.as_ref()
            } else {
                Some(&unit.ether)
            };
            let accepted = prog.is_some_and(|p| run(p, frame, wirelen).accepted());
            bits |= u8::from(accepted) << i;
        }
        bits
    }

    /// `meta` with the pcap-filter bits of the packet `frame`, as the
    /// kernel fills them before it runs the branch program.
    pub fn with_pcap(
        &self,
        meta: &abi::Meta,
        frame: &[u8],
        wirelen: u32,
        raw_ip: bool,
    ) -> abi::Meta {
        let mut m = *meta;
        m.pcap = self.pcap_bits(frame, wirelen, raw_ip);
        m.present |= 1 << field::PCAP;
        m
    }

    /// Whether the branch program matches a packet with fields `meta` and
    /// bytes `frame` (see [`RulePlan::pcap_bits`]).
    pub fn matches_frame(
        &self,
        meta: &abi::Meta,
        frame: &[u8],
        wirelen: u32,
        raw_ip: bool,
    ) -> bool {
        self.matches(&self.with_pcap(meta, frame, wirelen, raw_ip))
    }
}
