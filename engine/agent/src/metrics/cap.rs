//! Caps the series of a `count by` rule: addresses and ports can make
//! millions of keys, and a series per key would swamp Prometheus. Each
//! rule shows at most `cap` keys; the rest are summed into one series
//! whose by-labels all read `other`, and how many keys were folded is a
//! metric of its own. The keys shown are sticky: a key once shown stays
//! shown, and one folded stays folded (until the rule is removed), so each
//! series, `other` included, only grows — as a Prometheus counter must.
//! The keys first shown are the most frequent at the first scrape that saw
//! them.

use std::collections::{BTreeMap, HashMap, HashSet};

/// The label value of the series that sums the folded keys.
pub const OTHER: &str = "other";

#[derive(Debug, Default)]
pub struct SeriesCap {
    pub cap: usize,
    shown: HashMap<usize, HashSet<Vec<String>>>,
    /// Rules that have had an `other` series (it stays once it appeared).
    with_other: HashSet<usize>,
}

/// One rule's series after capping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capped {
    pub shown: Vec<(Vec<String>, u64)>,
    /// The sum of the folded keys, when the rule has an `other` series.
    pub other: Option<u64>,
    /// Keys in the kernel's table, and how many of them are folded.
    pub keys: usize,
    pub folded: usize,
}

impl SeriesCap {
    pub fn new(cap: usize) -> SeriesCap {
        SeriesCap {
            cap,
            ..SeriesCap::default()
        }
    }

    /// `rows`: the rule's keys as label values, with their counts.
    pub fn apply(&mut self, rule: usize, rows: BTreeMap<Vec<String>, u64>) -> Capped {
        let shown = self.shown.entry(rule).or_default();
        let keys = rows.len();
        let mut ordered: Vec<(Vec<String>, u64)> = rows.into_iter().collect();
        // Most frequent first, so that the first keys shown are the top ones.
        ordered.sort_by(|(ka, a), (kb, b)| b.cmp(a).then_with(|| ka.cmp(kb)));
        let mut out = Vec::new();
        let mut other = 0;
        let mut folded = 0;
        for (key, n) in ordered {
            if shown.contains(&key) || shown.len() < self.cap {
                shown.insert(key.clone());
                out.push((key, n));
            } else {
                other += n;
                folded += 1;
            }
        }
        if folded > 0 {
            self.with_other.insert(rule);
        }
        out.sort();
        Capped {
            shown: out,
            other: self.with_other.contains(&rule).then_some(other),
            keys,
            folded,
        }
    }

    /// Forgets the rules no longer running.
    pub fn retain(&mut self, running: &HashSet<usize>) {
        self.shown.retain(|id, _| running.contains(id));
        self.with_other.retain(|id| running.contains(id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(pairs: &[(&str, u64)]) -> BTreeMap<Vec<String>, u64> {
        pairs
            .iter()
            .map(|(k, n)| (vec![k.to_string()], *n))
            .collect()
    }

    #[test]
    fn the_top_keys_are_shown_and_the_rest_summed() {
        let mut cap = SeriesCap::new(2);
        let c = cap.apply(1, rows(&[("a", 1), ("b", 50), ("c", 20), ("d", 5)]));
        let shown: Vec<&str> = c.shown.iter().map(|(k, _)| k[0].as_str()).collect();
        assert_eq!(shown, ["b", "c"]);
        assert_eq!(c.other, Some(6));
        assert_eq!((c.keys, c.folded), (4, 2));
    }

    #[test]
    fn shown_keys_stay_shown_so_every_series_only_grows() {
        let mut cap = SeriesCap::new(2);
        cap.apply(1, rows(&[("a", 10), ("b", 9), ("c", 1)]));
        // `c` overtakes both: it stays in `other`, which grows with it.
        let c = cap.apply(1, rows(&[("a", 10), ("b", 9), ("c", 100)]));
        assert_eq!(c.shown, vec![(vec!["a".into()], 10), (vec!["b".into()], 9)]);
        assert_eq!(c.other, Some(100));
    }

    #[test]
    fn below_the_cap_there_is_no_other_series() {
        let mut cap = SeriesCap::new(10);
        let c = cap.apply(1, rows(&[("a", 1)]));
        assert_eq!(c.other, None);
        cap.retain(&HashSet::new());
        assert!(cap.shown.is_empty());
    }
}
