//! Literals interpreted by the type of the field they are compared with.
//! Every failure is a diagnostic on the literal's own span.

use super::CheckEnv;
use crate::catalog::{self, FieldDef, FieldKind};
use ferret_grammar::ast::{Value, ValueKind};
use ferret_grammar::Diagnostic;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One accepted value: compare `(field & mask) == value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Operand {
    pub value: u128,
    pub mask: u128,
    /// Addresses: `Some(true)` for an IPv6 literal, `Some(false)` for an
    /// IPv4 one (stored mapped: the packet's family tells them apart).
    pub ipv6: Option<bool>,
}

pub(crate) fn exact(def: &FieldDef, value: u128) -> Operand {
    Operand {
        value,
        mask: def.full_mask(),
        ipv6: None,
    }
}

/// Interprets `v` for `def`. Func globs may name several functions, hence
/// the list; warnings (host bits in a CIDR, unknown reason numbers) go to
/// `warnings`.
pub(crate) fn operands(
    def: &FieldDef,
    v: &Value,
    env: &CheckEnv<'_>,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Vec<Operand>, Diagnostic> {
    let one = |value| Ok(vec![exact(def, value)]);
    match def.kind {
        FieldKind::Addr => addr(v, warnings).map(|o| vec![o]),
        FieldKind::Port => match v.kind {
            ValueKind::Number => one(number(v, def)?),
            _ => named(v, catalog::SERVICES, "a port number (0–65535) or a service name").map(|p| vec![exact(def, p.into())]),
        },
        FieldKind::Proto => match v.kind {
            ValueKind::Number => one(number(v, def)?),
            _ => named(v, catalog::PROTOCOLS, "a protocol (tcp, udp, icmp, icmp6, sctp) or a number").map(|p| vec![exact(def, p.into())]),
        },
        FieldKind::Family => match v.kind {
            ValueKind::Number => one(number(v, def)?),
            _ => named(v, catalog::FAMILIES, "a family (ip4, ip6, arp) or an ethertype number").map(|p| vec![exact(def, p.into())]),
        },
        FieldKind::Uint => one(number(v, def)?),
        FieldKind::TcpFlags => match v.kind {
            ValueKind::Number => one(number(v, def)?),
            _ => named(v, catalog::TCP_FLAGS, "a TCP flag (syn, ack, fin, rst, psh, urg)").map(|b| vec![exact(def, b.into())]),
        },
        FieldKind::Name => name_glob(def, v).map(|o| vec![o]),
        FieldKind::Reason => reason(def, v, env, warnings).map(|o| vec![o]),
        FieldKind::Func => func(def, v, env, warnings),
        FieldKind::Netns => match v.kind {
            ValueKind::Number => one(number(v, def)?),
            _ => env
                .netns
                .resolve(&v.text)
                .map(|ino| vec![exact(def, ino.into())])
                .map_err(|why| Diagnostic::error(format!("cannot resolve network namespace `{}`", v.text), v.span).with_label(why.to_string()).with_note("give an inode number, a path like /proc/PID/ns/net, or a name from /run/netns")),
        },
    }
}

/// A number that fits the field's width (decimal or 0x hex).
pub(crate) fn number(v: &Value, def: &FieldDef) -> Result<u128, Diagnostic> {
    let text = v.text.as_str();
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u128::from_str_radix(hex, 16),
        None => text.parse::<u128>(),
    };
    let what = match def.kind {
        FieldKind::Port => "a port number (0–65535) or a service name",
        _ => "a number",
    };
    let n = parsed.map_err(|_| {
        Diagnostic::error(format!("`{text}` is not {what}"), v.span)
            .with_label(format!("`{}` expects {what}", def.name))
    })?;
    if n > def.full_mask() {
        let range = if def.kind == FieldKind::Port {
            "ports are 0–65535".to_string()
        } else {
            format!(
                "`{}` is {} bits wide (at most {})",
                def.name,
                def.bits,
                def.full_mask()
            )
        };
        return Err(Diagnostic::error(
            format!("`{text}` is out of range for `{}`", def.name),
            v.span,
        )
        .with_label(format!("{range}; this can never match")));
    }
    Ok(n)
}

/// A plain count (snaplen, limit, stop after) within `max`.
pub(crate) fn count(v: &Value, what: &str, max: u64) -> Result<u64, Diagnostic> {
    match v.text.parse::<u64>() {
        Ok(n) if n >= 1 && n <= max => Ok(n),
        _ => Err(
            Diagnostic::error(format!("`{}` is not a valid {what}", v.text), v.span).with_label(
                // Nobody needs to read u64::MAX spelled out.
                if max == u64::MAX {
                    "expected a whole number, at least 1".to_string()
                } else {
                    format!("expected a whole number from 1 to {max}")
                },
            ),
        ),
    }
}

fn named<T: Copy>(v: &Value, table: &[(&'static str, T)], what: &str) -> Result<T, Diagnostic> {
    let lower = v.text.to_ascii_lowercase();
    if let Some((_, x)) = table.iter().find(|(n, _)| *n == lower) {
        return Ok(*x);
    }
    Err(
        Diagnostic::error(format!("unknown name `{}`", v.text), v.span)
            .with_note(format!("expected {what}"))
            .suggesting(&v.text, table.iter().map(|(n, _)| *n)),
    )
}

fn addr(v: &Value, warnings: &mut Vec<Diagnostic>) -> Result<Operand, Diagnostic> {
    let bad = |what: &str| {
        Diagnostic::error(format!("`{}` is not {what}", v.text), v.span)
            .with_label("expected an address like 10.0.0.1 or fd00::1, or a CIDR like 10.0.0.0/8")
    };
    let (addr_text, prefix) = match v.kind {
        ValueKind::Addr => (v.text.as_str(), None),
        ValueKind::Cidr => {
            let (a, p) = v.text.split_once('/').expect("a CIDR token holds a slash");
            (a, Some(p))
        }
        _ => return Err(bad("an IPv4 or IPv6 address")),
    };
    let ip: IpAddr = addr_text
        .parse()
        .map_err(|_| bad("a valid IPv4 or IPv6 address"))?;
    let (value, max_prefix, base) = match ip {
        IpAddr::V4(a) => (
            u128::from_be_bytes(a.to_ipv6_mapped().octets()),
            32u32,
            96u32,
        ),
        IpAddr::V6(a) => (u128::from_be_bytes(a.octets()), 128, 0),
    };
    let Some(prefix) = prefix else {
        return Ok(Operand {
            value,
            mask: u128::MAX,
            ipv6: Some(!ip.is_ipv4()),
        });
    };
    let len: u32 = prefix.parse().map_err(|_| bad("a valid CIDR"))?;
    if len > max_prefix {
        return Err(
            Diagnostic::error(format!("prefix length /{len} is too long"), v.span).with_label(
                format!(
                    "an {} prefix is at most /{max_prefix}",
                    if max_prefix == 32 { "IPv4" } else { "IPv6" }
                ),
            ),
        );
    }
    let total = base + len;
    let mask = if total == 0 {
        0
    } else {
        u128::MAX << (128 - total)
    };
    if value & !mask != 0 {
        warnings.push(
            Diagnostic::warning(
                format!("`{}` has host bits set beyond /{len}", v.text),
                v.span,
            )
            .with_label(format!(
                "matching the network {}",
                network_text(value & mask, ip.is_ipv4(), len)
            )),
        );
    }
    Ok(Operand {
        value: value & mask,
        mask,
        ipv6: Some(!ip.is_ipv4()),
    })
}

fn network_text(value: u128, v4: bool, len: u32) -> String {
    let v6 = Ipv6Addr::from(value.to_be_bytes());
    match (v4, v6.to_ipv4_mapped()) {
        (true, Some(a)) => format!("{a}/{len}"),
        _ => format!("{v6}/{len}"),
    }
}

/// Renders a checker value of an address field back as text.
pub fn addr_text(value: u128) -> String {
    let v6 = Ipv6Addr::from(value.to_be_bytes());
    match v6.to_ipv4_mapped() {
        Some(a) if a != Ipv4Addr::UNSPECIFIED => a.to_string(),
        _ => v6.to_string(),
    }
}

/// `"eth0"` exactly (the NUL after it is compared too), or `"veth*"`.
fn name_glob(def: &FieldDef, v: &Value) -> Result<Operand, Diagnostic> {
    if !matches!(v.kind, ValueKind::String | ValueKind::Word) {
        return Err(
            Diagnostic::error(format!("`{}` is not a name", v.text), v.span).with_label(format!(
                "`{}` expects a name like \"eth0\" or \"veth*\"",
                def.name
            )),
        );
    }
    let (stem, prefix) = match v.text.strip_suffix('*') {
        Some(stem) => (stem, true),
        None => (v.text.as_str(), false),
    };
    if stem.contains(['*', '?', '[']) {
        return Err(
            Diagnostic::error(format!("unsupported glob `{}`", v.text), v.span)
                .with_label("only a trailing `*` is supported, as in \"veth*\""),
        );
    }
    if stem.len() > 15 {
        return Err(
            Diagnostic::error(format!("`{}` is longer than 15 bytes", v.text), v.span).with_label(
                format!(
                    "kernel {} names are at most 15 bytes; this can never match",
                    if def.name == "comm" { "task" } else { "device" }
                ),
            ),
        );
    }
    let mut bytes = [0u8; 16];
    bytes[..stem.len()].copy_from_slice(stem.as_bytes());
    let compared = if prefix { stem.len() } else { stem.len() + 1 };
    let mut mask_bytes = [0u8; 16];
    mask_bytes[..compared].fill(0xff);
    Ok(Operand {
        value: u128::from_be_bytes(bytes),
        mask: u128::from_be_bytes(mask_bytes),
        ipv6: None,
    })
}

fn reason(
    def: &FieldDef,
    v: &Value,
    env: &CheckEnv<'_>,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Operand, Diagnostic> {
    if v.kind == ValueKind::Number {
        let n = number(v, def)?;
        if let Ok(reasons) = env.reasons {
            if reasons.name_of(n as u32).is_none() {
                warnings.push(
                    Diagnostic::warning(format!("this kernel has no drop reason {n}"), v.span)
                        .with_label("no drop will carry it"),
                );
            }
        }
        return Ok(exact(def, n));
    }
    let reasons = env.reasons.map_err(|why| {
        Diagnostic::error(format!("cannot check drop reason `{}`", v.text), v.span)
            .with_label(format!(
                "drop reason names come from the kernel's BTF: {why}"
            ))
            .with_note(
                "use the reason's number instead, or run on a kernel with /sys/kernel/btf/vmlinux",
            )
    })?;
    match reasons.value_of(&v.text) {
        Some(n) => Ok(exact(def, n.into())),
        None => {
            let upper = v.text.to_ascii_uppercase();
            let short = upper
                .strip_prefix("SKB_DROP_REASON_")
                .unwrap_or(&upper)
                .to_string();
            let mut ranked: Vec<&str> = reasons.names().collect();
            ranked.sort_by_key(|n| ferret_grammar::edit_distance(&short, n));
            let list = ranked
                .iter()
                .take(3)
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ");
            Err(
                Diagnostic::error(format!("unknown drop reason `{}`", v.text), v.span)
                    .suggesting(&short, reasons.names())
                    .with_note(format!(
                        "the closest reasons of this kernel are {list}; `ferret reasons` lists all"
                    )),
            )
        }
    }
}

fn func(
    def: &FieldDef,
    v: &Value,
    env: &CheckEnv<'_>,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Vec<Operand>, Diagnostic> {
    if !matches!(v.kind, ValueKind::String | ValueKind::Word) {
        return Err(Diagnostic::error(
            format!("`{}` is not a function name or glob", v.text),
            v.span,
        ));
    }
    let ids: Vec<Operand> = env
        .funcs
        .matching(&v.text)
        .map(|id| exact(def, id.into()))
        .collect();
    if ids.is_empty() {
        warnings.push(
            Diagnostic::warning(format!("no traced function matches `{}`", v.text), v.span)
                .with_label("this comparison never holds"),
        );
    }
    Ok(ids)
}
