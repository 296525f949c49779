//! The object's maps, taken out of aya's `Ebpf` once at load and kept in
//! their typed aya wrappers: each map's name is written here only, its key
//! and value types are checked against the object once, and every later
//! access is a plain field of [`Maps`].
//!
//! Taking a map out of `Ebpf` leaves the programs' instructions alone
//! (aya wrote the map descriptors into them at load), so the maps only
//! have to outlive the programs, which they do: both live in `Kernel`.

use crate::error::KernelError;
use crate::wire::Wire;
use aya::maps::{
    Array, HashMap, Map, MapData, MapError, PerCpuArray, PerCpuHashMap, RingBuf, StackTraceMap,
};
use aya::{Ebpf, Pod};
use ferret_core::abi::{
    AggKey, CbpfFrame, CbpfProg, CompactKey, Config, Counters, Dense, Hist, Limit, Meta, Rule,
};

/// The event ring's name: its size is set before load (lib.rs).
pub(crate) const RING: &str = "ring";

/// A map in its aya type, with the name its errors carry.
pub(crate) struct Named<M> {
    pub(crate) name: &'static str,
    pub(crate) map: M,
}

impl<M> Named<M> {
    /// Takes map `name` out of the object as an `M`.
    fn take(ebpf: &mut Ebpf, name: &'static str) -> Result<Named<M>, KernelError>
    where
        M: TryFrom<Map, Error = MapError>,
    {
        let map = ebpf.take_map(name).ok_or(KernelError::MissingObject {
            kind: "map",
            name: name.into(),
        })?;
        let map = M::try_from(map).map_err(|e| KernelError::map(name, e))?;
        Ok(Named { name, map })
    }

    /// An error of this map.
    pub(crate) fn error(&self, source: MapError) -> KernelError {
        KernelError::map(self.name, source)
    }
}

impl<V: Pod> Named<Array<MapData, V>> {
    pub(crate) fn get(&self, index: u32) -> Result<V, KernelError> {
        self.map.get(&index, 0).map_err(|e| self.error(e))
    }

    pub(crate) fn set(&mut self, index: u32, value: V) -> Result<(), KernelError> {
        self.map.set(index, value, 0).map_err(|e| self.error(e))
    }
}

/// Every map userspace reads or writes, by what it holds (see
/// ebpf/maps.bpf.h for the kernel's side).
pub(crate) struct Maps {
    pub(crate) rules: Named<Array<MapData, Wire<Rule>>>,
    pub(crate) config: Named<Array<MapData, Wire<Config>>>,
    pub(crate) limits: Named<Array<MapData, Wire<Limit>>>,
    pub(crate) counters: Named<PerCpuArray<MapData, Wire<Counters>>>,
    pub(crate) guard_skips: Named<PerCpuArray<MapData, Wire<u64>>>,
    pub(crate) hists: Named<PerCpuArray<MapData, Wire<Hist>>>,
    pub(crate) dense: Named<PerCpuArray<MapData, Wire<Dense>>>,
    pub(crate) counts: Named<PerCpuHashMap<MapData, Wire<AggKey>, u64>>,
    pub(crate) compact: Named<PerCpuHashMap<MapData, Wire<CompactKey>, u64>>,
    pub(crate) track: Named<HashMap<MapData, u64, u64>>,
    pub(crate) stacks: Named<StackTraceMap<MapData>>,
    pub(crate) tp_slot_arg: Named<Array<MapData, u32>>,
    pub(crate) func_rules: Named<Array<MapData, u64>>,
    pub(crate) test_meta: Named<Array<MapData, Wire<Meta>>>,
    pub(crate) pcap_progs: Named<Array<MapData, Wire<CbpfProg>>>,
    pub(crate) cbpf_test_frame: Named<Array<MapData, Wire<CbpfFrame>>>,
    /// The event ring, until [`Kernel::take_events`](crate::Kernel::take_events) takes it.
    pub(crate) ring: Option<Named<RingBuf<MapData>>>,
}

impl Maps {
    /// Takes the maps out of the freshly loaded object.
    pub(crate) fn take(ebpf: &mut Ebpf) -> Result<Maps, KernelError> {
        Ok(Maps {
            rules: Named::take(ebpf, "rules")?,
            config: Named::take(ebpf, "config")?,
            limits: Named::take(ebpf, "limits")?,
            counters: Named::take(ebpf, "counters")?,
            guard_skips: Named::take(ebpf, "guard_skips")?,
            hists: Named::take(ebpf, "agg_hists")?,
            dense: Named::take(ebpf, "agg_dense")?,
            counts: Named::take(ebpf, "agg_counts")?,
            compact: Named::take(ebpf, "agg_compact")?,
            track: Named::take(ebpf, "track")?,
            stacks: Named::take(ebpf, "stacks")?,
            tp_slot_arg: Named::take(ebpf, "tp_slot_arg")?,
            func_rules: Named::take(ebpf, "func_rules")?,
            test_meta: Named::take(ebpf, "test_meta")?,
            pcap_progs: Named::take(ebpf, "pcap_progs")?,
            cbpf_test_frame: Named::take(ebpf, "cbpf_test_frame")?,
            ring: Some(Named::take(ebpf, RING)?),
        })
    }
}

impl std::fmt::Debug for Maps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Maps")
            .field("ring_taken", &self.ring.is_none())
            .finish_non_exhaustive()
    }
}
