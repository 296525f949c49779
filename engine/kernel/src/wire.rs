//! ferret_core's ABI types as aya map values. aya's maps want its own `Pod`
//! trait, which the pure core does not depend on; this wrapper lends it to
//! every type the core vouches for with `abi::Plain`.

use ferret_core::abi::Plain;

/// A plain ABI value as it sits in a map.
#[repr(transparent)]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Wire<T>(pub T);

// SAFETY: `Wire` is repr(transparent) over a `Plain` type, which is repr(C)
// with no implicit padding and valid for every bit pattern (abi::Plain's
// contract); that is aya::Pod's contract too.
unsafe impl<T: Plain> aya::Pod for Wire<T> {}
