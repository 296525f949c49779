//! The ring buffer reader. Records are read from the memory-mapped ring
//! (no syscall per record); the only syscalls are the epoll waits, and the
//! kernel side batches wakeups (`Config::wakeup_bytes`), so callers also
//! wait with a short timeout and drain whatever is there.

use super::{Kernel, KernelError};
use aya::maps::{MapData, RingBuf};
use std::time::Duration;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// At most this many records per [`EventStream::drain`] call, so that a
/// producer faster than the consumer cannot keep the caller from checking
/// signals and deadlines.
pub const DRAIN_BATCH: usize = 1 << 16;

pub struct EventStream {
    ring: AsyncFd<RingBuf<MapData>>,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream").finish_non_exhaustive()
    }
}

impl Kernel {
    /// The event reader. Once per `Kernel`; must be called inside a tokio
    /// runtime (the ring's fd is registered with its reactor).
    pub fn take_events(&mut self) -> Result<EventStream, KernelError> {
        if self.maps.ring.is_none() {
            return Err(KernelError::EventsTaken);
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(KernelError::NoRuntime);
        }
        let ring = self.maps.ring.take().expect("checked above").map;
        // SAFETY: the RingBuf owns its map's fd, which stays open and the
        // same for as long as the RingBuf (now the AsyncFd's inner) lives.
        let ring = unsafe { AsyncFd::register_with_interest(ring, Interest::READABLE) }
            .map_err(|e| KernelError::Poll { source: e.into() })?;
        Ok(EventStream { ring })
    }
}

impl EventStream {
    /// Returns when the kernel signals new data or after `timeout`,
    /// whichever is first. Cancel-safe (fine inside `tokio::select!`).
    pub async fn wait(&mut self, timeout: Duration) {
        if let Ok(Ok(mut guard)) = tokio::time::timeout(timeout, self.ring.readable_mut()).await {
            // Cleared before the caller drains: data arriving after this
            // point raises readiness again instead of being missed.
            guard.clear_ready();
        }
    }

    /// Calls `f` with each pending record (an `abi::EventHeader` and any
    /// captured bytes, see `ferret_core::event::decode`); returns how many. Stops
    /// after [`DRAIN_BATCH`] records; call again to continue.
    pub fn drain(&mut self, mut f: impl FnMut(&[u8])) -> usize {
        let ring = self.ring.get_mut();
        let mut n = 0;
        while n < DRAIN_BATCH {
            let Some(record) = ring.next() else { break };
            f(&record);
            n += 1;
        }
        n
    }
}
