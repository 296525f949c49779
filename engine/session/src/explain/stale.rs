//! Tables a killed ferret left: `ferret_explain_<pid>` whose process is
//! gone. A table with the `owner` flag goes with its process; this is for
//! kernels before 5.12, where the flag does not exist, and for a ferret
//! killed before it could delete a plain table.

use super::netns;

/// Deletes stale tables in every named namespace and ferret's own; returns
/// how many. Only runs when a session has an `explain` rule.
pub fn remove_stale_tables() -> usize {
    let mut removed = 0;
    for ns in netns::all_known() {
        let Ok(listed) = ns.nft_output(&["list", "tables"]) else {
            continue;
        };
        for (family, name) in stale_names(&listed, |pid| {
            std::path::Path::new(&format!("/proc/{pid}")).exists()
        }) {
            if ns.nft_output(&["delete", "table", family, &name]).is_ok() {
                removed += 1;
            }
        }
    }
    removed
}

/// The tables (family, name) of `nft list tables` output that are
/// ferret's (inet, and bridge for bridged packets) and whose pid is not alive.
fn stale_names(listed: &str, alive: impl Fn(u32) -> bool) -> Vec<(&'static str, String)> {
    listed
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            ["inet", "bridge"].into_iter().find_map(|f| {
                Some((
                    f,
                    l.strip_prefix("table ")?
                        .strip_prefix(f)?
                        .strip_prefix(' ')?,
                ))
            })
        })
        .filter_map(|(family, name)| {
            let pid: u32 = name.strip_prefix("ferret_explain_")?.parse().ok()?;
            (!alive(pid)).then(|| (family, name.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_ferrets_tables_of_dead_pids_are_stale() {
        let listed = "table ip filter\ntable inet ferret_explain_10\ntable inet ferret_explain_11\ntable inet ferret_explain_x\ntable ip ferret_explain_12\ntable bridge ferret_explain_10\ntable bridge ferret_explain_11\n";
        assert_eq!(
            super::stale_names(listed, |pid| pid == 11),
            vec![
                ("inet", "ferret_explain_10".to_string()),
                ("bridge", "ferret_explain_10".to_string())
            ]
        );
    }
}
