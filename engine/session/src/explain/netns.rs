//! Network namespaces by inode (what events carry), and programs (`nft`,
//! `ip`, `tc`, `ss`, `conntrack`) run inside one: the child enters the
//! namespace between fork and exec, so ferret's own threads never change
//! namespace.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Why something could not be read or run in a namespace.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    #[error("network namespace {ino} not found")]
    NotFound { ino: u32 },
    #[error("cannot enter the namespace: {source}")]
    Enter { source: std::io::Error },
    #[error("the reading thread failed")]
    Thread,
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("{program}: {stderr}")]
    Failed { program: String, stderr: String },
}

/// An open network namespace.
#[derive(Debug)]
pub struct Netns {
    /// Where it was found: `/run/netns/NAME` or `/proc/PID/ns/net`.
    pub path: PathBuf,
    file: File,
}

/// Finds the namespace with inode `ino`: the named ones (`ip netns`), then
/// ferret's own, then any process's.
pub fn find(ino: u32) -> Option<Netns> {
    let named = std::fs::read_dir("/run/netns")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path());
    let own = std::iter::once(PathBuf::from("/proc/self/ns/net"));
    let procs = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .map(|e| e.path().join("ns/net"));
    named
        .chain(own)
        .chain(procs)
        .find(|p| inode(p) == Some(u64::from(ino)))
        .and_then(|path| {
            let file = File::open(&path).ok()?;
            (file.metadata().ok()?.ino() == u64::from(ino)).then_some(Netns { path, file })
        })
}

/// Every named namespace and ferret's own: where stale tables are looked for.
pub fn all_known() -> Vec<Netns> {
    let mut seen = std::collections::HashSet::new();
    std::fs::read_dir("/run/netns")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .chain(std::iter::once(PathBuf::from("/proc/self/ns/net")))
        .filter_map(|path| {
            let file = File::open(&path).ok()?;
            let ino = file.metadata().ok()?.ino();
            seen.insert(ino).then_some(Netns { path, file })
        })
        .collect()
}

fn inode(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.ino())
}

impl Netns {
    /// `nft ARGS` to run in this namespace (see [`Netns::command`]).
    pub fn nft(&self, args: &[&str]) -> Command {
        self.command("nft", args)
    }

    /// `PROGRAM ARGS` to run in this namespace; it gets SIGTERM when
    /// ferret's thread that spawned it ends, so none outlives ferret.
    pub fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(args);
        let fd = self.file.as_raw_fd();
        // SAFETY: between fork and exec only async-signal-safe calls are
        // made (setns, prctl); the fd stays open in the parent meanwhile.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        cmd
    }

    /// Reads `/proc/net/NAME` files of this namespace; `None` for a file
    /// that does not exist there.
    pub fn read_proc_net(&self, names: &[&str]) -> Result<Vec<Option<String>>, NetnsError> {
        let paths: Vec<String> = names
            .iter()
            .map(|n| format!("/proc/thread-self/net/{n}"))
            .collect();
        self.read_files(&paths)
    }

    /// Reads files as seen from inside this namespace (`/proc/sys/net`,
    /// `/proc/thread-self/net`), from a thread that enters it, so
    /// ferret's other threads stay where they are; `None` for a file that
    /// does not exist there.
    pub fn read_files(&self, paths: &[String]) -> Result<Vec<Option<String>>, NetnsError> {
        let ns = self
            .file
            .try_clone()
            .map_err(|source| NetnsError::Enter { source })?;
        let paths = paths.to_vec();
        std::thread::spawn(move || {
            // SAFETY: setns on an open namespace fd changes only this
            // thread, which ends after reading.
            if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return Err(NetnsError::Enter {
                    source: std::io::Error::last_os_error(),
                });
            }
            Ok(paths
                .iter()
                .map(|p| std::fs::read_to_string(p).ok())
                .collect())
        })
        .join()
        .unwrap_or(Err(NetnsError::Thread))
    }

    /// Runs `nft ARGS` to its end: its standard output, or its error text.
    pub fn nft_output(&self, args: &[&str]) -> Result<String, NetnsError> {
        self.output("nft", args)
    }

    /// Runs `PROGRAM ARGS` in this namespace to its end: its standard
    /// output, or its error text.
    pub fn output(&self, program: &str, args: &[&str]) -> Result<String, NetnsError> {
        let out = self
            .command(program, args)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|source| NetnsError::Spawn {
                program: program.to_string(),
                source,
            })?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(NetnsError::Failed {
                program: program.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            })
        }
    }
}
