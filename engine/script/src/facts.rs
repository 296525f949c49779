//! What a playbook may ask about the machine: `kernel()` facts, and the
//! names of network namespaces (events carry only the inode).

use rhai::{Array, Dynamic, Map};
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The answer of `kernel()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelInfo {
    pub release: String,
    /// Triggers a rule can use on this machine with this build.
    pub triggers: Vec<String>,
    /// Why `func`/`any` are missing, when they are.
    pub functions_missing: Option<String>,
    /// Drop reason names known from BTF.
    pub drop_reasons: usize,
}

impl KernelInfo {
    pub fn detect(facts: &ferret_session::system::SystemFacts) -> KernelInfo {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|e| format!("unknown ({e})"));
        // kprobes present: function triggers work; else the session finds
        // out when a rule needs them (kprobe.multi, fentry).
        let functions_missing = ferret_kernel::function_backend_status();
        KernelInfo::new(
            release,
            functions_missing,
            facts.reasons.as_ref().map_or(0, |r| r.len()),
        )
    }

    pub fn new(release: String, functions_missing: Option<String>, drop_reasons: usize) -> Self {
        let mut triggers: Vec<String> = ferret_core::hooks::TRACEPOINT_TRIGGERS
            .iter()
            .map(|(t, ..)| t.to_string())
            .collect();
        triggers.push("tp".into());
        if functions_missing.is_none() {
            triggers.extend(["func".to_string(), "any".to_string()]);
        }
        KernelInfo {
            release,
            triggers,
            functions_missing,
            drop_reasons,
        }
    }

    pub fn to_map(&self) -> Map {
        let mut m = Map::new();
        m.insert("release".into(), self.release.clone().into());
        let t: Array = self.triggers.iter().cloned().map(Dynamic::from).collect();
        m.insert("triggers".into(), t.into());
        m.insert("functions".into(), self.functions_missing.is_none().into());
        m.insert(
            "functions_missing".into(),
            self.functions_missing
                .clone()
                .map_or(Dynamic::UNIT, Dynamic::from),
        );
        m.insert("drop_reasons".into(), (self.drop_reasons as i64).into());
        m
    }
}

/// Namespace inode → name under /run/netns (`ip netns add`), or `(host)`
/// for the initial namespace. Rescanned at most once a second on a miss.
#[derive(Debug)]
pub struct NetnsNames {
    dir: PathBuf,
    names: HashMap<u32, String>,
    scanned: Option<Instant>,
}

impl Default for NetnsNames {
    fn default() -> Self {
        NetnsNames::new("/run/netns".into())
    }
}

impl NetnsNames {
    pub fn new(dir: PathBuf) -> NetnsNames {
        NetnsNames {
            dir,
            names: HashMap::new(),
            scanned: None,
        }
    }

    pub fn name(&mut self, inode: u32) -> String {
        if !self.names.contains_key(&inode)
            && self
                .scanned
                .is_none_or(|t| t.elapsed() > Duration::from_secs(1))
        {
            self.scan();
        }
        self.names.get(&inode).cloned().unwrap_or_default()
    }

    fn scan(&mut self) {
        self.scanned = Some(Instant::now());
        let ino = |p: &std::path::Path| {
            std::fs::metadata(p)
                .ok()
                .and_then(|m| u32::try_from(m.ino()).ok())
        };
        if let Some(i) = ino("/proc/1/ns/net".as_ref()) {
            self.names.insert(i, "(host)".into());
        }
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for e in entries.flatten() {
            if let Some(i) = ino(&e.path()) {
                self.names
                    .insert(i, e.file_name().to_string_lossy().into_owned());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers_follow_the_function_backend() {
        let without = KernelInfo::new("6.18".into(), Some("no kprobes".into()), 3);
        assert!(!without.triggers.contains(&"func".to_string()));
        assert!(without.triggers.contains(&"drop".to_string()));
        let m = without.to_map();
        assert_eq!(m["functions"].as_bool(), Ok(false));
        let with = KernelInfo::new("6.18".into(), None, 3);
        assert!(with.triggers.contains(&"any".to_string()));
    }

    #[test]
    fn names_come_from_the_netns_directory() {
        let dir = std::env::temp_dir().join(format!("ferret-netns-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("lab-x");
        std::fs::write(&file, b"").unwrap();
        let inode = std::fs::metadata(&file).unwrap().ino() as u32;
        let mut names = NetnsNames::new(dir.clone());
        assert_eq!(names.name(inode), "lab-x");
        assert_eq!(names.name(1), "");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
