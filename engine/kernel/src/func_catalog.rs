//! Which kernel functions `func GLOB` and `any` can trace: every function
//! whose BTF prototype has a `struct sk_buff *` among its first five
//! parameters (the registers a probe reads), the kernel's own (vmlinux
//! BTF) and those of loaded modules (their split BTF beside it), that the
//! kernel can also probe (probe_list.rs).
//!
//! Functions get ids `FUNC_ID0 + i` in name order (the kernel's before a
//! module's of the same name, modules in name order), so a glob with a
//! fixed prefix names a run of neighbouring ids (see check/filter.rs).
//!
//! A module function may share its name with a function of the kernel or
//! of another module. Each keeps its own entry and id; probes by name
//! then need care (see [`FuncEntry::shared_name`]).

use crate::btf_types::{KbtfError, SkbFunc};
use crate::kernel_btf::KernelBtf;
pub use crate::probe_list::{FilterListMiss, KallsymsMiss, NoFilterList, ProbeList, Traceable};
use ferret_core::hooks::{glob_match, HookNames};

/// First id of kernel functions (`FERRET_FUNC_ID0`); lower ids name hooks.
pub const FUNC_ID0: u32 = 1024;
/// The probe programs read the skb from one of the first five arguments.
pub const MAX_POSITION: usize = 5;
/// Entries of the kernel's `func_rules` map (`FERRET_MAX_FUNCS`).
pub const MAX_FUNCS: usize = 65536;

/// One traceable function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuncEntry {
    pub id: u32,
    pub name: String,
    /// 1-based argument position of its skb.
    pub position: usize,
    /// 1-based argument position of its drop reason (`enum
    /// skb_drop_reason`), 0 when it has none; see [`FuncEntry::cookie`].
    pub reason_position: usize,
    /// Its module, `None` for the kernel's own.
    pub module: Option<String>,
    /// A module function whose name is also a function elsewhere (the
    /// kernel, another module): a kprobe must name it `module:name`, and
    /// kprobe.multi, which takes bare names, cannot tell them apart.
    pub shared_name: bool,
}

/// Whether a function that takes a drop reason is where a drop happens.
/// The reason is also handed down to the freeing helpers
/// (`skb_release_data`, `skb_release_all`), to the tracepoint's own stubs
/// and to senders of ICMP errors; naming those drops would print one drop
/// several times, some with a reason they merely pass along. The kernel's
/// drop entry points say so in their names (`kfree_skb_reason`,
/// `sk_skb_reason_drop`, `tcp_drop_reason`, `dev_kfree_skb_any_reason`).
pub fn is_drop_entry(name: &str) -> bool {
    const STUBS: [&str; 5] = [
        "__bpf_trace_",
        "__traceiter_",
        "__probestub_",
        "perf_trace_",
        "trace_event_raw_event_",
    ];
    !STUBS.iter().any(|p| name.starts_with(p))
        && (name.contains("kfree_skb") || name.contains("drop"))
}

impl FuncEntry {
    /// The probe's BPF cookie: the function id in the low half, the drop
    /// reason's argument position in the high half (0: not a drop
    /// function), so the program knows both without a map lookup.
    pub fn cookie(&self) -> u64 {
        u64::from(self.id) | (self.reason_position as u64) << 32
    }

    /// Whether its calls are drops with a reason (`kfree_skb_reason`,
    /// `sk_skb_reason_drop`: a drop entry point, see [`is_drop_entry`],
    /// with an `enum skb_drop_reason` argument). The `kfree_skb` family of kernels before
    /// 5.17 has no reason argument: its calls stay plain function events,
    /// as pwru shows them.
    pub fn is_drop(&self) -> bool {
        self.reason_position != 0
    }

    /// The symbol a single kprobe is created on: the bare name, or
    /// `module:name` for a module function whose name is not unique.
    pub fn kprobe_symbol(&self) -> String {
        match &self.module {
            Some(m) if self.shared_name => format!("{m}:{}", self.name),
            _ => self.name.clone(),
        }
    }

