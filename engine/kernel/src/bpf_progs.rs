//! The BPF programs loaded on the machine, as `on tc` and `on xdp` find
//! them: every program id (BPF_PROG_GET_NEXT_ID), a descriptor for it
//! (BPF_PROG_GET_FD_BY_ID) and what the kernel says of it
//! (BPF_OBJ_GET_INFO_BY_FD): its type, its name and the BTF id of its main
//! function, which is what fentry/fexit on a program attach to.

use crate::sys::{self, zeroed_attr};
use aya_obj::generated::{bpf_cmd, bpf_func_info, bpf_prog_info, bpf_prog_type};
use ferret_core::bpf_prog::ProgKind;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

/// One loaded program of a kind `on tc`/`on xdp` traces.
#[derive(Debug)]
pub struct LoadedProg {
    /// The kernel's id of the program (what `bpftool prog` lists).
    pub prog_id: u32,
    pub kind: ProgKind,
    /// Its name as loaded (at most 15 bytes).
    pub name: String,
    /// The BTF type id of its main function in its own BTF, `None` for a
    /// program loaded without BTF (no trampoline can attach to it).
    pub main_func: Option<u32>,
    pub fd: OwnedFd,
}

/// The kind a program type belongs to, if `on tc`/`on xdp` traces it.
pub fn kind_of(prog_type: u32) -> Option<ProgKind> {
    const SCHED_CLS: u32 = bpf_prog_type::BPF_PROG_TYPE_SCHED_CLS as u32;
    const SCHED_ACT: u32 = bpf_prog_type::BPF_PROG_TYPE_SCHED_ACT as u32;
    const XDP: u32 = bpf_prog_type::BPF_PROG_TYPE_XDP as u32;
    match prog_type {
        SCHED_CLS | SCHED_ACT => Some(ProgKind::Tc),
        XDP => Some(ProgKind::Xdp),
        _ => None,
    }
}

/// Every loaded program of `kind`. Programs that go away while the list is
/// read (ENOENT) are left out.
pub fn loaded(kind: ProgKind) -> io::Result<Vec<LoadedProg>> {
    let mut out = Vec::new();
    let mut id = 0;
    while let Some(next) = next_id(id)? {
        id = next;
        let fd = match fd_by_id(id) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
            Err(e) => return Err(e),
        };
        let info = match info_of(fd_ref(&fd)) {
            Ok(info) => info,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
            Err(e) => return Err(e),
        };
        if kind_of(info.prog_type) != Some(kind) {
            continue;
        }
        out.push(LoadedProg {
            prog_id: id,
            kind,
            name: info.name,
            main_func: info.main_func,
            fd,
        });
    }
    Ok(out)
}

fn fd_ref(fd: &OwnedFd) -> BorrowedFd<'_> {
    use std::os::fd::AsFd;
    fd.as_fd()
}

/// The id after `after`, or `None` past the last one.
fn next_id(after: u32) -> io::Result<Option<u32>> {
    let mut attr = zeroed_attr();
    attr.__bindgen_anon_6.__bindgen_anon_1.start_id = after;
    match sys::bpf_call(bpf_cmd::BPF_PROG_GET_NEXT_ID, &mut attr) {
        // SAFETY: the kernel wrote next_id on success.
        Ok(_) => Ok(Some(unsafe { attr.__bindgen_anon_6.next_id })),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

fn fd_by_id(id: u32) -> io::Result<OwnedFd> {
    let mut attr = zeroed_attr();
    attr.__bindgen_anon_6.__bindgen_anon_1.prog_id = id;
    sys::bpf(bpf_cmd::BPF_PROG_GET_FD_BY_ID, &mut attr)
}

/// What ferret needs of a program's info.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProgInfo {
    pub(crate) prog_type: u32,
    pub(crate) name: String,
    pub(crate) main_func: Option<u32>,
}

/// The program's type and name, then (a second call) its first func_info
/// record: the main function, whose type id fentry attaches by.
pub(crate) fn info_of(fd: BorrowedFd<'_>) -> io::Result<ProgInfo> {
    // SAFETY: bpf_prog_info is plain integers; all-zero is "ask nothing".
    let mut info: bpf_prog_info = unsafe { std::mem::zeroed() };
    get_info(fd, &mut info)?;
    let name = name_of(&info.name);
    let prog_type = info.type_;
    let mut main_func = None;
    if info.btf_id != 0 && info.nr_func_info > 0 {
        let mut first = bpf_func_info {
            insn_off: 0,
            type_id: 0,
        };
        // SAFETY: as above.
        let mut again: bpf_prog_info = unsafe { std::mem::zeroed() };
        again.nr_func_info = 1;
        again.func_info_rec_size = std::mem::size_of::<bpf_func_info>() as u32;
        again.func_info = &mut first as *mut bpf_func_info as u64;
        get_info(fd, &mut again)?;
        main_func = (first.type_id != 0).then_some(first.type_id);
    }
    Ok(ProgInfo {
        prog_type,
        name,
        main_func,
    })
}

fn get_info(fd: BorrowedFd<'_>, info: &mut bpf_prog_info) -> io::Result<()> {
    let mut attr = zeroed_attr();
    // The kernel writes through `info`, which outlives the call.
    attr.info.bpf_fd = fd.as_raw_fd() as u32;
    attr.info.info_len = std::mem::size_of::<bpf_prog_info>() as u32;
    attr.info.info = info as *mut bpf_prog_info as u64;
    sys::bpf_call(bpf_cmd::BPF_OBJ_GET_INFO_BY_FD, &mut attr).map(drop)
}

/// The NUL-terminated name the kernel keeps.
fn name_of(raw: &[libc::c_char; 16]) -> String {
    let bytes: Vec<u8> = raw
        .iter()
        .map(|c| *c as u8)
        .take_while(|b| *b != 0)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tc_is_both_tc_program_types_and_xdp_its_own() {
        assert_eq!(kind_of(3), Some(ProgKind::Tc), "SCHED_CLS");
        assert_eq!(kind_of(4), Some(ProgKind::Tc), "SCHED_ACT");
        assert_eq!(kind_of(6), Some(ProgKind::Xdp), "XDP");
        assert_eq!(kind_of(26), None, "TRACING");
        assert_eq!(kind_of(2), None, "KPROBE");
    }

    #[test]
    fn names_stop_at_their_nul() {
        let mut raw = [0 as libc::c_char; 16];
        for (d, s) in raw.iter_mut().zip(b"drop_tcp\0junk") {
            *d = *s as libc::c_char;
        }
        assert_eq!(name_of(&raw), "drop_tcp");
        let full = [b'a' as libc::c_char; 16];
        assert_eq!(name_of(&full).len(), 16);
    }
}
