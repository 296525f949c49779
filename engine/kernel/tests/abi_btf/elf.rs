//! Just enough of a 64-bit little-endian ELF reader for a BPF object: its
//! sections by name, and which section each function symbol lives in.

/// One section: its name and its bytes.
pub struct Section<'a> {
    pub name: String,
    kind: u32,
    link: u32,
    pub data: &'a [u8],
}

const SHT_SYMTAB: u32 = 2;
const STT_FUNC: u8 = 2;
const SYM_SIZE: usize = 24;

fn u16_at(b: &[u8], at: usize) -> usize {
    u16::from_le_bytes(b[at..at + 2].try_into().unwrap()) as usize
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], at: usize) -> usize {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap()) as usize
}

/// The NUL-terminated string at `at` of a string table.
fn str_at(table: &[u8], at: usize) -> String {
    let end = table[at..].iter().position(|b| *b == 0).unwrap() + at;
    String::from_utf8_lossy(&table[at..end]).into_owned()
}

/// Every section of the object, in header order.
pub fn sections(elf: &[u8]) -> Vec<Section<'_>> {
    assert_eq!(&elf[..4], b"\x7fELF", "not an ELF file");
    assert_eq!((elf[4], elf[5]), (2, 1), "not 64-bit little-endian");
    let (shoff, shentsize) = (u64_at(elf, 0x28), u16_at(elf, 0x3a));
    let (shnum, shstrndx) = (u16_at(elf, 0x3c), u16_at(elf, 0x3e));
    let header = |i: usize| &elf[shoff + i * shentsize..shoff + (i + 1) * shentsize];
    let data = |h: &[u8]| &elf[u64_at(h, 0x18)..u64_at(h, 0x18) + u64_at(h, 0x20)];
    let names = data(header(shstrndx));
    (0..shnum)
        .map(|i| {
            let h = header(i);
            Section {
                name: str_at(names, u32_at(h, 0) as usize),
                kind: u32_at(h, 4),
                link: u32_at(h, 0x28),
                data: data(h),
            }
        })
        .collect()
}

/// The bytes of the section called `name`.
pub fn section<'a>(elf: &'a [u8], name: &str) -> &'a [u8] {
    sections(elf)
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no {name} section"))
        .data
}

/// (function, section name) for every function symbol: for a program,
/// its section says how it attaches (`tp_btf/kfree_skb`).
pub fn function_sections(elf: &[u8]) -> Vec<(String, String)> {
    let all = sections(elf);
    let symtab = all
        .iter()
        .find(|s| s.kind == SHT_SYMTAB)
        .expect("a symbol table");
    let strings = all[symtab.link as usize].data;
    symtab
        .data
        .chunks_exact(SYM_SIZE)
        .filter(|sym| sym[4] & 0xf == STT_FUNC)
        .filter_map(|sym| {
            let section = all.get(u16_at(sym, 6))?;
            Some((
                str_at(strings, u32_at(sym, 0) as usize),
                section.name.clone(),
            ))
        })
        .collect()
}
