//! The functions a playbook calls: rules at run time, output, counting,
//! the report, timers, stopping, and facts about the kernel.

use super::state::{State, Timer};
use super::value::to_json;
use ferret_session::control::RuleControl;
use rhai::{Array, Dynamic, Engine, EvalAltResult, FnPtr, Map, NativeCallContext};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

type Shared<T> = Rc<RefCell<State<T>>>;
type Res<T> = Result<T, Box<EvalAltResult>>;

/// The shortest `every()` period: below this a timer is a busy loop.
pub const MIN_PERIOD_MS: i64 = 10;

fn fail(ctx: &NativeCallContext, message: impl Into<String>) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(message.into().into(), ctx.call_position()).into()
}

pub fn register<T: RuleControl + 'static>(engine: &mut Engine, state: &Shared<T>) {
    rules(engine, state);
    output(engine, state);
    control(engine, state);
}

fn rules<T: RuleControl + 'static>(engine: &mut Engine, state: &Shared<T>) {
    let s = state.clone();
    engine.register_fn(
        "rule",
        move |ctx: NativeCallContext, text: &str| -> Res<i64> {
            add_rule(&ctx, &mut s.borrow_mut(), text)
        },
    );
    let s = state.clone();
    engine.register_fn(
        "remove_rule",
        move |ctx: NativeCallContext, id: i64| -> Res<()> {
            let mut st = s.borrow_mut();
            let id =
                usize::try_from(id).map_err(|_| fail(&ctx, format!("there is no rule {id}")))?;
            st.tracer
                .remove_rule(id)
                .map_err(|e| fail(&ctx, format!("remove_rule({id}): {e}")))?;
            st.handlers.remove(&id);
            Ok(())
        },
    );
    let s = state.clone();
    engine.register_fn(
        "rule_stats",
        move |ctx: NativeCallContext, id: i64| -> Res<Dynamic> {
            let stats = s
                .borrow()
                .tracer
                .stats()
                .map_err(|e| fail(&ctx, format!("rule_stats({id}): {e}")))?;
            let Some(r) = stats.into_iter().find(|r| r.rule as i64 == id) else {
                return Ok(Dynamic::UNIT);
            };
            let mut m = Map::new();
            for (k, v) in [
                ("seen", r.seen),
                ("matched", r.matched),
                ("emitted", r.emitted),
                ("lost", r.lost_ring_full),
                ("limited", r.rate_limited),
                ("delivered", r.delivered),
            ] {
                m.insert(k.into(), (v as i64).into());
            }
            Ok(m.into())
        },
    );
    let s = state.clone();
    engine.register_fn("tables", move |ctx: NativeCallContext| -> Res<Array> {
        let tables = s
            .borrow()
            .tracer
            .tables_json()
            .map_err(|e| fail(&ctx, e.to_string()))?;
        Ok(tables.iter().map(super::value::from_json).collect())
    });
    let s = state.clone();
    engine.register_fn("rules", move || -> Array {
        s.borrow()
            .tracer
            .rule_list()
            .into_iter()
            .map(|r| {
                let mut m = Map::new();
                m.insert("id".into(), (r.id as i64).into());
                m.insert("text".into(), r.text.into());
                Dynamic::from_map(m)
            })
            .collect()
    });
}

fn add_rule<T: RuleControl>(ctx: &NativeCallContext, st: &mut State<T>, text: &str) -> Res<i64> {
    let (plan, diags) = ferret_core::compile(text, &st.facts.env());
    let rendered = ferret_core::diag::render("<rule>", text, &diags, false);
    let Some(plan) = plan else {
        return Err(fail(
            ctx,
            format!("rule has errors:\n{}", rendered.trim_end()),
        ));
    };
    if !diags.is_empty() {
        eprint!("ferret: in rule(\"{text}\"):\n{rendered}");
    }
    let [rule] = <[_; 1]>::try_from(plan.rules).map_err(|r: Vec<_>| {
        fail(
            ctx,
            format!(
                "rule() takes one rule, this text has {}; call rule() once per rule",
                r.len()
            ),
        )
    })?;
    if rule.actions.capture.is_some() && !st.capture_file {
        return Err(fail(
            ctx,
            "`capture` writes to a pcap-ng file: run the playbook with --pcap FILE",
        ));
    }
    if let Some(name) = &rule.actions.call {
        if !st.has_fn(name, 1) {
            return Err(fail(
                ctx,
                format!("`call {name}` needs a handler: define `fn {name}(ev)` in the playbook"),
            ));
        }
    }
    let call = rule.actions.call.clone();
    let id = st
        .tracer
        .add_rule(rule)
        .map_err(|e| fail(ctx, format!("cannot add rule `{text}`: {e}")))?;
    if let Some(name) = call {
        st.handlers.insert(id, name);
    }
    Ok(id as i64)
}

