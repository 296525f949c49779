//! What the BTF of a compiled object says about the contract: the layout of
//! a struct and the values of the `ferret_*` enums.

use super::elf;
use btf_rs::{Btf, Type};
use fallible_iterator::FallibleIterator;

/// A struct as the C compiler laid it out.
#[derive(Debug)]
pub struct CStruct {
    pub size: usize,
    /// (member, byte offset, byte size), in declaration order.
    pub members: Vec<(String, usize, usize)>,
}

/// The object's `.BTF` section, parsed.
pub fn of_object(object: &[u8]) -> Btf {
    Btf::from_bytes(elf::section(object, ".BTF")).expect("the object's BTF parses")
}

/// `struct name`, if the object's BTF has it.
pub fn structure(btf: &Btf, name: &str) -> Option<CStruct> {
    let s = btf
        .resolve_types_by_name(name)
        .ok()?
        .into_iter()
        .find_map(|t| match t {
            Type::Struct(s) => Some(s),
            _ => None,
        })?;
    let members = s
        .members
        .iter()
        .map(|m| {
            assert_eq!(
                m.bitfield_size(),
                None,
                "{name}: the contract has no bitfields"
            );
            let ty = btf.resolve_chained_type(m).expect("member type");
            (
                btf.resolve_name(m).expect("member name"),
                m.bit_offset() as usize / 8,
                size_of_type(btf, &ty),
            )
        })
        .collect();
    Some(CStruct {
        size: s.size(),
        members,
    })
}

fn size_of_type(btf: &Btf, ty: &Type) -> usize {
    match ty {
        Type::Int(i) => i.size(),
        Type::Enum(e) => e.size(),
        Type::Struct(s) => s.size(),
        Type::Ptr(_) => 8,
        Type::Array(a) => {
            a.len() * size_of_type(btf, &btf.resolve_chained_type(a).expect("element type"))
        }
        Type::Typedef(t) => size_of_type(btf, &btf.resolve_chained_type(t).expect("typedef")),
        Type::Const(t) | Type::Volatile(t) => {
            size_of_type(btf, &btf.resolve_chained_type(t).expect("qualified type"))
        }
        other => panic!("no size rule for BTF {}", other.name()),
    }
}

/// Every `enum ferret_*` of the object: (enum, [(enumerator, value)]).
pub fn contract_enums(btf: &Btf) -> Vec<(String, Vec<(String, u64)>)> {
    let mut enums = Vec::new();
    let mut types = btf.type_iter();
    while let Some(t) = types.next().expect("the BTF's types are readable") {
        let Type::Enum(e) = t else { continue };
        let name = btf.resolve_name(&e).unwrap_or_default();
        if !name.starts_with("ferret_") {
            continue;
        }
        let values = e
            .members
            .iter()
            .map(|m| {
                let enumerator = btf.resolve_name(m).expect("enumerator name");
                (enumerator, u64::from(m.val()))
            })
            .collect();
        enums.push((name, values));
    }
    enums
}
