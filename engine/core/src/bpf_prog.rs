//! `on tc` and `on xdp`: the kinds of BPF program ferret traces, and the
//! names of their verdicts (the return values the kernel acts on).

use crate::abi::{self, hook};
use serde::Serialize;

/// Which BPF programs a trigger traces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProgKind {
    /// tc classifiers and actions (clsact, tcx): SCHED_CLS and SCHED_ACT.
    Tc,
    /// XDP programs.
    Xdp,
}

impl ProgKind {
    pub const ALL: [ProgKind; 2] = [ProgKind::Tc, ProgKind::Xdp];

    /// The trigger word, and the hook's name in events.
    pub fn name(self) -> &'static str {
        match self {
            ProgKind::Tc => "tc",
            ProgKind::Xdp => "xdp",
        }
    }

    /// The hook its events carry.
    pub fn hook(self) -> u32 {
        match self {
            ProgKind::Tc => hook::TC,
            ProgKind::Xdp => hook::XDP,
        }
    }

    pub fn of_hook(h: u32) -> Option<ProgKind> {
        ProgKind::ALL.into_iter().find(|k| k.hook() == h)
    }

    /// The name of a return value, as the kernel's headers spell it
    /// (`TC_ACT_SHOT`, `XDP_DROP`); `None` for values with no name.
    pub fn verdict_name(self, ret: i32) -> Option<&'static str> {
        let names: &[(i32, &str)] = match self {
            ProgKind::Tc => &[
                (-1, "TC_ACT_UNSPEC"),
                (0, "TC_ACT_OK"),
                (1, "TC_ACT_RECLASSIFY"),
                (2, "TC_ACT_SHOT"),
                (3, "TC_ACT_PIPE"),
                (4, "TC_ACT_STOLEN"),
                (5, "TC_ACT_QUEUED"),
                (6, "TC_ACT_REPEAT"),
                (7, "TC_ACT_REDIRECT"),
                (8, "TC_ACT_TRAP"),
            ],
            ProgKind::Xdp => &[
                (0, "XDP_ABORTED"),
                (1, "XDP_DROP"),
                (2, "XDP_PASS"),
                (3, "XDP_TX"),
                (4, "XDP_REDIRECT"),
            ],
        };
        names.iter().find(|(v, _)| *v == ret).map(|(_, n)| *n)
    }

    /// The verdict's name, or its number when it has none.
    pub fn verdict_text(self, ret: i32) -> String {
        self.verdict_name(ret)
            .map_or_else(|| ret.to_string(), str::to_string)
    }
}

/// Where in a traced program an event was taken, and the verdict on leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgPoint {
    Enter,
    Leave { ret: i32 },
}

impl ProgPoint {
    /// From an event's `meta.prog_at` and `meta.location`.
    pub fn of_meta(m: &abi::Meta) -> Option<ProgPoint> {
        match m.prog_at {
            abi::prog_at::ENTER => Some(ProgPoint::Enter),
            abi::prog_at::LEAVE => Some(ProgPoint::Leave {
                ret: m.location as u32 as i32,
            }),
            _ => None,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            ProgPoint::Enter => "enter",
            ProgPoint::Leave { .. } => "leave",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_are_named_as_the_kernel_headers_name_them() {
        assert_eq!(ProgKind::Tc.verdict_name(2), Some("TC_ACT_SHOT"));
        assert_eq!(ProgKind::Tc.verdict_name(0), Some("TC_ACT_OK"));
        assert_eq!(ProgKind::Tc.verdict_name(7), Some("TC_ACT_REDIRECT"));
        assert_eq!(ProgKind::Tc.verdict_name(-1), Some("TC_ACT_UNSPEC"));
        assert_eq!(ProgKind::Xdp.verdict_name(1), Some("XDP_DROP"));
        assert_eq!(ProgKind::Xdp.verdict_name(2), Some("XDP_PASS"));
        assert_eq!(ProgKind::Xdp.verdict_name(4), Some("XDP_REDIRECT"));
        assert_eq!(ProgKind::Xdp.verdict_name(0), Some("XDP_ABORTED"));
        assert_eq!(ProgKind::Xdp.verdict_name(5), None);
        assert_eq!(ProgKind::Xdp.verdict_text(9), "9");
        assert_eq!(ProgKind::Tc.verdict_text(-7), "-7");
    }

    #[test]
    fn kinds_map_to_their_hooks_and_back() {
        for k in ProgKind::ALL {
            assert_eq!(ProgKind::of_hook(k.hook()), Some(k));
        }
        assert_eq!(ProgKind::of_hook(hook::FUNC), None);
    }

    #[test]
    fn the_point_comes_from_prog_at_and_the_verdict_from_location() {
        let mut m = abi::Meta::default();
        assert_eq!(ProgPoint::of_meta(&m), None);
        m.prog_at = abi::prog_at::ENTER;
        assert_eq!(ProgPoint::of_meta(&m), Some(ProgPoint::Enter));
        m.prog_at = abi::prog_at::LEAVE;
        m.location = 0xffff_ffff;
        assert_eq!(ProgPoint::of_meta(&m), Some(ProgPoint::Leave { ret: -1 }));
        assert_eq!(ProgPoint::Leave { ret: 2 }.word(), "leave");
    }
}
