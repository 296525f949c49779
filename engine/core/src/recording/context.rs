//! The context record: what reading a recording anywhere needs to know
//! about the machine and the session that made it.

use crate::hooks::HookNames;
use crate::plan::Plan;
use crate::reasons::DropReasons;
use serde::{Deserialize, Serialize};

/// The first ferret record of a recording.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Context {
    /// The format version ([`super::FORMAT_VERSION`] when written).
    pub format: u32,
    /// The ferret that wrote it (`ferret 0.1.0`).
    pub ferret: String,
    /// The kernel release (`uname -r`).
    pub kernel: String,
    pub hostname: String,
    /// The rules of the session, as written.
    pub rules: Vec<RecordedRule>,
    /// The kernel's drop reasons, names without the prefix.
    pub reasons: Vec<(String, u32)>,
    /// Namespace names (`/run/netns`) and their inodes, for `netns == "name"`.
    pub netns: Vec<(String, u32)>,
    /// Fields every event carries whenever its packet has them (bit per
    /// field id): the fields an offline filter may read.
    pub fields: u32,
    /// Wall clock minus the monotonic clock of event times, in ns.
    pub clock_offset_ns: i64,
}

/// One rule of the recorded session.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedRule {
    pub number: usize,
    pub text: String,
    /// Whether the live session printed its events (`print`, `stack`,
    /// `capture`): reading without rules shows these only.
    pub shown: bool,
    /// Hook bits it listened on (`abi::hook` ids; FUNC for functions).
    pub hooks: u32,
    /// Function globs of `func`/`any` triggers.
    pub funcs: Vec<String>,
    pub stack: bool,
    pub capture: bool,
}

impl Context {
    /// The context of a session about to run `plan`; `reasons` and `netns`
    /// come from the system facts, `kernel` and `hostname` from uname.
    pub fn for_plan(
        plan: &Plan,
        reasons: Option<&DropReasons>,
        netns: Vec<(String, u32)>,
    ) -> Context {
        let rules = plan
            .rules
            .iter()
            .map(|r| RecordedRule {
                number: r.number,
                text: r.text.clone(),
                shown: r.delivers(),
                hooks: r.hooks,
                funcs: r
                    .triggers
                    .iter()
                    .filter_map(|t| match t {
                        crate::ir::TriggerIr::Func { globs } => Some(globs.clone()),
                        _ => None,
                    })
                    .flatten()
                    .collect(),
                stack: r.actions.stack,
                capture: r.actions.capture.is_some(),
            })
            .collect();
        let reasons = reasons
            .map(|r| {
                r.names()
                    .filter_map(|n| Some((n.to_string(), r.value_of(n)?)))
                    .collect()
            })
            .unwrap_or_default();
        Context {
            format: super::FORMAT_VERSION,
            ferret: format!("ferret {}", env!("CARGO_PKG_VERSION")),
            kernel: read_trim("/proc/sys/kernel/osrelease"),
            hostname: read_trim("/proc/sys/kernel/hostname"),
            rules,
            reasons,
            netns,
            fields: crate::catalog::FIELDS.iter().fold(0, |m, f| m | 1 << f.id),
            clock_offset_ns: crate::output::pcap::clock_offset_ns() as i64,
        }
    }

    pub fn drop_reasons(&self) -> DropReasons {
        DropReasons::from_pairs(self.reasons.iter().map(|(n, v)| (n.as_str(), *v)))
    }

    /// Hook bits any recorded rule listened on.
    pub fn hooks(&self) -> u32 {
        self.rules.iter().fold(0, |m, r| m | r.hooks)
    }

    /// The rules' text, one per line (the section header's comment).
    pub fn rules_text(&self) -> String {
        let lines: Vec<&str> = self.rules.iter().map(|r| r.text.as_str()).collect();
        lines.join("\n")
    }

    /// Function names a fresh reader starts with: the tracepoints'.
    pub fn base_names() -> HookNames {
        HookNames::tracepoints()
    }
}

fn read_trim(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Namespace names as the recording machine knew them, for the offline
/// checker: `netns == "lab-b"` means the inode `lab-b` had there.
#[derive(Debug, Clone, Copy)]
pub struct RecordedNetns<'a>(pub &'a Context);

impl crate::check::NetnsResolver for RecordedNetns<'_> {
    fn resolve(&self, name: &str) -> Result<u32, crate::check::NetnsError> {
        self.0
            .netns
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, ino)| *ino)
            .ok_or_else(|| crate::check::NetnsError::Unknown {
                name: name.to_string(),
            })
    }
}
