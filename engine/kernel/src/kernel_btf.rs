//! The running kernel's BTF, read once per session and shared: the
//! checker's drop reasons, the loader's kfunc id and relocations, `tp`
//! triggers' skb argument, the function catalog and fentry's BTF ids all
//! come from one [`KernelBtf`].
//!
//! Nothing is read until first asked, and the full parse (btf-rs, ~150k
//! types) only when a question needs the type graph: the trace path asks
//! only for an enum and a kfunc id, which a scan of the raw bytes answers
//! (btf_scan.rs); parsing everything was most of ferret's startup.

use crate::btf_scan::{self, KIND_FUNC};
use crate::btf_walk;
use crate::drop_reasons::{self, ReasonsError};
use crate::module_btf::ModuleBtfs;
use ferret_core::reasons::DropReasons;
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

// Part of this API; they live apart so that the walkers need not import
// this file.
pub use crate::btf_types::{KbtfError, SkbFunc, KERNEL_BTF};

/// One BTF file (normally the running kernel's), read on first use and
/// parsed on the first question that needs the full parse.
pub struct KernelBtf {
    path: PathBuf,
    bytes: OnceLock<Result<Vec<u8>, io::Error>>,
    parsed: OnceLock<Result<btf_rs::Btf, KbtfError>>,
    skb_functions: OnceLock<Result<Vec<SkbFunc>, KbtfError>>,
    modules: OnceLock<Result<ModuleBtfs, KbtfError>>,
}

impl std::fmt::Debug for KernelBtf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KernelBtf")
            .field("path", &self.path)
            .field("read", &self.bytes.get().is_some())
            .field("parsed", &self.parsed.get().is_some())
            .finish()
    }
}

impl Default for KernelBtf {
    fn default() -> Self {
        KernelBtf::running()
    }
}

impl KernelBtf {
    /// The running kernel's BTF ([`KERNEL_BTF`]); nothing is read yet.
    pub fn running() -> KernelBtf {
        KernelBtf::from_file(Path::new(KERNEL_BTF))
    }

