//! What fentry needs to load a program for a function: its BTF id, and
//! for a module function also the module's BTF object, since the id is
//! one of the module's split BTF (they continue after the kernel's).

use super::refusal::FuncRefusal;
use crate::btf_types::KbtfError;
use crate::func_catalog::FuncEntry;
use crate::{btf_objects, Kernel};
use std::collections::{HashMap, HashSet};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

/// The BTF ids (and module BTF objects) of a set of functions.
pub(super) struct FentryTargets {
    kernel_ids: HashMap<String, u32>,
    module_ids: HashMap<(String, String), u32>,
    objects: HashMap<String, OwnedFd>,
    /// Why the module objects could not be listed, if they could not.
    objects_unlisted: Option<Arc<std::io::Error>>,
}

impl FentryTargets {
    /// The id to attach to and the BTF object it belongs to (`None`: the
    /// kernel's own).
    pub(super) fn of(&self, t: &FuncEntry) -> Result<(u32, Option<BorrowedFd<'_>>), FuncRefusal> {
        let Some(module) = &t.module else {
            return self
                .kernel_ids
                .get(&t.name)
                .map(|id| (*id, None))
                .ok_or(FuncRefusal::NotInBtf);
        };
        let key = (module.clone(), t.name.clone());
        let id = *self.module_ids.get(&key).ok_or(FuncRefusal::NotInBtf)?;
        match (self.objects.get(module), &self.objects_unlisted) {
            (Some(fd), _) => Ok((id, Some(fd.as_fd()))),
            (None, Some(e)) => Err(FuncRefusal::Attach { source: e.clone() }),
            (None, None) => Err(FuncRefusal::NoModuleBtf {
                module: module.clone(),
            }),
        }
    }
}

impl Kernel {
    /// Looks up every target's BTF id, the kernel's and the modules'.
    pub(super) fn fentry_targets(&self, targets: &[FuncEntry]) -> Result<FentryTargets, KbtfError> {
        let kernel: Vec<&str> = targets
            .iter()
            .filter(|t| t.module.is_none())
            .map(|t| t.name.as_str())
            .collect();
        let kernel_ids = self.btf.func_ids(&kernel)?;
        let in_modules: Vec<(&str, &str)> = targets
            .iter()
            .filter_map(|t| Some((t.module.as_deref()?, t.name.as_str())))
            .collect();
        let mut found = FentryTargets {
            kernel_ids,
            module_ids: HashMap::new(),
            objects: HashMap::new(),
            objects_unlisted: None,
        };
        if in_modules.is_empty() {
            return Ok(found);
        }
        found.module_ids = self.btf.modules()?.func_ids(&in_modules);
        let wanted: HashSet<&str> = in_modules.iter().map(|(m, _)| *m).collect();
        match btf_objects::module_btf_fds(&wanted) {
            Ok(objects) => found.objects = objects,
            Err(e) => found.objects_unlisted = Some(Arc::new(e)),
        }
        Ok(found)
    }
}
