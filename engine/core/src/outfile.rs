//! The one way ferret opens a file to write: `-o`, `--pcap`, rule files
//! saved from the REPL, the REPL history, playbook `write_file`.
//!
//! ferret often runs as root, and the paths it writes are often in /tmp,
//! where another user can plant `/tmp/out.json -> /etc/passwd` (or a hard
//! link to it) before the run. So a file is opened relative to its
//! directory (checked first: world-writable without the sticky bit is
//! refused), without following a symbolic link in its last component, and
//! without blocking on a FIFO; the checks then look at the opened file
//! itself (fstat, not the path): it must be a regular file with one link,
//! owned by the user ferret writes as. Only then is it truncated and its
//! mode set to 0600, whether it was just created or already there.
//!
//! [`WriteMode::Truncate`] is for outputs that start afresh each run;
//! [`WriteMode::Append`] keeps what is there (the REPL history,
//! playbook `append_file`).
//!
//! When ferret is about to give up root for another user ([`write_as`]),
//! files are opened with that user's filesystem identity (setfsuid), so
//! the kernel checks permissions as for that user and new files are
//! theirs: the same result as opening them after the drop.

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Whether an existing file starts empty or keeps its contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Emptied once the checks pass (never before).
    Truncate,
    /// Written at its end; created when missing.
    Append,
}

/// The user and group files are written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Writer {
    pub uid: u32,
    pub gid: u32,
}

impl Writer {
    /// The process's effective user and group.
    pub fn current() -> Writer {
        // SAFETY: geteuid and getegid have no preconditions.
        unsafe {
            Writer {
                uid: libc::geteuid(),
                gid: libc::getegid(),
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OutFileError {
    #[error("{path} names no file; give a file name to write to")]
    NoFileName { path: PathBuf },
    #[error(
        "cannot use the directory {dir} for {path}: {source}; give a path in an existing directory"
    )]
    Directory {
        path: PathBuf,
        dir: PathBuf,
        source: io::Error,
    },
    #[error("{dir} can be written by every user and lacks the sticky bit, so another user could swap {path} for a link; write to a directory only you can change")]
    UnsafeDirectory { path: PathBuf, dir: PathBuf },
    #[error("{path} is a symbolic link; ferret does not follow links for files it writes; remove the link or give the path of the real file")]
    Symlink { path: PathBuf },
    #[error(
        "{path} is {kind}, not a regular file; ferret writes only regular files; give another path"
    )]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("{path} has {links} hard links, so writing it would change another name too; remove it or give another path")]
    HardLinked { path: PathBuf, links: u64 },
    #[error("{path} belongs to uid {owner}, but ferret writes as uid {writer}; remove it or give another path")]
    OtherOwner {
        path: PathBuf,
        owner: u32,
        writer: u32,
    },
    #[error("cannot open {path} for writing: {source}")]
    Open { path: PathBuf, source: io::Error },
    #[error("cannot prepare {path} for writing ({step}): {source}")]
    Prepare {
        path: PathBuf,
        step: &'static str,
        source: io::Error,
    },
    #[error("cannot open {path} as uid {uid}: the filesystem identity did not change; run ferret as root or without --user")]
    Identity { path: PathBuf, uid: u32 },
}

/// No writer set: write as the effective user.
const UNSET: u64 = u64::MAX;
static WRITER: AtomicU64 = AtomicU64::new(UNSET);

/// From now on, files are written as `writer` (set before giving up root
/// for that user, so outputs opened before the drop are already theirs).
pub fn write_as(writer: Writer) {
    WRITER.store(
        u64::from(writer.uid) << 32 | u64::from(writer.gid),
        Ordering::Relaxed,
    );
}

/// Who files are written as: the user set by [`write_as`], else the
/// effective user.
pub fn writer() -> Writer {
    match WRITER.load(Ordering::Relaxed) {
        UNSET => Writer::current(),
        v => Writer {
            uid: (v >> 32) as u32,
            gid: v as u32,
        },
    }
}

/// Opens `path` to write from its start (emptied when it exists).
pub fn create(path: &Path) -> Result<File, OutFileError> {
    open(path, WriteMode::Truncate)
}

