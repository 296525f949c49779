//! Many slow syscalls at once: attaching probes and closing links each
//! wait on the kernel (an RCU grace period per close), not on the CPU.

use super::Progress;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Runs `work(i)` for every i < n on `workers` threads, reporting progress
/// every 16 done (and at the end); results come in completion order.
pub(super) fn run_parallel<R: Send>(
    n: usize,
    workers: usize,
    progress: Option<&Progress>,
    work: impl Fn(usize) -> R + Sync,
) -> Vec<(usize, R)> {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, R)>> = Mutex::new(Vec::with_capacity(n));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let r = work(i);
                results.lock().expect("no panics hold it").push((i, r));
                let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                if let Some(p) = progress {
                    if finished % 16 == 0 || finished == n {
                        p(finished, n);
                    }
                }
            });
        }
    });
    results.into_inner().expect("threads joined")
}

/// Threads for attaching or closing: these calls sleep in the kernel, so
/// more threads than CPUs help; bounded so a huge list does not spawn
/// hundreds.
pub(super) fn worker_count(n: usize) -> usize {
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    (cpus * 8).clamp(1, 64).min(n.max(1))
}

/// Closes every descriptor, from several threads once there are two: even
/// the five kprobe.multi links of one session wait a grace period each.
pub(super) fn close_parallel(fds: Vec<OwnedFd>) {
    if fds.len() < 2 {
        drop(fds);
        return;
    }
    let workers = worker_count(fds.len());
    let chunk = fds.len().div_ceil(workers);
    let mut fds = fds;
    std::thread::scope(|s| {
        while !fds.is_empty() {
            let part: Vec<OwnedFd> = fds.split_off(fds.len().saturating_sub(chunk));
            s.spawn(move || drop(part));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_counts_are_bounded() {
        assert_eq!(worker_count(1), 1);
        assert!(worker_count(10_000) <= 64);
        assert!(worker_count(10_000) >= 8);
    }
}
