//! Single answers straight from raw BTF bytes, without building an index
//! of every type: one enum's members, one type's id. A full parse of
//! vmlinux BTF (~150k types) took most of ferret's startup (issue 8: ready
//! in 150 ms), and the trace path only needs `enum skb_drop_reason` and
//! the id of the kfunc `bpf_rdonly_cast`. The format is the kernel's
//! (Documentation/bpf/btf.rst): a header, then type records whose length
//! follows from their kind, then the string section.

const MAGIC: u16 = 0xeb9f;
const HEADER_MIN: usize = 24;

/// Why the bytes could not be walked (callers fall back to a full parser).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    #[error("not BTF in this machine's byte order")]
    BadMagic,
    #[error("BTF section bounds lie outside the data")]
    BadBounds,
    #[error("type record {index} has unknown kind {kind}")]
    UnknownKind { index: usize, kind: u32 },
    #[error("type record {index} runs past the type section")]
    Truncated { index: usize },
}

fn u32_at(data: &[u8], off: usize) -> Option<u32> {
    let b = data.get(off..off + 4)?;
    Some(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

fn str_at(strings: &[u8], off: u32) -> Option<&str> {
    let rest = strings.get(off as usize..)?;
    let end = rest.iter().position(|b| *b == 0)?;
    std::str::from_utf8(&rest[..end]).ok()
}

/// Bytes that follow a type record's 12-byte head, by kind.
fn extra(kind: u32, vlen: usize) -> Option<usize> {
    Some(match kind {
        1 | 14 | 17 => 4,             // INT, VAR, DECL_TAG
        2 | 7..=12 | 16 | 18 => 0,    // PTR, FWD..FUNC, FLOAT, TYPE_TAG
        3 => 12,                      // ARRAY
        4 | 5 | 15 | 19 => 12 * vlen, // STRUCT, UNION, DATASEC, ENUM64
        6 | 13 => 8 * vlen,           // ENUM, FUNC_PROTO
        _ => return None,
    })
}

/// A type record: its id, kind, name offset, vlen and where its extra
/// bytes start in the type section.
struct Record {
    id: u32,
    kind: u32,
    name_off: u32,
    vlen: usize,
    body: usize,
}

/// The type and string sections of a BTF blob.
fn sections(data: &[u8]) -> Result<(&[u8], &[u8]), ScanError> {
    let magic = data.get(0..2).map(|b| u16::from_ne_bytes([b[0], b[1]]));
    if magic != Some(MAGIC) {
        return Err(ScanError::BadMagic);
    }
    let field = |off| {
        u32_at(data, off)
            .map(|v| v as usize)
            .ok_or(ScanError::BadBounds)
    };
    let hdr_len = field(4)?;
    let (type_off, type_len) = (field(8)?, field(12)?);
    let (str_off, str_len) = (field(16)?, field(20)?);
    let section = |off: usize, len: usize| {
        let start = hdr_len.max(HEADER_MIN).checked_add(off)?;
        data.get(start..start.checked_add(len)?)
    };
    let types = section(type_off, type_len).ok_or(ScanError::BadBounds)?;
    let strings = section(str_off, str_len).ok_or(ScanError::BadBounds)?;
    Ok((types, strings))
}

/// Calls `visit` on every type record until it returns Some.
fn walk<T>(
    types: &[u8],
    mut visit: impl FnMut(&Record) -> Result<Option<T>, ScanError>,
) -> Result<Option<T>, ScanError> {
    let mut pos = 0;
    let mut id = 1; // type id 0 is void
    while pos < types.len() {
        let truncated = ScanError::Truncated { index: id as usize };
        let name_off = u32_at(types, pos).ok_or(truncated.clone())?;
        let info = u32_at(types, pos + 4).ok_or(truncated.clone())?;
        let kind = (info >> 24) & 0x1f;
        let vlen = (info & 0xffff) as usize;
        let len = extra(kind, vlen).ok_or(ScanError::UnknownKind {
            index: id as usize,
            kind,
        })?;
        let body = pos + 12;
        if body + len > types.len() {
            return Err(truncated);
        }
        let rec = Record {
            id,
            kind,
            name_off,
            vlen,
            body,
        };
        if let Some(found) = visit(&rec)? {
            return Ok(Some(found));
        }
        pos = body + len;
        id += 1;
    }
    Ok(None)
}

/// The members (name, value) of the first enum called `name`, or None
/// when there is no such enum. 64-bit enums keep their low 32 bits.
pub fn find_enum(data: &[u8], name: &str) -> Result<Option<Vec<(String, u32)>>, ScanError> {
    let (types, strings) = sections(data)?;
    walk(types, |rec| {
        if !((rec.kind == 6 || rec.kind == 19) && str_at(strings, rec.name_off) == Some(name)) {
            return Ok(None);
        }
        let stride = if rec.kind == 6 { 8 } else { 12 };
        (0..rec.vlen)
            .map(|i| {
                let at = rec.body + i * stride;
                let n = u32_at(types, at).and_then(|o| str_at(strings, o));
                let v = u32_at(types, at + 4);
                n.zip(v).map(|(n, v)| (n.to_owned(), v))
            })
            .collect::<Option<Vec<_>>>()
            .map(Some)
            .ok_or(ScanError::Truncated {
                index: rec.id as usize,
            })
    })
}

/// BTF kind of a function (kfuncs are FUNC records of vmlinux).
pub const KIND_FUNC: u32 = 12;

/// The id of the first type of `kind` called `name`.
pub fn find_type_id(data: &[u8], kind: u32, name: &str) -> Result<Option<u32>, ScanError> {
    let (types, strings) = sections(data)?;
    walk(types, |rec| {
        Ok((rec.kind == kind && str_at(strings, rec.name_off) == Some(name)).then_some(rec.id))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A BTF blob: an int, a struct with one member, then `enum color`.
    fn blob() -> Vec<u8> {
        let strings = b"\0int\0pair\0a\0color\0RED\0BLUE\0";
        let name = |s: &str| {
            let pat = format!("\0{s}\0");
            let at = strings
                .windows(pat.len())
                .position(|w| w == pat.as_bytes())
                .unwrap();
            (at + 1) as u32
        };
        let mut types: Vec<u32> = Vec::new();
        // INT "int": size 4, encoding word
        types.extend([name("int"), 1 << 24, 4, 32]);
        // STRUCT "pair" with one member `a` of type 1
        types.extend([name("pair"), (4 << 24) | 1, 4, name("a"), 1, 0]);
        // ENUM "color" { RED = 3, BLUE = 70000 }
        types.extend([name("color"), (6 << 24) | 2, 4]);
        types.extend([name("RED"), 3, name("BLUE"), 70000]);
        let type_bytes: Vec<u8> = types.iter().flat_map(|v| v.to_ne_bytes()).collect();
        let mut out = Vec::new();
        out.extend(MAGIC.to_ne_bytes());
        out.extend([1u8, 0]);
        for v in [
            24u32,
            0,
            type_bytes.len() as u32,
            type_bytes.len() as u32,
            strings.len() as u32,
        ] {
            out.extend(v.to_ne_bytes());
        }
        out.extend(type_bytes);
        out.extend(strings);
        out
    }

    #[test]
    fn finds_the_enum_past_other_kinds() {
        let members = find_enum(&blob(), "color").unwrap().unwrap();
        assert_eq!(members, vec![("RED".into(), 3), ("BLUE".into(), 70000)]);
        assert_eq!(
            find_enum(&blob(), "pair").unwrap(),
            None,
            "a struct is not an enum"
        );
        assert_eq!(find_enum(&blob(), "shade").unwrap(), None);
    }

    #[test]
    fn type_ids_count_from_one_in_record_order() {
        assert_eq!(find_type_id(&blob(), 1, "int").unwrap(), Some(1));
        assert_eq!(find_type_id(&blob(), 4, "pair").unwrap(), Some(2));
        assert_eq!(find_type_id(&blob(), 6, "color").unwrap(), Some(3));
        assert_eq!(find_type_id(&blob(), KIND_FUNC, "color").unwrap(), None);
    }

    #[test]
    fn broken_data_is_an_error_not_a_panic() {
        assert_eq!(find_enum(b"nope", "color"), Err(ScanError::BadMagic));
        let b = blob();
        for cut in [2, 10, 30, b.len() - 40] {
            assert!(find_enum(&b[..cut], "color").is_err(), "cut at {cut}");
        }
        let mut bad_kind = b.clone();
        bad_kind[24 + 7] = 0x1f; // the int's kind byte
        assert!(matches!(
            find_enum(&bad_kind, "color"),
            Err(ScanError::UnknownKind { index: 1, .. })
        ));
    }
}
