//! What the script API functions share with the host: the tracer, the
//! output, counters, the report, timers and the stop request. Held in an
//! `Rc<RefCell<_>>`; the host never keeps it borrowed while a script runs.

use super::facts::{KernelInfo, NetnsNames};
use ferret_session::system::SystemFacts;
use rhai::Map;
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::time::{Duration, Instant};

/// More distinct `count()` keys than this go to one overflow key, so a
/// key per packet cannot eat the memory of the machine being debugged.
pub const MAX_COUNT_KEYS: usize = 100_000;
pub const OVERFLOW_KEY: &str = "(other keys)";

#[derive(Debug, Clone)]
pub struct Timer {
    pub every: Duration,
    pub next: Instant,
    pub func: String,
}

pub struct State<T> {
    pub tracer: T,
    pub facts: SystemFacts,
    pub kernel: KernelInfo,
    pub out: Box<dyn Write>,
    pub json: bool,
    /// The first write error; the run loop ends the session on it.
    pub out_error: Option<std::io::Error>,
    pub counts: HashMap<String, i64>,
    pub report: Option<Map>,
    pub stop: bool,
    pub exit: i32,
    /// Rule id → the `call` handler of that rule.
    pub handlers: HashMap<usize, String>,
    pub timers: Vec<Timer>,
    /// The recording's time while a playbook reads a recording: timers
    /// count on it. `None` live, where they count on the wall clock.
    pub clock: Option<Instant>,
    pub netns: NetnsNames,
    /// (name, parameter count) of every function the playbook defines.
    pub fns: HashSet<(String, usize)>,
    /// A `--pcap` file takes the packets of `capture` rules.
    pub capture_file: bool,
}

impl<T> std::fmt::Debug for State<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("stop", &self.stop)
            .field("exit", &self.exit)
            .finish_non_exhaustive()
    }
}

impl<T> State<T> {
    /// The state of a playbook before its first hook runs.
    pub fn new(
        tracer: T,
        facts: SystemFacts,
        kernel: KernelInfo,
        out: Box<dyn Write>,
        json: bool,
        fns: HashSet<(String, usize)>,
    ) -> State<T> {
        State {
            tracer,
            facts,
            kernel,
            out,
            json,
            out_error: None,
            counts: HashMap::new(),
            report: None,
            stop: false,
            exit: 0,
            handlers: HashMap::new(),
            timers: vec![],
            clock: None,
            netns: NetnsNames::default(),
            fns,
            capture_file: false,
        }
    }

    /// Writes one line of the playbook's output; a failure is kept, not lost.
    pub fn write_line(&mut self, line: &str) {
        if self.out_error.is_some() {
            return;
        }
        if let Err(e) = writeln!(self.out, "{line}") {
            self.out_error = Some(e);
        }
    }

    /// `print` text: stdout, or stderr when stdout carries JSON lines.
    pub fn print(&mut self, text: &str) {
        if self.json {
            eprintln!("{text}");
        } else {
            self.write_line(text);
        }
    }

    pub fn count(&mut self, key: String, by: i64) -> i64 {
        let key = if self.counts.len() >= MAX_COUNT_KEYS && !self.counts.contains_key(&key) {
            OVERFLOW_KEY.to_string()
        } else {
            key
        };
        let n = self.counts.entry(key).or_default();
        *n += by;
        *n
    }

    /// The `n` largest counts, ties by key so the answer is stable.
    pub fn top(&self, n: usize) -> Vec<(String, i64)> {
        let mut all: Vec<(String, i64)> =
            self.counts.iter().map(|(k, v)| (k.clone(), *v)).collect();
        all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        all.truncate(n);
        all
    }

    pub fn has_fn(&self, name: &str, params: usize) -> bool {
        self.fns.contains(&(name.to_string(), params))
    }

    /// What timers count from: the recording's time, or the wall clock.
    pub fn now(&self) -> Instant {
        self.clock.unwrap_or_else(Instant::now)
    }

    pub fn next_timer(&self) -> Option<Instant> {
        self.timers.iter().map(|t| t.next).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State<()> {
        let facts = SystemFacts {
            reasons: Err(std::sync::Arc::new(
                ferret_kernel::drop_reasons::ReasonsError::NoEnum {
                    path: "test".into(),
                },
            )),
            funcs: ferret_core::hooks::HookNames::tracepoints(),
            kernel: Default::default(),
        };
        let kernel = KernelInfo::new("test".into(), None, 0);
        State::new(
            (),
            facts,
            kernel,
            Box::new(std::io::sink()),
            false,
            HashSet::new(),
        )
    }

    #[test]
    fn top_orders_by_count_then_key() {
        let mut s = state();
        for k in ["b", "a", "c", "a", "b", "a"] {
            s.count(k.into(), 1);
        }
        s.count("d".into(), 2);
        assert_eq!(
            s.top(3),
            vec![("a".into(), 3), ("b".into(), 2), ("d".into(), 2)]
        );
    }

    #[test]
    fn counting_keys_is_bounded() {
        let mut s = state();
        for i in 0..MAX_COUNT_KEYS + 5 {
            s.count(i.to_string(), 1);
        }
        assert_eq!(s.counts.len(), MAX_COUNT_KEYS + 1);
        assert_eq!(s.counts[OVERFLOW_KEY], 5);
    }
}