/// Opens `path` to write at its end.
pub fn append(path: &Path) -> Result<File, OutFileError> {
    open(path, WriteMode::Append)
}

/// Opens `path` to write, as [`writer`], with every check of this module.
pub fn open(path: &Path, mode: WriteMode) -> Result<File, OutFileError> {
    open_as(path, mode, writer())
}

/// [`open`] as an explicit `writer`.
pub fn open_as(path: &Path, mode: WriteMode, writer: Writer) -> Result<File, OutFileError> {
    let name = path.file_name().ok_or_else(|| OutFileError::NoFileName {
        path: path.to_path_buf(),
    })?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let _identity = FsIdentity::switch(path, writer)?;
    let dir_fd = open_directory(path, dir)?;
    // Refused before opening: opening a device can have effects of its own.
    if let Some(st) = stat_in(&dir_fd, name) {
        refuse_kind(path, st.st_mode)?;
        refuse_owner(path, st.st_uid, writer)?;
    }
    let file = open_in(&dir_fd, name, mode).map_err(|source| {
        // Swapped since the look above: say what it is now.
        let kind = stat_in(&dir_fd, name).map(|st| refuse_kind(path, st.st_mode));
        match kind {
            Some(Err(e)) => e,
            _ => OutFileError::Open {
                path: path.to_path_buf(),
                source,
            },
        }
    })?;
    prepare(path, &file, mode, writer)?;
    Ok(File::from(file))
}

