//! The host: one engine and one scope for a playbook's whole life. Runs
//! the top level once, then calls hooks by name: `on_start()`, `on_event(ev)`
//! and `call` handlers per event, timers, `on_end()`.
//!
//! Top-level `let` variables live in the scope every hook is called with,
//! so they are the playbook's state: hooks read and change them. Locals of
//! a hook are dropped when it returns.

use super::error::{self, ScriptError, ScriptErrorKind};
use super::event::{self, ScriptEvent};
use super::facts::{KernelInfo, NetnsNames};
use super::setup::{self, Limits};
use super::state::State;
use super::{api, io, Playbook};
use ferret_session::control::RuleControl;
use ferret_session::system::SystemFacts;
use rhai::{Array, CallFnOptions, Dynamic, Engine, FuncArgs, Scope};
use std::cell::{RefCell, RefMut};
use std::collections::{BTreeSet, HashSet};
use std::rc::Rc;
use std::time::Instant;

/// Name used in errors raised by statements outside any function.
pub const TOP_LEVEL: &str = "(top level)";

#[derive(Debug, Clone, Default)]
pub struct HostOptions {
    /// `ARGS` in the script: what follows the playbook on the command line.
    pub args: Vec<String>,
    /// Output is JSON lines: `print` goes to stderr, `emit` stays on stdout.
    pub json: bool,
    /// `--allow-script-io`: file functions and `import` from the playbook's dir.
    pub allow_io: bool,
    /// `--pcap FILE` is open: rules may `capture`.
    pub capture_file: bool,
    pub limits: Limits,
}

pub struct Host<T: RuleControl + 'static> {
    engine: Engine,
    playbook: Playbook,
    scope: Scope<'static>,
    state: Rc<RefCell<State<T>>>,
    limits: Limits,
}

impl<T: RuleControl + 'static> std::fmt::Debug for Host<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("playbook", &self.playbook.name)
            .finish_non_exhaustive()
    }
}

