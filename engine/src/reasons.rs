//! Drop reason names of the running kernel, from its BTF
//! (`enum skb_drop_reason`). The numbers differ between kernels
//! (NETFILTER_DROP is 12 on 6.18, 11 on 6.12, 7 on 6.1); the names don't,
//! so nothing here is hard-coded.

use btf_rs::{Btf, Type};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const KERNEL_BTF: &str = "/sys/kernel/btf/vmlinux";
const PREFIX: &str = "SKB_DROP_REASON_";

#[derive(Debug, thiserror::Error)]
pub enum ReasonsError {
    #[error("cannot read kernel BTF {path}: {source}")]
    Unreadable {
        path: PathBuf,
        source: btf_rs::Error,
    },
    #[error("kernel BTF {path} has no `enum skb_drop_reason` (kernels before 5.17 have no drop reasons)")]
    NoEnum { path: PathBuf },
}

/// Drop reasons by value, names without the `SKB_DROP_REASON_` prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DropReasons {
    by_value: BTreeMap<u32, String>,
}

impl DropReasons {
    /// Reads the running kernel's reasons from /sys/kernel/btf/vmlinux.
    pub fn from_kernel() -> Result<DropReasons, ReasonsError> {
        DropReasons::from_btf_file(Path::new(KERNEL_BTF))
    }

    pub fn from_btf_file(path: &Path) -> Result<DropReasons, ReasonsError> {
        // The quick scan of the raw bytes first (startup time); the full
        // parser only when it finds nothing, for its precise errors.
        let scanned = std::fs::read(path)
            .ok()
            .and_then(|data| crate::btf_scan::find_enum(&data, "skb_drop_reason").ok()?);
        if let Some(members) = scanned {
            let by_value = members
                .into_iter()
                .map(|(name, v)| (v, name.strip_prefix(PREFIX).unwrap_or(&name).to_string()))
                .collect();
            return Ok(DropReasons { by_value });
        }
        DropReasons::from_btf_parsed(path)
    }

    fn from_btf_parsed(path: &Path) -> Result<DropReasons, ReasonsError> {
        let unreadable = |source| ReasonsError::Unreadable {
            path: path.to_path_buf(),
            source,
        };
        let btf = Btf::from_file(path).map_err(unreadable)?;
        let types = btf
            .resolve_types_by_name("skb_drop_reason")
            .unwrap_or_default();
        for ty in types {
            if let Type::Enum(e) = ty {
                let mut by_value = BTreeMap::new();
                for m in &e.members {
                    let name = btf.resolve_name(m).map_err(unreadable)?;
                    let short = name.strip_prefix(PREFIX).unwrap_or(&name).to_string();
                    by_value.insert(m.val(), short);
                }
                return Ok(DropReasons { by_value });
            }
        }
        Err(ReasonsError::NoEnum {
            path: path.to_path_buf(),
        })
    }

    /// A table from explicit pairs (tests, recorded sessions).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, u32)>) -> DropReasons {
        DropReasons {
            by_value: pairs.into_iter().map(|(n, v)| (v, n.to_string())).collect(),
        }
    }

    /// Accepts `netfilter_drop`, `NETFILTER_DROP` and
    /// `SKB_DROP_REASON_NETFILTER_DROP` alike.
    pub fn value_of(&self, name: &str) -> Option<u32> {
        let upper = name.to_ascii_uppercase();
        let short = upper.strip_prefix(PREFIX).unwrap_or(&upper);
        self.by_value
            .iter()
            .find(|(_, n)| n.as_str() == short)
            .map(|(v, _)| *v)
    }

    /// The short name (`NETFILTER_DROP`) of a value.
    pub fn name_of(&self, value: u32) -> Option<&str> {
        self.by_value.get(&value).map(String::as_str)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_value
            .values()
            .map(String::as_str)
            .filter(|n| *n != "MAX")
    }

    pub fn len(&self) -> usize {
        self.by_value.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_value.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_accepted_in_every_spelling() {
        let r = DropReasons::from_pairs([("NOT_SPECIFIED", 2), ("NETFILTER_DROP", 12)]);
        assert_eq!(r.value_of("netfilter_drop"), Some(12));
        assert_eq!(r.value_of("SKB_DROP_REASON_NETFILTER_DROP"), Some(12));
        assert_eq!(r.value_of("NETFILTER"), None);
        assert_eq!(r.name_of(2), Some("NOT_SPECIFIED"));
    }

    #[test]
    fn running_kernel_has_netfilter_drop_when_btf_is_readable() {
        if !Path::new(KERNEL_BTF).exists() {
            eprintln!("skipped: {KERNEL_BTF} does not exist on this machine");
            return;
        }
        let r = DropReasons::from_kernel().expect("kernel BTF with drop reasons");
        assert!(r.value_of("NETFILTER_DROP").is_some());
        assert!(r.value_of("NO_SOCKET").is_some());
        assert!(r.len() > 20, "only {} reasons", r.len());
    }

    #[test]
    fn the_quick_scan_agrees_with_the_full_parser() {
        if !Path::new(KERNEL_BTF).exists() {
            eprintln!("skipped: {KERNEL_BTF} does not exist on this machine");
            return;
        }
        let quick = DropReasons::from_kernel().unwrap();
        let full = DropReasons::from_btf_parsed(Path::new(KERNEL_BTF)).unwrap();
        assert_eq!(quick, full);
    }
}
