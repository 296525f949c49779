//! Loads the function-trigger programs of ebpf/ferret_func.bpf.c without
//! aya's loader, which can neither parse a `kprobe.multi` object nor load a
//! program with the BPF_TRACE_KPROBE_MULTI attach type.
//!
//! How the maps end up shared with the main object, the simplest way that
//! needs no bpffs pins: aya-obj (the parser under aya) reads the second
//! object, and its map relocations are patched with the file descriptors of
//! the maps aya already created for the main object, found by name (both
//! objects include the same map definitions). CO-RE and call relocations
//! are aya-obj's own; the object's BTF is loaded so that the global
//! functions keep their func_info. Each program is then loaded with one
//! BPF_PROG_LOAD whose attach type the caller chooses.

use super::error::{FuncObjectError, KernelError};
use crate::sys::{self, zeroed_attr};
use aya::maps::{Map, MapData};
use aya::Ebpf;
use aya_obj::generated::{bpf_attach_type, bpf_cmd, bpf_prog_type};
use aya_obj::Object;
use std::collections::{HashMap, HashSet};
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

/// The function-trigger object (8-aligned, as the ELF parser wants).
static FUNC_OBJECT: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/ferret_func.bpf.o"));
/// Its build for kernels without bpf_loop (ebpf/compat.bpf.h).
static FUNC_OBJECT_COMPAT: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/ferret_func_compat.bpf.o"));

/// Verifier log size when a load fails and is retried for its log.
const LOG_BYTES: usize = 16 << 20;

/// The function object, relocated against the running kernel and the main
/// object's maps, ready for BPF_PROG_LOAD.
#[derive(Debug)]
pub(super) struct FuncObject {
    obj: Object,
    btf_fd: Option<OwnedFd>,
    /// Duplicates of the main object's map fds the instructions refer to.
    _maps: Vec<OwnedFd>,
}

impl FuncObject {
    /// `map_fds` are the main object's maps by name (see [`map_fds`]);
    /// `rdonly_cast` is the kfunc's id where the kernel has it: the object
    /// shares the main object's `.rodata`, whose flag then enables the
    /// typed loads (the classic BPF interpreter's), so its placeholder
    /// calls must become the kfunc too (kfunc.rs).
    pub(super) fn prepare(
        map_fds: &HashMap<String, OwnedFd>,
        kernel_btf: &aya::Btf,
        build: crate::ObjectBuild,
        rdonly_cast: Option<u32>,
    ) -> Result<FuncObject, KernelError> {
        let bad = |source| KernelError::FuncObject { source };
        let built = match build {
            crate::ObjectBuild::BpfLoop => FUNC_OBJECT,
            crate::ObjectBuild::Bounded => FUNC_OBJECT_COMPAT,
        };
        let patched = rdonly_cast.map(|id| super::kfunc::patch(built, id));
        let bytes = patched.as_ref().map_or(built, |p| p.bytes());
        let mut obj = Object::parse(bytes).map_err(|e| {
            bad(FuncObjectError::Parse {
                source: Box::new(e),
            })
        })?;
        let btf_fd = match aya::features().btf() {
            Some(features) => match obj.fixup_and_sanitize_btf(features).map_err(|e| {
                bad(FuncObjectError::BtfFixup {
                    source: Box::new(e),
                })
            })? {
                Some(btf) => Some(load_btf(&btf.to_bytes())?),
                None => None,
            },
            None => None,
        };
        obj.relocate_btf(kernel_btf).map_err(|e| {
            bad(FuncObjectError::CoRe {
                source: Box::new(e),
            })
        })?;
        let mut fds = Vec::new();
        let mut by_name: HashMap<String, i32> = HashMap::new();
        for name in obj.maps.keys() {
            let fd = map_fds
                .get(name)
                .ok_or_else(|| KernelError::MissingObject {
                    kind: "map",
                    name: name.clone(),
                })?
                .try_clone()
                .map_err(|source| bad(FuncObjectError::DupMapFd { source }))?;
            by_name.insert(name.clone(), fd.as_raw_fd());
            fds.push(fd);
        }
        let text: HashSet<usize> = obj.functions.keys().map(|(s, _)| *s).collect();
        let maps: Vec<(String, i32, aya_obj::Map)> = obj
            .maps
            .iter()
            .map(|(n, m)| (n.clone(), by_name[n], m.clone()))
            .collect();
        obj.relocate_maps(maps.iter().map(|(n, fd, m)| (n.as_str(), *fd, m)), &text)
            .map_err(|e| {
                bad(FuncObjectError::MapRelocation {
                    source: Box::new(e),
                })
            })?;
        obj.relocate_calls(&text).map_err(|e| {
            bad(FuncObjectError::CallRelocation {
                source: Box::new(e),
            })
        })?;
        obj.sanitize_functions(aya::features());
        Ok(FuncObject {
            obj,
            btf_fd,
            _maps: fds,
        })
    }