impl<T: RuleControl + 'static> Host<T> {
    pub fn new(
        playbook: Playbook,
        tracer: T,
        facts: SystemFacts,
        kernel: KernelInfo,
        out: Box<dyn std::io::Write>,
        opts: HostOptions,
    ) -> Host<T> {
        let fns: HashSet<(String, usize)> = playbook
            .ast
            .iter_functions()
            .map(|f| (f.name.to_string(), f.params.len()))
            .collect();
        let state = Rc::new(RefCell::new(State::new(
            tracer, facts, kernel, out, opts.json, fns,
        )));
        state.borrow_mut().capture_file = opts.capture_file;
        let mut engine = setup::base_engine(&opts.limits);
        event::register(&mut engine);
        api::register(&mut engine, &state);
        io::register(&mut engine, opts.allow_io, playbook.dir.as_deref());
        let mut scope = Scope::new();
        let args: Array = opts.args.iter().cloned().map(Dynamic::from).collect();
        scope.push_constant("ARGS", args);
        Host {
            engine,
            playbook,
            scope,
            state,
            limits: opts.limits,
        }
    }

    fn error(&self, hook: &str, e: &rhai::EvalAltResult) -> ScriptError {
        error::from_eval(
            &self.playbook.name,
            &self.playbook.text,
            hook,
            e,
            self.limits.operations,
        )
    }

    fn call(&mut self, name: &str, args: impl FuncArgs) -> Result<(), ScriptError> {
        let opts = CallFnOptions::new().eval_ast(false).rewind_scope(true);
        let result = self.engine.call_fn_with_options::<Dynamic>(
            opts,
            &mut self.scope,
            &self.playbook.ast,
            name,
            args,
        );
        result.map(drop).map_err(|e| self.error(name, &e))
    }

    fn has_fn(&self, name: &str, params: usize) -> bool {
        self.state.borrow().has_fn(name, params)
    }

    /// Runs the top level, then `on_start()`.
    pub fn start(&mut self) -> Result<(), ScriptError> {
        let result = self
            .engine
            .run_ast_with_scope(&mut self.scope, &self.playbook.ast);
        result.map_err(|e| self.error(TOP_LEVEL, &e))?;
        if self.has_fn("on_start", 0) && !self.stop_requested() {
            self.call("on_start", ())?;
        }
        Ok(())
    }

    /// Hands an event to `on_event(ev)`, then to each distinct `call`
    /// handler of the rules it matched.
    pub fn deliver(&mut self, ev: &ScriptEvent) -> Result<(), ScriptError> {
        if self.has_fn("on_event", 1) {
            self.call("on_event", (ev.clone(),))?;
        }
        let handlers: BTreeSet<String> = {
            let st = self.state.borrow();
            ev.rules()
                .iter()
                .filter_map(|id| st.handlers.get(id).cloned())
                .collect()
        };
        for h in handlers {
            self.call(&h, (ev.clone(),))?;
        }
        Ok(())
    }

    /// Sets the recording's time, which timers then count on (replay.rs).
    pub fn set_clock(&mut self, now: Instant) {
        self.state.borrow_mut().clock = Some(now);
    }

    /// When the next `every()` timer is due.
    pub fn next_timer(&self) -> Option<Instant> {
        self.state.borrow().next_timer()
    }

    /// Calls every timer due at `now`. A timer that fell behind fires once.
    pub fn run_timers(&mut self, now: Instant) -> Result<(), ScriptError> {
        let due: Vec<String> = {
            let mut st = self.state.borrow_mut();
            st.timers
                .iter_mut()
                .filter(|t| t.next <= now)
                .map(|t| {
                    t.next += t.every;
                    if t.next <= now {
                        t.next = now + t.every;
                    }
                    t.func.clone()
                })
                .collect()
        };
        for f in due {
            if self.stop_requested() {
                break;
            }
            self.call(&f, ())?;
        }
        Ok(())
    }

    /// `on_end()`, once, when the trace is over.
    pub fn end(&mut self) -> Result<(), ScriptError> {
        if self.has_fn("on_end", 0) {
            self.call("on_end", ())?;
        }
        Ok(())
    }

    pub fn stop_requested(&self) -> bool {
        self.state.borrow().stop
    }

    /// The status set by `stop(code)`; 0 if none.
    pub fn exit_code(&self) -> i32 {
        self.state.borrow().exit
    }

    /// What `report()` collected, as JSON.
    pub fn report(&self) -> Option<serde_json::Value> {
        self.state
            .borrow()
            .report
            .as_ref()
            .map(super::value::map_to_json)
    }

    pub fn tracer(&self) -> RefMut<'_, T> {
        RefMut::map(self.state.borrow_mut(), |s| &mut s.tracer)
    }

    /// The tracer and the namespace names, for building events.
    pub fn with_tracer<R>(&self, f: impl FnOnce(&mut T, &mut NetnsNames) -> R) -> R {
        let mut st = self.state.borrow_mut();
        let st = &mut *st;
        f(&mut st.tracer, &mut st.netns)
    }

    /// The playbook's output, for what the runner writes at the end.
    pub fn with_output<R>(&self, f: impl FnOnce(&mut dyn std::io::Write) -> R) -> R {
        f(&mut *self.state.borrow_mut().out)
    }

    /// Writes a line to the playbook's output (the runner's report, summary).
    pub fn write_line(&self, line: &str) {
        self.state.borrow_mut().write_line(line);
    }

    /// Flushes the output; a write error ends the run as an output error.
    pub fn flush(&self) -> Result<(), ScriptError> {
        let mut st = self.state.borrow_mut();
        let err = match st.out_error.take() {
            Some(e) => Some(e),
            None => st.out.flush().err(),
        };
        match err {
            None => Ok(()),
            Some(source) => Err(ScriptError {
                file: self.playbook.name.clone(),
                kind: ScriptErrorKind::Output { source },
                at: None,
                notes: vec![],
            }),
        }
    }

    pub fn playbook(&self) -> &Playbook {
        &self.playbook
    }
}