    /// `name`, or `name [module]` as `available_filter_functions` writes it.
    pub fn display_name(&self) -> String {
        match &self.module {
            Some(m) => format!("{} [{m}]", self.name),
            None => self.name.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct FuncCatalog {
    funcs: Vec<FuncEntry>,
    /// Functions whose skb comes after argument MAX_POSITION.
    pub beyond: usize,
    /// BTF skb functions the kernel cannot probe (not in the list).
    pub not_traceable: usize,
    /// Modules with functions in the catalog.
    pub modules: usize,
    /// Modules whose BTF could not be read (their functions are missing).
    pub unreadable_modules: Vec<String>,
    pub source: Traceable,
}

impl FuncCatalog {
    /// The functions of `btf` (the running kernel's) and of its loaded
    /// modules that the kernel can trace now. Build it once per session:
    /// the checker (for `func == GLOB`) and the session (for attaching)
    /// must agree on ids.
    pub fn discover(btf: &KernelBtf) -> Result<FuncCatalog, KbtfError> {
        let mut skb_funcs = btf.skb_functions()?.to_vec();
        let modules = btf.modules()?;
        skb_funcs.extend(modules.skb_functions());
        let (names, source) = crate::probe_list::traceable_names();
        let mut catalog = FuncCatalog::build(skb_funcs, names.as_ref(), source);
        catalog.unreadable_modules = modules.unreadable.iter().map(|(m, _)| m.clone()).collect();
        Ok(catalog)
    }

    /// The pure part of [`discover`](Self::discover): sort, drop what cannot
    /// be probed, number.
    pub fn build(
        mut skb_funcs: Vec<SkbFunc>,
        traceable: Option<&ProbeList>,
        source: Traceable,
    ) -> FuncCatalog {
        // `None` (the kernel) sorts before every module.
        skb_funcs.sort_by(|a, b| (&a.name, &a.module).cmp(&(&b.name, &b.module)));
        skb_funcs.dedup_by(|a, b| a.name == b.name && a.module == b.module);
        let mut beyond = 0;
        let mut not_traceable = 0;
        let mut funcs = Vec::new();
        let mut modules = std::collections::BTreeSet::new();
        for f in skb_funcs {
            let module = f.module.as_deref();
            if f.position > MAX_POSITION {
                beyond += 1;
            } else if traceable.is_some_and(|t| !t.contains(&f.name, module)) {
                not_traceable += 1;
            } else if funcs.len() < MAX_FUNCS - FUNC_ID0 as usize {
                // The programs read arguments 1..=MAX_POSITION only.
                let reason_position = if f.reason_position <= MAX_POSITION && is_drop_entry(&f.name)
                {
                    f.reason_position
                } else {
                    0
                };
                let shared_name = match (module, traceable) {
                    (Some(m), Some(t)) => t.shared(&f.name, m),
                    _ => false,
                };
                if let Some(m) = module {
                    modules.insert(m.to_owned());
                }
                funcs.push(FuncEntry {
                    id: FUNC_ID0 + funcs.len() as u32,
                    name: f.name,
                    position: f.position,
                    reason_position,
                    module: f.module,
                    shared_name,
                });
            }
        }
        FuncCatalog {
            funcs,
            beyond,
            not_traceable,
            modules: modules.len(),
            unreadable_modules: Vec::new(),
            source,
        }
    }

    pub fn all(&self) -> &[FuncEntry] {
        &self.funcs
    }

    pub fn get(&self, id: u32) -> Option<&FuncEntry> {
        let i = id.checked_sub(FUNC_ID0)? as usize;
        self.funcs.get(i)
    }

    /// Functions matching any of the globs, in id order.
    pub fn select<'a>(&'a self, globs: &'a [String]) -> impl Iterator<Item = &'a FuncEntry> + 'a {
        self.funcs
            .iter()
            .filter(move |f| globs.iter().any(|g| glob_match(g, &f.name)))
    }

    /// Adds every function to the names events and the `func` field use.
    pub fn add_to(&self, table: &mut HookNames) {
        for f in &self.funcs {
            table.insert_function(f.id, &f.name, f.is_drop());
        }
    }

    /// One line for `ferret funcs` and the ready line: what was left out.
    pub fn caveats(&self) -> String {
        let list = match &self.source {
            Traceable::FilterFunctions { path } => format!("probe-able per {path}"),
            Traceable::Kallsyms { why } => {
                format!("probe-able per /proc/kallsyms ({why})")
            }
            Traceable::Unchecked { why, kallsyms } => {
                format!("not checked for probe-ability ({why}; {kallsyms})")
            }
        };
        let in_modules = self.funcs.iter().filter(|f| f.module.is_some()).count();
        let of_modules = match self.modules {
            0 => String::new(),
            1 => format!(" ({in_modules} of them in 1 module)"),
            n => format!(" ({in_modules} of them in {n} modules)"),
        };
        let mut text = format!(
            "{} functions{of_modules} take an skb in their first {MAX_POSITION} arguments, \
             {list}; {} are not probe-able; {} have the skb after argument {MAX_POSITION} \
             and are left out",
            self.funcs.len(),
            self.not_traceable,
            self.beyond
        );
        if !self.unreadable_modules.is_empty() {
            text.push_str(&format!(
                "; the BTF of {} could not be read: their functions are left out",
                self.unreadable_modules.join(", ")
            ));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_entry_points_are_told_from_helpers_that_pass_the_reason_on() {
        for f in [
            "kfree_skb_reason",
            "sk_skb_reason_drop",
            "kfree_skb_list_reason",
            "tcp_drop_reason",
            "dev_kfree_skb_any_reason",
            "__napi_kfree_skb",
        ] {
            assert!(is_drop_entry(f), "{f}");
        }
        for f in [
            "skb_release_data",
            "skb_release_all",
            "icmpv6_param_prob_reason",
            "__bpf_trace_kfree_skb",
            "__traceiter_kfree_skb",
            "__probestub_kfree_skb",
            "trace_event_raw_event_kfree_skb",
            "perf_trace_kfree_skb",
        ] {
            assert!(!is_drop_entry(f), "{f}");
        }
    }
    use std::path::Path;

    fn f(name: &str, position: usize) -> SkbFunc {
        SkbFunc {
            name: name.into(),
            position,
            reason_position: usize::from(name == "kfree_skb_reason") * 2,
            module: None,
        }
    }

    fn sample() -> FuncCatalog {
        let traceable = ProbeList::from_filter_functions(
            "ip_rcv\nip_local_out\ntcp_v4_rcv\nkfree_skb_reason\nip_rcv_core\n",
        );
        FuncCatalog::build(
            vec![
                f("tcp_v4_rcv", 1),
                f("ip_rcv", 1),
                f("ip_local_out", 3),
                f("ip_rcv_core", 1),
                f("inlined_everywhere", 1),
                f("kfree_skb_reason", 1),
                f("six_args", 6),
                f("ip_rcv", 1),
            ],
            Some(&traceable),
            Traceable::FilterFunctions {
                path: "test".into(),
            },
        )
    }

    #[test]
    fn functions_are_numbered_in_name_order_after_the_hooks() {
        let c = sample();
        let names: Vec<_> = c.all().iter().map(|f| (f.id, f.name.as_str())).collect();
        assert_eq!(
            names,
            [
                (1024, "ip_local_out"),
                (1025, "ip_rcv"),
                (1026, "ip_rcv_core"),
                (1027, "kfree_skb_reason"),
                (1028, "tcp_v4_rcv")
            ]
        );
        assert_eq!(c.get(1025).map(|f| f.position), Some(1));
        assert_eq!(c.get(1024).map(|f| f.position), Some(3));
        assert_eq!(c.get(7), None);
        assert_eq!((c.beyond, c.not_traceable), (1, 1));
        assert!(c.caveats().contains("1 have the skb after argument 5"));
    }

    fn in_module(name: &str, module: &str) -> SkbFunc {
        SkbFunc {
            module: Some(module.into()),
            ..f(name, 1)
        }
    }

    #[test]
    fn module_functions_are_numbered_among_the_kernels_by_name() {
        let traceable = ProbeList::from_filter_functions(
            "ip_rcv\nnft_do_chain [nf_tables]\nxmit\nxmit [veth]\nxmit [vxlan]\n\
             br_handle_frame [bridge]\n",
        );
        let c = FuncCatalog::build(
            vec![
                in_module("xmit", "vxlan"),
                in_module("nft_do_chain", "nf_tables"),
                f("ip_rcv", 1),
                in_module("xmit", "veth"),
                f("xmit", 1),
                in_module("not_listed", "veth"),
                in_module("br_handle_frame", "bridge"),
            ],
            Some(&traceable),
            Traceable::FilterFunctions {
                path: "test".into(),
            },
        );
        let got: Vec<_> = c
            .all()
            .iter()
            .map(|f| (f.id, f.display_name(), f.kprobe_symbol()))
            .collect();
        let want = [
            (1024, "br_handle_frame [bridge]", "br_handle_frame"),
            (1025, "ip_rcv", "ip_rcv"),
            (1026, "nft_do_chain [nf_tables]", "nft_do_chain"),
            (1027, "xmit", "xmit"),
            (1028, "xmit [veth]", "veth:xmit"),
            (1029, "xmit [vxlan]", "vxlan:xmit"),
        ];
        let want: Vec<_> = want
            .iter()
            .map(|(i, d, k)| (*i, d.to_string(), k.to_string()))
            .collect();
        assert_eq!(got, want);
        assert_eq!((c.modules, c.not_traceable), (4, 1));
        assert!(
            c.caveats()
                .starts_with("6 functions (4 of them in 4 modules) take an skb"),
            "{}",
            c.caveats()
        );
        // `func xmit` names the kernel's and both modules'.
        let globs = ["xmit".to_string()];
        assert_eq!(c.select(&globs).count(), 3);
    }

    #[test]
    fn drop_functions_put_their_reason_position_in_the_cookie() {
        let c = sample();
        let kfree = c.get(1027).expect("kfree_skb_reason");
        assert_eq!((kfree.reason_position, kfree.is_drop()), (2, true));
        assert_eq!(kfree.cookie(), 1027 | 2 << 32);
        let ip_rcv = c.get(1025).expect("ip_rcv");
        assert_eq!((ip_rcv.reason_position, ip_rcv.is_drop()), (0, false));
        assert_eq!(ip_rcv.cookie(), 1025);
        // A reason the programs cannot read is no reason.
        let far = SkbFunc {
            reason_position: 6,
            ..f("far_reason", 1)
        };
        let c = FuncCatalog::build(
            vec![far],
            None,
            Traceable::FilterFunctions { path: "t".into() },
        );
        assert_eq!(c.all()[0].reason_position, 0);
    }

    #[test]
    fn globs_select_functions() {
        let c = sample();
        let globs = ["ip_rcv*".to_string(), "tcp_v4_*".to_string()];
        let picked: Vec<_> = c.select(&globs).map(|f| f.name.as_str()).collect();
        assert_eq!(picked, ["ip_rcv", "ip_rcv_core", "tcp_v4_rcv"]);
        assert_eq!(c.select(&["*".to_string()]).count(), 5);
        let mut table = HookNames::tracepoints();
        c.add_to(&mut table);
        assert_eq!(table.name(1028), Some("tcp_v4_rcv"));
        assert_eq!(table.matching("ip_rcv*").collect::<Vec<_>>(), [1025, 1026]);
    }

    #[test]
    fn without_a_list_every_btf_function_is_kept() {
        let c = FuncCatalog::build(
            vec![f("a", 1), f("b", 2)],
            None,
            Traceable::Unchecked {
                why: NoFilterList {
                    misses: vec![FilterListMiss::NotMounted {
                        dir: "/sys/kernel/tracing",
                    }],
                },
                kallsyms: KallsymsMiss::HidesAddresses,
            },
        );
        assert_eq!(c.all().len(), 2);
        assert!(
            c.caveats().contains(
                "not checked for probe-ability (tracefs is not mounted at /sys/kernel/tracing; \
                 /proc/kallsyms hides addresses)"
            ),
            "{}",
            c.caveats()
        );
    }

    #[test]
    fn discovery_on_this_kernel_intersects_btf_with_what_can_be_probed() {
        if !Path::new(crate::btf_types::KERNEL_BTF).exists() {
            eprintln!("skipped: no kernel BTF on this machine");
            return;
        }
        let c = FuncCatalog::discover(&KernelBtf::running()).expect("kernel BTF is readable");
        assert!(c.all().len() > 300, "{}", c.caveats());
        // ip_rcv takes the skb first on every kernel ferret supports.
        let ip_rcv = c.all().iter().find(|f| f.name == "ip_rcv");
        assert_eq!(ip_rcv.map(|f| f.position), Some(1), "{}", c.caveats());
        assert_eq!(ip_rcv.map(|f| f.reason_position), Some(0));
        match &c.source {
            Traceable::FilterFunctions { path } => assert!(path.ends_with("functions")),
            Traceable::Kallsyms { why } | Traceable::Unchecked { why, .. } => {
                let why = why.to_string();
                assert!(why.contains("available_filter_functions") || why.contains("tracefs"))
            }
        }
    }

    /// Drop functions are found by their `enum skb_drop_reason` parameter,
    /// not by name: (skb, reason) positions on the kernels that have them.
    #[test]
    fn drop_functions_of_this_kernel_are_found_from_btf() {
        if !Path::new(crate::btf_types::KERNEL_BTF).exists() {
            eprintln!("skipped: no kernel BTF on this machine");
            return;
        }
        let btf = KernelBtf::running();
        let funcs = btf.skb_functions().expect("kernel BTF is readable");
        let at = |name: &str| {
            funcs
                .iter()
                .find(|f| f.name == name)
                .map(|f| (f.position, f.reason_position))
        };
        let kfree = at("kfree_skb_reason");
        let sk_drop = at("sk_skb_reason_drop");
        assert!(
            kfree.is_some() || sk_drop.is_some(),
            "a kernel with BTF has kfree_skb_reason (5.17-6.10) or sk_skb_reason_drop (6.11+)"
        );
        if let Some(p) = kfree {
            assert_eq!(p, (1, 2));
        }
        if let Some(p) = sk_drop {
            assert_eq!(p, (2, 3));
        }
        assert_eq!(at("ip_rcv"), Some((1, 0)));
        assert!(funcs
            .iter()
            .filter(|f| f.reason_position != 0)
            .all(|f| f.reason_position != f.position));
    }
}
