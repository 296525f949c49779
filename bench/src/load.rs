//! The load driven through the lab: a UDP flood to a closed port (every
//! datagram is dropped by the receiver with NO_SOCKET, so each one calls the
//! drop tracepoint exactly once) and TCP connection attempts to a closed
//! port (the SYN is dropped, an RST comes back). Both run on one thread
//! inside the lab's client namespace and are bounded by a duration.

use ferret_lab::{in_netns, LabError, ADDR_B};
use std::net::{IpAddr, SocketAddrV4};
use std::time::{Duration, Instant};

/// Datagrams per sendmmsg call: enough that syscall entry is a small share
/// of the per-packet cost, so the tracepoint's share shows.
const BATCH: usize = 64;
const PAYLOAD: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Lab(#[from] LabError),
    #[error("cannot open a UDP socket in the lab: {source}")]
    Socket { source: std::io::Error },
}

/// What a load run did.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Sent {
    pub packets: u64,
    pub seconds: f64,
    /// CPU time of the sending thread. The receiver's softirq work runs in
    /// the sender's context (veth hands the packet over on the same CPU and
    /// this kernel does not account IRQ time apart), so this is the whole
    /// packet path, tracepoint included, and not the time the thread spent
    /// waiting for a CPU on a busy machine.
    pub cpu_seconds: f64,
}

impl Sent {
    /// Packets per second of wall time.
    pub fn rate(&self) -> f64 {
        per(self.packets, self.seconds)
    }

    /// Packets per second of the sender's CPU: what one dedicated core
    /// would carry. Steady on a shared machine where `rate` is not.
    pub fn rate_per_cpu(&self) -> f64 {
        per(self.packets, self.cpu_seconds)
    }
}

fn per(n: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        n as f64 / secs
    } else {
        0.0
    }
}

/// CPU time this thread has used.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid timespec to write to.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// How many packets a paced sender should have sent `elapsed` into a run
/// at `rate` per second, rounded up to a whole batch so it sends in batches.
pub fn paced_target(rate: f64, elapsed: Duration) -> u64 {
    let due = (rate * elapsed.as_secs_f64()).ceil() as u64;
    due.div_ceil(BATCH as u64) * BATCH as u64
}

/// Floods `ADDR_B:port` from namespace `ns` for `duration`, as fast as one
/// thread can (`rate` None) or paced at `rate` datagrams per second.
pub fn udp_flood(
    ns: &str,
    port: u16,
    duration: Duration,
    rate: Option<f64>,
) -> Result<Sent, LoadError> {
    in_netns(ns, move || flood_here(port, duration, rate))?
}

fn flood_here(port: u16, duration: Duration, rate: Option<f64>) -> Result<Sent, LoadError> {
    let sock =
        std::net::UdpSocket::bind("0.0.0.0:0").map_err(|source| LoadError::Socket { source })?;
    // Not connected: a connected socket would see the ICMP unreachables and
    // fail its next send with ECONNREFUSED.
    let dest = sockaddr(SocketAddrV4::new(ADDR_B, port));
    let payload = [0x66u8; PAYLOAD];
    let mut iov = libc::iovec {
        iov_base: payload.as_ptr() as *mut libc::c_void,
        iov_len: payload.len(),
    };
    // SAFETY: mmsghdr is plain data; all-zero is a valid empty header.
    let mut msgs: Vec<libc::mmsghdr> = (0..BATCH).map(|_| unsafe { std::mem::zeroed() }).collect();
    for m in &mut msgs {
        m.msg_hdr.msg_name = &dest as *const libc::sockaddr_in as *mut libc::c_void;
        m.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as u32;
        m.msg_hdr.msg_iov = &mut iov;
        m.msg_hdr.msg_iovlen = 1;
    }
    let fd = std::os::fd::AsRawFd::as_raw_fd(&sock);
    let cpu = thread_cpu();
    let start = Instant::now();
    let mut sent = 0u64;
    loop {
        let elapsed = start.elapsed();
        if elapsed >= duration {
            break;
        }
        let want = match rate {
            None => BATCH,
            Some(r) => {
                let due = paced_target(r, elapsed).saturating_sub(sent) as usize;
                if due == 0 {
                    std::thread::sleep(Duration::from_micros(50));
                    continue;
                }
                due.min(BATCH)
            }
        };
        // SAFETY: msgs holds `BATCH` valid headers whose pointers (dest,
        // iov, payload) outlive the call; the kernel only reads them.
        let n = unsafe { libc::sendmmsg(fd, msgs.as_mut_ptr(), want as u32, 0) };
        if n > 0 {
            sent += n as u64;
        }
    }
    Ok(Sent {
        packets: sent,
        seconds: start.elapsed().as_secs_f64(),
        cpu_seconds: (thread_cpu() - cpu).as_secs_f64(),
    })
}

fn sockaddr(a: SocketAddrV4) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: a.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*a.ip()).to_be(),
        },
        sin_zero: [0; 8],
    }
}

/// TCP connection attempts from `ns` to the closed `ADDR_B:port` for
/// `duration`; each is refused at once (SYN dropped, RST back).
pub fn tcp_attempts(ns: &str, port: u16, duration: Duration) -> Result<Sent, LoadError> {
    Ok(in_netns(ns, move || {
        let to = (IpAddr::from(ADDR_B), port).into();
        let cpu = thread_cpu();
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < duration {
            let _ = std::net::TcpStream::connect_timeout(&to, Duration::from_millis(200));
            n += 1;
        }
        Sent {
            packets: n,
            seconds: start.elapsed().as_secs_f64(),
            cpu_seconds: (thread_cpu() - cpu).as_secs_f64(),
        }
    })?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacing_rounds_up_to_whole_batches() {
        assert_eq!(paced_target(1000.0, Duration::ZERO), 0);
        assert_eq!(paced_target(1000.0, Duration::from_millis(1)), 64);
        assert_eq!(paced_target(100_000.0, Duration::from_millis(10)), 1024);
        assert_eq!(paced_target(100_000.0, Duration::from_secs(1)), 100_032);
    }

    #[test]
    fn rate_of_an_empty_run_is_zero() {
        assert_eq!(Sent::default().rate(), 0.0);
        let s = Sent {
            packets: 500,
            seconds: 0.5,
            cpu_seconds: 0.25,
        };
        assert_eq!(s.rate(), 1000.0);
        assert_eq!(s.rate_per_cpu(), 2000.0);
    }
}
