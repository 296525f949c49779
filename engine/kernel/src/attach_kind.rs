//! How a tracepoint hook was attached, for the ready line and the summary.

/// How a hook was attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachKind {
    /// BTF-typed tracepoint (tp_btf), the preferred kind.
    TpBtf,
    /// Raw tracepoint, the fallback on kernels that refuse tp_btf.
    RawTp,
}

impl AttachKind {
    pub fn name(self) -> &'static str {
        match self {
            AttachKind::TpBtf => "tp_btf",
            AttachKind::RawTp => "raw_tp",
        }
    }
}
