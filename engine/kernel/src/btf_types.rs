//! What the kernel BTF's readers share: where the running kernel publishes
//! its BTF, the error of every question asked of it, and the skb-taking
//! function the walk finds. [`KernelBtf`] re-exports them as its API; the
//! walkers that answer its questions (btf_walk.rs, drop_reasons.rs) take
//! them from here, so they need nothing of [`KernelBtf`] itself.
//!
//! [`KernelBtf`]: crate::kernel_btf::KernelBtf

use std::path::Path;
use std::sync::Arc;

/// Where the running kernel publishes its BTF.
pub const KERNEL_BTF: &str = "/sys/kernel/btf/vmlinux";

#[derive(Debug, Clone, thiserror::Error)]
pub enum KbtfError {
    #[error("cannot read kernel BTF {path}: {source}")]
    Unreadable {
        path: String,
        source: Arc<btf_rs::Error>,
    },
    #[error("tracepoint `{name}` does not exist on this kernel (no `btf_trace_{name}` in its BTF); list them with `ls /sys/kernel/tracing/events/CATEGORY`")]
    NoTracepoint { name: String },
    #[error("tracepoint `{name}` has no `struct sk_buff *` argument, so ferret cannot follow a packet there")]
    NoSkbArgument { name: String },
}

impl KbtfError {
    /// The BTF file at `path` could not be read or parsed.
    pub(crate) fn unreadable(path: &Path, source: btf_rs::Error) -> KbtfError {
        KbtfError::Unreadable {
            path: path.display().to_string(),
            source: Arc::new(source),
        }
    }
}

/// A kernel function that takes an skb, and at which argument (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkbFunc {
    pub name: String,
    pub position: usize,
    /// 1-based argument position of its `enum skb_drop_reason` parameter,
    /// 0 when it has none: such a function frees the skb as a drop
    /// (`kfree_skb_reason`, `sk_skb_reason_drop`).
    pub reason_position: usize,
    /// The module it is in, `None` for the kernel's own (vmlinux).
    pub module: Option<String>,
}
