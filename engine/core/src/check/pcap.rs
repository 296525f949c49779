//! pcap-filter text inside a filter: refused if libpcap would look a word
//! up outside the rule, else compiled by libpcap twice — for frames that
//! start at an Ethernet header and for packets that start at the IP
//! header (DLT_RAW), as pwru does — and held to the kernel interpreter's
//! limits. The result is a [`PcapUnit`] of the rule and an atom that tests
//! its bit in `Meta::pcap`.

use super::filter::FilterCheck;
use crate::abi::{field, op, PCAP_UNITS};
use crate::ir::{Atom, Filter, PcapUnit};
use crate::pcap::words::{check_lookups, Lookup};
use ferret_grammar::ast::{PcapText, Span};
use ferret_grammar::Diagnostic;

impl FilterCheck<'_, '_> {
    pub(super) fn pcap(&mut self, p: &PcapText, span: Span) -> Filter {
        let tokens: Vec<&str> = p.tokens.iter().map(|(t, _)| t.as_str()).collect();
        if let Err(lookup) = check_lookups(&tokens) {
            let blamed = p.tokens.get(lookup.index()).map_or(span, |(_, s)| *s);
            return self.refuse(lookup_diagnostic(&lookup, blamed));
        }
        if self.pcap_units.len() >= PCAP_UNITS {
            return self.refuse(
                Diagnostic::error(
                    format!("a rule can hold at most {PCAP_UNITS} separate pcap-filter parts"),
                    span,
                )
                .with_label("one too many")
                .with_note(
                    "pcap-filter words written next to each other count as one part: \
                     move the ferret comparisons to one side, or split the rule",
                ),
            );
        }
        match compile_unit(&p.text, span) {
            Ok(unit) => {
                let bit = 1u128 << self.pcap_units.len();
                self.pcap_units.push(unit);
                Filter::Atom(Atom {
                    field: field::PCAP,
                    op: op::EQ,
                    value: bit,
                    mask: bit,
                    span,
                })
            }
            Err(d) => self.refuse(*d),
        }
    }

    fn refuse(&mut self, d: Diagnostic) -> Filter {
        self.diags.push(d);
        Filter::False
    }
}

fn lookup_diagnostic(lookup: &Lookup, span: Span) -> Diagnostic {
    let d = Diagnostic::error(lookup.to_string(), span);
    match lookup {
        Lookup::Host { word, .. } => d
            .with_label("not a pcap-filter keyword, so libpcap would resolve it as a host name")
            .suggesting(word, crate::pcap::words::KEYWORDS.iter().copied())
            .with_note(
                "ferret never looks names up (checking a rule sends no DNS query): \
                 write the address, like `host 192.0.2.1`",
            ),
        Lookup::Net { .. } => d
            .with_label("network names come from /etc/networks, which ferret does not read")
            .with_note("write the network, like `net 192.0.2.0/24`"),
        Lookup::Case { word, .. } => d
            .with_label("libpcap, like tcpdump, knows its keywords in lower case only")
            .with_note(format!("write `{}`", word.to_ascii_lowercase())),
        Lookup::Gateway { .. } => d
            .with_label("`gateway H` looks H up as a host and in /etc/ethers")
            .with_note("write what it means: `ether host MAC and not host ADDR`"),
    }
}

#[cfg(feature = "libpcap")]
fn compile_unit(text: &str, span: Span) -> Result<PcapUnit, Box<Diagnostic>> {
    use crate::pcap::libpcap::{compile, CompileError, LinkType};
    // What tcpdump -r compiles with (it knows no interface): `ip broadcast`
    // then means 255.255.255.255 (and 0.0.0.0) rather than being refused.
    const TCPDUMP_NETMASK: u32 = 0;
    use crate::pcap::Limits;

    let build = |link| {
        let compiled = compile(text, link, true, TCPDUMP_NETMASK).map_err(|e| match e {
            CompileError::Refused { message } => message,
            other => other.to_string(),
        })?;
        compiled
            .program(&Limits::KERNEL)
            .map_err(|e| format!("libpcap's program for it cannot run in the kernel: {e}"))
    };
    let ether = build(LinkType::Ethernet).map_err(|why| {
        Box::new(
            Diagnostic::error(format!("pcap-filter: {why}"), span)
                .with_label("libpcap refuses this")
                .with_note("this part of the filter is handed to libpcap as tcpdump would; see pcap-filter(7)"),
        )
    })?;
    let raw = build(LinkType::RawIp);
    let keys = crate::pcap::prefilter::admitted_keys(&ether, raw.as_ref().ok());
    Ok(PcapUnit {
        text: text.to_string(),
        span,
        raw_refused: raw.as_ref().err().cloned(),
        raw: raw.ok(),
        ether,
        keys,
    })
}

#[cfg(not(feature = "libpcap"))]
fn compile_unit(_text: &str, span: Span) -> Result<PcapUnit, Box<Diagnostic>> {
    Err(Box::new(
        Diagnostic::error("this ferret was built without libpcap", span)
            .with_label("pcap-filter text needs libpcap's compiler")
            .with_note("use ferret's fields (`dport == 443`), or build with the `libpcap` feature"),
    ))
}
