//! Notices that the rules file changed: its identity and modification time
//! are compared once a second. Polling a stat is cheap, works for editors
//! that replace the file (a new inode) and for Kubernetes ConfigMaps (a
//! symlink swapped to a new directory), where an inotify watch on the old
//! file would go quiet.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What identifies one version of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    // Through symlinks: a ConfigMap's file is a link to the current copy.
    let m = std::fs::metadata(path).ok()?;
    Some(Stamp {
        dev: m.dev(),
        ino: m.ino(),
        size: m.size(),
        mtime_ns: m.mtime() * 1_000_000_000 + m.mtime_nsec(),
    })
}

#[derive(Debug)]
pub struct FileWatch {
    path: PathBuf,
    last: Option<Stamp>,
    every: Duration,
    pub next: Instant,
}

impl FileWatch {
    /// Watches `path` from its state now.
    pub fn new(path: &Path, every: Duration) -> FileWatch {
        FileWatch {
            path: path.to_path_buf(),
            last: stamp(path),
            every,
            next: Instant::now() + every,
        }
    }

    /// When due, whether the file changed since the last look (a file that
    /// vanished is no change: the running rules stay until it is back).
    pub fn changed(&mut self, now: Instant) -> bool {
        if now < self.next {
            return false;
        }
        self.next = now + self.every;
        let Some(current) = stamp(&self.path) else {
            return false;
        };
        let changed = self.last != Some(current);
        self.last = Some(current);
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rewritten_or_replaced_file_is_noticed_once() {
        let dir = std::env::temp_dir().join(format!("ferret-watch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        let path = dir.join("rules");
        std::fs::write(&path, "on drop print\n").unwrap();
        let mut w = FileWatch::new(&path, Duration::ZERO);
        assert!(!w.changed(Instant::now()));
        std::fs::write(&path, "on drop count by reason\n").unwrap();
        assert!(w.changed(Instant::now()));
        assert!(!w.changed(Instant::now()));
        // Replaced by rename, as editors and ConfigMaps do.
        let new = dir.join("rules.new");
        std::fs::write(&new, "on drop count by reason\n").unwrap();
        std::fs::rename(&new, &path).unwrap();
        assert!(w.changed(Instant::now()));
        std::fs::remove_file(&path).unwrap();
        assert!(!w.changed(Instant::now()), "a missing file is no reload");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
