//! Whether a rule file or playbook may be run by root. Running as root a
//! file that another user can change hands that user root's tracer (and,
//! with playbook I/O allowed, more), so such files are refused unless the
//! operator says `--allow-unsafe-files`.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum UntrustedFile {
    #[error("cannot inspect {path}: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("refusing {path}: it is writable by other users (mode {mode:o}); as root ferret only runs files that only root or you can change — fix with `chmod go-w {path}`, or pass --allow-unsafe-files")]
    WritableByOthers { path: PathBuf, mode: u32 },
    #[error("refusing {path}: it belongs to uid {uid}, who could change what root runs — fix with `chown root {path}`, or pass --allow-unsafe-files")]
    ForeignOwner { path: PathBuf, uid: u32 },
    #[error("refusing {path}: its directory {dir} is writable by other users without the sticky bit, so the file can be swapped — move it, or pass --allow-unsafe-files")]
    UnsafeDirectory { path: PathBuf, dir: PathBuf },
}

/// Who may own a file that root runs: root, and the user who ran sudo.
fn trusted_owner(uid: u32) -> bool {
    let sudo_uid = std::env::var("SUDO_UID")
        .ok()
        .and_then(|v| v.parse::<u32>().ok());
    uid == 0 || Some(uid) == sudo_uid
}

/// Refuses, when running as root, a file others can change. Without root
/// there is nothing to escalate to, so every readable file is fine.
pub fn check(path: &Path, effective_uid: u32) -> Result<(), UntrustedFile> {
    if effective_uid != 0 {
        return Ok(());
    }
    let meta = std::fs::metadata(path).map_err(|source| UntrustedFile::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    let mode = meta.mode() & 0o7777;
    let group_writable_by_others = mode & 0o020 != 0 && meta.gid() != 0;
    if mode & 0o002 != 0 || group_writable_by_others {
        return Err(UntrustedFile::WritableByOthers {
            path: path.to_path_buf(),
            mode,
        });
    }
    if !trusted_owner(meta.uid()) {
        return Err(UntrustedFile::ForeignOwner {
            path: path.to_path_buf(),
            uid: meta.uid(),
        });
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if let Ok(d) = std::fs::metadata(dir) {
        let dmode = d.mode();
        if dmode & 0o002 != 0 && dmode & 0o1000 == 0 {
            return Err(UntrustedFile::UnsafeDirectory {
                path: path.to_path_buf(),
                dir: dir.to_path_buf(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn temp_file(tag: &str, mode: u32) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ferret-trust-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let p = dir.join("rules.ferret");
        std::fs::write(&p, "on drop\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[test]
    fn world_writable_files_are_refused_for_root_only() {
        let p = temp_file("ww", 0o666);
        let err = check(&p, 0).unwrap_err();
        assert!(
            matches!(err, UntrustedFile::WritableByOthers { mode: 0o666, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("--allow-unsafe-files"));
        assert!(
            check(&p, 1000).is_ok(),
            "an unprivileged run escalates nothing"
        );
        std::fs::remove_dir_all(p.parent().unwrap()).unwrap();
    }

    #[test]
    fn private_files_of_the_running_user_pass() {
        let p = temp_file("ok", 0o644);
        // SAFETY: geteuid has no preconditions.
        let me = unsafe { libc::geteuid() };
        if me == 0 {
            assert!(check(&p, 0).is_ok());
        } else {
            assert!(check(&p, me).is_ok());
        }
        std::fs::remove_dir_all(p.parent().unwrap()).unwrap();
    }
}
