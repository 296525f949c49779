//! Where each delivered event goes in a one-shot trace: the text or JSON
//! sink and the `--pcap` file.
//!
//! A rule that only captures (no `print`, no `stack`) while a pcap file is
//! open writes to the file and shows nothing, as `tcpdump -w` does; without
//! a file its events are shown with a description of the packet.

use crate::driver::EventTarget;
use crate::rules::LiveRule;
use crate::session::Flow;
use ferret_core::event::Event;
use ferret_core::output::pcap::{PcapError, PcapWriter};
use ferret_core::output::{Names, Sink};
use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufWriter};

pub type PcapFile = PcapWriter<BufWriter<File>>;

pub(crate) struct Router<'a> {
    sink: &'a mut dyn Sink,
    pub pcap: Option<PcapFile>,
    /// Rules with `capture`.
    capture: HashSet<usize>,
    /// Rules whose events go only to the pcap file.
    silent: HashSet<usize>,
    /// Events of capture rules that carried no packet bytes (no header to
    /// start from yet): counted, since they are not in the file.
    pub capture_skipped: u64,
    pub write_error: Option<io::Error>,
    pub pcap_error: Option<PcapError>,
}

impl<'a> Router<'a> {
    pub fn new<'r>(
        sink: &'a mut dyn Sink,
        pcap: Option<PcapFile>,
        rules: impl Iterator<Item = &'r LiveRule>,
    ) -> Router<'a> {
        let mut r = Router {
            sink,
            capture: HashSet::new(),
            silent: HashSet::new(),
            capture_skipped: 0,
            write_error: None,
            pcap_error: None,
            pcap: None,
        };
        for rule in rules {
            let a = &rule.plan.actions;
            if a.capture.is_some() {
                r.capture.insert(rule.id);
                if pcap.is_some() && !a.print && !a.stack {
                    r.silent.insert(rule.id);
                }
            }
        }
        r.pcap = pcap;
        r
    }

    /// Handles one event; `Flow::Stop` once a write failed.
    pub fn event(&mut self, ev: &Event, stack: Option<&[String]>, ctx: &Names) -> Flow {
        let captured = ev.rules.iter().any(|id| self.capture.contains(id));
        if let (true, Some(pcap)) = (captured, self.pcap.as_mut()) {
            match pcap.write(ev, ctx) {
                Ok(true) => {}
                Ok(false) => self.capture_skipped += 1,
                Err(e) => {
                    self.pcap_error = Some(e);
                    return Flow::Stop;
                }
            }
        }
        let shown = ev.rules.is_empty() || ev.rules.iter().any(|id| !self.silent.contains(id));
        if shown {
            if let Err(e) = self.sink.event(ev, stack, ctx) {
                self.write_error = Some(e);
                return Flow::Stop;
            }
        }
        Flow::Continue
    }

    /// Flushes both outputs, keeping the first error of each.
    pub fn flush(&mut self) {
        if self.write_error.is_none() {
            if let Err(e) = self.sink.flush() {
                self.write_error = Some(e);
            }
        }
        if let (None, Some(pcap)) = (&self.pcap_error, self.pcap.as_mut()) {
            if let Err(e) = pcap.flush() {
                self.pcap_error = Some(e);
            }
        }
    }

    pub fn sink(&mut self) -> &mut dyn Sink {
        self.sink
    }
}

impl EventTarget for Router<'_> {
    fn event(
        &mut self,
        ev: &Event,
        _rules: &[usize],
        stack: Option<&[String]>,
        names: &Names,
    ) -> Flow {
        Router::event(self, ev, stack, names)
    }
}
