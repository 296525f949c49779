//! `ferret features [--json]`: what this kernel offers and which path
//! ferret takes for each, on one screen (or one JSON object,
//! docs/json.md). It is what a bug report should include. Without
//! privilege it still answers, and says which facts it could not probe.

use crate::caps::{self, Cap, CapSets};
use crate::exit::Exit;
use ferret_kernel::features::{Features, FunctionBackends, NotProbed, RDONLY_CAST};
use ferret_kernel::kernel_btf::KernelBtf;
use serde_json::{json, Map, Value};
use std::fmt::Write as _;
use std::sync::Arc;

/// The capabilities shown: the ones ferret asks for somewhere.
const SHOWN_CAPS: [Cap; 5] = [
    Cap::Bpf,
    Cap::Perfmon,
    Cap::NetAdmin,
    Cap::SysAdmin,
    Cap::SysResource,
];

/// The features, and this process's privileges (a CLI concern, so not in
/// the kernel crate).
pub struct Report {
    pub features: Features,
    pub caps: std::io::Result<CapSets>,
    pub has_cap_bpf: bool,
}

pub fn run(json: bool) -> anyhow::Result<Exit> {
    let report = Report {
        features: Features::probe(&Arc::new(KernelBtf::running())),
        caps: caps::current(),
        has_cap_bpf: caps::kernel_has_cap_bpf(),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&to_json(&report))?);
    } else {
        print!("{}", to_text(&report));
    }
    Ok(Exit::Ok)
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// `Ok` as JSON, `Err` as null (named in `not_probed`).
fn or_null<T: Into<Value> + Clone, E>(r: &Result<T, E>) -> Value {
    r.as_ref().map_or(Value::Null, |v| v.clone().into())
}

/// The facts that could not be probed, and why.
fn not_probed(f: &Features) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let mut add = |fact, e: Option<&NotProbed>| {
        if let Some(e) = e {
            out.push((fact, e.to_string()));
        }
    };
    add("kernel_release", f.release.as_ref().err());
    add("module_btf", f.module_btf.as_ref().err());
    add("bpf_loop", f.bpf_loop.as_ref().err());
    add("ringbuf", f.ringbuf.as_ref().err());
    add("functions", f.functions.as_ref().err());
    add("programs", f.programs.as_ref().err());
    add("lockdown", f.lockdown.as_ref().err());
    add(
        "unprivileged_bpf_disabled",
        f.unprivileged_bpf_disabled.as_ref().err(),
    );
    add("perf_event_paranoid", f.perf_event_paranoid.as_ref().err());
    if let Err(e) = &f.drop_reasons {
        if !f.drop_reason_enum_missing() {
            out.push(("drop_reasons", e.to_string()));
        }
    }
    out
}

fn events_path(f: &Features) -> &'static str {
    match f.ringbuf {
        Ok(true) => "ring buffer",
        Ok(false) => "not available: ferret needs BPF ring buffers",
        Err(_) => "unknown",
    }
}

fn functions_path(f: &Features) -> String {
    match &f.functions {
        Ok(b) => match b.chosen() {
            Some(backend) => backend.name().to_string(),
            None => "not available".to_string(),
        },
        Err(_) => "unknown".to_string(),
    }
}

/// How `on tc`/`on xdp` reach programs here.
fn programs_path(f: &Features) -> &'static str {
    match &f.programs {
        Ok(None) => "fentry/fexit",
        Ok(Some(_)) => "not available",
        Err(_) => "unknown",
    }
}

fn backends_json(b: &FunctionBackends) -> Value {
    let mut each = Map::new();
    for (backend, refusal) in &b.each {
        let why = refusal.as_ref().map(|r| r.to_string());
        each.insert(
            backend.name().into(),
            json!({ "usable": refusal.is_none(), "why": why }),
        );
    }
    Value::Object(each)
}

fn capabilities_json(r: &Report) -> Value {
    match &r.caps {
        Ok(sets) => {
            let names = |caps: &[Cap]| caps.iter().map(|c| c.name()).collect::<Vec<_>>();
            let effective: Vec<Cap> = SHOWN_CAPS.into_iter().filter(|c| sets.has(*c)).collect();
            let missing = caps::missing_for_tracing(sets, r.has_cap_bpf);
            json!({ "effective": names(&effective), "missing_for_tracing": names(&missing) })
        }
        Err(_) => Value::Null,
    }
}

