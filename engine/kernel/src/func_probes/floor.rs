//! The floor of a function trigger's cost: an empty kprobe program
//! (`r0 = 0; exit`) linked to the same functions the way ferret links its
//! own (one kprobe.multi link per group, or one perf kprobe per function
//! from many threads), so a benchmark can divide ferret's cost per call by
//! what the kernel's dispatch alone costs, and time attaching and detaching
//! without ferret's program in the way.

use super::attach::bisect_multi;
use super::parallel::{close_parallel, run_parallel, worker_count};
use super::FuncBackend;
use crate::func_catalog::FuncEntry;
use crate::funclink;
use crate::sys::{self, zeroed_attr};
use aya_obj::generated::{bpf_attach_type, bpf_cmd, bpf_prog_type};
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// `r0 = 0` (BPF_ALU64 | BPF_MOV | BPF_K), then `exit`.
const EMPTY_PROGRAM: [u64; 2] = [0xb7, 0x95];
/// `call bpf_get_attach_cookie` (helper 174, the context still in r1),
/// then as above: what every function program pays before its first test.
const COOKIE_PROGRAM: [u64; 3] = [0x85 | 174 << 32, 0xb7, 0x95];

/// What the floor program does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Floor {
    /// Nothing: the kernel's dispatch (and bpf_stats' own clock reads).
    Empty,
    /// Only read its link's cookie, as ferret's programs do first.
    Cookie,
}
const NAME: &[u8] = b"ferret_floor";

#[derive(Debug, thiserror::Error)]
pub enum FloorError {
    #[error("cannot load the empty kprobe program: {source}")]
    Load { source: io::Error },
    #[error("cannot find the empty program's id: {source}")]
    Id { source: io::Error },
    #[error("this kernel has no kprobe event source: {source}")]
    NoKprobes { source: io::Error },
    #[error("fentry has no floor here: one program per function is not an empty program")]
    Fentry,
}

/// The empty program linked to functions; closing it detaches.
#[derive(Debug)]
pub struct EmptyFuncProbes {
    links: Vec<OwnedFd>,
    _prog: OwnedFd,
    /// The program's id, for its run-time statistics.
    pub prog_id: u32,
    /// Functions linked.
    pub attached: usize,
    /// Functions the kernel refused.
    pub skipped: usize,
    pub attach_time: Duration,
}

impl EmptyFuncProbes {
    /// Links the empty program to `targets` with `backend` (module
    /// functions whose name is not unique are left out of kprobe.multi, as
    /// ferret leaves them out).
    pub fn attach(
        backend: FuncBackend,
        floor: Floor,
        targets: &[FuncEntry],
    ) -> Result<EmptyFuncProbes, FloorError> {
        let start = Instant::now();
        sys::raise_nofile_limit();
        let multi = backend == FuncBackend::KprobeMulti;
        let prog = load_floor(floor, multi).map_err(|source| FloorError::Load { source })?;
        let prog_id = prog_id_of(&prog).map_err(|source| FloorError::Id { source })?;
        let mut links = Vec::new();
        let mut skipped = Vec::new();
        let mut attached = 0;
        match backend {
            FuncBackend::KprobeMulti => {
                let group: Vec<&FuncEntry> = targets
                    .iter()
                    .filter(|t| !(t.module.is_some() && t.shared_name))
                    .collect();
                let mut made = Vec::new();
                bisect_multi(prog.as_fd(), &group, &mut made, &mut skipped);
                for (fd, ids) in made {
                    attached += ids.len();
                    links.push(fd);
                }
            }
            FuncBackend::Kprobe => {
                let pmu = funclink::kprobe_pmu_type()
                    .map_err(|source| FloorError::NoKprobes { source })?;
                let workers = worker_count(targets.len());
                let results = run_parallel(targets.len(), workers, None, |i| {
                    let t = &targets[i];
                    funclink::attach_kprobe(prog.as_fd(), pmu, &t.kprobe_symbol(), t.cookie())
                });
                for (_, r) in results {
                    match r {
                        Ok(fd) => {
                            attached += 1;
                            links.push(fd);
                        }
                        Err(e) => skipped.push((String::new(), e.to_string())),
                    }
                }
            }
            FuncBackend::Fentry => return Err(FloorError::Fentry),
        }
        Ok(EmptyFuncProbes {
            links,
            _prog: prog,
            prog_id,
            attached,
            skipped: skipped.len(),
            attach_time: start.elapsed(),
        })
    }

    /// Closes every link the way ferret closes its own; returns how long.
    pub fn detach(mut self) -> Duration {
        let start = Instant::now();
        close_parallel(std::mem::take(&mut self.links));
        start.elapsed()
    }
}

fn load_floor(floor: Floor, multi: bool) -> io::Result<OwnedFd> {
    let insns: &[u64] = match floor {
        Floor::Empty => &EMPTY_PROGRAM,
        Floor::Cookie => &COOKIE_PROGRAM,
    };
    let license = c"GPL";
    let mut attr = zeroed_attr();
    // SAFETY: writing plain integers into the zeroed PROG_LOAD member.
    let u = unsafe { &mut attr.__bindgen_anon_3 };
    u.prog_type = bpf_prog_type::BPF_PROG_TYPE_KPROBE as u32;
    if multi {
        u.expected_attach_type = bpf_attach_type::BPF_TRACE_KPROBE_MULTI as u32;
    }
    u.insns = insns.as_ptr() as u64;
    u.insn_cnt = insns.len() as u32;
    u.license = license.as_ptr() as u64;
    for (dst, src) in u.prog_name.iter_mut().zip(NAME) {
        *dst = *src as _;
    }
    sys::bpf(bpf_cmd::BPF_PROG_LOAD, &mut attr)
}

/// A program's id, from its descriptor's fdinfo.
fn prog_id_of(fd: &OwnedFd) -> io::Result<u32> {
    let text = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd()))?;
    prog_id_in_fdinfo(&text).ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no prog_id"))
}

fn prog_id_in_fdinfo(text: &str) -> Option<u32> {
    text.lines()
        .find_map(|l| l.strip_prefix("prog_id:"))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_empty_program_returns_zero() {
        // Little-endian instruction words: opcode in the low byte, every
        // register, offset and immediate zero.
        assert_eq!(EMPTY_PROGRAM[0] & 0xff, 0xb7, "mov64 r0, imm");
        assert_eq!(EMPTY_PROGRAM[0] >> 8, 0, "r0, imm 0");
        assert_eq!(EMPTY_PROGRAM[1], 0x95, "exit");
        assert_eq!(COOKIE_PROGRAM[0] & 0xff, 0x85, "call");
        assert_eq!(COOKIE_PROGRAM[0] >> 32, 174, "bpf_get_attach_cookie");
        assert_eq!(COOKIE_PROGRAM[1..], EMPTY_PROGRAM);
    }

    #[test]
    fn fdinfo_names_the_program_id() {
        let text = "pos:\t0\nflags:\t02000002\nprog_type:\t2\nprog_id:\t77\n";
        assert_eq!(prog_id_in_fdinfo(text), Some(77));
        assert_eq!(prog_id_in_fdinfo("pos:\t0\n"), None);
    }
}
