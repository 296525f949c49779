//! What the REPL knows about the language and the running kernel: fields,
//! drop reasons, kernel functions, the rule numbers in use. Completion
//! (on the terminal thread) and the `fields`/`funcs`/`reasons` commands
//! (on the session thread) read the same table.

use ferret_kernel::kernel_btf::KernelBtf;
use ferret_session::system::SystemFacts;
use std::sync::{Arc, Mutex, OnceLock};

/// Where kernel function names come from.
#[derive(Debug)]
enum FunctionSource {
    /// The running kernel's BTF (the session's), walked on first use
    /// (about 0.5 s).
    Kernel(Arc<KernelBtf>),
    Fixed(Vec<String>),
}

#[derive(Debug)]
pub struct Vocabulary {
    /// Drop reason names without the `SKB_DROP_REASON_` prefix, or why the
    /// kernel could not tell them.
    reasons: Result<Vec<String>, String>,
    source: FunctionSource,
    functions: OnceLock<Result<Vec<String>, String>>,
    rule_ids: Mutex<Vec<usize>>,
}

impl Vocabulary {
    /// The running kernel's vocabulary, from the session's facts.
    pub fn from_kernel(facts: &SystemFacts) -> Vocabulary {
        Vocabulary {
            reasons: facts
                .reasons
                .as_ref()
                .map(|r| r.names().map(str::to_string).collect())
                .map_err(ToString::to_string),
            source: FunctionSource::Kernel(facts.kernel.btf().clone()),
            functions: OnceLock::new(),
            rule_ids: Mutex::new(Vec::new()),
        }
    }

    /// A fixed vocabulary (tests).
    pub fn fixed(reasons: &[&str], functions: &[&str]) -> Vocabulary {
        Vocabulary {
            reasons: Ok(reasons.iter().map(|s| s.to_string()).collect()),
            source: FunctionSource::Fixed(functions.iter().map(|s| s.to_string()).collect()),
            functions: OnceLock::new(),
            rule_ids: Mutex::new(Vec::new()),
        }
    }

    pub fn reasons(&self) -> Result<&[String], &str> {
        self.reasons.as_deref().map_err(String::as_str)
    }

    /// Functions with a `struct sk_buff *` parameter, sorted, from the
    /// kernel's BTF and its loaded modules' on first call.
    pub fn functions(&self) -> Result<&[String], &str> {
        self.functions
            .get_or_init(|| match &self.source {
                FunctionSource::Fixed(names) => Ok(names.clone()),
                FunctionSource::Kernel(btf) => {
                    let funcs = btf.skb_functions().map_err(|e| e.to_string())?;
                    let mut names: Vec<String> = funcs.iter().map(|f| f.name.clone()).collect();
                    if let Ok(modules) = btf.modules() {
                        names.extend(modules.skb_functions().into_iter().map(|f| f.name));
                    }
                    names.sort();
                    names.dedup();
                    Ok(names)
                }
            })
            .as_deref()
            .map_err(String::as_str)
    }

    /// Functions already loaded, without loading them: completion must not
    /// stall a keystroke on the first BTF walk.
    pub fn functions_if_loaded(&self) -> &[String] {
        match self.functions.get() {
            Some(Ok(names)) => names,
            _ => &[],
        }
    }

    /// Loads function names on a background thread, so they are ready by
    /// the time someone completes `func ip_<TAB>`.
    pub fn preload_functions(self: &std::sync::Arc<Self>) {
        let me = std::sync::Arc::clone(self);
        std::thread::spawn(move || {
            let _ = me.functions();
        });
    }

    pub fn rule_ids(&self) -> Vec<usize> {
        self.rule_ids
            .lock()
            .map(|ids| ids.clone())
            .unwrap_or_default()
    }

    pub fn set_rule_ids(&self, ids: Vec<usize>) {
        if let Ok(mut guard) = self.rule_ids.lock() {
            *guard = ids;
        }
    }
}

/// Namespace names under /run/netns (what `ip netns add` makes), for
/// completing `netns == "...`.
pub fn netns_names() -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/run/netns") else {
        return Vec::new();
    };
    let mut names: Vec<String> = dir
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_vocabulary_answers_without_a_kernel() {
        let v = Vocabulary::fixed(&["NO_SOCKET"], &["ip_rcv", "tcp_v4_rcv"]);
        assert!(
            v.functions_if_loaded().is_empty(),
            "nothing before first use"
        );
        assert_eq!(v.functions().unwrap(), ["ip_rcv", "tcp_v4_rcv"]);
        assert_eq!(v.functions_if_loaded().len(), 2);
        assert_eq!(v.reasons().unwrap(), ["NO_SOCKET"]);
        v.set_rule_ids(vec![1, 3]);
        assert_eq!(v.rule_ids(), [1, 3]);
    }

    #[test]
    fn missing_kernel_reasons_carry_the_why() {
        let facts = SystemFacts {
            reasons: Err(std::sync::Arc::new(
                ferret_kernel::drop_reasons::ReasonsError::NoEnum {
                    path: "/no/btf".into(),
                },
            )),
            funcs: ferret_core::hooks::HookNames::tracepoints(),
            kernel: Default::default(),
        };
        let v = Vocabulary::from_kernel(&facts);
        assert!(v
            .reasons()
            .unwrap_err()
            .contains("/no/btf has no `enum skb_drop_reason`"));
    }
}