pub fn to_json(r: &Report) -> Value {
    let f = &r.features;
    let triggers: Map<String, Value> = f
        .triggers
        .iter()
        .map(|t| (t.trigger.to_string(), t.kind.name().into()))
        .collect();
    let functions = f.functions.as_ref().ok();
    let not_probed: Vec<Value> = not_probed(f)
        .into_iter()
        .map(|(fact, why)| json!({ "fact": fact, "why": why }))
        .collect();
    json!({
        "ferret_version": env!("CARGO_PKG_VERSION"),
        "kernel_release": or_null(&f.release),
        "btf": { "vmlinux": f.vmlinux_btf, "modules": or_null(&f.module_btf) },
        "drop_reasons": {
            "count": or_null(&f.drop_reasons),
            "enum": if f.drop_reasons.is_ok() { Value::Bool(true) }
                    else if f.drop_reason_enum_missing() { Value::Bool(false) }
                    else { Value::Null },
        },
        "drop_functions": {
            "sk_skb_reason_drop": f.sk_skb_reason_drop,
            "kfree_skb_reason": f.kfree_skb_reason,
        },
        "kfuncs": { RDONLY_CAST: f.rdonly_cast },
        "helpers": { "bpf_loop": or_null(&f.bpf_loop), "ringbuf": or_null(&f.ringbuf) },
        "triggers": triggers,
        "functions": {
            "backend": functions.and_then(|b| b.chosen()).map(|b| b.name()),
            "tried_on": functions.map(|b| b.tried_on.clone()),
            "backends": functions.map_or(Value::Null, backends_json),
        },
        "programs": {
            "traceable": f.programs.as_ref().ok().map(Option::is_none),
            "why": f.programs.as_ref().ok().cloned().flatten(),
        },
        "paths": {
            "ipv4_headers": f.ipv4_header_path(),
            "interpreter": f.interpreter_path(),
            "drop_cause": f.drop_cause_path(),
            "events": events_path(f),
            "functions": functions_path(f),
            "programs": programs_path(f),
        },
        "limits": {
            "lockdown": f.lockdown.as_ref().ok().cloned().flatten(),
            "unprivileged_bpf_disabled": or_null(&f.unprivileged_bpf_disabled),
            "perf_event_paranoid": or_null(&f.perf_event_paranoid),
            "capabilities": capabilities_json(r),
        },
        "not_probed": not_probed,
    })
}

/// One aligned row: what is asked, what the kernel offers, what ferret takes.
/// An offer too long for its column puts what ferret takes on the next
/// line, in its column, so the two never run together.
fn row(out: &mut String, what: &str, offers: &str, takes: &str) {
    let line = if offers.chars().count() > 44 && !takes.is_empty() {
        format!("{what:<27} {offers}\n{:<72} {takes}", "")
    } else {
        format!("{what:<27} {offers:<44} {takes}")
    };
    let _ = writeln!(out, "{}", line.trim_end());
}

fn shown<T: ToString, E>(r: &Result<T, E>) -> String {
    r.as_ref()
        .map_or_else(|_| "not probed".to_string(), |v| v.to_string())
}

fn probed_yes_no<E>(r: &Result<bool, E>) -> String {
    r.as_ref()
        .map_or_else(|_| "not probed".to_string(), |b| yes_no(*b).to_string())
}

