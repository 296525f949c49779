//! The C/Rust contract checked against the compiled objects: the BTF that
//! clang wrote into ferret.bpf.o and ferret_func.bpf.o describes every
//! shared struct and enum as the C side really has them, and each is
//! compared with its Rust twin (ferret_core::abi) and with the trigger
//! table (ferret_core::hooks::TRIGGERS). Needs no privileges.

mod btf_view;
mod contract;
mod elf;

use ferret_core::abi::hook;
use ferret_core::hooks::TRIGGERS;
use std::collections::BTreeMap;

static MAIN_OBJECT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/ferret.bpf.o"));
static FUNC_OBJECT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/ferret_func.bpf.o"));

const OBJECTS: [(&str, &[u8]); 2] = [
    ("ferret.bpf.o", MAIN_OBJECT),
    ("ferret_func.bpf.o", FUNC_OBJECT),
];

/// Every difference between the two sides, so one run names them all.
fn layout_mismatches(object: &[u8], structs: &[contract::RustStruct]) -> Vec<String> {
    let btf = btf_view::of_object(object);
    let mut wrong = Vec::new();
    for rust in structs {
        let name = rust.c_name;
        let Some(c) = btf_view::structure(&btf, name) else {
            wrong.push(format!("struct {name} is not in the BTF"));
            continue;
        };
        if c.size != rust.size {
            wrong.push(format!(
                "struct {name}: C size {}, Rust size {}",
                c.size, rust.size
            ));
        }
        // No implicit padding (what abi::Plain promises): the members tile
        // the struct.
        let mut end = 0;
        for (member, offset, size) in &c.members {
            if *offset != end {
                wrong.push(format!(
                    "struct {name}: a hole before {member} (C offset {offset})"
                ));
            }
            end = offset + size;
        }
        if end != c.size {
            wrong.push(format!(
                "struct {name}: {} bytes of padding at the end",
                c.size - end
            ));
        }
        for (member, offset, size) in &c.members {
            match rust.members.iter().find(|(m, ..)| m == member) {
                None => wrong.push(format!("{name}.{member} has no Rust twin")),
                Some((_, r_offset, r_size)) if (r_offset, r_size) != (offset, size) => {
                    wrong.push(format!(
                        "{name}.{member}: C offset {offset} size {size}, \
                         Rust offset {r_offset} size {r_size}"
                    ))
                }
                Some(_) => {}
            }
        }
        for (member, ..) in &rust.members {
            if !c.members.iter().any(|(m, ..)| m == member) {
                wrong.push(format!("{name}.{member} is only on the Rust side"));
            }
        }
    }
    wrong
}

fn number_mismatches(object: &[u8], numbers: Vec<(&str, u64)>) -> Vec<String> {
    let btf = btf_view::of_object(object);
    let c: BTreeMap<String, (String, u64)> = btf_view::contract_enums(&btf)
        .into_iter()
        .flat_map(|(e, values)| values.into_iter().map(move |(n, v)| (n, (e.clone(), v))))
        .collect();
    let rust: BTreeMap<&str, u64> = numbers.into_iter().collect();
    let mut wrong = Vec::new();
    for (name, (enum_name, value)) in &c {
        match rust.get(name.as_str()) {
            None => wrong.push(format!("{name} (enum {enum_name}) has no Rust twin")),
            Some(r) if r != value => wrong.push(format!("{name}: C {value}, Rust {r}")),
            Some(_) => {}
        }
    }
    for name in rust.keys() {
        if !c.contains_key(*name) {
            wrong.push(format!("{name} is not in the BTF"));
        }
    }
    wrong
}

#[test]
fn every_shared_struct_has_the_same_layout_on_both_sides() {
    for (file, object) in OBJECTS {
        let wrong = layout_mismatches(object, &contract::structs());
        assert!(wrong.is_empty(), "{file}:\n{}", wrong.join("\n"));
    }
}

#[test]
fn every_shared_number_has_the_same_value_on_both_sides() {
    for (file, object) in OBJECTS {
        let wrong = number_mismatches(object, contract::numbers());
        assert!(wrong.is_empty(), "{file}:\n{}", wrong.join("\n"));
    }
}

#[test]
fn the_trigger_programs_are_the_rust_table() {
    let btf = btf_view::of_object(MAIN_OBJECT);
    let hooks: BTreeMap<String, u64> = btf_view::contract_enums(&btf)
        .into_iter()
        .find(|(e, _)| e == "ferret_hook")
        .expect("enum ferret_hook in the BTF")
        .1
        .into_iter()
        .collect();
    let programs: BTreeMap<String, String> =
        elf::function_sections(MAIN_OBJECT).into_iter().collect();
    for t in &TRIGGERS {
        // The C programs take their hook as FERRET_HOOK_<NAME>.
        let enumerator = format!("FERRET_HOOK_{}", t.name.to_uppercase());
        assert_eq!(
            hooks.get(&enumerator),
            Some(&u64::from(t.hook)),
            "{enumerator}"
        );
        for (program, kind) in [(t.btf_program, "tp_btf"), (t.raw_program, "raw_tp")] {
            let want = format!("{kind}/{}", t.event());
            assert_eq!(programs.get(program), Some(&want), "program {program}");
        }
    }
    // And nothing more: every built-in hook id and every tracepoint program
    // of the object is in the table.
    for (enumerator, id) in &hooks {
        if *id < u64::from(hook::TP0) {
            assert!(
                TRIGGERS.iter().any(|t| u64::from(t.hook) == *id),
                "{enumerator} is not in hooks::TRIGGERS"
            );
        }
    }
    for (program, section) in &programs {
        if let Some((kind @ ("tp_btf" | "raw_tp"), _event)) = section.split_once('/') {
            assert!(
                TRIGGERS.iter().any(|t| program
                    == if kind == "tp_btf" {
                        t.btf_program
                    } else {
                        t.raw_program
                    }),
                "{program} ({section}) is not in hooks::TRIGGERS"
            );
        }
    }
}

#[test]
fn a_rust_side_that_drifted_is_reported() {
    // The comparisons above, against a Rust side with one size, one
    // member and one number off: each is named.
    let mut structs = contract::structs();
    let meta = structs
        .iter_mut()
        .find(|s| s.c_name == "ferret_meta")
        .unwrap();
    meta.size += 8;
    meta.members.iter_mut().find(|m| m.0 == "ttl").unwrap().1 += 1;
    meta.members.push(("extra", 144, 8));
    let wrong = layout_mismatches(MAIN_OBJECT, &structs);
    assert_eq!(
        wrong,
        [
            "struct ferret_meta: C size 144, Rust size 152",
            "ferret_meta.ttl: C offset 72 size 1, Rust offset 73 size 1",
            "ferret_meta.extra is only on the Rust side",
        ]
    );

    let mut numbers = contract::numbers();
    numbers
        .iter_mut()
        .find(|n| n.0 == "FERRET_F_COUNT")
        .unwrap()
        .1 = 20;
    numbers.retain(|n| n.0 != "FERRET_ACT_CALL");
    numbers.push(("FERRET_F_GONE", 1));
    let wrong = number_mismatches(MAIN_OBJECT, numbers);
    assert_eq!(
        wrong,
        [
            "FERRET_ACT_CALL (enum ferret_action) has no Rust twin",
            "FERRET_F_COUNT: C 19, Rust 20",
            "FERRET_F_GONE is not in the BTF",
        ]
    );
}
