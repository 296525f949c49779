//! In-kernel cost per hook call from the kernel's own accounting: with
//! BPF_ENABLE_STATS held, every program run adds to its run_time_ns and
//! run_cnt. A tracer's programs are found through its open file
//! descriptors (/proc/PID/fdinfo), which works the same for ferret and
//! bpftrace and ignores programs other people have loaded.

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;

#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    #[error("cannot enable BPF run-time statistics (BPF_ENABLE_STATS, Linux 5.8+): {source}")]
    Enable { source: aya::sys::SyscallError },
}

/// Run-time statistics are on for as long as this lives; the kernel turns
/// them off by itself when the last holder closes, even after a crash.
#[derive(Debug)]
pub struct StatsOn {
    _fd: OwnedFd,
}

impl StatsOn {
    pub fn enable() -> Result<StatsOn, StatsError> {
        aya::sys::enable_stats(aya::sys::Stats::RunTime)
            .map(|fd| StatsOn { _fd: fd })
            .map_err(|source| StatsError::Enable { source })
    }
}

/// One program's counters at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgSample {
    pub name: String,
    pub run_ns: u64,
    pub runs: u64,
}

/// Counters of the given programs, by id; programs gone are left out.
pub fn sample(ids: &[u32]) -> BTreeMap<u32, ProgSample> {
    aya::programs::loaded_programs()
        .filter_map(Result::ok)
        .filter(|p| ids.contains(&p.id()))
        .map(|p| {
            let s = ProgSample {
                name: p.name_as_str().unwrap_or("?").to_owned(),
                run_ns: p.run_time().as_nanos() as u64,
                runs: p.run_count(),
            };
            (p.id(), s)
        })
        .collect()
}

/// The ids of the BPF programs a process holds open.
pub fn prog_ids_of(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fdinfo")) else {
        return Vec::new();
    };
    let mut ids: Vec<u32> = dir
        .filter_map(Result::ok)
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter_map(|text| prog_id_in_fdinfo(&text))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

fn prog_id_in_fdinfo(text: &str) -> Option<u32> {
    text.lines()
        .find_map(|l| l.strip_prefix("prog_id:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Cost of one call of the hook between two samples.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct CallCost {
    /// Calls of the hook (the busiest program's run count).
    pub calls: u64,
    /// Nanoseconds of all programs that ran on (nearly) every call, per call.
    pub ns_per_call: f64,
    /// How many programs that is (bpftrace runs one per probe).
    pub programs: usize,
}

/// Every program that ran on at least half of the hook calls is counted:
/// all of a tracer's probes on that tracepoint, but not its BEGIN/END or
/// interval probes.
pub fn cost(
    before: &BTreeMap<u32, ProgSample>,
    after: &BTreeMap<u32, ProgSample>,
) -> Option<CallCost> {
    let deltas: Vec<(u64, u64)> = after
        .iter()
        .map(|(id, a)| {
            let b = before.get(id);
            (
                a.runs - b.map_or(0, |b| b.runs.min(a.runs)),
                a.run_ns - b.map_or(0, |b| b.run_ns.min(a.run_ns)),
            )
        })
        .collect();
    let calls = deltas.iter().map(|d| d.0).max()?;
    if calls == 0 {
        return None;
    }
    let busy: Vec<_> = deltas.iter().filter(|d| d.0 * 2 >= calls).collect();
    let ns: u64 = busy.iter().map(|d| d.1).sum();
    Some(CallCost {
        calls,
        ns_per_call: ns as f64 / calls as f64,
        programs: busy.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(runs: u64, run_ns: u64) -> ProgSample {
        ProgSample {
            name: "p".into(),
            run_ns,
            runs,
        }
    }

    #[test]
    fn cost_sums_the_programs_of_the_hook_and_ignores_rare_ones() {
        let before = BTreeMap::from([(1, s(10, 1000)), (2, s(10, 2000)), (3, s(0, 0))]);
        let after = BTreeMap::from([(1, s(110, 11_000)), (2, s(110, 22_000)), (3, s(1, 900))]);
        let c = cost(&before, &after).unwrap();
        assert_eq!(c.calls, 100);
        assert_eq!(c.programs, 2);
        assert_eq!(c.ns_per_call, 300.0);
    }

    #[test]
    fn no_calls_means_no_cost() {
        let a = BTreeMap::from([(1, s(5, 50))]);
        assert_eq!(cost(&a, &a), None);
        assert_eq!(cost(&BTreeMap::new(), &BTreeMap::new()), None);
    }

    #[test]
    fn fdinfo_of_a_program_names_its_id() {
        let text = "pos:\t0\nflags:\t02000002\nprog_type:\t26\nprog_jited:\t1\nprog_id:\t4321\n";
        assert_eq!(prog_id_in_fdinfo(text), Some(4321));
        assert_eq!(prog_id_in_fdinfo("pos:\t0\nmap_id:\t7\n"), None);
    }
}
