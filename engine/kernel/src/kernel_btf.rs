//! Questions about the running kernel's types (btf-rs over
//! /sys/kernel/btf/vmlinux): where the skb is among a tracepoint's
//! arguments, and which functions take an skb at all.

use btf_rs::{Btf, Type};
use fallible_iterator::FallibleIterator;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum KbtfError {
    #[error("cannot read kernel BTF {path}: {source}")]
    Unreadable { path: String, source: btf_rs::Error },
    #[error("tracepoint `{name}` does not exist on this kernel (no `btf_trace_{name}` in its BTF); list them with `ls /sys/kernel/tracing/events/CATEGORY`")]
    NoTracepoint { name: String },
    #[error("tracepoint `{name}` has no `struct sk_buff *` argument, so ferret cannot follow a packet there")]
    NoSkbArgument { name: String },
}

/// A kernel function that takes an skb, and at which argument (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkbFunc {
    pub name: String,
    pub position: usize,
}

pub struct KernelBtf {
    btf: Btf,
}

impl std::fmt::Debug for KernelBtf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KernelBtf").finish_non_exhaustive()
    }
}

impl KernelBtf {
    pub fn load() -> Result<KernelBtf, KbtfError> {
        KernelBtf::from_file(Path::new(crate::drop_reasons::KERNEL_BTF))
    }

    pub fn from_file(path: &Path) -> Result<KernelBtf, KbtfError> {
        let btf = Btf::from_file(path).map_err(|source| KbtfError::Unreadable {
            path: path.display().to_string(),
            source,
        })?;
        Ok(KernelBtf { btf })
    }

    /// The 0-based index of the skb among the tracepoint's own arguments
    /// (the BTF prototype's first parameter is the context, not counted).
    pub fn tracepoint_skb_arg(&self, name: &str) -> Result<u32, KbtfError> {
        let typedef = format!("btf_trace_{name}");
        let proto = self
            .btf
            .resolve_types_by_name(&typedef)
            .unwrap_or_default()
            .into_iter()
            .find_map(|t| self.func_proto_behind(&t))
            .ok_or_else(|| KbtfError::NoTracepoint {
                name: name.to_string(),
            })?;
        let skb = proto
            .parameters
            .iter()
            .skip(1)
            .position(|p| self.is_skb_pointer(p));
        skb.map(|i| i as u32)
            .ok_or_else(|| KbtfError::NoSkbArgument {
                name: name.to_string(),
            })
    }

    /// Every function whose prototype has a `struct sk_buff *` parameter,
    /// with the first such position (1-based).
    pub fn skb_functions(&self) -> Vec<SkbFunc> {
        let mut out = Vec::new();
        let mut types = self.btf.type_iter();
        while let Ok(Some(t)) = types.next() {
            let Type::Func(func) = &t else { continue };
            let Ok(Type::FuncProto(proto)) = self.btf.resolve_chained_type(func) else {
                continue;
            };
            if let Some(i) = proto.parameters.iter().position(|p| self.is_skb_pointer(p)) {
                if let Ok(name) = self.btf.resolve_name(func) {
                    out.push(SkbFunc {
                        name,
                        position: i + 1,
                    });
                }
            }
        }
        out
    }

    /// BTF ids of the named functions (`BTF_KIND_FUNC`), for fentry's
    /// attach_btf_id; names the kernel's BTF lacks are left out.
    pub fn func_ids(&self, names: &[&str]) -> std::collections::HashMap<String, u32> {
        let mut out = std::collections::HashMap::new();
        for name in names {
            let ids = self.btf.resolve_ids_by_name(name).unwrap_or_default();
            let func = ids
                .into_iter()
                .find(|id| matches!(self.btf.resolve_type_by_id(*id), Ok(Type::Func(_))));
            if let Some(id) = func {
                out.insert((*name).to_string(), id);
            }
        }
        out
    }

    /// typedef → pointer → function prototype.
    fn func_proto_behind(&self, t: &Type) -> Option<btf_rs::FuncProto> {
        let mut cur = t.clone();
        for _ in 0..8 {
            cur = match cur {
                Type::FuncProto(p) => return Some(p),
                Type::Typedef(_) | Type::Ptr(_) | Type::Const(_) | Type::Volatile(_) => {
                    self.btf.resolve_chained_type(cur.as_btf_type()?).ok()?
                }
                _ => return None,
            };
        }
        None
    }

    fn is_skb_pointer(&self, param: &btf_rs::Parameter) -> bool {
        let Ok(mut t) = self.btf.resolve_chained_type(param) else {
            return false;
        };
        let mut seen_ptr = false;
        for _ in 0..8 {
            t = match t {
                Type::Struct(s) if seen_ptr => {
                    return self.btf.resolve_name(&s).is_ok_and(|n| n == "sk_buff")
                }
                Type::Ptr(ref p) if !seen_ptr => {
                    seen_ptr = true;
                    match self.btf.resolve_chained_type(p) {
                        Ok(next) => next,
                        Err(_) => return false,
                    }
                }
                Type::Const(_)
                | Type::Volatile(_)
                | Type::Typedef(_)
                | Type::Restrict(_)
                | Type::TypeTag(_) => {
                    match t.as_btf_type().map(|b| self.btf.resolve_chained_type(b)) {
                        Some(Ok(next)) => next,
                        _ => return false,
                    }
                }
                _ => return false,
            };
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kernel() -> Option<KernelBtf> {
        if !Path::new(crate::drop_reasons::KERNEL_BTF).exists() {
            eprintln!("skipped: no kernel BTF on this machine");
            return None;
        }
        Some(KernelBtf::load().expect("readable kernel BTF"))
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
        let ids = k.func_ids(&["ip_rcv", "no_such_function_x"]);
        assert_eq!(ids.len(), 1);
        assert!(ids["ip_rcv"] > 0);
    }

    #[test]
    fn lists_functions_that_take_an_skb() {
        let Some(k) = kernel() else { return };
        let funcs = k.skb_functions();
        assert!(funcs.len() > 500, "only {} skb functions", funcs.len());
        let find = |n: &str| funcs.iter().find(|f| f.name == n).map(|f| f.position);
        assert_eq!(find("ip_rcv"), Some(1));
        assert_eq!(find("ip_local_out"), Some(3));
    }
}
