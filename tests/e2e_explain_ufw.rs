//! End to end, the README's first example: ufw, confined to a lab
//! namespace, blocks outgoing HTTPS, and `explain` names ufw's rule (its
//! chain, the rule, and the rule as iptables-save prints it).
//!
//! ufw keeps its state in /etc/ufw. `ip netns exec NS` mounts the files
//! of /etc/netns/NS over /etc, so ufw run that way writes a copy made for
//! the lab; the host's /etc/ufw is snapshotted anyway and put back
//! exactly (contents, modes, no added files) even when the test fails,
//! and it and the host's own ruleset must be as before.

mod common;

use common::{root_or_skip, Trace};
use ferret_lab::{Lab, ADDR_B};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

const UFW: &str = "/etc/ufw";

/// Every file under a directory: contents and mode, by path.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (Vec<u8>, u32)> {
    let mut all = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let path = entry.path();
            let meta = std::fs::symlink_metadata(&path).expect("metadata");
            let mode = meta.permissions().mode();
            if meta.is_dir() {
                all.insert(path.clone(), (Vec::new(), mode));
                todo.push(path);
            } else {
                all.insert(path.clone(), (std::fs::read(&path).expect("read"), mode));
            }
        }
    }
    all
}

/// Puts /etc/ufw back as it was when made, on drop.
struct EtcUfwGuard {
    before: BTreeMap<PathBuf, (Vec<u8>, u32)>,
}

impl Drop for EtcUfwGuard {
    fn drop(&mut self) {
        let now = snapshot(Path::new(UFW));
        for path in now.keys().rev().filter(|p| !self.before.contains_key(*p)) {
            let _ = std::fs::remove_file(path).or_else(|_| std::fs::remove_dir_all(path));
        }
        for (path, (bytes, mode)) in &self.before {
            if now.get(path) != Some(&(bytes.clone(), *mode)) {
                if !path.is_dir() {
                    let _ = std::fs::write(path, bytes);
                }
                let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(*mode));
            }
        }
    }
}

/// Removes the lab's /etc/netns/NS (and /etc/netns if it made it).
struct NetnsEtc {
    dir: PathBuf,
    made_parent: bool,
}

impl Drop for NetnsEtc {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        if self.made_parent {
            let _ = std::fs::remove_dir("/etc/netns");
        }
    }
}

fn host_ruleset() -> String {
    let out = std::process::Command::new("nft")
        .args(["list", "ruleset"])
        .output()
        .expect("nft");
    String::from_utf8_lossy(&out.stdout).replace(char::is_numeric, "")
}

fn ufw_in(ns: &str, args: &[&str]) {
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", ns, "ufw"])
        .args(args)
        .output()
        .expect("ufw");
    assert!(out.status.success(), "ufw {args:?}: {out:?}");
}

#[test]
fn ufw_blocking_outgoing_https_in_a_lab_is_named_and_the_host_keeps_its_ufw() {
    if !root_or_skip("explain ufw") {
        return;
    }
    if !Path::new(UFW).is_dir() || !Path::new("/usr/sbin/ufw").exists() {
        eprintln!("skipped explain ufw: ufw is not installed (tools/deps.sh installs it)");
        return;
    }
    let guard = EtcUfwGuard {
        before: snapshot(Path::new(UFW)),
    };
    let host_before = host_ruleset();
    let lab = Lab::create("xufw").expect("lab");
    let made_parent = !Path::new("/etc/netns").exists();
    let etc = NetnsEtc {
        dir: Path::new("/etc/netns").join(&lab.a),
        made_parent,
    };
    std::fs::create_dir_all(&etc.dir).expect("/etc/netns/NS");
    let copied = std::process::Command::new("cp")
        .args(["-a", UFW])
        .arg(etc.dir.join("ufw"))
        .status()
        .expect("cp");
    assert!(copied.success());
    ufw_in(&lab.a, &["deny", "out", "443/tcp"]);
    ufw_in(&lab.a, &["--force", "enable"]);

    let rule = format!(
        "on drop where netns == \"{}\" and dport == 443 explain",
        lab.a
    );
    let trace = Trace::start(&[&rule]);
    lab.tcp_attempts(ADDR_B.into(), 443, 1, Duration::from_millis(300))
        .unwrap();
    lab.tcp_attempts(ADDR_B.into(), 443, 1, Duration::from_millis(1500))
        .unwrap();
    let out = trace.stop();
    let named: Vec<_> = out
        .events
        .iter()
        .map(|e| &e["verdict"])
        .filter(|v| v["by"] == "nftables")
        .collect();
    assert!(!named.is_empty(), "{:?}\n{}", out.events, out.stderr);
    for v in named {
        assert_eq!(
            (&v["family"], &v["table"], &v["chain"]),
            (&"ip".into(), &"filter".into(), &"ufw-user-output".into()),
            "{v}"
        );
        assert_eq!(v["rule"], "tcp dport 443 counter drop", "{v}");
        assert_eq!(
            v["iptables"], "-A ufw-user-output -p tcp -m tcp --dport 443 -j DROP",
            "{v}"
        );
    }
    let lab_conf = std::fs::read_to_string(etc.dir.join("ufw/ufw.conf")).unwrap();
    assert!(lab_conf.contains("ENABLED=yes"), "ufw wrote the lab's copy");
    drop(etc);
    drop(lab);
    assert_eq!(
        snapshot(Path::new(UFW)),
        guard.before,
        "the host's /etc/ufw is as before"
    );
    assert_eq!(
        host_ruleset(),
        host_before,
        "the host's ruleset is as before"
    );
}
