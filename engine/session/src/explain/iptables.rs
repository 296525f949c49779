//! Rules that iptables-nft made (ufw, Docker, kube-proxy) are nftables
//! rules in tables named like iptables' (`ip filter`, `ip6 nat`, ...):
//! the trace names them, and here they are also given as `iptables-save`
//! prints them, with their comment. A rule is found by its place in the
//! chain: `nft -a list chain` and `iptables-nft-save` list a chain's
//! rules in the kernel's order; when the two lists differ in length (a
//! rule came or went in between), nothing is claimed.

use super::netns::Netns;
use ferret_core::verdict::NftVerdict;

/// iptables' table names.
const TABLES: [&str; 5] = ["filter", "nat", "mangle", "raw", "security"];

/// The rule of verdict `v` as `iptables-save` prints it, when it is an
/// iptables-nft rule.
pub fn save_form(ns: &Netns, v: &NftVerdict) -> Option<String> {
    let handle = v.handle?;
    let tool = match v.family.as_str() {
        "ip" => "iptables-nft-save",
        "ip6" => "ip6tables-nft-save",
        _ => return None,
    };
    if !TABLES.contains(&v.table.as_str()) {
        return None;
    }
    let listed = ns
        .nft_output(&["-a", "list", "chain", &v.family, &v.table, &v.chain])
        .ok()?;
    let handles = rule_handles(&listed);
    let index = handles.iter().position(|h| *h == handle)?;
    let saved = ns.output(tool, &["-t", &v.table]).ok()?;
    let rules = chain_rules(&saved, &v.chain);
    (rules.len() == handles.len()).then(|| rules[index].clone())
}

/// The handles of a chain's rules, in order (`... # handle N`; the
/// chain's own line is not a rule).
fn rule_handles(listed: &str) -> Vec<u64> {
    listed
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("chain ") && !l.starts_with("table "))
        .filter_map(|l| l.rsplit_once("# handle ")?.1.trim().parse().ok())
        .collect()
}

/// The `-A CHAIN ...` lines of `iptables-save` for `chain`.
fn chain_rules(saved: &str, chain: &str) -> Vec<String> {
    let prefix = format!("-A {chain} ");
    saved
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .map(str::to_string)
        .collect()
}

/// `--comment "words"` or `--comment word` of an iptables-save line.
pub fn comment_of(rule: &str) -> Option<String> {
    let rest = rule.split_once("--comment ")?.1;
    match rest.strip_prefix('"') {
        Some(quoted) => {
            let mut out = String::new();
            let mut chars = quoted.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => out.extend(chars.next()),
                    '"' => return Some(out),
                    c => out.push(c),
                }
            }
            None
        }
        None => rest.split_whitespace().next().map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTED: &str = "table ip filter {
\tchain INPUT { # handle 1
\t\ttype filter hook input priority filter; policy accept;
\t\ttcp dport 1 counter packets 0 bytes 0 accept # handle 3
\t\tudp dport 6000  counter packets 0 bytes 0 drop # handle 2
\t}
}
";
    const SAVED: &str = "*filter
:INPUT ACCEPT [0:0]
-A INPUT -p tcp -m tcp --dport 1 -j ACCEPT
-A INPUT -p udp -m udp --dport 6000 -m comment --comment \"legacy \\\"app\\\"\" -j DROP
-A INPUTX -j DROP
COMMIT
";

    #[test]
    fn a_rule_is_found_by_its_place_in_the_chain() {
        assert_eq!(rule_handles(LISTED), vec![3, 2]);
        let rules = chain_rules(SAVED, "INPUT");
        assert_eq!(rules.len(), 2);
        assert!(rules[1].contains("--dport 6000"));
    }

    #[test]
    fn comments_are_read_quoted_or_bare() {
        let rules = chain_rules(SAVED, "INPUT");
        assert_eq!(comment_of(&rules[1]).as_deref(), Some("legacy \"app\""));
        assert_eq!(
            comment_of("-A ufw-user-input -m comment --comment ufw -j DROP").as_deref(),
            Some("ufw")
        );
        assert_eq!(comment_of(&rules[0]), None);
    }
}
