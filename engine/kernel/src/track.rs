//! How full the track map is. It is an LRU map: when full, the kernel
//! forgets the oldest tracked skb to make room, so a session that filled it
//! says so rather than letting `track` quietly stop following packets.

use super::{Kernel, KernelError};
use aya::maps::{HashMap, IterableMap, MapData};

impl Kernel {
    /// (entries now, capacity) of the track map.
    pub fn track_usage(&self) -> Result<(u64, u64), KernelError> {
        let track: HashMap<&MapData, u64, u64> =
            HashMap::try_from(self.map("track")?).map_err(|e| KernelError::map("track", e))?;
        let capacity = track
            .map()
            .info()
            .map_err(|e| KernelError::map("track", e))?
            .max_entries();
        let live = track.keys().filter(Result::is_ok).count() as u64;
        Ok((live, u64::from(capacity)))
    }
}
