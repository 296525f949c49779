//! The running kernel's drop reason names, from its BTF
//! (`enum skb_drop_reason`). The numbers differ between kernels
//! (NETFILTER_DROP is 12 on 6.18, 11 on 6.12, 7 on 6.1); the names don't,
//! so nothing here is hard-coded.

use btf_rs::{Btf, Type};
use ferret_core::reasons::{DropReasons, PREFIX};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where the running kernel publishes its BTF.
pub const KERNEL_BTF: &str = "/sys/kernel/btf/vmlinux";

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

/// Reads the running kernel's reasons from /sys/kernel/btf/vmlinux.
pub fn from_kernel() -> Result<DropReasons, ReasonsError> {
    from_btf_file(Path::new(KERNEL_BTF))
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
        return Ok(DropReasons::from_values(by_value));
    }
    from_btf_parsed(path)
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
            return Ok(DropReasons::from_values(by_value));
        }
    }
    Err(ReasonsError::NoEnum {
        path: path.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_kernel_has_netfilter_drop_when_btf_is_readable() {
        if !Path::new(KERNEL_BTF).exists() {
            eprintln!("skipped: {KERNEL_BTF} does not exist on this machine");
            return;
        }
        let r = from_kernel().expect("kernel BTF with drop reasons");
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
        let quick = from_kernel().unwrap();
        let full = from_btf_parsed(Path::new(KERNEL_BTF)).unwrap();
        assert_eq!(quick, full);
    }
}
