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
        let now = Instant::now();
        // Old readings of other keys go too, so the map stays small.
        self.read
            .retain(|_, (at, _)| now.duration_since(*at) < FRESH);
        self.read
            .entry(key)
            .or_insert_with(|| (now, read()))
            .1
            .clone()
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
}
