//! The progress bar while many function probes attach (stderr, only on a
//! terminal: indicatif draws nothing elsewhere, so logs stay clean).

use ferret_kernel::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct AttachBar {
    bar: ProgressBar,
}

impl AttachBar {
    pub fn new() -> AttachBar {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("ferret: attaching {bar:30} {pos}/{len} functions")
                .expect("a valid template"),
        );
        AttachBar { bar }
    }

    /// What the kernel stage calls with (done, total).
    pub fn callback(&self) -> Progress {
        let bar = self.bar.clone();
        Arc::new(move |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        })
    }

    /// Removes the bar before the ready line; idempotent.
    pub fn finish(&self) {
        if !self.bar.is_finished() {
            self.bar.finish_and_clear();
        }
    }
}
