//! The floor: an empty tp_btf program on ferret's drop tracepoint, loaded
//! by the bench itself. Whatever a tracer costs beyond it is its own code.

use aya::programs::BtfTracePoint;
use aya::{Btf, Ebpf, EbpfLoader};

static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/empty.bpf.o"));
const PROGRAM: &str = "empty_drop_btf";

#[derive(Debug, thiserror::Error)]
pub enum EmptyError {
    #[error("cannot read the kernel's BTF: {source}")]
    Btf { source: aya::BtfError },
    #[error("cannot load the empty program: {source}")]
    Load { source: aya::EbpfError },
    #[error("cannot load or attach the empty program: {source}")]
    Program { source: aya::programs::ProgramError },
    #[error("the empty object has no program {PROGRAM}")]
    Missing,
}

/// Attached until dropped (aya detaches a program's links with it).
#[derive(Debug)]
pub struct EmptyProgram {
    _ebpf: Ebpf,
    pub id: u32,
}

impl EmptyProgram {
    pub fn attach() -> Result<EmptyProgram, EmptyError> {
        let btf = Btf::from_sys_fs().map_err(|source| EmptyError::Btf { source })?;
        let mut ebpf = EbpfLoader::new()
            .btf(Some(&btf))
            .load(OBJECT)
            .map_err(|source| EmptyError::Load { source })?;
        let prog: &mut BtfTracePoint = ebpf
            .program_mut(PROGRAM)
            .ok_or(EmptyError::Missing)?
            .try_into()
            .map_err(|source| EmptyError::Program { source })?;
        prog.load("kfree_skb", &btf)
            .map_err(|source| EmptyError::Program { source })?;
        prog.attach()
            .map_err(|source| EmptyError::Program { source })?;
        let id = prog
            .info()
            .map_err(|source| EmptyError::Program { source })?
            .id();
        Ok(EmptyProgram { _ebpf: ebpf, id })
    }
}