    /// Loads program `name` as a kprobe with `attach` as its expected attach
    /// type (BPF_TRACE_KPROBE_MULTI for kprobe.multi links, none for perf
    /// links of single kprobes).
    pub(super) fn load_kprobe(
        &self,
        name: &str,
        attach: Option<bpf_attach_type>,
    ) -> Result<OwnedFd, KernelError> {
        self.load(name, bpf_prog_type::BPF_PROG_TYPE_KPROBE, attach, (0, None))
    }

    /// Loads fentry program `name` for the function whose BTF id is
    /// `btf_id` (a trampoline program is verified for one function): an id
    /// of the kernel's BTF, or of the module BTF object `module_btf`.
    pub(super) fn load_fentry(
        &self,
        name: &str,
        btf_id: u32,
        module_btf: Option<BorrowedFd<'_>>,
    ) -> Result<OwnedFd, KernelError> {
        self.load(
            name,
            bpf_prog_type::BPF_PROG_TYPE_TRACING,
            Some(bpf_attach_type::BPF_TRACE_FENTRY),
            (btf_id, module_btf),
        )
    }

    /// Loads fentry or fexit program `name` (`attach`) for the BPF program
    /// `target`, whose main function has type id `main_func` in the
    /// target's own BTF: the union member that names a module's BTF object
    /// for kernel functions names the target program here
    /// (attach_prog_fd).
    pub(super) fn load_prog_tracer(
        &self,
        name: &str,
        attach: bpf_attach_type,
        main_func: u32,
        target: BorrowedFd<'_>,
    ) -> Result<OwnedFd, KernelError> {
        self.load(
            name,
            bpf_prog_type::BPF_PROG_TYPE_TRACING,
            Some(attach),
            (main_func, Some(target)),
        )
    }

    /// Loads the object's own tc program, a target for trying whether
    /// fentry on BPF programs works here (`ferret features`).
    pub(super) fn load_tc_target(&self) -> Result<OwnedFd, KernelError> {
        self.load(
            "ferret_tc_target",
            bpf_prog_type::BPF_PROG_TYPE_SCHED_CLS,
            None,
            (0, None),
        )
    }

