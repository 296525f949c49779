//! A namespace with a veth pair whose two ends both live in it, for the
//! pcap-filter tests of the real kernel: frames written with an AF_PACKET
//! socket into one end are received by the other, where the `recv`
//! trigger sees them. Both ends in one namespace, so the skb's mark (set
//! per frame with SO_MARK) survives the crossing (a crossing between
//! namespaces scrubs it) and names the frame in ferret's events.

#![allow(dead_code)]

use serde_json::Value;
use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// The end frames are written into.
pub const TX: &str = "pqtx0";
/// The end that receives them (what the rules' events name).
pub const RX: &str = "pqrx0";

/// The `hook` events of the `recv` trigger name.
pub const RECV: &str = "netif_receive_skb";

static NEXT: AtomicU32 = AtomicU32::new(0);

#[derive(Debug)]
pub struct VethNs {
    pub ns: String,
    /// The namespace's inode, as events report it.
    pub inode: u64,
}

fn run(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .stderr(Stdio::piped())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl VethNs {
    /// The namespace, IPv6 off (no router solicitations or MLD reports of
    /// its own among the frames), the pair up, no addresses: nothing in
    /// it answers the frames.
    pub fn create(tag: &str) -> VethNs {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let ns = format!("ferret-{tag}-{}-{n}", std::process::id());
        run(&["ip", "netns", "add", &ns]);
        let mut lab = VethNs { ns, inode: 0 };
        let exec = |args: &[&str]| {
            let mut full = vec!["ip", "netns", "exec", &lab.ns];
            full.extend_from_slice(args);
            run(&full);
        };
        exec(&["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
        exec(&["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"]);
        exec(&["ip", "link", "add", TX, "type", "veth", "peer", "name", RX]);
        exec(&["ip", "link", "set", TX, "up"]);
        exec(&["ip", "link", "set", RX, "up"]);
        use std::os::unix::fs::MetadataExt;
        lab.inode = std::fs::metadata(format!("/run/netns/{}", lab.ns))
            .expect("namespace file")
            .ino();
        lab
    }

    /// Runs `args` inside the namespace.
    pub fn exec(&self, args: &[&str]) {
        let mut full = vec!["ip", "netns", "exec", &self.ns];
        full.extend_from_slice(args);
        run(&full);
    }

    /// Writes each `(mark, bytes)` into the TX end, in order, from one
    /// thread pinned to one CPU (so that consecutive frames reuse freed
    /// buffers, which is what the bounds test needs). Returns how many
    /// the socket accepted.
    pub fn send(&self, frames: Vec<(u32, Vec<u8>)>) -> usize {
        ferret_lab::in_netns(&self.ns, move || send_in_ns(&frames)).expect("enter namespace")
    }
}

impl Drop for VethNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.ns])
            .stderr(Stdio::null())
            .status();
    }
}

fn send_in_ns(frames: &[(u32, Vec<u8>)]) -> usize {
    // SAFETY: plain socket calls on a socket this function owns and
    // closes; every pointer passed points at a live local of the size given.
    unsafe {
        let mut cpus: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(0, &mut cpus);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &cpus);
        let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0);
        assert!(
            fd >= 0,
            "AF_PACKET socket: {}",
            std::io::Error::last_os_error()
        );
        let name = std::ffi::CString::new(TX).unwrap();
        let ifindex = libc::if_nametoindex(name.as_ptr());
        assert!(ifindex != 0, "no {TX}");
        let mut addr: libc::sockaddr_ll = std::mem::zeroed();
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_ifindex = ifindex as i32;
        addr.sll_halen = 6;
        let mut sent = 0;
        for (i, (mark, bytes)) in frames.iter().enumerate() {
            let rc = libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_MARK,
                (mark as *const u32).cast(),
                4,
            );
            assert_eq!(rc, 0, "SO_MARK: {}", std::io::Error::last_os_error());
            let n = libc::sendto(
                fd,
                bytes.as_ptr().cast(),
                bytes.len(),
                0,
                (&addr as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            );
            if n == bytes.len() as isize {
                sent += 1;
            }
            // The receive backlog holds 1000 packets; let it drain.
            if i % 64 == 63 {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        }
        libc::close(fd);
        sent
    }
}

/// Marks start here, far from 0 (the mark of everything else).
pub const MARK_BASE: u32 = 0x5e00_0000;

/// What one session's events say about the frames received on [`RX`] in
/// `lab`: per hook, per mark, the rules that printed the frame, and how
/// many events each mark had.
#[derive(Debug, Default)]
pub struct Seen {
    pub rules: HashMap<(String, u32), Vec<u64>>,
    pub events: HashMap<(String, u32), usize>,
}

