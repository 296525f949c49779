//! The pcap-filter parts of a rule in `ferret check`: what libpcap
//! compiled each to, listed as `tcpdump -d` lists a program, once for
//! packets seen from the Ethernet header and once from the IP header.

use crate::ir::PcapUnit;
use crate::pcap::Insn;
use std::fmt::Write;

pub(super) fn units_text(units: &[PcapUnit], out: &mut String) {
    for (i, u) in units.iter().enumerate() {
        let _ = writeln!(out, "  pcap-filter #{i}: {}", u.text);
        listing("from the Ethernet header", u.ether.insns(), out);
        match (&u.raw, &u.raw_refused) {
            (Some(raw), _) => listing("from the IP header (no link header)", raw.insns(), out),
            (None, why) => {
                let _ = writeln!(
                    out,
                    "    from the IP header (no link header): false ({})",
                    why.as_deref().unwrap_or("libpcap refused it")
                );
            }
        }
    }
}

/// `(003) jeq #0x6 jt 4 jf 9`: absolute jump targets, as tcpdump -d.
fn listing(title: &str, insns: &[Insn], out: &mut String) {
    let _ = writeln!(out, "    {title}: {} instructions", insns.len());
    for (pc, insn) in insns.iter().enumerate() {
        let _ = writeln!(out, "      ({pc:03}) {}", absolute(*insn, pc));
    }
}

/// The instruction's text with its relative jumps made absolute.
fn absolute(insn: Insn, pc: usize) -> String {
    let text = insn.to_string();
    let next = pc + 1;
    let mut words: Vec<String> = text.split(' ').map(str::to_string).collect();
    for w in words.iter_mut() {
        if let Some(rel) = w.strip_prefix('+') {
            // `ja` offsets are signed 32-bit (protochain jumps back).
            if let Ok(n) = rel.parse::<u32>() {
                *w = (next as i64 + i64::from(n as i32)).to_string();
            }
        }
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    #[cfg(feature = "libpcap")]
    #[test]
    fn check_lists_both_programs_of_a_part() {
        let plan = crate::testing::compile_ok("on drop where tcp port 443");
        let text = plan.render_text();
        assert!(text.contains("pcap-filter #0: tcp port 443"), "{text}");
        assert!(text.contains("from the Ethernet header:"), "{text}");
        assert!(
            text.contains("from the IP header (no link header):"),
            "{text}"
        );
        assert!(text.contains("(000) ldh [12]"), "{text}");
        let vlan = crate::testing::compile_ok("on drop where vlan 100").render_text();
        assert!(
            vlan.contains("from the IP header (no link header): false ("),
            "{vlan}"
        );
    }
}
