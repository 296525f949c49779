//! The kernel's BTF objects of loaded modules, found by name: an fentry
//! program on a module function is verified against the module's BTF,
//! named at load by a descriptor of that object (`attach_btf_obj_fd`)
//! together with the function's id in it.

use crate::sys::{self, zeroed_attr};
use aya_obj::generated::{bpf_btf_info, bpf_cmd};
use std::collections::{HashMap, HashSet};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

/// Longest module name plus its NUL (`MODULE_NAME_LEN`).
const NAME_BYTES: usize = 64;

/// Descriptors of the BTF objects of the `wanted` modules that are loaded.
/// Objects that go away while they are listed are passed over.
pub(crate) fn module_btf_fds(wanted: &HashSet<&str>) -> io::Result<HashMap<String, OwnedFd>> {
    let mut out = HashMap::new();
    let mut id = 0u32;
    while out.len() < wanted.len() {
        let mut attr = zeroed_attr();
        // SAFETY: plain integers in the GET_NEXT_ID member.
        let next = unsafe {
            attr.__bindgen_anon_6.__bindgen_anon_1.start_id = id;
            match sys::bpf_call(bpf_cmd::BPF_BTF_GET_NEXT_ID, &mut attr) {
                Ok(_) => attr.__bindgen_anon_6.next_id,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => break,
                Err(e) => return Err(e),
            }
        };
        id = next;
        let mut attr = zeroed_attr();
        attr.__bindgen_anon_6.__bindgen_anon_1.btf_id = id;
        let fd = match sys::bpf(bpf_cmd::BPF_BTF_GET_FD_BY_ID, &mut attr) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
            Err(e) => return Err(e),
        };
        if let Some(name) = kernel_btf_name(&fd)? {
            if wanted.contains(name.as_str()) {
                out.insert(name, fd);
            }
        }
    }
    Ok(out)
}

/// The name of a kernel BTF object (`vmlinux` or a module's), `None` for
/// BTF that programs loaded.
fn kernel_btf_name(fd: &OwnedFd) -> io::Result<Option<String>> {
    let mut name = [0u8; NAME_BYTES];
    // SAFETY: bpf_btf_info is plain integers; all-zero is "nothing asked".
    let mut info: bpf_btf_info = unsafe { std::mem::zeroed() };
    info.name = name.as_mut_ptr() as u64;
    info.name_len = NAME_BYTES as u32;
    let mut attr = zeroed_attr();
    // info and name outlive the call.
    attr.info.bpf_fd = fd.as_raw_fd() as u32;
    attr.info.info_len = std::mem::size_of::<bpf_btf_info>() as u32;
    attr.info.info = &mut info as *mut bpf_btf_info as u64;
    sys::bpf_call(bpf_cmd::BPF_OBJ_GET_INFO_BY_FD, &mut attr)?;
    if info.kernel_btf == 0 {
        return Ok(None);
    }
    let end = name.iter().position(|b| *b == 0).unwrap_or(NAME_BYTES);
    Ok(Some(String::from_utf8_lossy(&name[..end]).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Needs root and kernel BTF: the kernel's own BTF is an object named
    /// `vmlinux`; a module that is not loaded has none.
    #[test]
    fn finds_the_kernels_btf_object_by_name() {
        let has_btf = std::path::Path::new("/sys/kernel/btf/vmlinux").exists();
        if unsafe { libc::geteuid() } != 0 || !has_btf {
            eprintln!("skipped: listing BTF objects needs root and kernel BTF");
            return;
        }
        let wanted: HashSet<&str> = ["vmlinux", "no_such_module_x"].into();
        let found = module_btf_fds(&wanted).expect("BTF objects can be listed");
        assert_eq!(found.keys().collect::<Vec<_>>(), ["vmlinux"]);
    }
}
