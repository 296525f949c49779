//! Throwaway network labs: two namespaces joined by a veth pair, for
//! `ferret demo` and the end-to-end tests. Traffic stays inside the lab
//! (198.18.0.0/15 and 2001:2::/48, the benchmarking ranges); the lab is
//! removed when dropped, also when a test fails.

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("cannot run `{command}`: {source} (install iproute2 and nftables)")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    #[error("`{command}` failed: {stderr}")]
    Failed { command: String, stderr: String },
    #[error("cannot enter network namespace {name}: {source}")]
    Setns {
        name: String,
        source: std::io::Error,
    },
}

/// Two namespaces: `a` (the client side, 198.18.0.1) and `b` (the server
/// side, 198.18.0.2), joined by veth `fa0` (in a) and `fb0` (in b).
#[derive(Debug)]
pub struct Lab {
    pub a: String,
    pub b: String,
}

pub const ADDR_A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
pub const ADDR_B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
pub const ADDR6_A: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 1);
pub const ADDR6_B: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 2);

static NEXT: AtomicU32 = AtomicU32::new(0);

fn run(args: &[&str], stdin: Option<&str>) -> Result<Output, LabError> {
    let command = args.join(" ");
    let mut cmd = Command::new(args[0]);
    cmd.args(&args[1..])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if stdin.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let mut child = cmd.spawn().map_err(|source| LabError::Spawn {
        command: command.clone(),
        source,
    })?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        use std::io::Write;
        pipe.write_all(text.as_bytes())
            .map_err(|source| LabError::Spawn {
                command: command.clone(),
                source,
            })?;
    }
    let out = child.wait_with_output().map_err(|source| LabError::Spawn {
        command: command.clone(),
        source,
    })?;
    if !out.status.success() {
        return Err(LabError::Failed {
            command,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(out)
}

impl Lab {
    /// Creates the lab; names carry `tag`, the pid and a counter so parallel
    /// tests and leftover labs never collide.
    pub fn create(tag: &str) -> Result<Lab, LabError> {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let base = format!("ferret-{tag}-{}-{n}", std::process::id());
        let lab = Lab {
            a: format!("{base}-a"),
            b: format!("{base}-b"),
        };
        // From here on, Drop removes whatever was made.
        run(&["ip", "netns", "add", &lab.a], None)?;
        run(&["ip", "netns", "add", &lab.b], None)?;
        run(
            &[
                "ip", "link", "add", "fa0", "netns", &lab.a, "type", "veth", "peer", "name", "fb0",
                "netns", &lab.b,
            ],
            None,
        )?;
        for (ns, dev, v4, v6) in [
            (&lab.a, "fa0", ADDR_A, ADDR6_A),
            (&lab.b, "fb0", ADDR_B, ADDR6_B),
        ] {
            lab.ip(ns, &["addr", "add", &format!("{v4}/24"), "dev", dev])?;
            lab.ip(
                ns,
                &[
                    "-6",
                    "addr",
                    "add",
                    &format!("{v6}/64"),
                    "dev",
                    dev,
                    "nodad",
                ],
            )?;
            lab.ip(ns, &["link", "set", dev, "up"])?;
            lab.ip(ns, &["link", "set", "lo", "up"])?;
        }
        Ok(lab)
    }

    /// `ip -n NS ARGS..`
    pub fn ip(&self, ns: &str, args: &[&str]) -> Result<Output, LabError> {
        let mut full = vec!["ip", "-n", ns];
        full.extend_from_slice(args);
        run(&full, None)
    }

    /// Loads an nftables ruleset into a namespace.
    pub fn nft(&self, ns: &str, ruleset: &str) -> Result<(), LabError> {
        run(
            &["ip", "netns", "exec", ns, "nft", "-f", "-"],
            Some(ruleset),
        )
        .map(|_| ())
    }

    /// Runs a command inside a namespace.
    pub fn exec(&self, ns: &str, args: &[&str]) -> Result<Output, LabError> {
        let mut full = vec!["ip", "netns", "exec", ns];
        full.extend_from_slice(args);
        run(&full, None)
    }

    /// Runs `f` on a thread inside namespace `ns` (see [`in_netns`]).
    pub fn in_ns<T: Send + 'static>(
        &self,
        ns: &str,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, LabError> {
        in_netns(ns, f)
    }

    /// TCP connection attempts from a (see [`tcp_attempts`]).
    pub fn tcp_attempts(
        &self,
        to: IpAddr,
        port: u16,
        count: usize,
        timeout: std::time::Duration,
    ) -> Result<usize, LabError> {
        tcp_attempts(&self.a, to, port, count, timeout)
    }

    /// UDP datagrams from a (see [`udp_send`]).
    pub fn udp_send(
        &self,
        to: IpAddr,
        port: u16,
        count: usize,
        size: usize,
    ) -> Result<usize, LabError> {
        udp_send(&self.a, to, port, count, size)
    }

    /// The inode of a namespace (what events report as `netns`).
    pub fn netns_inode(&self, ns: &str) -> Option<u32> {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(format!("/run/netns/{ns}"))
            .ok()
            .and_then(|m| u32::try_from(m.ino()).ok())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Deleting a namespace deletes its veth end, and so the pair.
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Runs `f` on a thread that has entered namespace `ns`; sockets it opens
/// live there. The caller's own namespace is untouched.
pub fn in_netns<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, LabError> {
    let name = ns.to_string();
    let file = File::open(format!("/run/netns/{ns}")).map_err(|source| LabError::Setns {
        name: name.clone(),
        source,
    })?;
    std::thread::spawn(move || {
        // SAFETY: setns on a valid namespace fd affects only this thread.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        if rc != 0 {
            return Err(LabError::Setns {
                name,
                source: std::io::Error::last_os_error(),
            });
        }
        Ok(f())
    })
    .join()
    .expect("lab thread does not panic")
}

/// Tries `count` TCP connections from namespace `ns` to `to:port`, each
/// waiting at most `timeout`; returns how many failed (refused or dropped).
pub fn tcp_attempts(
    ns: &str,
    to: IpAddr,
    port: u16,
    count: usize,
    timeout: std::time::Duration,
) -> Result<usize, LabError> {
    in_netns(ns, move || {
        (0..count)
            .filter(|_| std::net::TcpStream::connect_timeout(&(to, port).into(), timeout).is_err())
            .count()
    })
}

/// Sends `count` UDP datagrams of `size` bytes from namespace `ns` to
/// `to:port`; returns how many the socket accepted.
pub fn udp_send(
    ns: &str,
    to: IpAddr,
    port: u16,
    count: usize,
    size: usize,
) -> Result<usize, LabError> {
    in_netns(ns, move || {
        let bind: IpAddr = if to.is_ipv4() {
            Ipv4Addr::UNSPECIFIED.into()
        } else {
            Ipv6Addr::UNSPECIFIED.into()
        };
        let Ok(sock) = std::net::UdpSocket::bind((bind, 0)) else {
            return 0;
        };
        let payload = vec![0x66u8; size];
        (0..count)
            .filter(|_| sock.send_to(&payload, (to, port)).is_ok())
            .count()
    })
}

/// The nftables ruleset of the demo: namespace b drops incoming TCP 443.
pub const DROP_HTTPS: &str = "table inet ferret_lab {\n  chain input {\n    type filter hook input priority 0; policy accept;\n    tcp dport 443 drop\n  }\n}\n";
