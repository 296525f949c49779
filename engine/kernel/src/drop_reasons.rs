//! The running kernel's drop reason names, from its BTF
//! (`enum skb_drop_reason`). The numbers differ between kernels
//! (NETFILTER_DROP is 12 on 6.18, 11 on 6.12, 7 on 6.1); the names don't,
//! so nothing here is hard-coded. [`KernelBtf::drop_reasons`] asks here.
//!
//! [`KernelBtf::drop_reasons`]: crate::kernel_btf::KernelBtf::drop_reasons

use crate::btf_types::KbtfError;
use btf_rs::Type;
use ferret_core::reasons::{DropReasons, PREFIX};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const ENUM: &str = "skb_drop_reason";

#[derive(Debug, thiserror::Error)]
pub enum ReasonsError {
    #[error(transparent)]
    Unreadable(#[from] KbtfError),
    #[error("kernel BTF {path} has no `enum skb_drop_reason` (kernels before 5.17 have no drop reasons)")]
    NoEnum { path: PathBuf },
}

/// The reasons found by the quick scan of the raw bytes (startup time), or
/// None when it finds none.
pub(crate) fn scan(data: &[u8]) -> Option<DropReasons> {
    let members = crate::btf_scan::find_enum(data, ENUM).ok()??;
    let by_value = members
        .into_iter()
        .map(|(name, v)| (v, name.strip_prefix(PREFIX).unwrap_or(&name).to_string()))
        .collect();
    Some(DropReasons::from_values(by_value))
}

/// The reasons from `btf`, the full parse of the BTF file at `path`.
pub(crate) fn from_parsed(btf: &btf_rs::Btf, path: &Path) -> Result<DropReasons, ReasonsError> {
    let types = btf.resolve_types_by_name(ENUM).unwrap_or_default();
    for ty in types {
        if let Type::Enum(e) = ty {
            let mut by_value = BTreeMap::new();
            for m in &e.members {
                let name = btf
                    .resolve_name(m)
                    .map_err(|e| KbtfError::unreadable(path, e))?;
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
    use crate::btf_types::KERNEL_BTF;

    #[test]
    fn the_quick_scan_agrees_with_the_full_parser() {
        if !Path::new(KERNEL_BTF).exists() {
            eprintln!("skipped: {KERNEL_BTF} does not exist on this machine");
            return;
        }
        let bytes = std::fs::read(KERNEL_BTF).unwrap();
        let quick = scan(&bytes).expect("the scan finds the enum");
        let btf = btf_rs::Btf::from_bytes(&bytes).unwrap();
        let full = from_parsed(&btf, Path::new(KERNEL_BTF)).unwrap();
        assert_eq!(quick, full);
    }
}