    /// The BTF in `path`; nothing is read yet.
    pub fn from_file(path: &Path) -> KernelBtf {
        KernelBtf {
            path: path.to_path_buf(),
            bytes: OnceLock::new(),
            parsed: OnceLock::new(),
            skb_functions: OnceLock::new(),
            modules: OnceLock::new(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's bytes, read on first call.
    pub(crate) fn bytes(&self) -> Result<&[u8], &io::Error> {
        self.bytes
            .get_or_init(|| std::fs::read(&self.path))
            .as_deref()
    }

    /// The full parse, made on first call from the bytes read once.
    fn parsed(&self) -> Result<&btf_rs::Btf, KbtfError> {
        self.parsed
            .get_or_init(|| {
                let parsed = match self.bytes() {
                    Ok(bytes) => btf_rs::Btf::from_bytes(bytes),
                    Err(e) => Err(btf_rs::Error::IO(copy_io_error(e))),
                };
                parsed.map_err(|e| KbtfError::unreadable(&self.path, e))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The kernel's drop reason names (`enum skb_drop_reason`): from a scan
    /// of the raw bytes, or the full parse when the scan finds nothing (for
    /// its precise errors).
    pub fn drop_reasons(&self) -> Result<DropReasons, ReasonsError> {
        let scanned = self.bytes().ok().and_then(drop_reasons::scan);
        match scanned {
            Some(reasons) => Ok(reasons),
            None => drop_reasons::from_parsed(self.parsed()?, &self.path),
        }
    }

    /// The id of kfunc `name` (a FUNC record), if this BTF has one; from a
    /// scan of the raw bytes.
    pub fn kfunc_id(&self, name: &str) -> Option<u32> {
        btf_scan::find_type_id(self.bytes().ok()?, KIND_FUNC, name).ok()?
    }

    /// The BTF as aya's loader wants it, for CO-RE relocations and tp_btf.
    pub fn for_aya(&self) -> Result<aya::Btf, aya::BtfError> {
        let bytes = self.bytes().map_err(|e| aya::BtfError::FileError {
            path: self.path.clone(),
            error: copy_io_error(e),
        })?;
        aya::Btf::parse(bytes, aya::Endianness::default())
    }

    /// The 0-based index of the skb among the tracepoint's own arguments
    /// (the BTF prototype's first parameter is the context, not counted).
    pub fn tracepoint_skb_arg(&self, name: &str) -> Result<u32, KbtfError> {
        btf_walk::tracepoint_skb_arg(self.parsed()?, name)
    }

    /// Every function whose prototype has a `struct sk_buff *` parameter,
    /// with the first such position (1-based). Walked once.
    pub fn skb_functions(&self) -> Result<&[SkbFunc], KbtfError> {
        self.skb_functions
            .get_or_init(|| Ok(btf_walk::skb_functions(self.parsed()?)))
            .as_deref()
            .map_err(Clone::clone)
    }

    /// The BTF of the loaded modules (the other files beside this one, as
    /// in /sys/kernel/btf), each parsed against this one; read on first
    /// call. Errors only when this BTF itself cannot be parsed.
    pub fn modules(&self) -> Result<&ModuleBtfs, KbtfError> {
        self.modules
            .get_or_init(|| {
                let base = self.parsed()?;
                let dir = self.path.parent().unwrap_or(Path::new("/"));
                Ok(ModuleBtfs::read(dir, base))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// BTF ids of the named functions (`BTF_KIND_FUNC`), for fentry's
    /// attach_btf_id; names the kernel's BTF lacks are left out.
    pub fn func_ids(&self, names: &[&str]) -> Result<HashMap<String, u32>, KbtfError> {
        Ok(btf_walk::func_ids(self.parsed()?, names))
    }
}

/// The same error again (io::Error is not Clone): the read happened once,
/// and each caller that meets it gets its own copy.
fn copy_io_error(e: &io::Error) -> io::Error {
    match e.raw_os_error() {
        Some(code) => io::Error::from_raw_os_error(code),
        None => io::Error::new(e.kind(), e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kernel() -> Option<KernelBtf> {
        if !Path::new(KERNEL_BTF).exists() {
            eprintln!("skipped: no kernel BTF on this machine");
            return None;
        }
        Some(KernelBtf::running())
    }

    #[test]
    fn running_kernel_has_netfilter_drop_when_btf_is_readable() {
        let Some(k) = kernel() else { return };
        let r = k.drop_reasons().expect("kernel BTF with drop reasons");
        assert!(r.value_of("NETFILTER_DROP").is_some());
        assert!(r.value_of("NO_SOCKET").is_some());
        assert!(r.len() > 20, "only {} reasons", r.len());
    }

    #[test]
    fn finds_the_skb_among_tracepoint_arguments() {
        let Some(k) = kernel() else { return };
        assert_eq!(k.tracepoint_skb_arg("kfree_skb").unwrap(), 0);
        assert_eq!(k.tracepoint_skb_arg("net_dev_start_xmit").unwrap(), 0);
        assert!(matches!(
            k.tracepoint_skb_arg("no_such_tracepoint_x"),
            Err(KbtfError::NoTracepoint { .. })
        ));
        assert!(matches!(
            k.tracepoint_skb_arg("sched_switch"),
            Err(KbtfError::NoSkbArgument { .. })
        ));
    }

    #[test]
    fn finds_the_btf_ids_of_functions() {
        let Some(k) = kernel() else { return };
        let ids = k.func_ids(&["ip_rcv", "no_such_function_x"]).unwrap();
        assert_eq!(ids.len(), 1);
        assert!(ids["ip_rcv"] > 0);
    }

    #[test]
    fn lists_functions_that_take_an_skb() {
        let Some(k) = kernel() else { return };
        let funcs = k.skb_functions().unwrap();
        assert!(funcs.len() > 500, "only {} skb functions", funcs.len());
        let find = |n: &str| funcs.iter().find(|f| f.name == n).map(|f| f.position);
        assert_eq!(find("ip_rcv"), Some(1));
        assert_eq!(find("ip_local_out"), Some(3));
    }

    #[test]
    fn a_missing_file_is_an_error_of_every_question_not_a_panic() {
        let k = KernelBtf::from_file(Path::new("/nonexistent/ferret-test-btf"));
        let e = k.tracepoint_skb_arg("kfree_skb").unwrap_err();
        assert!(matches!(e, KbtfError::Unreadable { .. }), "{e:?}");
        assert!(e.to_string().contains("/nonexistent/ferret-test-btf"));
        assert!(k.skb_functions().is_err());
        assert!(k.func_ids(&["ip_rcv"]).is_err());
        assert!(k.drop_reasons().is_err());
        assert_eq!(k.kfunc_id("bpf_rdonly_cast"), None);
        assert!(matches!(k.for_aya(), Err(aya::BtfError::FileError { .. })));
    }

    #[test]
    fn the_file_is_read_once_and_parsed_only_when_asked() {
        let Some(k) = kernel() else { return };
        assert!(k.drop_reasons().is_ok());
        assert!(k.bytes.get().is_some());
        assert!(k.parsed.get().is_none(), "the scan answered drop reasons");
        k.kfunc_id("bpf_rdonly_cast");
        assert!(k.parsed.get().is_none(), "the scan answered the kfunc id");
        k.tracepoint_skb_arg("kfree_skb").unwrap();
        assert!(k.parsed.get().is_some());
    }
}
