//! The event as scripts see it: type `Event`, with a getter for every field
//! of the rule language plus what only userspace knows (names, `stack`,
//! `rules`, `time`). Values are resolved once, when the event arrives, so
//! handlers never wait on a lookup and a copy is cheap (shared).

use ferret_core::abi::{field, hook};
use ferret_core::catalog::TCP_FLAGS;
use ferret_core::event::{family_name, proto_name, Event};
use ferret_core::output::{tuple_text, Names};
use rhai::{Array, Dynamic, Engine, Map};
use std::rc::Rc;

/// Every getter of `Event`; a field the packet does not carry reads `()`.
pub const FIELDS: &[&str] = &[
    "saddr",
    "daddr",
    "sport",
    "dport",
    "proto",
    "family",
    "len",
    "mark",
    "ifname",
    "ifindex",
    "netns",
    "netns_name",
    "pid",
    "tid",
    "comm",
    "tcpflags",
    "ttl",
    "reason",
    "reason_code",
    "func",
    "trigger",
    "location",
    "cpu",
    "mtu",
    "skb",
    "tuple",
    "stack",
    "stack_funcs",
    "rules",
    "time",
    "verdict",
];

#[derive(Debug, Clone)]
pub struct ScriptEvent {
    fields: Rc<Map>,
    /// The one-line form `print(ev)` shows.
    line: Rc<str>,
}

/// The trigger that produced an event with this hook id.
pub fn trigger_name(hook_id: u32) -> &'static str {
    match hook_id {
        hook::DROP => "drop",
        hook::FREE => "free",
        hook::RECV => "recv",
        hook::XMIT => "xmit",
        hook::QUEUE => "queue",
        hook::FUNC => "func",
        h if (hook::TP0..hook::TP0 + ferret_core::abi::TP_SLOTS).contains(&h) => "tp",
        _ => "?",
    }
}

impl ScriptEvent {
    /// `netns_name` is the namespace's name under /run/netns, if any.
    pub fn new(ev: &Event, stack: Option<&[String]>, ctx: &Names, netns_name: &str) -> ScriptEvent {
        let m = &ev.meta;
        let int = |v: u64| Dynamic::from_int(v as i64);
        let opt = |v: Option<Dynamic>| v.unwrap_or(Dynamic::UNIT);
        let drop = ev.is_drop();
        let frames: Vec<String> = stack.map(<[String]>::to_vec).unwrap_or_default();
        let mut f = Map::new();
        let mut put = |k: &str, v: Dynamic| {
            f.insert(k.into(), v);
        };
        put("saddr", opt(ev.saddr().map(|a| a.to_string().into())));
        put("daddr", opt(ev.daddr().map(|a| a.to_string().into())));
        put("sport", opt(ev.sport().map(|p| int(p.into()))));
        put("dport", opt(ev.dport().map(|p| int(p.into()))));
        put(
            "proto",
            opt(ev
                .proto()
                .map(|p| proto_name(p).map_or_else(|| int(p.into()), Dynamic::from))),
        );
        put(
            "family",
            family_name(m.family).map_or_else(|| int(m.family.into()), Dynamic::from),
        );
        put("len", int(m.len.into()));
        put("mark", int(m.mark.into()));
        put("ifname", ev.ifname().into());
        put("ifindex", int(m.ifindex.into()));
        put("netns", int(m.netns.into()));
        put("netns_name", netns_name.into());
        put("pid", int(m.pid.into()));
        put("tid", int(m.tid.into()));
        put("comm", ev.comm().into());
        put(
            "tcpflags",
            opt(ev.has(field::TCPFLAGS).then(|| {
                let names: Array = TCP_FLAGS
                    .iter()
                    .filter(|(_, bit)| m.tcpflags & bit != 0)
                    .map(|(n, _)| Dynamic::from(*n))
                    .collect();
                names.into()
            })),
        );
        put("ttl", opt(ev.has(field::TTL).then(|| int(m.ttl.into()))));
        put(
            "reason",
            opt(drop.then(|| ctx.reason_name(m.reason).into())),
        );
        put("reason_code", opt(drop.then(|| int(m.reason.into()))));
        put("func", ctx.funcs.name(m.func_id).unwrap_or("?").into());
        put("trigger", trigger_name(ev.hook).into());
        put(
            "location",
            opt((drop && m.location != 0).then(|| ctx.kallsyms.describe(m.location).into())),
        );
        put("cpu", int(m.cpu.into()));
        put("mtu", int(m.mtu.into()));
        put("skb", format!("{:#x}", m.skb).into());
        put("tuple", tuple_text(ev).into());
        put(
            "stack_funcs",
            frames
                .iter()
                .map(|s| Dynamic::from(s.split('+').next().unwrap_or(s).to_string()))
                .collect::<Array>()
                .into(),
        );
        put(
            "stack",
            frames
                .into_iter()
                .map(Dynamic::from)
                .collect::<Array>()
                .into(),
        );
        put(
            "rules",
            ev.rules
                .iter()
                .map(|r| int(*r as u64))
                .collect::<Array>()
                .into(),
        );
        put("time", int(m.ts_ns));
        put(
            "verdict",
            opt(ev.verdict.as_ref().map(|v| json_value(&v.to_json()))),
        );
        let line = format!(
            "{} {} {} {}",
            trigger_name(ev.hook),
            tuple_text(ev),
            ctx.func_text(ev),
            if ev.ifname().is_empty() {
                String::new()
            } else {
                format!("on {}", ev.ifname())
            }
        );
        ScriptEvent {
            fields: Rc::new(f),
            line: line.trim_end().into(),
        }
    }

    pub fn get(&self, name: &str) -> Dynamic {
        self.fields.get(name).cloned().unwrap_or(Dynamic::UNIT)
    }

    /// Rule ids this event matched.
    pub fn rules(&self) -> Vec<usize> {
        match self
            .fields
            .get("rules")
            .and_then(|r| r.read_lock::<Array>())
        {
            Some(a) => a
                .iter()
                .filter_map(|v| v.as_int().ok())
                .map(|v| v as usize)
                .collect(),
            None => vec![],
        }
    }

    pub fn to_map(&self) -> Map {
        self.fields.as_ref().clone()
    }

    pub fn line(&self) -> &str {
        &self.line
    }
}

/// A JSON value as Rhai sees it: objects as maps, `null` as `()`.
fn json_value(v: &serde_json::Value) -> Dynamic {
    use serde_json::Value as J;
    match v {
        J::Null => Dynamic::UNIT,
        J::Bool(b) => (*b).into(),
        J::Number(n) => n
            .as_i64()
            .map_or_else(|| Dynamic::from(n.to_string()), Dynamic::from_int),
        J::String(s) => s.clone().into(),
        J::Array(a) => a.iter().map(json_value).collect::<Array>().into(),
        J::Object(o) => o
            .iter()
            .map(|(k, v)| (k.as_str().into(), json_value(v)))
            .collect::<Map>()
            .into(),
    }
}

/// Registers `Event`: a getter per field, `to_map()`, and its text forms.
pub fn register(engine: &mut Engine) {
    engine.register_type_with_name::<ScriptEvent>("Event");
    for name in FIELDS {
        engine.register_get(name, move |e: &mut ScriptEvent| e.get(name));
    }
    engine
        .register_fn("to_map", |e: &mut ScriptEvent| e.to_map())
        .register_fn("to_string", |e: &mut ScriptEvent| e.line().to_string())
        .register_fn("to_debug", |e: &mut ScriptEvent| {
            format!("Event({})", e.line())
        });
}
