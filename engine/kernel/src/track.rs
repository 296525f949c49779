//! How full the track map is. It is an LRU map: when full, the kernel
//! forgets the oldest tracked skb to make room, so a session that filled it
//! says so rather than letting `track` quietly stop following packets.

use super::{Kernel, KernelError};
use aya::maps::IterableMap;

impl Kernel {
    /// (entries now, capacity) of the track map.
    pub fn track_usage(&self) -> Result<(u64, u64), KernelError> {
        let track = &self.maps.track;
        let capacity = track
            .map
            .map()
            .info()
            .map_err(|e| track.error(e))?
            .max_entries();
        let live = track.map.keys().filter(Result::is_ok).count() as u64;
        Ok((live, u64::from(capacity)))
    }
}
