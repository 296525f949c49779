//! Walking the parsed kernel BTF (btf-rs) for the questions that need its
//! type graph: where the skb is among a tracepoint's arguments, which
//! functions take an skb, and functions' BTF ids. [`KernelBtf`] holds the
//! parse and hands these out.
//!
//! [`KernelBtf`]: crate::kernel_btf::KernelBtf

use crate::btf_types::{KbtfError, SkbFunc};
use btf_rs::{Btf, Type};
use fallible_iterator::FallibleIterator;
use std::collections::HashMap;

/// The 0-based index of the skb among the tracepoint's own arguments
/// (the BTF prototype's first parameter is the context, not counted).
pub(crate) fn tracepoint_skb_arg(btf: &Btf, name: &str) -> Result<u32, KbtfError> {
    let typedef = format!("btf_trace_{name}");
    let proto = btf
        .resolve_types_by_name(&typedef)
        .unwrap_or_default()
        .into_iter()
        .find_map(|t| func_proto_behind(btf, &t))
        .ok_or_else(|| KbtfError::NoTracepoint {
            name: name.to_string(),
        })?;
    let skb = proto
        .parameters
        .iter()
        .skip(1)
        .position(|p| is_skb_pointer(btf, p));
    skb.map(|i| i as u32)
        .ok_or_else(|| KbtfError::NoSkbArgument {
            name: name.to_string(),
        })
}

/// Every function whose prototype has a `struct sk_buff *` parameter,
/// with the first such position (1-based), and where its `enum
/// skb_drop_reason` parameter is, if it has one.
pub(crate) fn skb_functions(btf: &Btf) -> Vec<SkbFunc> {
    skb_functions_in(btf, btf.type_iter())
}

/// [`skb_functions`] over some of `btf`'s types: a module's own, whose
/// prototypes refer to the kernel's types through `btf`.
pub(crate) fn skb_functions_in(btf: &Btf, mut types: btf_rs::TypeIter<'_>) -> Vec<SkbFunc> {
    let mut out = Vec::new();
    while let Ok(Some(t)) = types.next() {
        let Type::Func(func) = &t else { continue };
        let Ok(Type::FuncProto(proto)) = btf.resolve_chained_type(func) else {
            continue;
        };
        if let Some(i) = proto.parameters.iter().position(|p| is_skb_pointer(btf, p)) {
            if let Ok(name) = btf.resolve_name(func) {
                let reason = proto.parameters.iter().position(|p| is_drop_reason(btf, p));
                out.push(SkbFunc {
                    name,
                    position: i + 1,
                    reason_position: reason.map_or(0, |r| r + 1),
                    module: None,
                });
            }
        }
    }
    out
}

/// BTF ids of the named functions (`BTF_KIND_FUNC`), for fentry's
/// attach_btf_id; names the kernel's BTF lacks are left out.
pub(crate) fn func_ids(btf: &Btf, names: &[&str]) -> HashMap<String, u32> {
    let mut out = HashMap::new();
    for name in names {
        let ids = btf.resolve_ids_by_name(name).unwrap_or_default();
        let func = ids
            .into_iter()
            .find(|id| matches!(btf.resolve_type_by_id(*id), Ok(Type::Func(_))));
        if let Some(id) = func {
            out.insert((*name).to_string(), id);
        }
    }
    out
}

/// typedef → pointer → function prototype.
fn func_proto_behind(btf: &Btf, t: &Type) -> Option<btf_rs::FuncProto> {
    let mut cur = t.clone();
    for _ in 0..8 {
        cur = match cur {
            Type::FuncProto(p) => return Some(p),
            Type::Typedef(_) | Type::Ptr(_) | Type::Const(_) | Type::Volatile(_) => {
                btf.resolve_chained_type(cur.as_btf_type()?).ok()?
            }
            _ => return None,
        };
    }
    None
}

/// A parameter of type `enum skb_drop_reason` (through typedefs and
/// qualifiers): the reason of a drop function, whatever its name.
fn is_drop_reason(btf: &Btf, param: &btf_rs::Parameter) -> bool {
    let Ok(mut t) = btf.resolve_chained_type(param) else {
        return false;
    };
    for _ in 0..8 {
        t = match t {
            Type::Enum(ref e) => return btf.resolve_name(e).is_ok_and(|n| n == DROP_REASON_ENUM),
            Type::Enum64(ref e) => return btf.resolve_name(e).is_ok_and(|n| n == DROP_REASON_ENUM),
            Type::Const(_) | Type::Volatile(_) | Type::Typedef(_) => {
                match t.as_btf_type().map(|b| btf.resolve_chained_type(b)) {
                    Some(Ok(next)) => next,
                    _ => return false,
                }
            }
            _ => return false,
        };
    }
    false
}

const DROP_REASON_ENUM: &str = "skb_drop_reason";

fn is_skb_pointer(btf: &Btf, param: &btf_rs::Parameter) -> bool {
    let Ok(mut t) = btf.resolve_chained_type(param) else {
        return false;
    };
    let mut seen_ptr = false;
    for _ in 0..8 {
        t = match t {
            Type::Struct(s) if seen_ptr => {
                return btf.resolve_name(&s).is_ok_and(|n| n == "sk_buff")
            }
            Type::Ptr(ref p) if !seen_ptr => {
                seen_ptr = true;
                match btf.resolve_chained_type(p) {
                    Ok(next) => next,
                    Err(_) => return false,
                }
            }
            Type::Const(_)
            | Type::Volatile(_)
            | Type::Typedef(_)
            | Type::Restrict(_)
            | Type::TypeTag(_) => match t.as_btf_type().map(|b| btf.resolve_chained_type(b)) {
                Some(Ok(next)) => next,
                _ => return false,
            },
            _ => return false,
        };
    }
    false
}
