//! Hooks and the global settings: hook ids, `tp` slots, the config entry
//! and each built-in hook's pre-check (`struct ferret_config`).

/// Hook ids (`enum ferret_hook`). The built-in triggers behind the ids
/// below `TP0` are listed in `crate::hooks::TRIGGERS`.
pub mod hook {
    pub const DROP: u32 = 0;
    pub const FREE: u32 = 1;
    pub const RECV: u32 = 2;
    pub const XMIT: u32 = 3;
    pub const QUEUE: u32 = 4;
    pub const TP0: u32 = 8;
    pub const FUNC: u32 = 16;
    /// fentry/fexit on tc programs (`on tc`).
    pub const TC: u32 = 17;
    /// fentry/fexit on XDP programs (`on xdp`).
    pub const XDP: u32 = 18;
}

/// Ids of traced tc/XDP programs: `PROG_ID0 + i`, below the kernel
/// functions' ids (`FERRET_PROG_ID0`, `FERRET_MAX_PROGS`).
pub const PROG_ID0: u32 = 256;
pub const MAX_PROGS: u32 = 768;

/// `meta.prog_at`: where in a traced tc/XDP program an event was taken
/// (`enum ferret_prog_at`).
pub mod prog_at {
    pub const NONE: u16 = 0;
    pub const ENTER: u16 = 1;
    pub const LEAVE: u16 = 2;
}

/// `tp CAT:NAME` triggers at once (`FERRET_TP_SLOTS`).
pub const TP_SLOTS: u32 = 8;
/// The last tracepoint argument a `tp` slot can take the skb from
/// (`FERRET_TP_SKB_ARG_MAX`).
pub const TP_SKB_ARG_MAX: u32 = 4;

/// Pre-check slots: the built-in tracepoint triggers (slot = hook id,
/// 0..7), then the function triggers (`FERRET_GUARD_HOOKS`).
pub const GUARD_HOOKS: usize = 9;
/// The pre-check slot of the function triggers (`FERRET_GUARD_FUNC`).
pub const GUARD_FUNC: usize = 8;

/// The hook whose rules pre-check slot `slot` serves.
pub fn guard_hook(slot: usize) -> u32 {
    if slot == GUARD_FUNC {
        hook::FUNC
    } else {
        slot as u32
    }
}
/// Value ranges one pre-check can hold.
pub const GUARD_RANGES: usize = 4;

/// A hook's pre-check (`struct ferret_guard`): the packet must carry
/// `field` with a value in one of the first `nranges` inclusive ranges, or
/// no rule on the hook can match. `field == 0` turns it off.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Guard {
    pub field: u32,
    pub nranges: u32,
    pub lo: [u64; GUARD_RANGES],
    pub hi: [u64; GUARD_RANGES],
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Config {
    pub nrules: u32,
    pub needs: u32,
    pub hooks: u32,
    pub wakeup_bytes: u32,
    pub guards: [Guard; GUARD_HOOKS],
}
