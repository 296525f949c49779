//! What the checker learns from the running system: drop reasons from the
//! kernel's BTF, the kernel functions `func`/`any` can trace, and namespace
//! names resolved to inodes. Kept apart from the pure stages so those stay
//! testable without a kernel.

use ferret_core::check::{CheckEnv, NetnsError, NetnsResolver};
use ferret_core::hooks::HookNames;
use ferret_core::reasons::DropReasons;
use ferret_kernel::drop_reasons::ReasonsError;
use ferret_kernel::func_catalog::FuncCatalog;
use ferret_kernel::kernel_btf::{KbtfError, KernelBtf};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// Facts about this machine that checking and decoding need.
#[derive(Debug, Clone)]
pub struct SystemFacts {
    /// The kernel's drop reasons, or why they could not be read (shared:
    /// the facts are cloned for each playbook and REPL).
    pub reasons: Result<DropReasons, Arc<ReasonsError>>,
    pub funcs: HookNames,
    /// The kernel's BTF and function catalog, shared with the session.
    pub kernel: KernelInfo,
}

/// The running kernel's BTF, read once, and its function catalog, built on
/// first use; clones share both, so the checker, the session and the REPL
/// read the BTF once and agree on function ids.
#[derive(Debug, Clone, Default)]
pub struct KernelInfo {
    btf: Arc<KernelBtf>,
    catalog: Arc<OnceLock<Result<Arc<FuncCatalog>, KbtfError>>>,
}

impl KernelInfo {
    /// The BTF (for [`ferret_kernel::Kernel::load_with_btf`] and the REPL).
    pub fn btf(&self) -> &Arc<KernelBtf> {
        &self.btf
    }

    /// The functions `func`/`any` can trace, discovered on first call.
    pub fn catalog(&self) -> Result<Arc<FuncCatalog>, KbtfError> {
        self.catalog
            .get_or_init(|| FuncCatalog::discover(&self.btf).map(Arc::new))
            .clone()
    }
}

impl SystemFacts {
    pub fn load() -> SystemFacts {
        let kernel = KernelInfo::default();
        SystemFacts {
            reasons: kernel.btf.drop_reasons().map_err(Arc::new),
            funcs: HookNames::tracepoints(),
            kernel,
        }
    }

    /// [`load`](Self::load), plus the kernel's skb functions when `text`
    /// has a `func`/`any` trigger, so that `func == GLOB` in a filter
    /// names real functions. Discovery failing here is left for the
    /// session to report.
    pub fn load_for(text: &str) -> SystemFacts {
        let mut facts = SystemFacts::load();
        if uses_functions(text) {
            if let Ok(catalog) = facts.kernel.catalog() {
                catalog.add_to(&mut facts.funcs);
            }
        }
        facts
    }

    pub fn env(&self) -> CheckEnv<'_> {
        CheckEnv {
            reasons: self
                .reasons
                .as_ref()
                .map_err(|e| &**e as &dyn std::error::Error),
            funcs: &self.funcs,
            netns: &FsNetns,
        }
    }
}

/// Whether any rule of `text` has a function trigger.
pub fn uses_functions(text: &str) -> bool {
    use ferret_grammar::ast::TriggerKind;
    let (program, _) = ferret_grammar::parse_program(text);
    program.rules.iter().any(|r| {
        r.triggers
            .iter()
            .any(|t| matches!(t.kind, TriggerKind::Func { .. } | TriggerKind::Any))
    })
}

/// Resolves `/proc/PID/ns/net`, any path to a namespace file, or a name
/// under /run/netns (what `ip netns add` creates) by the file's inode.
#[derive(Debug, Clone, Copy, Default)]
pub struct FsNetns;

impl NetnsResolver for FsNetns {
    fn resolve(&self, name: &str) -> Result<u32, NetnsError> {
        let path = if name.contains('/') {
            Path::new(name).to_path_buf()
        } else {
            Path::new("/run/netns").join(name)
        };
        match std::fs::metadata(&path) {
            Ok(meta) => u32::try_from(meta.ino()).map_err(|_| NetnsError::InodeTooWide { path }),
            Err(source) => Err(NetnsError::Unreadable { path, source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_triggers_are_noticed() {
        assert!(uses_functions("on any where port 443"));
        assert!(uses_functions("on drop\non func ip_*, tcp_* print"));
        assert!(!uses_functions("on drop where func == kfree_skb"));
    }

    #[test]
    fn own_namespace_resolves_by_proc_path() {
        let ino = FsNetns
            .resolve("/proc/self/ns/net")
            .expect("every Linux process has a netns");
        assert!(ino > 0);
        assert!(FsNetns.resolve("no-such-namespace-ferret-test").is_err());
    }
}
