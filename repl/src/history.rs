//! Where history lives: `$XDG_DATA_HOME/ferret/history`, else
//! `~/.local/share/ferret/history`; the directory 0700, the file 0600 (rules
//! name hosts and namespaces a user may not want others to read).
//!
//! The line editor appends to the file by its path, so [`prepare`] opens it
//! once through `ferret_core::outfile` (appending: the history is kept):
//! afterwards it is a regular file of ours, mode 0600, in a directory that
//! other users cannot change, and nobody else can swap it for a link.

use std::fs::DirBuilder;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("neither XDG_DATA_HOME nor HOME is set, so there is no place for the history")]
    NoHome,
    #[error("cannot create {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("history: {source}")]
    File {
        #[from]
        source: ferret_core::outfile::OutFileError,
    },
}

/// The history file for this environment (`xdg_data_home`, `home` as read
/// from the environment; empty values count as unset, as XDG says).
pub fn path_from(xdg_data_home: Option<&str>, home: Option<&str>) -> Option<PathBuf> {
    let base = match (xdg_data_home, home) {
        (Some(x), _) if Path::new(x).is_absolute() => PathBuf::from(x),
        (_, Some(h)) if !h.is_empty() => Path::new(h).join(".local/share"),
        _ => return None,
    };
    Some(base.join("ferret").join("history"))
}

/// Makes sure the history file exists, private, and returns its path.
pub fn prepare() -> Result<PathBuf, HistoryError> {
    let xdg = std::env::var("XDG_DATA_HOME").ok();
    let home = std::env::var("HOME").ok();
    let path = path_from(xdg.as_deref(), home.as_deref()).ok_or(HistoryError::NoHome)?;
    create_private(&path)?;
    Ok(path)
}

fn create_private(path: &Path) -> Result<(), HistoryError> {
    let err = |source| HistoryError::Create {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(err)?;
    }
    // An older file may have looser permissions: they become 0600.
    ferret_core::outfile::append(path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn xdg_data_home_wins_then_home() {
        assert_eq!(
            path_from(Some("/x/data"), Some("/home/u")),
            Some(PathBuf::from("/x/data/ferret/history"))
        );
        assert_eq!(
            path_from(None, Some("/home/u")),
            Some(PathBuf::from("/home/u/.local/share/ferret/history"))
        );
        assert_eq!(
            path_from(Some(""), Some("/home/u")),
            Some(PathBuf::from("/home/u/.local/share/ferret/history")),
            "an empty or relative XDG_DATA_HOME is ignored"
        );
        assert_eq!(path_from(None, None), None);
    }

    #[test]
    fn the_file_is_created_private() {
        let dir = std::env::temp_dir().join(format!("ferret-hist-{}", std::process::id()));
        let path = dir.join("ferret/history");
        create_private(&path).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        create_private(&path).unwrap();
        assert_eq!(mode(&path), 0o600, "loose permissions are tightened");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
