//! The values abstract_run.rs computes with: 32-bit words of which some
//! bits are known (a "tristate number": known ones, known zeros, unknown),
//! and whether a word is still the excluded load's value, untouched.

/// A 32-bit value with some bits unknown; `value` is 0 where `unknown` is 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Bits {
    pub(super) value: u32,
    pub(super) unknown: u32,
}

impl Bits {
    pub(super) const ANY: Bits = Bits {
        value: 0,
        unknown: u32::MAX,
    };

    pub(super) const fn known(value: u32) -> Bits {
        Bits { value, unknown: 0 }
    }

    pub(super) fn exact(self) -> Option<u32> {
        (self.unknown == 0).then_some(self.value)
    }

    pub(super) fn min(self) -> u32 {
        self.value
    }

    pub(super) fn max(self) -> u32 {
        self.value | self.unknown
    }

    pub(super) fn and(self, o: Bits) -> Bits {
        let unknown = (self.unknown | o.unknown) & self.max() & o.max();
        Bits {
            value: self.value & o.value & !unknown,
            unknown,
        }
    }

    pub(super) fn or(self, o: Bits) -> Bits {
        let value = self.value | o.value;
        Bits {
            value,
            unknown: (self.unknown | o.unknown) & !value,
        }
    }

    pub(super) fn shift(self, by: u32, left: bool) -> Bits {
        match (by >= 32, left) {
            (true, _) => Bits::known(0),
            (false, true) => Bits {
                value: self.value << by,
                unknown: self.unknown << by,
            },
            (false, false) => Bits {
                value: self.value >> by,
                unknown: self.unknown >> by,
            },
        }
    }
}

/// A register or scratch word: its bits, and whether it is still the
/// excluded load's value untouched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Val {
    pub(super) bits: Bits,
    pub(super) excluded: bool,
}

impl Val {
    pub(super) const ANY: Val = Val {
        bits: Bits::ANY,
        excluded: false,
    };

    pub(super) const fn known(v: u32) -> Val {
        Val {
            bits: Bits::known(v),
            excluded: false,
        }
    }

    pub(super) fn of(bits: Bits) -> Val {
        Val {
            bits,
            excluded: false,
        }
    }
}