impl Seen {
    pub fn from_events(lab: &VethNs, events: &[Value]) -> Seen {
        let mut seen = Seen::default();
        for ev in events {
            if ev["type"] != "event"
                || ev["netns"].as_u64() != Some(lab.inode)
                || ev["ifname"] != RX
            {
                continue;
            }
            let Some(mark) = ev["mark"].as_u64().map(|m| m as u32) else {
                continue;
            };
            if mark < MARK_BASE {
                continue;
            }
            let hook = ev["hook"].as_str().unwrap_or("?").to_string();
            let rules: Vec<u64> = ev["rules"]
                .as_array()
                .expect("rules")
                .iter()
                .map(|r| r.as_u64().unwrap())
                .collect();
            *seen.events.entry((hook.clone(), mark)).or_default() += 1;
            seen.rules.entry((hook, mark)).or_default().extend(rules);
        }
        seen
    }

    /// The rules that printed frame `mark` on `hook`; `None` when no event
    /// of that frame arrived at all.
    pub fn printed(&self, hook: &str, mark: u32) -> Option<&[u64]> {
        self.rules
            .get(&(hook.to_string(), mark))
            .map(|v| v.as_slice())
    }
}

/// The rule ferret makes of `on recv where EXPR`, or its first error: the
/// same check the binary runs, to leave refused expressions out of a batch.
pub fn recv_rule(expr: &str) -> Result<ferret_core::plan::RulePlan, String> {
    use ferret_core::check::{CheckEnv, NoNetnsNames};
    let reasons = ferret_core::reasons::DropReasons::from_pairs([("NETFILTER_DROP", 12)]);
    let funcs = ferret_core::hooks::HookNames::tracepoints();
    let env = CheckEnv {
        reasons: Ok(&reasons),
        funcs: &funcs,
        netns: &NoNetnsNames,
    };
    let (plan, diags) = ferret_core::compile(&format!("on recv where {expr}"), &env);
    match plan {
        Some(mut p) if diags.is_empty() => Ok(p.rules.remove(0)),
        _ => Err(diags
            .first()
            .map_or("no plan".into(), |d| d.message.clone())),
    }
}

/// The TUN device [`VethNs::write_tun`] writes into: no link header, so
/// the `recv` trigger sees its packets from the IP header.
pub const TUN: &str = "pqtun0";

impl VethNs {
    /// Writes each packet (IPv4 or IPv6 from its first byte) into [`TUN`],
    /// which the kernel receives as it is, one packet after the other on
    /// this thread. Returns which writes the device took (it refuses
    /// packets whose version is neither 4 nor 6).
    pub fn write_tun(&self, packets: Vec<Vec<u8>>) -> Vec<bool> {
        self.add_tun();
        ferret_lab::in_netns(&self.ns, move || write_tun_in_ns(&packets)).expect("enter namespace")
    }
}

impl VethNs {
    fn add_tun(&self) {
        // One device a session: the previous session's goes first.
        let _ = Command::new("ip")
            .args(["-n", &self.ns, "link", "del", TUN])
            .stderr(Stdio::null())
            .status();
        self.exec(&["ip", "tuntap", "add", "dev", TUN, "mode", "tun"]);
        self.exec(&["ip", "link", "set", TUN, "up"]);
    }
}

fn write_tun_in_ns(packets: &[Vec<u8>]) -> Vec<bool> {
    /// _IOW('T', 202, int)
    const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
    #[repr(C)]
    struct IfReq {
        name: [u8; 16],
        flags: libc::c_short,
        _pad: [u8; 22],
    }
    let mut req = IfReq {
        name: [0; 16],
        flags: (libc::IFF_TUN | libc::IFF_NO_PI) as libc::c_short,
        _pad: [0; 22],
    };
    req.name[..TUN.len()].copy_from_slice(TUN.as_bytes());
    // SAFETY: open, ioctl and write on a descriptor this function owns and
    // closes; `req` and the packets outlive the calls given their sizes.
    unsafe {
        let fd = libc::open(c"/dev/net/tun".as_ptr(), libc::O_RDWR);
        assert!(fd >= 0, "/dev/net/tun: {}", std::io::Error::last_os_error());
        let rc = libc::ioctl(fd, TUNSETIFF, &mut req as *mut IfReq);
        assert_eq!(rc, 0, "TUNSETIFF: {}", std::io::Error::last_os_error());
        let taken = packets
            .iter()
            .map(|p| libc::write(fd, p.as_ptr().cast(), p.len()) == p.len() as isize)
            .collect();
        libc::close(fd);
        taken
    }
}
