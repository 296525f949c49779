//! Calls of the kfunc `bpf_rdonly_cast`, which aya 0.14 cannot emit.
//!
//! ebpf/direct.bpf.h calls a helper id no kernel has; here, before aya
//! sees the object, each such call instruction becomes a kfunc call
//! (src_reg BPF_PSEUDO_KFUNC_CALL, imm = the function's id in vmlinux BTF).
//! The loader then sets [`FLAG`]; a kernel without the kfunc (before 6.2)
//! keeps the flag at 0, and the verifier discards the typed path with the
//! placeholder calls in it as dead code.

/// The .rodata flag that enables the typed path (ebpf/direct.bpf.h).
pub(super) const FLAG: &str = "ferret_have_rdonly_cast";

/// Keep in sync with FERRET_RDONLY_CAST_PLACEHOLDER in ebpf/direct.bpf.h.
const PLACEHOLDER: u32 = 0x7fff_fe01;
const BPF_CALL: u8 = 0x85; // BPF_JMP | BPF_CALL
const PSEUDO_KFUNC_CALL: u8 = 2;

/// The kfunc, looked up in the running kernel's BTF.
pub(super) const NAME: &str = "bpf_rdonly_cast";

/// The object, with every placeholder call pointed at kfunc `id`. Kept in
/// u64 words: aya's ELF parser wants its input 8-aligned.
#[derive(Debug)]
pub(super) struct Patched {
    words: Vec<u64>,
    len: usize,
}

impl Patched {
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: any u64 memory is valid as bytes; `len` <= 8 * words.len().
        unsafe { std::slice::from_raw_parts(self.words.as_ptr().cast::<u8>(), self.len) }
    }
}

pub(super) fn patch(object: &[u8], id: u32) -> Patched {
    let mut words = vec![0u64; object.len().div_ceil(8)];
    for (w, chunk) in words.iter_mut().zip(object.chunks(8)) {
        let mut b = [0u8; 8];
        b[..chunk.len()].copy_from_slice(chunk);
        *w = u64::from_ne_bytes(b);
    }
    let mut needle = [BPF_CALL, 0, 0, 0, 0, 0, 0, 0];
    needle[4..].copy_from_slice(&PLACEHOLDER.to_le_bytes());
    let mut call = needle;
    call[1] = PSEUDO_KFUNC_CALL << 4;
    call[4..].copy_from_slice(&id.to_le_bytes());
    let (needle, call) = (u64::from_ne_bytes(needle), u64::from_ne_bytes(call));
    // Instructions sit at 8-aligned offsets (BPF code sections are aligned
    // to 8 in the file), so whole words are compared.
    for w in words.iter_mut().filter(|w| **w == needle) {
        *w = call;
    }
    Patched {
        words,
        len: object.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_calls_become_kfunc_calls_and_nothing_else_changes() {
        let mut obj = vec![0xaau8; 40];
        let placeholder = [0x85, 0, 0, 0, 0x01, 0xfe, 0xff, 0x7f];
        obj[8..16].copy_from_slice(&placeholder);
        obj[24..32].copy_from_slice(&placeholder);
        obj[33..40].copy_from_slice(&placeholder[..7]); // unaligned: left alone
        let p = patch(&obj, 65504);
        let b = p.bytes();
        assert_eq!(b.len(), obj.len());
        assert_eq!(&b[8..16], &[0x85, 0x20, 0, 0, 0xe0, 0xff, 0, 0]);
        assert_eq!(&b[24..32], &b[8..16]);
        assert_eq!(&b[..8], &obj[..8]);
        assert_eq!(&b[32..], &obj[32..]);
        assert_eq!(b.as_ptr() as usize % 8, 0);
    }
}