    fn load(
        &self,
        name: &str,
        prog_type: bpf_prog_type,
        attach: Option<bpf_attach_type>,
        (attach_btf_id, attach_btf_obj): (u32, Option<BorrowedFd<'_>>),
    ) -> Result<OwnedFd, KernelError> {
        let missing = || KernelError::MissingObject {
            kind: "program",
            name: name.into(),
        };
        let prog = self.obj.programs.get(name).ok_or_else(missing)?;
        let func = self
            .obj
            .functions
            .get(&prog.function_key())
            .ok_or_else(missing)?;
        let func_info = func.func_info.func_info_bytes();
        let line_info = func.line_info.line_info_bytes();
        let license = prog.license.clone();
        let cname = CString::new(name.get(..15).unwrap_or(name)).map_err(|_| missing())?;
        let load = |log: &mut [u8]| {
            let mut attr = zeroed_attr();
            // SAFETY: writing plain integers into the zeroed PROG_LOAD member.
            let u = unsafe { &mut attr.__bindgen_anon_3 };
            u.prog_type = prog_type as u32;
            u.attach_btf_id = attach_btf_id;
            if let Some(obj) = attach_btf_obj {
                u.__bindgen_anon_1.attach_btf_obj_fd = obj.as_raw_fd() as u32;
            }
            if let Some(a) = attach {
                u.expected_attach_type = a as u32;
            }
            u.insns = func.instructions.as_ptr() as u64;
            u.insn_cnt = func.instructions.len() as u32;
            u.license = license.as_ptr() as u64;
            for (dst, src) in u.prog_name.iter_mut().zip(cname.as_bytes()) {
                *dst = *src as _;
            }
            if let Some(btf) = &self.btf_fd {
                u.prog_btf_fd = btf.as_raw_fd() as u32;
                if func.func_info_rec_size > 0 {
                    u.func_info = func_info.as_ptr() as u64;
                    u.func_info_cnt = func.func_info.len() as u32;
                    u.func_info_rec_size = func.func_info_rec_size as u32;
                }
                if func.line_info_rec_size > 0 {
                    u.line_info = line_info.as_ptr() as u64;
                    u.line_info_cnt = func.line_info.len() as u32;
                    u.line_info_rec_size = func.line_info_rec_size as u32;
                }
            }
            if !log.is_empty() {
                u.log_level = 1;
                u.log_buf = log.as_mut_ptr() as u64;
                u.log_size = log.len() as u32;
            }
            sys::bpf(bpf_cmd::BPF_PROG_LOAD, &mut attr)
        };
        match load(&mut []) {
            Ok(fd) => Ok(fd),
            Err(first) => {
                // Again with a log, for the message.
                let mut log = vec![0u8; LOG_BYTES];
                let err = load(&mut log).err().unwrap_or(first);
                let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
                let log = String::from_utf8_lossy(&log[..end]).into_owned();
                Err(super::error::classify_program(
                    name.to_owned(),
                    aya::programs::ProgramError::LoadError {
                        io_error: err,
                        verifier_log: aya_obj::VerifierLog::new(log),
                    },
                ))
            }
        }
    }
}

fn load_btf(raw: &[u8]) -> Result<OwnedFd, KernelError> {
    let mut attr = zeroed_attr();
    // SAFETY: the BTF_LOAD member, plain integers.
    let u = unsafe { &mut attr.__bindgen_anon_7 };
    u.btf = raw.as_ptr() as u64;
    u.btf_size = raw.len() as u32;
    sys::bpf(bpf_cmd::BPF_BTF_LOAD, &mut attr).map_err(|source| KernelError::FuncObject {
        source: FuncObjectError::LoadBtf { source },
    })
}

/// Duplicates of every map's descriptor, taken right after the main object
/// loads: the session later takes maps out of aya (the ring buffer), and
/// the function object must still point at them.
pub(super) fn map_fds(main: &Ebpf) -> Result<HashMap<String, OwnedFd>, KernelError> {
    let mut out = HashMap::new();
    for (name, map) in main.maps() {
        let Some(data) = map_data(map) else { continue };
        let fd =
            data.fd()
                .as_fd()
                .try_clone_to_owned()
                .map_err(|source| KernelError::FuncObject {
                    source: FuncObjectError::DupMapFd { source },
                })?;
        out.insert(name.to_owned(), fd);
    }
    Ok(out)
}

/// The map behind aya's typed wrapper, for the map types ferret defines.
fn map_data(m: &Map) -> Option<&MapData> {
    match m {
        Map::Array(d)
        | Map::PerCpuArray(d)
        | Map::HashMap(d)
        | Map::LruHashMap(d)
        | Map::PerCpuHashMap(d)
        | Map::PerCpuLruHashMap(d)
        | Map::RingBuf(d)
        | Map::StackTraceMap(d)
        | Map::PerfEventArray(d)
        | Map::ProgramArray(d) => Some(d),
        _ => None,
    }
}
