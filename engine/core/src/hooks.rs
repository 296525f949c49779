//! Names of the places an event can come from, by the id the kernel side
//! puts in `meta.func_id`: the built-in tracepoints (id = hook id), `tp`
//! slots, and — with the function backends — kernel functions.

use crate::abi::hook;
use std::collections::{BTreeMap, BTreeSet};

/// A built-in trigger: a kernel tracepoint with an skb as its first
/// argument, served by a tp_btf program and its raw_tp twin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trigger {
    /// What rules call it (`on drop`).
    pub name: &'static str,
    /// Its hook id (`FERRET_HOOK_<NAME>` on the C side).
    pub hook: u32,
    /// The tracepoint, `category:name`.
    pub tracepoint: &'static str,
    /// The tp_btf program (`SEC("tp_btf/<name>")`).
    pub btf_program: &'static str,
    /// The raw_tp twin (`SEC("raw_tp/<name>")`).
    pub raw_program: &'static str,
}

impl Trigger {
    /// The tracepoint without its category: what tp_btf and raw_tp attach by.
    pub fn event(&self) -> &'static str {
        self.tracepoint
            .split_once(':')
            .map_or(self.tracepoint, |(_, name)| name)
    }
}

/// The built-in triggers, the one list of them: the checker, the planner
/// and the kernel layer (which program to attach for a hook) read it, and
/// the kernel crate's abi_btf test checks the C programs against it.
pub const TRIGGERS: [Trigger; 5] = [
    Trigger {
        name: "drop",
        hook: hook::DROP,
        tracepoint: "skb:kfree_skb",
        btf_program: "ferret_drop_btf",
        raw_program: "ferret_drop_raw",
    },
    Trigger {
        name: "free",
        hook: hook::FREE,
        tracepoint: "skb:consume_skb",
        btf_program: "ferret_free_btf",
        raw_program: "ferret_free_raw",
    },
    Trigger {
        name: "recv",
        hook: hook::RECV,
        tracepoint: "net:netif_receive_skb",
        btf_program: "ferret_recv_btf",
        raw_program: "ferret_recv_raw",
    },
    Trigger {
        name: "xmit",
        hook: hook::XMIT,
        tracepoint: "net:net_dev_start_xmit",
        btf_program: "ferret_xmit_btf",
        raw_program: "ferret_xmit_raw",
    },
    Trigger {
        name: "queue",
        hook: hook::QUEUE,
        tracepoint: "net:net_dev_queue",
        btf_program: "ferret_queue_btf",
        raw_program: "ferret_queue_raw",
    },
];

/// [`TRIGGERS`] as (trigger, hook, category:name), derived at compile time
/// for the callers that match on tuples.
pub const TRACEPOINT_TRIGGERS: &[(&str, u32, &str)] = &trigger_tuples();

const fn trigger_tuples() -> [(&'static str, u32, &'static str); TRIGGERS.len()] {
    let mut out = [("", 0, ""); TRIGGERS.len()];
    let mut i = 0;
    while i < TRIGGERS.len() {
        out[i] = (TRIGGERS[i].name, TRIGGERS[i].hook, TRIGGERS[i].tracepoint);
        i += 1;
    }
    out
}

/// The built-in trigger of a hook id.
pub fn trigger(hook: u32) -> Option<&'static Trigger> {
    TRIGGERS.iter().find(|t| t.hook == hook)
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HookNames {
    names: BTreeMap<u32, String>,
    /// The kernel functions whose calls are drops with a reason; only
    /// meaningful once `functions_known`.
    drops: BTreeSet<u32>,
    /// Whether the kernel's functions were added (a session or a check
    /// that has function triggers); until then nothing is known of them.
    functions_known: bool,
}

impl HookNames {
    /// The table every session starts with: the built-in tracepoints, named
    /// by their tracepoint (`kfree_skb`, `netif_receive_skb`, ...).
    pub fn tracepoints() -> HookNames {
        let mut t = HookNames::default();
        for trigger in &TRIGGERS {
            t.insert(trigger.hook, trigger.event());
        }
        t
    }

    pub fn insert(&mut self, id: u32, name: &str) {
        self.names.insert(id, name.to_string());
    }

    /// A kernel function of the catalog; `drop` when its calls are drops
    /// that carry a reason (`kfree_skb_reason`, `sk_skb_reason_drop`).
    pub fn insert_function(&mut self, id: u32, name: &str, drop: bool) {
        self.insert(id, name);
        if drop {
            self.drops.insert(id);
        }
        self.functions_known = true;
    }

    /// Whether a function matching `glob` may carry a drop reason: true
    /// when one is a drop function, or when the functions are not known.
    pub fn may_carry_reason(&self, glob: &str) -> bool {
        !self.functions_known || self.matching(glob).any(|id| self.drops.contains(&id))
    }

    pub fn name(&self, id: u32) -> Option<&str> {
        self.names.get(&id).map(String::as_str)
    }

    /// Ids whose name matches the glob.
    pub fn matching<'a>(&'a self, pattern: &'a str) -> impl Iterator<Item = u32> + 'a {
        self.names
            .iter()
            .filter(move |(_, n)| glob_match(pattern, n))
            .map(|(id, _)| *id)
    }
}

/// Shell-style glob with `*` and `?` (what `func ip_*` means).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            backtrack = Some((pi, ti));
            pi += 1;
        } else if let Some((bp, bt)) = backtrack {
            pi = bp + 1;
            ti = bt + 1;
            backtrack = Some((bp, bt + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_is_possible_until_the_functions_are_known() {
        let mut t = HookNames::tracepoints();
        assert!(t.may_carry_reason("ip_rcv"));
        t.insert_function(1024, "ip_rcv", false);
        t.insert_function(1025, "sk_skb_reason_drop", true);
        assert!(!t.may_carry_reason("ip_rcv"));
        assert!(!t.may_carry_reason("nothing_matches"));
        assert!(t.may_carry_reason("*"));
        assert!(t.may_carry_reason("sk_skb_*"));
    }

    #[test]
    fn globs_match_like_a_shell() {
        assert!(glob_match("ip_*", "ip_rcv"));
        assert!(glob_match("*", ""));
        assert!(glob_match("tcp_v?_rcv", "tcp_v4_rcv"));
        assert!(glob_match("*skb*", "kfree_skb"));
        assert!(!glob_match("ip_*", "ipv6_rcv"));
        assert!(!glob_match("ip_rcv", "ip_rcv_core"));
    }

    #[test]
    fn triggers_have_one_hook_each_below_the_tp_slots() {
        for (i, t) in TRIGGERS.iter().enumerate() {
            assert!(t.hook < hook::TP0, "{}", t.name);
            assert!(TRIGGERS[..i]
                .iter()
                .all(|o| o.hook != t.hook && o.name != t.name));
            assert_eq!(trigger(t.hook), Some(t));
            assert_eq!(TRACEPOINT_TRIGGERS[i], (t.name, t.hook, t.tracepoint));
        }
        assert_eq!(trigger(hook::TP0), None);
        assert_eq!(TRIGGERS[1].event(), "consume_skb");
    }

    #[test]
    fn tracepoints_are_named_after_their_tracepoint() {
        let t = HookNames::tracepoints();
        assert_eq!(t.name(hook::DROP), Some("kfree_skb"));
        assert_eq!(t.matching("*xmit").collect::<Vec<_>>(), vec![hook::XMIT]);
    }
}
