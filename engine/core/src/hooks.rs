//! Names of the places an event can come from, by the id the kernel side
//! puts in `meta.func_id`: the built-in tracepoints (id = hook id), `tp`
//! slots, and — with the function backends — kernel functions.

use crate::abi::hook;
use std::collections::BTreeMap;

/// The tracepoint behind each built-in trigger: (trigger, hook, category:name).
pub const TRACEPOINT_TRIGGERS: &[(&str, u32, &str)] = &[
    ("drop", hook::DROP, "skb:kfree_skb"),
    ("free", hook::FREE, "skb:consume_skb"),
    ("recv", hook::RECV, "net:netif_receive_skb"),
    ("xmit", hook::XMIT, "net:net_dev_start_xmit"),
    ("queue", hook::QUEUE, "net:net_dev_queue"),
];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HookNames {
    names: BTreeMap<u32, String>,
}

impl HookNames {
    /// The table every session starts with: the built-in tracepoints, named
    /// by their tracepoint (`kfree_skb`, `netif_receive_skb`, ...).
    pub fn tracepoints() -> HookNames {
        let mut t = HookNames::default();
        for (_, id, tp) in TRACEPOINT_TRIGGERS {
            let name = tp.split_once(':').map_or(*tp, |(_, n)| n);
            t.insert(*id, name);
        }
        t
    }

    pub fn insert(&mut self, id: u32, name: &str) {
        self.names.insert(id, name.to_string());
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
    fn globs_match_like_a_shell() {
        assert!(glob_match("ip_*", "ip_rcv"));
        assert!(glob_match("*", ""));
        assert!(glob_match("tcp_v?_rcv", "tcp_v4_rcv"));
        assert!(glob_match("*skb*", "kfree_skb"));
        assert!(!glob_match("ip_*", "ipv6_rcv"));
        assert!(!glob_match("ip_rcv", "ip_rcv_core"));
    }

    #[test]
    fn tracepoints_are_named_after_their_tracepoint() {
        let t = HookNames::tracepoints();
        assert_eq!(t.name(hook::DROP), Some("kfree_skb"));
        assert_eq!(t.matching("*xmit").collect::<Vec<_>>(), vec![hook::XMIT]);
    }
}
