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

    #[test]
    fn a_configmap_swap_of_its_data_link_is_noticed() {
        use std::os::unix::fs::symlink;
        let dir = std::env::temp_dir().join(format!("ferret-watch-cm-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("..v1")).unwrap();
        std::fs::create_dir_all(dir.join("..v2")).unwrap();
        std::fs::write(dir.join("..v1/rules"), "on drop print\n").unwrap();
        std::fs::write(dir.join("..v2/rules"), "on drop print\n").unwrap();
        // The kubelet's layout: rules -> ..data/rules, ..data -> ..vN.
        symlink("..v1", dir.join("..data")).unwrap();
        symlink("..data/rules", dir.join("rules")).unwrap();
        let mut w = FileWatch::new(&dir.join("rules"), Duration::ZERO);
        symlink("..v2", dir.join("..data_tmp")).unwrap();
        std::fs::rename(dir.join("..data_tmp"), dir.join("..data")).unwrap();
        assert!(w.changed(Instant::now()), "same text, but a new file");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
