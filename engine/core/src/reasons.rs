//! Drop reason names (`enum skb_drop_reason`); ferret_kernel reads them
//! from the running kernel's BTF. The numbers differ between kernels
//! (NETFILTER_DROP is 12 on 6.18, 11 on 6.12, 7 on 6.1); the names don't,
//! so nothing here is hard-coded.

use std::collections::BTreeMap;

/// The prefix the kernel's enum puts before every name.
pub const PREFIX: &str = "SKB_DROP_REASON_";

/// Drop reasons by value, names without the `SKB_DROP_REASON_` prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DropReasons {
    by_value: BTreeMap<u32, String>,
}

impl DropReasons {
    /// A table from values and names without the prefix (the kernel's BTF).
    pub fn from_values(by_value: BTreeMap<u32, String>) -> DropReasons {
        DropReasons { by_value }
    }

    /// A table from explicit pairs (tests, recorded sessions).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, u32)>) -> DropReasons {
        DropReasons {
            by_value: pairs.into_iter().map(|(n, v)| (v, n.to_string())).collect(),
        }
    }

    /// Accepts `netfilter_drop`, `NETFILTER_DROP` and
    /// `SKB_DROP_REASON_NETFILTER_DROP` alike.
    pub fn value_of(&self, name: &str) -> Option<u32> {
        let upper = name.to_ascii_uppercase();
        let short = upper.strip_prefix(PREFIX).unwrap_or(&upper);
        self.by_value
            .iter()
            .find(|(_, n)| n.as_str() == short)
            .map(|(v, _)| *v)
    }

    /// The short name (`NETFILTER_DROP`) of a value.
    pub fn name_of(&self, value: u32) -> Option<&str> {
        self.by_value.get(&value).map(String::as_str)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_value
            .values()
            .map(String::as_str)
            .filter(|n| *n != "MAX")
    }

    /// How many reasons there are, as [`DropReasons::names`] lists them
    /// (the enum's `MAX` sentinel is not a reason).
    pub fn len(&self) -> usize {
        self.names().count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_accepted_in_every_spelling() {
        let r = DropReasons::from_pairs([("NOT_SPECIFIED", 2), ("NETFILTER_DROP", 12)]);
        assert_eq!(r.value_of("netfilter_drop"), Some(12));
        assert_eq!(r.value_of("SKB_DROP_REASON_NETFILTER_DROP"), Some(12));
        assert_eq!(r.value_of("NETFILTER"), None);
        assert_eq!(r.name_of(2), Some("NOT_SPECIFIED"));
    }

    #[test]
    fn the_max_sentinel_is_not_counted_as_a_reason() {
        let r = DropReasons::from_pairs([("NOT_SPECIFIED", 2), ("MAX", 3)]);
        assert_eq!(r.len(), 1);
        assert_eq!(r.names().collect::<Vec<_>>(), ["NOT_SPECIFIED"]);
        assert!(DropReasons::from_pairs([("MAX", 1)]).is_empty());
    }
}
