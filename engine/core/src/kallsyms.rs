//! Kernel addresses → `symbol+0xoff`, from /proc/kallsyms read once (after
//! attach, so symbols of modules loaded for the probes are there too).

use std::path::Path;

static PREOPENED: std::sync::Mutex<Option<std::fs::File>> = std::sync::Mutex::new(None);

#[derive(Debug, Clone, Default)]
pub struct Kallsyms {
    /// Sorted by address.
    syms: Vec<(u64, String)>,
}

impl Kallsyms {
    pub fn load() -> std::io::Result<Kallsyms> {
        Kallsyms::from_file(Path::new("/proc/kallsyms"))
    }

    /// Opens /proc/kallsyms to read later, e.g. on another thread: whether
    /// it shows addresses is decided at open, by the opener's privileges,
    /// so opening before giving up root keeps them. Takes the file
    /// [`Kallsyms::preopen`] opened, if any.
    pub fn open() -> std::io::Result<std::fs::File> {
        let preopened = PREOPENED.lock().ok().and_then(|mut f| f.take());
        match preopened {
            Some(file) => Ok(file),
            None => std::fs::File::open("/proc/kallsyms"),
        }
    }

    /// Opens /proc/kallsyms now for the next [`Kallsyms::open`]: for a
    /// process about to give up root before its first probe.
    pub fn preopen() -> std::io::Result<()> {
        let file = std::fs::File::open("/proc/kallsyms")?;
        if let Ok(mut slot) = PREOPENED.lock() {
            *slot = Some(file);
        }
        Ok(())
    }

    /// Reads a file [`Kallsyms::open`] opened.
    pub fn read_from(mut file: std::fs::File) -> std::io::Result<Kallsyms> {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut file, &mut text)?;
        Ok(Kallsyms::parse(&text))
    }

    pub fn from_file(path: &Path) -> std::io::Result<Kallsyms> {
        Ok(Kallsyms::parse(&std::fs::read_to_string(path)?))
    }

    /// Parses the `ADDR TYPE NAME [MODULE]` lines; only text symbols count,
    /// and all-zero addresses (hidden by kptr_restrict) are dropped.
    pub fn parse(text: &str) -> Kallsyms {
        let mut syms: Vec<(u64, String)> = text
            .lines()
            .filter_map(|line| {
                let mut it = line.split_whitespace();
                let addr = u64::from_str_radix(it.next()?, 16).ok()?;
                let kind = it.next()?;
                let name = it.next()?;
                (addr != 0 && matches!(kind, "t" | "T" | "w" | "W"))
                    .then(|| (addr, name.to_string()))
            })
            .collect();
        syms.sort_unstable_by_key(|(a, _)| *a);
        Kallsyms { syms }
    }

    pub fn is_empty(&self) -> bool {
        self.syms.is_empty()
    }

    /// The symbol containing `addr` and the offset into it.
    pub fn resolve(&self, addr: u64) -> Option<(&str, u64)> {
        let i = self.syms.partition_point(|(a, _)| *a <= addr);
        let (start, name) = self.syms.get(i.checked_sub(1)?)?;
        Some((name.as_str(), addr - start))
    }

    /// `symbol+0xoff`, or the bare address when unknown.
    pub fn describe(&self, addr: u64) -> String {
        match self.resolve(addr) {
            Some((name, off)) => format!("{name}+{off:#x}"),
            None => format!("{addr:#x}"),
        }
    }

    /// Every text symbol's name (some appear more than once).
    pub fn names(&self) -> impl Iterator<Item = String> + '_ {
        self.syms.iter().map(|(_, n)| n.clone())
    }

    /// The address of a symbol (for tests and `func` lookups).
    pub fn address_of(&self, name: &str) -> Option<u64> {
        self.syms.iter().find(|(_, n)| n == name).map(|(a, _)| *a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_inside_the_nearest_symbol_below() {
        let k = Kallsyms::parse("ffffffff81000000 T _stext\nffffffff81000100 t ip_rcv\n0000000000000000 T hidden\nffffffff81000200 D data_sym\nffffffff81000300 T nf_hook_slow [nf]\n");
        assert_eq!(k.resolve(0xffffffff81000150), Some(("ip_rcv", 0x50)));
        assert_eq!(k.describe(0xffffffff81000310), "nf_hook_slow+0x10");
        assert_eq!(k.resolve(0x10), None);
        assert_eq!(k.address_of("hidden"), None);
    }
}