fn output<T: RuleControl + 'static>(engine: &mut Engine, state: &Shared<T>) {
    let s = state.clone();
    engine.on_print(move |text| s.borrow_mut().print(text));
    engine.on_debug(move |text, source, pos| match (source, pos.line()) {
        (Some(src), Some(line)) => eprintln!("[{src}:{line}] {text}"),
        _ => eprintln!("[debug] {text}"),
    });
    let s = state.clone();
    engine.register_fn("emit", move |v: Dynamic| {
        let line = to_json(&v).to_string();
        s.borrow_mut().write_line(&line);
    });
    let s = state.clone();
    engine.register_fn(
        "report",
        move |ctx: NativeCallContext, v: Dynamic| -> Res<()> {
            let Some(m) = v.try_cast::<Map>() else {
                return Err(fail(
                    &ctx,
                    "report() takes a map, e.g. report(#{ summary: \"...\" })",
                ));
            };
            let mut st = s.borrow_mut();
            st.report.get_or_insert_with(Map::new).extend(m);
            Ok(())
        },
    );
    let s = state.clone();
    engine.register_fn("count", move |key: Dynamic| {
        s.borrow_mut().count(key.to_string(), 1)
    });
    let s = state.clone();
    engine.register_fn("count", move |key: Dynamic, by: i64| {
        s.borrow_mut().count(key.to_string(), by)
    });
    let s = state.clone();
    engine.register_fn("top", move |n: i64| -> Array {
        let n = usize::try_from(n).unwrap_or(0);
        s.borrow()
            .top(n)
            .into_iter()
            .map(|(k, c)| {
                let mut m = Map::new();
                m.insert("key".into(), k.into());
                m.insert("count".into(), c.into());
                Dynamic::from_map(m)
            })
            .collect()
    });
}

fn control<T: RuleControl + 'static>(engine: &mut Engine, state: &Shared<T>) {
    let s = state.clone();
    engine.register_fn("stop", move || s.borrow_mut().stop = true);
    let s = state.clone();
    engine.register_fn(
        "stop",
        move |ctx: NativeCallContext, code: i64| -> Res<()> {
            let code = u8::try_from(code)
                .map_err(|_| fail(&ctx, format!("stop({code}): an exit status is 0 to 255")))?;
            let mut st = s.borrow_mut();
            st.stop = true;
            st.exit = code.into();
            Ok(())
        },
    );
    let s = state.clone();
    engine.register_fn("kernel", move || s.borrow().kernel.to_map());
    let s = state.clone();
    engine.register_fn("every", move |ctx: NativeCallContext, ms: i64, f: &str| {
        add_timer(&ctx, &mut s.borrow_mut(), ms, f)
    });
    let s = state.clone();
    engine.register_fn("every", move |ctx: NativeCallContext, ms: i64, f: FnPtr| {
        add_timer(&ctx, &mut s.borrow_mut(), ms, f.fn_name())
    });
}

fn add_timer<T>(ctx: &NativeCallContext, st: &mut State<T>, ms: i64, f: &str) -> Res<()> {
    if ms < MIN_PERIOD_MS {
        return Err(fail(
            ctx,
            format!("every({ms}, ..): the period is at least {MIN_PERIOD_MS} ms"),
        ));
    }
    if !st.has_fn(f, 0) {
        return Err(fail(
            ctx,
            format!("every({ms}, \"{f}\"): define `fn {f}()` (no parameters) in the playbook"),
        ));
    }
    let every = Duration::from_millis(ms as u64);
    st.timers.push(Timer {
        every,
        next: st.now() + every,
        func: f.to_string(),
    });
    Ok(())
}
