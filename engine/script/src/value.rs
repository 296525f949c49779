//! Script values out: to JSON (`emit`, `report` with --json) and to the
//! indented text a person reads at the end of a playbook.

use super::event::ScriptEvent;
use rhai::{Dynamic, Map};
use serde_json::{json, Value};

pub fn to_json(v: &Dynamic) -> Value {
    if v.is_unit() {
        return Value::Null;
    }
    if let Ok(b) = v.as_bool() {
        return json!(b);
    }
    if let Ok(i) = v.as_int() {
        return json!(i);
    }
    if let Ok(f) = v.as_float() {
        return serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number);
    }
    if v.is_string() || v.is_char() {
        return json!(v.to_string());
    }
    if v.is_array() {
        let a = v.read_lock::<rhai::Array>().expect("checked array");
        return Value::Array(a.iter().map(to_json).collect());
    }
    if v.is_map() {
        let m = v.read_lock::<Map>().expect("checked map");
        return map_to_json(&m);
    }
    if let Some(ev) = v.read_lock::<ScriptEvent>() {
        return map_to_json(&ev.to_map());
    }
    json!(v.to_string())
}

/// JSON into a script value: objects become maps, arrays arrays, numbers
/// integers (floats when fractional).
pub fn from_json(v: &Value) -> Dynamic {
    match v {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => (*b).into(),
        Value::Number(n) => n
            .as_i64()
            .map(Dynamic::from_int)
            .unwrap_or_else(|| Dynamic::from_float(n.as_f64().unwrap_or_default())),
        Value::String(s) => s.clone().into(),
        Value::Array(a) => Dynamic::from_array(a.iter().map(from_json).collect()),
        Value::Object(o) => Dynamic::from_map(
            o.iter()
                .map(|(k, v)| (k.as_str().into(), from_json(v)))
                .collect(),
        ),
    }
}

pub fn map_to_json(m: &Map) -> Value {
    Value::Object(m.iter().map(|(k, v)| (k.to_string(), to_json(v))).collect())
}

/// The report as text: `summary` first (the answer in one line), then
/// plain values, then lists and tables, each level indented by two. A list
/// item with a `title` shows it on its dash.
pub fn render_report(report: &Value) -> String {
    let mut out = String::new();
    match report {
        Value::Object(m) => {
            if let Some(Value::String(s)) = m.get("summary") {
                out.push_str(s);
                out.push('\n');
            }
            object(&mut out, m, 0, &["summary"]);
        }
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

fn is_nested(v: &Value) -> bool {
    match v {
        Value::Object(m) => !m.is_empty(),
        // Short lists of plain values stay on their key's line.
        Value::Array(a) => a.iter().any(|x| x.is_object() || x.is_array()) || scalar(v).len() > 60,
        _ => false,
    }
}

fn object(out: &mut String, m: &serde_json::Map<String, Value>, indent: usize, skip: &[&str]) {
    let pad = " ".repeat(indent);
    let keys = m.keys().filter(|k| !skip.contains(&k.as_str()));
    let (nested, flat): (Vec<&String>, Vec<&String>) = keys.partition(|k| is_nested(&m[*k]));
    for k in flat {
        out.push_str(&format!("{pad}{k}: {}\n", scalar(&m[k])));
    }
    for k in nested {
        out.push_str(&format!("{pad}{k}:\n"));
        value(out, &m[k], indent + 2);
    }
}

fn value(out: &mut String, v: &Value, indent: usize) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(m) => object(out, m, indent, &[]),
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Object(m) => match m.get("title") {
                        // A titled item: the title on the dash, the rest below.
                        Some(Value::String(t)) => {
                            out.push_str(&format!("{pad}- {t}\n"));
                            object(out, m, indent + 2, &["title"]);
                        }
                        // `- ` then the object's lines, the first on the dash.
                        _ => {
                            let mut inner = String::new();
                            object(&mut inner, m, indent + 2, &[]);
                            let body = inner.trim_start();
                            out.push_str(&format!("{pad}- {body}"));
                        }
                    },
                    Value::Array(_) => {
                        out.push_str(&format!("{pad}-\n"));
                        value(out, item, indent + 2);
                    }
                    other => out.push_str(&format!("{pad}- {}\n", scalar(other))),
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other))),
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        Value::Array(a) => a.iter().map(scalar).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamics_become_json() {
        let engine = rhai::Engine::new();
        let v: Dynamic = engine
            .eval(r#"#{a: 1, b: [true, "x", ()], c: #{d: 1.5}}"#)
            .unwrap();
        assert_eq!(
            to_json(&v),
            json!({"a": 1, "b": [true, "x", null], "c": {"d": 1.5}})
        );
    }

    #[test]
    fn reports_read_top_down() {
        let r = json!({
            "summary": "2 drops",
            "problem": true,
            "drops": [{"reason": "NETFILTER_DROP", "count": 2, "stack": ["a", "b"]}],
            "groups": [{"title": "2 x NO_SOCKET", "count": 2}],
        });
        let text = render_report(&r);
        assert_eq!(
            text,
            "2 drops\nproblem: true\ndrops:\n  - count: 2\n    reason: NETFILTER_DROP\n    stack: a, b\ngroups:\n  - 2 x NO_SOCKET\n    count: 2\n"
        );
    }
}
