//! Facts read for one drop answer the drops that follow within a second:
//! a storm of drops for the same cause runs `ip`, `tc` or `ss` once a
//! second, not once a drop.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// How long one reading answers.
pub const FRESH: Duration = Duration::from_secs(1);

/// Readings by what they were read for.
#[derive(Debug)]
pub struct Fresh<K, V> {
    read: HashMap<K, (Instant, V)>,
}

impl<K, V> Default for Fresh<K, V> {
    fn default() -> Self {
        Fresh {
            read: HashMap::new(),
        }
    }
}

impl<K: Hash + Eq, V: Clone> Fresh<K, V> {
    /// The reading for `key`, read again by `read` when older than [`FRESH`].
    pub fn get(&mut self, key: K, read: impl FnOnce() -> V) -> V {
        self.forget_stale();
        self.read
            .entry(key)
            .or_insert_with(|| (Instant::now(), read()))
            .1
            .clone()
    }

    /// As [`Fresh::get`], but a new reading only while `budget` allows
    /// one; `None` when it does not.
    pub fn get_within(
        &mut self,
        key: K,
        budget: &mut Budget,
        read: impl FnOnce() -> V,
    ) -> Option<V> {
        self.forget_stale();
        if let Some((_, v)) = self.read.get(&key) {
            return Some(v.clone());
        }
        budget.take().then(|| self.get(key, read))
    }

    /// Old readings of every key go, so the map stays small.
    fn forget_stale(&mut self) {
        let now = Instant::now();
        self.read
            .retain(|_, (at, _)| now.duration_since(*at) < FRESH);
    }
}

/// New readings per second, over all causes: drops of many different
/// flows or sources (a spoofed flood) would otherwise run a tool per drop
/// and hold up the session's events.
#[derive(Debug)]
pub struct Budget {
    per_second: u32,
    window: Instant,
    used: u32,
}

impl Budget {
    pub fn new(per_second: u32) -> Budget {
        Budget {
            per_second,
            window: Instant::now(),
            used: 0,
        }
    }

    pub fn per_second(&self) -> u32 {
        self.per_second
    }

    /// Uses one reading of this second's, if any is left.
    pub fn take(&mut self) -> bool {
        if self.window.elapsed() >= FRESH {
            self.window = Instant::now();
            self.used = 0;
        }
        let left = self.used < self.per_second;
        self.used += u32::from(left);
        left
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reading_answers_for_a_second_then_is_read_again() {
        let mut f: Fresh<u32, u32> = Fresh::default();
        assert_eq!(f.get(1, || 10), 10);
        assert_eq!(f.get(1, || 11), 10, "still fresh");
        assert_eq!(f.get(2, || 20), 20, "another key is read");
        f.read.get_mut(&1).unwrap().0 -= FRESH;
        assert_eq!(f.get(1, || 12), 12, "stale: read again");
    }

    #[test]
    fn new_readings_stop_when_the_seconds_budget_is_spent() {
        let mut f: Fresh<u32, u32> = Fresh::default();
        let mut b = Budget::new(2);
        assert_eq!(f.get_within(1, &mut b, || 10), Some(10));
        assert_eq!(f.get_within(2, &mut b, || 20), Some(20));
        assert_eq!(f.get_within(3, &mut b, || 30), None, "spent");
        assert_eq!(
            f.get_within(1, &mut b, || 11),
            Some(10),
            "fresh ones still answer"
        );
        b.window -= FRESH;
        assert_eq!(f.get_within(3, &mut b, || 30), Some(30), "a new second");
    }
}
