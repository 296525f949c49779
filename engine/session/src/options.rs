//! What a session is opened with: the ring, `--duration`, `--interval`,
//! `--cmd`, `--pcap`, and how function triggers attach.

use ferret_kernel::{BackendChoice, Progress};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct SessionOptions {
    pub ring_bytes: u32,
    pub duration: Option<Duration>,
    pub verbose: bool,
    /// Print the `count`/`hist` tables this often, not only at the end.
    pub interval: Option<Duration>,
    /// `--cmd`: run this through `sh -c` once ready; its end ends the session.
    pub command: Option<String>,
    /// Send the command's standard output to ferret's standard error.
    pub command_stdout_to_stderr: bool,
    /// `--pcap`: where `capture` rules write their packets.
    pub pcap: Option<std::path::PathBuf>,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            ring_bytes: 8 << 20,
            duration: None,
            verbose: false,
            interval: None,
            command: None,
            command_stdout_to_stderr: false,
            pcap: None,
        }
    }
}

/// How function triggers attach: `--backend`, and the progress bar.
#[derive(Clone, Default)]
pub struct FunctionOptions {
    pub backend: BackendChoice,
    pub progress: Option<Progress>,
}

impl std::fmt::Debug for FunctionOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FunctionOptions")
            .field("backend", &self.backend)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}
