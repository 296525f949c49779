//! `capture` in playbooks: the packets of capture rules go to the
//! `--pcap` file, live and over recordings.

use ferret_core::event::Event;
use ferret_core::output::pcap::{PcapError, PcapWriter};
use ferret_core::output::Names;

/// The `--pcap` file of a playbook.
pub(crate) type PcapFile = PcapWriter<std::io::BufWriter<std::fs::File>>;

/// Writes the events of `capture` rules (`captures`: their ids); events
/// without packet bytes are counted as skipped, as in a trace.
pub(crate) fn write_captures<'e>(
    pcap: &mut PcapFile,
    skipped: &mut u64,
    events: impl Iterator<Item = &'e Event>,
    captures: &[usize],
    names: &Names,
) -> Result<(), PcapError> {
    for ev in events.filter(|e| e.rules.iter().any(|id| captures.contains(id))) {
        if !pcap.write(ev, names)? {
            *skipped += 1;
        }
    }
    Ok(())
}