/// The parent directory, held open so that the file is opened in the very
/// directory that was checked.
fn open_directory(path: &Path, dir: &Path) -> Result<OwnedFd, OutFileError> {
    let err = |source| OutFileError::Directory {
        path: path.to_path_buf(),
        dir: dir.to_path_buf(),
        source,
    };
    let c_dir = c_path(dir.as_os_str()).map_err(err)?;
    // SAFETY: c_dir is a valid C string; the flags open no file for writing.
    let fd = unsafe {
        libc::open(
            c_dir.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(err(io::Error::last_os_error()));
    }
    // SAFETY: fd was just opened and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let st = fstat(&fd).map_err(err)?;
    if st.st_mode & libc::S_IWOTH != 0 && st.st_mode & libc::S_ISVTX == 0 {
        return Err(OutFileError::UnsafeDirectory {
            path: path.to_path_buf(),
            dir: dir.to_path_buf(),
        });
    }
    Ok(fd)
}

/// openat without following a link, without truncating, and without
/// blocking on a FIFO (the checks refuse it right after).
fn open_in(dir: &OwnedFd, name: &OsStr, mode: WriteMode) -> io::Result<OwnedFd> {
    let c_name = c_path(name)?;
    let append = match mode {
        WriteMode::Truncate => 0,
        WriteMode::Append => libc::O_APPEND,
    };
    let flags = libc::O_WRONLY
        | libc::O_CREAT
        | libc::O_NOFOLLOW
        | libc::O_CLOEXEC
        | libc::O_NONBLOCK
        | libc::O_NOCTTY
        | append;
    // SAFETY: dir is an open directory, c_name a valid C string.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            c_name.as_ptr(),
            flags,
            0o600 as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd was just opened and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The checks on the opened file, then mode 0600, blocking writes, and
/// (only now) truncation.
fn prepare(path: &Path, fd: &OwnedFd, mode: WriteMode, writer: Writer) -> Result<(), OutFileError> {
    let step_err = |step| {
        move |source| OutFileError::Prepare {
            path: path.to_path_buf(),
            step,
            source,
        }
    };
    let st = fstat(fd).map_err(step_err("fstat"))?;
    refuse_kind(path, st.st_mode)?;
    if st.st_nlink > 1 {
        return Err(OutFileError::HardLinked {
            path: path.to_path_buf(),
            links: st.st_nlink as u64,
        });
    }
    refuse_owner(path, st.st_uid, writer)?;
    let raw = fd.as_raw_fd();
    // SAFETY: raw is an open descriptor for the calls below.
    unsafe {
        check(libc::fchmod(raw, 0o600)).map_err(step_err("fchmod 0600"))?;
        let flags = check(libc::fcntl(raw, libc::F_GETFL)).map_err(step_err("fcntl"))?;
        check(libc::fcntl(raw, libc::F_SETFL, flags & !libc::O_NONBLOCK))
            .map_err(step_err("fcntl"))?;
        if mode == WriteMode::Truncate {
            check(libc::ftruncate(raw, 0)).map_err(step_err("ftruncate"))?;
        }
    }
    Ok(())
}

/// While alive, this thread opens files as another user (Linux keeps the
/// filesystem identity per thread); restores root's on drop.
struct FsIdentity {
    previous: Option<(u32, u32)>,
}

impl FsIdentity {
    fn switch(path: &Path, writer: Writer) -> Result<FsIdentity, OutFileError> {
        // SAFETY: setfsuid/setfsgid with an invalid id (-1) only report.
        let (uid, gid) = unsafe { (libc::setfsuid(u32::MAX), libc::setfsgid(u32::MAX)) };
        let (uid, gid) = (uid as u32, gid as u32);
        if uid == writer.uid && gid == writer.gid {
            return Ok(FsIdentity { previous: None });
        }
        // SAFETY: as above; the result is read back to see whether it took.
        let took = unsafe {
            libc::setfsgid(writer.gid);
            libc::setfsuid(writer.uid);
            libc::setfsuid(u32::MAX) as u32 == writer.uid
        };
        let restore = FsIdentity {
            previous: Some((uid, gid)),
        };
        if !took {
            return Err(OutFileError::Identity {
                path: path.to_path_buf(),
                uid: writer.uid,
            });
        }
        Ok(restore)
    }
}

impl Drop for FsIdentity {
    fn drop(&mut self) {
        if let Some((uid, gid)) = self.previous {
            // SAFETY: returning to the identity this thread had.
            unsafe {
                libc::setfsuid(uid);
                libc::setfsgid(gid);
            }
        }
    }
}

/// A symbolic link or anything but a regular file is refused.
fn refuse_kind(path: &Path, mode: libc::mode_t) -> Result<(), OutFileError> {
    match mode & libc::S_IFMT {
        libc::S_IFREG => Ok(()),
        libc::S_IFLNK => Err(OutFileError::Symlink {
            path: path.to_path_buf(),
        }),
        _ => Err(OutFileError::NotRegular {
            path: path.to_path_buf(),
            kind: kind_of(mode),
        }),
    }
}

fn refuse_owner(path: &Path, owner: u32, writer: Writer) -> Result<(), OutFileError> {
    if owner != writer.uid {
        return Err(OutFileError::OtherOwner {
            path: path.to_path_buf(),
            owner,
            writer: writer.uid,
        });
    }
    Ok(())
}

/// What `name` in `dir` is, without following a link; `None` when it
/// does not exist (or cannot be looked at: the open then says why).
fn stat_in(dir: &OwnedFd, name: &OsStr) -> Option<libc::stat> {
    let c_name = c_path(name).ok()?;
    // SAFETY: a zeroed stat is a valid buffer for fstatat to fill.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: dir is open, c_name a valid C string, st writable.
    let ret = unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            c_name.as_ptr(),
            &mut st,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    (ret == 0).then_some(st)
}

fn fstat(fd: &OwnedFd) -> io::Result<libc::stat> {
    // SAFETY: a zeroed stat is a valid buffer for fstat to fill.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fd is open; st is a valid, writable stat.
    check(unsafe { libc::fstat(fd.as_raw_fd(), &mut st) })?;
    Ok(st)
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn c_path(p: &OsStr) -> io::Result<CString> {
    CString::new(p.as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

fn kind_of(mode: libc::mode_t) -> &'static str {
    match mode & libc::S_IFMT {
        libc::S_IFDIR => "a directory",
        libc::S_IFCHR => "a character device",
        libc::S_IFBLK => "a block device",
        libc::S_IFIFO => "a FIFO",
        libc::S_IFSOCK => "a socket",
        _ => "not a regular file",
    }
}

#[cfg(test)]
#[path = "outfile_tests.rs"]
mod tests;
