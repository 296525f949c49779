//! What the kernel can probe: `available_filter_functions` from tracefs
//! when it is readable (what kprobe.multi and fentry need), else the text
//! symbols of /proc/kallsyms (a function inlined everywhere has no
//! symbol). Both name module functions too; the tracefs list also says
//! which module (`name [module]`), which tells a module function from a
//! kernel function of the same name.

use crate::error::Joined;
use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::sync::Arc;

const TRACEFS: &str = "/sys/kernel/tracing";
const DEBUGFS_TRACING: &str = "/sys/kernel/debug/tracing";

/// The functions the kernel can probe, each name with where it is.
#[derive(Debug, Clone, Default)]
pub struct ProbeList {
    /// Each place a name is: `None` for the kernel's own, else its module
    /// (from kallsyms, every place is `None`: modules are not known).
    places: HashMap<String, Vec<Option<String>>>,
    modules_known: bool,
}

impl ProbeList {
    /// `available_filter_functions`: lines `name` or `name [module]`; some
    /// kernels append `.cold` parts and list a name more than once.
    pub fn from_filter_functions(text: &str) -> ProbeList {
        let mut list = ProbeList {
            places: HashMap::new(),
            modules_known: true,
        };
        for line in text.lines() {
            let mut words = line.split_whitespace();
            let Some(name) = words.next() else { continue };
            let module = words
                .next()
                .and_then(|m| m.strip_prefix('[')?.strip_suffix(']'))
                .map(str::to_owned);
            list.places.entry(name.to_owned()).or_default().push(module);
        }
        list
    }

    /// Bare names (kallsyms text symbols; a name may come more than once).
    pub fn from_names(names: impl IntoIterator<Item = String>) -> ProbeList {
        let mut places: HashMap<String, Vec<Option<String>>> = HashMap::new();
        for name in names {
            places.entry(name).or_default().push(None);
        }
        ProbeList {
            places,
            modules_known: false,
        }
    }

    /// Whether `name` of `module` (`None`: the kernel's) can be probed.
    pub fn contains(&self, name: &str, module: Option<&str>) -> bool {
        match self.places.get(name) {
            None => false,
            Some(_) if !self.modules_known => true,
            Some(places) => places.iter().any(|p| p.as_deref() == module),
        }
    }

    /// Whether module function `name` of `module` shares its name with a
    /// function elsewhere (the kernel or another module), so that its name
    /// alone does not say which one a probe by name would reach.
    pub fn shared(&self, name: &str, module: &str) -> bool {
        let Some(places) = self.places.get(name) else {
            return false;
        };
        if !self.modules_known {
            return places.len() > 1;
        }
        places.iter().any(|p| p.as_deref() != Some(module))
    }
}

/// Where the list of probe-able functions came from.
#[derive(Debug, Clone)]
pub enum Traceable {
    /// `available_filter_functions` at this path.
    FilterFunctions { path: String },
    /// /proc/kallsyms text symbols, because the tracefs list was not
    /// readable (the reason is kept for `ferret funcs`).
    Kallsyms { why: NoFilterList },
    /// Neither could be read: every BTF function is tried.
    Unchecked {
        why: NoFilterList,
        kallsyms: KallsymsMiss,
    },
}

/// Why `available_filter_functions` was not read: what each place said.
/// (Clone, as the catalog is; hence the shared io errors.)
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", Joined(&self.misses))]
pub struct NoFilterList {
    pub misses: Vec<FilterListMiss>,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum FilterListMiss {
    #[error("cannot mount tracefs at {dir}: {source}")]
    Mount {
        dir: &'static str,
        #[source]
        source: Arc<io::Error>,
    },
    #[error("{path} is not readable: {source}")]
    Unreadable {
        path: String,
        #[source]
        source: Arc<io::Error>,
    },
    #[error("tracefs is not mounted at {dir}")]
    NotMounted { dir: &'static str },
}

/// Why /proc/kallsyms could not stand in for the tracefs list.
#[derive(Debug, Clone, thiserror::Error)]
pub enum KallsymsMiss {
    #[error("/proc/kallsyms hides addresses")]
    HidesAddresses,
    #[error("/proc/kallsyms: {source}")]
    Unreadable {
        #[source]
        source: Arc<io::Error>,
    },
}

/// Names the kernel can probe, and where they came from.
pub(crate) fn traceable_names() -> (Option<ProbeList>, Traceable) {
    let why = match read_filter_functions() {
        Ok((names, path)) => return (Some(names), Traceable::FilterFunctions { path }),
        Err(why) => why,
    };
    match ferret_core::kallsyms::Kallsyms::load() {
        Ok(k) if !k.is_empty() => (
            Some(ProbeList::from_names(k.names())),
            Traceable::Kallsyms { why },
        ),
        Ok(_) => (
            None,
            Traceable::Unchecked {
                why,
                kallsyms: KallsymsMiss::HidesAddresses,
            },
        ),
        Err(e) => (
            None,
            Traceable::Unchecked {
                why,
                kallsyms: KallsymsMiss::Unreadable {
                    source: Arc::new(e),
                },
            },
        ),
    }
}

/// `available_filter_functions`, mounting tracefs first when it is not
/// mounted and we may (root). Errors say what happened, for the caveats.
fn read_filter_functions() -> Result<(ProbeList, String), NoFilterList> {
    let mut misses = Vec::new();
    for dir in [TRACEFS, DEBUGFS_TRACING] {
        let path = Path::new(dir).join("available_filter_functions");
        if !path.exists() && dir == TRACEFS && Path::new(dir).is_dir() {
            mount_tracefs(dir, &mut misses);
        }
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                return Ok((
                    ProbeList::from_filter_functions(&text),
                    path.display().to_string(),
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => misses.push(FilterListMiss::Unreadable {
                path: path.display().to_string(),
                source: Arc::new(e),
            }),
        }
    }
    if misses.is_empty() {
        misses.push(FilterListMiss::NotMounted { dir: TRACEFS });
    }
    Err(NoFilterList { misses })
}

fn mount_tracefs(dir: &'static str, misses: &mut Vec<FilterListMiss>) {
    if let Err(e) = crate::sys::mount_tracefs(dir) {
        misses.push(FilterListMiss::Mount {
            dir,
            source: Arc::new(e),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_functions_say_which_module_a_function_is_in() {
        let list = ProbeList::from_filter_functions(
            "ip_rcv\nnft_do_chain [nf_tables]\nnf_hook_slow\nfoo [a]\nfoo [b]\n\
             bar\nbar [m]\nip_rcv\n",
        );
        assert!(list.contains("ip_rcv", None));
        assert!(list.contains("nft_do_chain", Some("nf_tables")));
        assert!(!list.contains("nft_do_chain", None));
        assert!(!list.contains("nft_do_chain", Some("other")));
        assert!(!list.shared("nft_do_chain", "nf_tables"));
        assert!(list.shared("foo", "a"));
        assert!(list.shared("bar", "m"));
        assert!(!list.contains("missing", None));
    }

    #[test]
    fn kallsyms_names_do_not_say_the_module() {
        let list = ProbeList::from_names(["ip_rcv", "x", "x"].map(String::from));
        assert!(list.contains("ip_rcv", Some("any_module")));
        assert!(list.contains("ip_rcv", None));
        assert!(!list.shared("ip_rcv", "m"));
        assert!(list.shared("x", "m"));
    }
}
