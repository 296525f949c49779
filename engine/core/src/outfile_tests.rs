use super::*;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

/// A fresh directory (0700) for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ferret-outfile-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

fn is_root() -> bool {
    Writer::current().uid == 0
}

const NOBODY: Writer = Writer {
    uid: 65534,
    gid: 65534,
};

#[test]
fn a_new_file_is_created_0600() {
    let dir = scratch("new");
    let path = dir.join("out.json");
    let mut f = create(&path).unwrap();
    f.write_all(b"x").unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(std::fs::read(&path).unwrap(), b"x");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_existing_0644_file_becomes_0600_and_is_truncated() {
    let dir = scratch("existing");
    let path = dir.join("out.json");
    std::fs::write(&path, "old contents").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    create(&path).unwrap().write_all(b"new").unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(std::fs::read(&path).unwrap(), b"new");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn append_keeps_what_is_there_and_tightens_the_mode() {
    let dir = scratch("append");
    let path = dir.join("history");
    std::fs::write(&path, "one\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    append(&path).unwrap().write_all(b"two\n").unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\ntwo\n");
    assert_eq!(mode(&path), 0o600);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_symlink_to_a_file_is_refused_and_the_target_untouched() {
    let dir = scratch("link-file");
    let victim = dir.join("victim");
    std::fs::write(&victim, "precious").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
    let link = dir.join("evil.json");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    for mode_ in [WriteMode::Truncate, WriteMode::Append] {
        let err = open(&link, mode_).unwrap_err();
        assert!(matches!(err, OutFileError::Symlink { .. }), "{err}");
        assert!(err.to_string().contains("symbolic link"), "{err}");
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert_eq!(mode(&victim), 0o644);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_symlink_to_a_device_is_refused() {
    let dir = scratch("link-dev");
    let link = dir.join("evil.json");
    std::os::unix::fs::symlink("/dev/null", &link).unwrap();
    let err = create(&link).unwrap_err();
    assert!(matches!(err, OutFileError::Symlink { .. }), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_dangling_symlink_is_refused_and_nothing_is_created() {
    let dir = scratch("link-dangling");
    let target = dir.join("not-yet");
    let link = dir.join("evil.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let err = create(&link).unwrap_err();
    assert!(matches!(err, OutFileError::Symlink { .. }), "{err}");
    assert!(!target.exists(), "the link's target must not be created");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn devices_fifos_and_directories_are_refused_without_blocking() {
    let dir = scratch("kinds");
    let err = create(Path::new("/dev/null")).unwrap_err();
    assert!(
        matches!(
            err,
            OutFileError::NotRegular {
                kind: "a character device",
                ..
            }
        ),
        "{err}"
    );
    let fifo = dir.join("fifo");
    let c = c_path(fifo.as_os_str()).unwrap();
    // SAFETY: c is a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let err = create(&fifo).unwrap_err();
    assert!(
        matches!(err, OutFileError::NotRegular { kind: "a FIFO", .. }),
        "{err}"
    );
    let sub = dir.join("sub");
    std::fs::create_dir(&sub).unwrap();
    let err = create(&sub).unwrap_err();
    assert!(
        matches!(
            err,
            OutFileError::NotRegular {
                kind: "a directory",
                ..
            }
        ),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_hard_linked_file_is_refused_and_kept() {
    let dir = scratch("hardlink");
    let victim = dir.join("victim");
    std::fs::write(&victim, "precious").unwrap();
    let link = dir.join("out.json");
    std::fs::hard_link(&victim, &link).unwrap();
    let err = create(&link).unwrap_err();
    assert!(
        matches!(err, OutFileError::HardLinked { links: 2, .. }),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_world_writable_directory_without_sticky_bit_is_refused() {
    let dir = scratch("open-dir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let path = dir.join("out.json");
    let err = create(&path).unwrap_err();
    assert!(matches!(err, OutFileError::UnsafeDirectory { .. }), "{err}");
    assert!(!path.exists(), "nothing is created in a refused directory");
    // The same directory with the sticky bit (as /tmp) is fine.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
    create(&path).unwrap();
    assert_eq!(mode(&path), 0o600);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_path_without_a_file_name_is_refused() {
    let err = create(Path::new("/")).unwrap_err();
    assert!(matches!(err, OutFileError::NoFileName { .. }), "{err}");
    let err = create(Path::new("/no/such/dir/out.json")).unwrap_err();
    assert!(matches!(err, OutFileError::Directory { .. }), "{err}");
}

#[test]
fn a_file_of_another_user_is_refused_and_kept() {
    if !is_root() {
        eprintln!("skipped: needs root to give a file to nobody");
        return;
    }
    let dir = scratch("other-owner");
    let path = dir.join("out.json");
    std::fs::write(&path, "theirs").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::chown(&path, Some(NOBODY.uid), Some(NOBODY.gid)).unwrap();
    let err = create(&path).unwrap_err();
    assert!(
        matches!(
            err,
            OutFileError::OtherOwner {
                owner: 65534,
                writer: 0,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "theirs");
    assert_eq!(mode(&path), 0o644);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn as_another_writer_files_are_theirs_and_checked_as_theirs() {
    if !is_root() {
        eprintln!("skipped: needs root to write as nobody");
        return;
    }
    let dir = scratch("as-nobody");
    // nobody may create files here, as in /tmp.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let path = dir.join("out.json");
    open_as(&path, WriteMode::Truncate, NOBODY).unwrap();
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (NOBODY.uid, NOBODY.gid));
    assert_eq!(mode(&path), 0o600);
    // root's own file is another user's file for nobody.
    let mine = dir.join("root.json");
    std::fs::write(&mine, "root's").unwrap();
    let err = open_as(&mine, WriteMode::Truncate, NOBODY).unwrap_err();
    assert!(
        matches!(err, OutFileError::OtherOwner { owner: 0, .. }),
        "{err}"
    );
    // The kernel checks permissions as nobody: a 0700 root directory is closed.
    let closed = scratch("closed-to-nobody");
    let err = open_as(&closed.join("x"), WriteMode::Truncate, NOBODY).unwrap_err();
    assert!(matches!(err, OutFileError::Open { .. }), "{err}");
    // The thread is root again afterwards.
    // SAFETY: setfsuid(-1) only reports.
    assert_eq!(unsafe { libc::setfsuid(u32::MAX) }, 0);
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&closed).unwrap();
}
