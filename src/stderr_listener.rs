//! What the CLI does with what a trace tells it: lines go to standard
//! error (after the progress bar is cleared), and the moment every probe is
//! attached is when ferret gives up its privileges.

use crate::privdrop::PrivilegeDrop;
use crate::progress::AttachBar;
use ferret_session::listener::Listener;

#[derive(Debug)]
pub struct StderrListener<'a> {
    bar: Option<&'a AttachBar>,
    privileges: &'a mut PrivilegeDrop,
}

impl<'a> StderrListener<'a> {
    pub fn new(bar: Option<&'a AttachBar>, privileges: &'a mut PrivilegeDrop) -> Self {
        StderrListener { bar, privileges }
    }
}

impl Listener for StderrListener<'_> {
    fn notice(&mut self, line: &str) {
        if let Some(bar) = self.bar {
            bar.finish();
        }
        eprintln!("{line}");
    }

    fn ready(&mut self) {
        // Before the ready line is printed, so that whoever waits for it
        // sees a process that already gave up what attaching needed.
        self.privileges.after_ready();
    }
}
