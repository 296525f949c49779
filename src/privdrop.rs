//! Giving up root once the probes are attached (`--user NAME`, `-Z NAME`,
//! as tcpdump does): to that user and group, keeping only the
//! capabilities the session still needs. Through sudo the default is the
//! invoking user (SUDO_UID, SUDO_GID); `--user root` keeps root. Without
//! root (capabilities granted instead) there is no user to change to, and
//! only the capabilities are cut down. docs/guarantees.md says why each
//! mode keeps what it keeps.

use crate::caps::{self, Cap, CapSets};
use anyhow::{bail, Context};
use ferret_core::outfile::{self, Writer};
use std::ffi::{CStr, CString};
use std::os::unix::ffi::OsStrExt;

/// What the session still needs after the ready line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// A fixed rule set: maps are read and links closed through the file
    /// descriptors ferret already holds, which needs no capability.
    Nothing,
    /// Rules added later (REPL, playbooks) load and attach programs.
    LoadingRules,
}

impl Needs {
    /// CAP_SYS_ADMIN only where the kernel has no CAP_BPF and CAP_PERFMON
    /// (before 5.8); CAP_SYS_RESOURCE only where BPF memory counts against
    /// the locked-memory limit (before 5.11).
    fn keep(self, has_cap_bpf: bool, memlock_counts: bool) -> Vec<Cap> {
        let mut keep = match (self, has_cap_bpf) {
            (Needs::Nothing, _) => return Vec::new(),
            (Needs::LoadingRules, true) => vec![Cap::Bpf, Cap::Perfmon, Cap::NetAdmin],
            (Needs::LoadingRules, false) => vec![Cap::SysAdmin, Cap::NetAdmin],
        };
        if memlock_counts {
            keep.push(Cap::SysResource);
        }
        keep
    }
}

/// The user to become.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: std::path::PathBuf,
}

/// The plan made at startup, carried out by [`PrivilegeDrop::after_ready`].
#[derive(Debug)]
pub struct PrivilegeDrop {
    target: Option<Target>,
    needs: Needs,
    done: bool,
}

/// Resolves `--user` (a name or a uid), else the sudo caller; `None`:
/// stay who we are. Files are written as the target from now on.
pub fn plan(user: Option<&str>, needs: Needs) -> anyhow::Result<PrivilegeDrop> {
    let sudo_uid = std::env::var("SUDO_UID").ok();
    let target = match user {
        Some(u) => Some(resolve(u)?),
        None if euid() == 0 => match sudo_uid.as_deref().map(str::parse::<u32>) {
            Some(Ok(uid)) => Some(by_uid(uid).with_context(|| {
                format!("SUDO_UID={uid} names no user; give --user NAME (or --user root)")
            })?),
            _ => None,
        },
        None => None,
    };
    // Root needs no drop; neither does the user we already are.
    let target = target.filter(|t| t.uid != 0 && t.uid != euid());
    if let Some(t) = &target {
        outfile::write_as(Writer {
            uid: t.uid,
            gid: t.gid,
        });
    }
    Ok(PrivilegeDrop {
        target,
        needs,
        done: false,
    })
}

impl PrivilegeDrop {
    /// The home directory of the user ferret will become, if it changes user.
    pub fn home(&self) -> Option<&std::path::Path> {
        self.target.as_ref().map(|t| t.home.as_path())
    }

    /// `explain` runs `nft` in network namespaces for as long as the trace
    /// runs, which needs root: under sudo ferret then stays root (and says
    /// so); a `--user` given explicitly cannot have it.
    pub fn keep_root_for_explain(&mut self, explicit_user: bool) -> anyhow::Result<()> {
        let Some(t) = &self.target else {
            return Ok(());
        };
        if explicit_user {
            anyhow::bail!(
                "`explain` runs nft in network namespaces while the trace runs, which needs root; \
                 leave out --user {} (or give --user root)",
                t.name
            );
        }
        eprintln!(
            "ferret: staying root instead of becoming {}: `explain` runs nft while the trace runs",
            t.name
        );
        self.target = None;
        Ok(())
    }

    /// Gives up privileges, once: called when every probe is attached
    /// (the trace's ready moment; the REPL calls it before it starts).
    /// A failed drop ends ferret: it does not trace on with more than was
    /// asked.
    pub fn after_ready(&mut self) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        if let Err(e) = self.apply() {
            eprintln!("ferret: error: cannot give up privileges: {e:#}");
            std::process::exit(crate::exit::Exit::System.code());
        }
    }

    fn apply(&self) -> anyhow::Result<()> {
        let had = caps::current().context("capget")?;
        let keep = self
            .needs
            .keep(caps::kernel_has_cap_bpf(), caps::kernel_before(5, 11));
        let keep = CapSets::only(&keep);
        if self.needs == Needs::LoadingRules {
            // Symbols for the stacks of rules added later; without it they
            // would be addresses only (best effort: stacks still print).
            let _ = ferret_core::kallsyms::Kallsyms::preopen();
        }
        let keep = CapSets {
            effective: keep.effective & had.permitted,
            permitted: keep.permitted & had.permitted,
            inheritable: 0,
        };
        match &self.target {
            Some(t) => become_user(t, keep)?,
            // Root stays root (`--user root`, or root without sudo).
            None if euid() == 0 => return Ok(()),
            None => {
                clear_ambient()?;
                caps::set(keep).context("capset")?;
            }
        }
        verify(self.target.as_ref(), keep)
    }
}

