//! The BTF of loaded modules: /sys/kernel/btf/<module> beside vmlinux,
//! each a split BTF whose type ids continue after the kernel's. Each is
//! parsed against the kernel's parse, only when the function catalog (or
//! fentry on a module function) asks: reading them all costs time that
//! sessions without `func`/`any` rules should not pay.

use crate::btf_types::{KbtfError, SkbFunc};
use crate::btf_walk;
use btf_rs::{Btf, Type};
use std::collections::HashMap;
use std::path::Path;

/// One module's parsed BTF.
pub(crate) struct ModuleBtf {
    pub(crate) name: String,
    btf: Btf,
}

/// Every loaded module's BTF that could be parsed, in name order, and the
/// modules whose BTF could not be (with why), for the catalog's caveats.
pub struct ModuleBtfs {
    pub(crate) modules: Vec<ModuleBtf>,
    pub unreadable: Vec<(String, KbtfError)>,
}

impl std::fmt::Debug for ModuleBtfs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModuleBtfs")
            .field("modules", &self.modules.len())
            .field("unreadable", &self.unreadable)
            .finish()
    }
}

impl ModuleBtfs {
    /// The modules' BTF files in `dir` (every file but `vmlinux`), parsed
    /// with `base` (the kernel's) as their base. A directory that cannot be
    /// listed means no modules: kernels without module BTF have none.
    pub(crate) fn read(dir: &Path, base: &Btf) -> ModuleBtfs {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter_map(|e| e.file_name().into_string().ok())
                    .filter(|n| n != "vmlinux")
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        let mut modules = Vec::new();
        let mut unreadable = Vec::new();
        for name in names {
            let path = dir.join(&name);
            match std::fs::read(&path)
                .map_err(btf_rs::Error::IO)
                .and_then(|bytes| Btf::from_split_bytes(&bytes, base))
            {
                Ok(btf) => modules.push(ModuleBtf { name, btf }),
                Err(e) => unreadable.push((name, KbtfError::unreadable(&path, e))),
            }
        }
        ModuleBtfs {
            modules,
            unreadable,
        }
    }

    /// How many modules' BTF was read.
    pub fn len(&self) -> usize {
        self.modules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.modules.is_empty()
    }

    /// The skb functions of every module, each with its module.
    pub fn skb_functions(&self) -> Vec<SkbFunc> {
        let mut out = Vec::new();
        for m in &self.modules {
            let Some(own) = m.btf.split() else { continue };
            let mut funcs = btf_walk::skb_functions_in(&m.btf, own.type_iter());
            for f in &mut funcs {
                f.module = Some(m.name.clone());
            }
            out.extend(funcs);
        }
        out
    }

    /// The BTF id of function `name` in `module`'s own types (what
    /// fentry's attach_btf_id means together with the module's BTF object).
    pub(crate) fn func_id(&self, module: &str, name: &str) -> Option<u32> {
        let m = self.modules.iter().find(|m| m.name == module)?;
        let own = m.btf.split()?;
        own.resolve_ids_by_name(name)
            .unwrap_or_default()
            .into_iter()
            .find(|id| matches!(m.btf.resolve_type_by_id(*id), Ok(Type::Func(_))))
    }

    /// BTF ids of `(module, function)` pairs; pairs not found are left out.
    pub(crate) fn func_ids(&self, wanted: &[(&str, &str)]) -> HashMap<(String, String), u32> {
        wanted
            .iter()
            .filter_map(|(m, f)| Some(((m.to_string(), f.to_string()), self.func_id(m, f)?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::kernel_btf::KernelBtf;

    /// A BTF blob: header, types, strings.
    fn blob(types: &[u32], strings: &[u8]) -> Vec<u8> {
        let type_len = (types.len() * 4) as u32;
        let mut out = Vec::new();
        out.extend(0xeb9f_u16.to_le_bytes());
        out.extend([1u8, 0]);
        for word in [24, 0, type_len, type_len, strings.len() as u32] {
            out.extend(u32::to_le_bytes(word));
        }
        for t in types {
            out.extend(t.to_le_bytes());
        }
        out.extend(strings);
        out
    }

    const STRUCT: u32 = 4 << 24;
    const PTR: u32 = 2 << 24;
    const FUNC: u32 = 12 << 24;
    const FUNC_PROTO: u32 = 13 << 24;

    /// The kernel: `struct sk_buff` (id 1) and a pointer to it (id 2).
    /// A module: `void nft_do_chain(struct sk_buff *skb)` (ids 3 and 4),
    /// its strings numbered after the kernel's.
    #[test]
    fn module_functions_are_read_from_split_btf_against_the_kernels() {
        let base_strings = b"\0sk_buff\0";
        let base = blob(&[1, STRUCT, 232, 0, PTR, 1], base_strings);
        let at = |s: usize| (base_strings.len() + s) as u32;
        let split_strings = b"\0nft_do_chain\0skb\0";
        let module = blob(
            &[0, FUNC_PROTO | 1, 0, at(14), 2, at(1), FUNC | 1, 3],
            split_strings,
        );
        let dir = std::env::temp_dir().join(format!("ferret-module-btf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("vmlinux"), base).unwrap();
        std::fs::write(dir.join("nf_tables"), module).unwrap();
        std::fs::write(dir.join("broken"), b"not btf").unwrap();

        let btf = KernelBtf::from_file(&dir.join("vmlinux"));
        assert_eq!(btf.skb_functions().unwrap(), []);
        let modules = btf.modules().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(modules.len(), 1);
        let unreadable: Vec<&str> = modules.unreadable.iter().map(|(m, _)| m.as_str()).collect();
        assert_eq!(unreadable, ["broken"]);
        let funcs = modules.skb_functions();
        assert_eq!(funcs.len(), 1, "{funcs:?}");
        assert_eq!(funcs[0].name, "nft_do_chain");
        assert_eq!(funcs[0].module.as_deref(), Some("nf_tables"));
        assert_eq!((funcs[0].position, funcs[0].reason_position), (1, 0));
        assert_eq!(modules.func_id("nf_tables", "nft_do_chain"), Some(4));
        assert_eq!(modules.func_id("nf_tables", "sk_buff"), None);
        assert_eq!(modules.func_id("veth", "nft_do_chain"), None);
    }
}