pub fn to_text(r: &Report) -> String {
    let f = &r.features;
    let mut out = String::new();
    let release = f.release.as_deref().unwrap_or("unknown");
    let _ = writeln!(
        out,
        "ferret {} on Linux {release} (features are probed by trying; the release is for information)\n",
        env!("CARGO_PKG_VERSION"),
    );
    row(&mut out, "", "this kernel offers", "ferret takes");
    let modules = shown(&f.module_btf);
    let btf = if f.vmlinux_btf {
        format!("vmlinux; {modules} module BTF files")
    } else {
        "none (no /sys/kernel/btf/vmlinux)".to_string()
    };
    row(
        &mut out,
        "BTF",
        &btf,
        if f.vmlinux_btf { "CO-RE" } else { "-" },
    );
    let reasons = match &f.drop_reasons {
        Ok(n) => format!("{n} (enum skb_drop_reason)"),
        Err(_) if f.drop_reason_enum_missing() => {
            "none: the BTF has no enum skb_drop_reason (before 5.17)".to_string()
        }
        Err(_) => "not probed".to_string(),
    };
    row(&mut out, "drop reasons", &reasons, f.drop_cause_path());
    let drop_funcs = format!(
        "sk_skb_reason_drop {}, kfree_skb_reason {}",
        yes_no(f.sk_skb_reason_drop),
        yes_no(f.kfree_skb_reason)
    );
    row(&mut out, "drop functions (BTF)", &drop_funcs, "");
    let kfunc = format!("kfunc {RDONLY_CAST}");
    let headers = format!("IPv4 header reads: {}", f.ipv4_header_path());
    row(&mut out, &kfunc, yes_no(f.rdonly_cast), &headers);
    let interp = format!("rule interpreter: {}", f.interpreter_path());
    row(
        &mut out,
        "helper bpf_loop",
        &probed_yes_no(&f.bpf_loop),
        &interp,
    );
    let events = format!("events: {}", events_path(f));
    row(
        &mut out,
        "ring buffer map",
        &probed_yes_no(&f.ringbuf),
        &events,
    );
    for t in &f.triggers {
        let what = format!("trigger {}", t.trigger);
        let takes = format!("{}: {}", t.trigger, t.kind.name());
        row(&mut out, &what, t.tracepoint, &takes);
    }
    let takes = format!("func/any: {}", functions_path(f));
    match &f.functions {
        Ok(b) => {
            let tried = format!("tried on {}", b.tried_on);
            row(&mut out, "function backends", &tried, &takes);
            for (backend, refusal) in &b.each {
                // The refusal's own words, without the backend's name again.
                let offers = match refusal.as_ref().map(std::error::Error::source) {
                    None => "usable".to_string(),
                    Some(Some(why)) => format!("no: {why}"),
                    Some(None) => "no".to_string(),
                };
                let _ = writeln!(out, "  {:<25} {offers}", backend.name());
            }
        }
        Err(_) => row(&mut out, "function backends", "not probed", &takes),
    }
    let offers = match &f.programs {
        Ok(None) => "fentry/fexit usable".to_string(),
        Ok(Some(why)) => format!("no: {why}"),
        Err(_) => "not probed".to_string(),
    };
    let takes = format!("tc/xdp: {}", programs_path(f));
    row(&mut out, "tc/XDP programs", &offers, &takes);
    let lockdown = match &f.lockdown {
        Ok(Some(mode)) => mode.clone(),
        Ok(None) => "no lockdown file (LSM not built or securityfs not mounted)".into(),
        Err(_) => "not probed".into(),
    };
    row(&mut out, "lockdown", &lockdown, "");
    let unpriv = shown(&f.unprivileged_bpf_disabled);
    row(&mut out, "unprivileged_bpf_disabled", &unpriv, "");
    row(
        &mut out,
        "perf_event_paranoid",
        &shown(&f.perf_event_paranoid),
        "",
    );
    row(&mut out, "capabilities", &capabilities_text(r), "");
    let missing = not_probed(f);
    if !missing.is_empty() {
        let _ = writeln!(out, "\nnot probed:");
        for (fact, why) in missing {
            let _ = writeln!(out, "  {fact}: {why}");
        }
    }
    out
}

fn capabilities_text(r: &Report) -> String {
    let Ok(sets) = &r.caps else {
        return "unknown (capget failed)".into();
    };
    let missing = caps::missing_for_tracing(sets, r.has_cap_bpf);
    let have: Vec<&str> = SHOWN_CAPS
        .into_iter()
        .filter(|c| sets.has(*c))
        .map(|c| c.name())
        .collect();
    let have = if have.is_empty() {
        "none of ferret's".to_string()
    } else {
        have.join(" ")
    };
    if missing.is_empty() {
        format!("{have} (enough to trace)")
    } else {
        let names: Vec<&str> = missing.iter().map(|c| c.name()).collect();
        format!("{have}; tracing lacks {}", names.join(" "))
    }
}

#[cfg(test)]
#[path = "features_cmd_tests.rs"]
mod tests;