/// setgroups, setgid, setuid (glibc applies them to every thread), with
/// `keep` set again on this thread, the one that loads later rules.
fn become_user(t: &Target, keep: CapSets) -> anyhow::Result<()> {
    let keeping = keep.permitted != 0;
    // SAFETY: plain syscalls on this process's own credentials.
    unsafe {
        if keeping && libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0 {
            return Err(std::io::Error::last_os_error()).context("prctl(PR_SET_KEEPCAPS)");
        }
        if libc::setgroups(1, &t.gid) != 0 {
            return Err(std::io::Error::last_os_error()).context("setgroups");
        }
        if libc::setresgid(t.gid, t.gid, t.gid) != 0 {
            return Err(std::io::Error::last_os_error()).context("setresgid");
        }
        if libc::setresuid(t.uid, t.uid, t.uid) != 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("setresuid to {} ({})", t.name, t.uid));
        }
        if keeping {
            libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0);
        }
    }
    clear_ambient()?;
    caps::set(keep).context("capset")
}

/// Ambient capabilities would pass to the `--cmd` command.
fn clear_ambient() -> anyhow::Result<()> {
    // SAFETY: clears this thread's ambient set; fails only on old kernels.
    let ret = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        )
    };
    if ret != 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL) {
        return Err(std::io::Error::last_os_error()).context("prctl(PR_CAP_AMBIENT_CLEAR_ALL)");
    }
    Ok(())
}

/// The drop took: ids as asked, no way back to root, capabilities as kept.
fn verify(target: Option<&Target>, keep: CapSets) -> anyhow::Result<()> {
    if let Some(t) = target {
        let (mut r, mut e, mut s) = (0, 0, 0);
        let (mut gr, mut ge, mut gs) = (0, 0, 0);
        // SAFETY: the out-pointers are valid.
        unsafe {
            libc::getresuid(&mut r, &mut e, &mut s);
            libc::getresgid(&mut gr, &mut ge, &mut gs);
        }
        if [r, e, s] != [t.uid; 3] || [gr, ge, gs] != [t.gid; 3] {
            bail!(
                "the ids are uid {r}/{e}/{s} gid {gr}/{ge}/{gs}, not {}/{}",
                t.uid,
                t.gid
            );
        }
        // SAFETY: an attempt that must fail.
        if unsafe { libc::setuid(0) } == 0 {
            bail!("setuid(0) still succeeds");
        }
    }
    let now = caps::current().context("capget")?;
    if now.permitted & !keep.permitted != 0 || now.effective & !keep.effective != 0 {
        bail!("capabilities left: {now:?}, wanted {keep:?}");
    }
    Ok(())
}

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() }
}

/// A user name, or a numeric uid.
fn resolve(user: &str) -> anyhow::Result<Target> {
    let found = match user.parse::<u32>() {
        Ok(uid) => by_uid(uid),
        Err(_) => by_name(user),
    };
    found.with_context(|| format!("--user {user}: no such user (see getent passwd)"))
}

fn by_name(name: &str) -> Option<Target> {
    let c = CString::new(name).ok()?;
    lookup(|pwd, buf, res| {
        // SAFETY: every pointer is valid for the call.
        unsafe { libc::getpwnam_r(c.as_ptr(), pwd, buf.as_mut_ptr(), buf.len(), res) }
    })
}

fn by_uid(uid: u32) -> Option<Target> {
    lookup(|pwd, buf, res| {
        // SAFETY: every pointer is valid for the call.
        unsafe { libc::getpwuid_r(uid, pwd, buf.as_mut_ptr(), buf.len(), res) }
    })
}

fn lookup(
    call: impl FnOnce(*mut libc::passwd, &mut [libc::c_char], *mut *mut libc::passwd) -> libc::c_int,
) -> Option<Target> {
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: a zeroed passwd is a valid buffer for the lookup to fill.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut res: *mut libc::passwd = std::ptr::null_mut();
    if call(&mut pwd, &mut buf, &mut res) != 0 || res.is_null() {
        return None;
    }
    // SAFETY: on success pw_name points into buf, NUL-terminated.
    let name = unsafe { CStr::from_ptr(pwd.pw_name) }
        .to_string_lossy()
        .into_owned();
    // SAFETY: as pw_name.
    let home = unsafe { CStr::from_ptr(pwd.pw_dir) };
    Some(Target {
        name,
        uid: pwd.pw_uid,
        gid: pwd.pw_gid,
        home: std::path::PathBuf::from(std::ffi::OsStr::from_bytes(home.to_bytes())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_resolve_by_name_and_uid() {
        let root = resolve("root").unwrap();
        assert_eq!((root.uid, root.gid), (0, 0));
        assert_eq!(resolve("0").unwrap().name, "root");
        let err = resolve("no-such-user-ferret").unwrap_err();
        assert!(err.to_string().contains("no such user"), "{err}");
    }

    #[test]
    fn root_keeps_root() {
        let plan = plan(Some("root"), Needs::Nothing).unwrap();
        assert_eq!(plan.target, None);
    }

    #[test]
    fn loading_rules_keeps_the_bpf_capabilities_only() {
        assert!(Needs::Nothing.keep(true, true).is_empty());
        assert_eq!(
            Needs::LoadingRules.keep(true, false),
            [Cap::Bpf, Cap::Perfmon, Cap::NetAdmin]
        );
        assert_eq!(
            Needs::LoadingRules.keep(false, true),
            [Cap::SysAdmin, Cap::NetAdmin, Cap::SysResource]
        );
    }
}
