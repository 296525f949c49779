//! The command interpreter: one line in, the text to show out. It owns a
//! [`RuleControl`] and knows nothing of terminals or threads, so tests run
//! it over a fake kernel.

use crate::command::{self, Command, Target};
use crate::render;
use crate::vocab::Vocabulary;
use ferret_core::summary::RuleSummary;
use ferret_session::control::{RuleControl, RuleView};
use ferret_session::system::SystemFacts;
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

/// What a line produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reply {
    pub text: String,
    pub quit: bool,
}

impl Reply {
    fn text(text: impl Into<String>) -> Reply {
        Reply {
            text: text.into(),
            quit: false,
        }
    }
}

#[derive(Debug)]
pub struct Interpreter<T: RuleControl> {
    tracer: T,
    facts: SystemFacts,
    vocab: Arc<Vocabulary>,
    /// ANSI colours in diagnostics.
    color: bool,
    /// `load` files that others can change, even as root.
    allow_unsafe_files: bool,
    /// Per rule, events that were pumped but not shown because the
    /// terminal could not keep up: not SHOWN, though the session counted
    /// them as delivered.
    hidden: HashMap<usize, u64>,
}

impl<T: RuleControl> Interpreter<T> {
    pub fn new(tracer: T, facts: SystemFacts, vocab: Arc<Vocabulary>, color: bool) -> Self {
        Interpreter {
            tracer,
            facts,
            vocab,
            color,
            allow_unsafe_files: false,
            hidden: HashMap::new(),
        }
    }

    /// As `--allow-unsafe-files`: `load` also takes files other users can
    /// change (refused as root otherwise, as for `ferret run`).
    pub fn allow_unsafe_files(mut self, allow: bool) -> Self {
        self.allow_unsafe_files = allow;
        self
    }

    pub fn tracer(&self) -> &T {
        &self.tracer
    }

    pub fn tracer_mut(&mut self) -> &mut T {
        &mut self.tracer
    }

    pub fn execute_line(&mut self, line: &str) -> Reply {
        let reply = match command::parse(line) {
            Ok(cmd) => self.execute(cmd),
            Err(e) => Reply::text(format!("error: {e}")),
        };
        self.vocab
            .set_rule_ids(self.tracer.rule_list().iter().map(|r| r.id).collect());
        reply
    }

    pub fn execute(&mut self, cmd: Command) -> Reply {
        let text = match cmd {
            Command::Empty => String::new(),
            Command::Rules(text) => self.add_rules("<repl>", &text),
            Command::List => render::list(&self.sorted_rules()),
            Command::Del(ids) => self.delete(&ids),
            Command::Pause(target) => self.pause(&target, true),
            Command::Resume(target) => self.pause(&target, false),
            Command::Stats => match (self.stats(), self.tracer.tables_text(None)) {
                (Ok(stats), Ok(tables)) => {
                    let mut out = render::stats(&stats, &self.sorted_rules());
                    if !tables.is_empty() {
                        out.push('\n');
                        out.push_str(tables.trim_end());
                    }
                    out
                }
                (Err(e), _) | (_, Err(e)) => {
                    format!("error: cannot read the kernel's counters: {e}")
                }
            },
            Command::Clear => {
                let ids: Vec<usize> = self.sorted_rules().iter().map(|r| r.id).collect();
                if ids.is_empty() {
                    "no rules to delete".to_string()
                } else {
                    self.delete(&ids)
                }
            }
            Command::Load(path) => self.load(&path),
            Command::Save(path) => self.save(&path),
            Command::Fields => render::fields(),
            Command::Funcs(glob) => render::funcs(&glob, self.vocab.functions()),
            Command::Reasons => render::reasons(&self.facts.reasons),
            Command::Help => render::help(),
            Command::Quit => {
                return Reply {
                    text: String::new(),
                    quit: true,
                }
            }
        };
        Reply::text(text)
    }

    /// An event of rule `id` was not shown (the terminal was behind).
    pub fn hide(&mut self, id: usize) {
        *self.hidden.entry(id).or_default() += 1;
    }

    /// Corrects what the session counts as delivered by what was hidden.
    pub fn account(&self, rules: &mut [RuleSummary]) {
        for r in rules {
            let hidden = self.hidden.get(&r.rule).copied().unwrap_or(0);
            r.delivered = r.delivered.saturating_sub(hidden);
        }
    }

    fn stats(&self) -> Result<Vec<RuleSummary>, T::Error> {
        let mut stats = self.tracer.stats()?;
        self.account(&mut stats);
        Ok(stats)
    }

    fn sorted_rules(&self) -> Vec<RuleView> {
        let mut rules = self.tracer.rule_list();
        rules.sort_by_key(|r| r.id);
        rules
    }

    fn probes(&self) -> String {
        match self.tracer.attached_text().as_str() {
            "no hooks" => "probes: none attached".to_string(),
            list => format!("probes: {list}"),
        }
    }

    /// Compiles `text` (named `name` in diagnostics) and adds its rules:
    /// all of them, or none when any has an error or cannot run here.
    fn add_rules(&mut self, name: &str, text: &str) -> String {
        let (plan, diags) = ferret_core::compile(text, &self.facts.env());
        let mut out = ferret_core::diag::render(name, text, &diags, self.color);
        let Some(plan) = plan else {
            out.push_str("no rule added; fix the line and enter it again\n");
            return out;
        };
        if let Some(e) = plan
            .rules
            .iter()
            .find_map(|r| ferret_session::session::preflight(r).err())
        {
            out.push_str(&format!("error: {e}\nno rule added\n"));
            return out;
        }
        for rule in plan.rules {
            let text = rule.text.clone();
            match self.tracer.add_rule(rule) {
                Ok(id) => out.push_str(&format!("rule {id} added: {text}\n")),
                Err(e) => {
                    out.push_str(&format!("error: rule not added: {e}\n"));
                    break;
                }
            }
        }
        out.push_str(&self.probes());
        out
    }

    fn delete(&mut self, ids: &[usize]) -> String {
        let stats = self.stats().unwrap_or_default();
        let mut out = String::new();
        for id in ids {
            // A `count`/`hist` rule's table goes with it: show it last.
            let table = self.tracer.tables_text(Some(*id)).unwrap_or_default();
            match self.tracer.remove_rule(*id) {
                Ok(()) => {
                    out.push_str(&table);
                    let shown = stats
                        .iter()
                        .find(|s| s.rule == *id)
                        .map_or(String::new(), |s| {
                            format!(" after {} matches, {} shown", s.matched, s.delivered)
                        });
                    out.push_str(&format!("rule {id} deleted{shown}\n"));
                }
                Err(e) => out.push_str(&format!("error: {e}\n")),
            }
        }
        out.push_str(&self.probes());
        out
    }

    fn pause(&mut self, target: &Target, paused: bool) -> String {
        let verb = if paused { "paused" } else { "resumed" };
        let ids: Vec<usize> = match target {
            Target::All => self
                .sorted_rules()
                .iter()
                .filter(|r| r.paused != paused)
                .map(|r| r.id)
                .collect(),
            Target::Ids(ids) => ids.clone(),
        };
        if ids.is_empty() {
            return format!("no rule to be {verb}");
        }
        let mut out = String::new();
        for id in ids {
            match self.tracer.set_paused(id, paused) {
                Ok(()) => out.push_str(&format!("rule {id} {verb}\n")),
                Err(e) => out.push_str(&format!("error: {e}\n")),
            }
        }
        out.push_str(&self.probes());
        out
    }

    /// Ctrl-C: stop the output at its source by pausing every active rule.
    pub fn interrupt(&mut self) -> String {
        let active: Vec<usize> = self
            .sorted_rules()
            .iter()
            .filter(|r| !r.paused)
            .map(|r| r.id)
            .collect();
        if active.is_empty() {
            return "(no rule is running; `quit` or Ctrl-D ends the session)".to_string();
        }
        let mut out = String::from("interrupted: ");
        out.push_str(&self.pause(&Target::Ids(active), true).replace('\n', "; "));
        out.push_str("\n`resume all` lets them match again");
        out
    }

    /// A rule reached its `stop after N`: it ends, the session goes on.
    pub fn stop_rule(&mut self, id: usize, after: u64) -> String {
        let table = self.tracer.tables_text(Some(id)).unwrap_or_default();
        match self.tracer.remove_rule(id) {
            Ok(()) => format!(
                "{table}rule {id} deleted after {after} (stop after {after}); {}",
                self.probes()
            ),
            Err(e) => format!("error: {e}"),
        }
    }

    fn load(&mut self, path: &Path) -> String {
        if path.extension().is_some_and(|e| e == "rhai") {
            return format!(
                "`{}` is a playbook; playbooks run on their own with `ferret run {}`. `load` takes rule files (one rule per line)",
                path.display(),
                path.display()
            );
        }
        if !self.allow_unsafe_files {
            // SAFETY: geteuid has no preconditions.
            if let Err(e) = ferret_session::trust::check(path, unsafe { libc::geteuid() }) {
                return format!("error: {e}");
            }
        }
        match std::fs::read_to_string(path) {
            Ok(text) => self.add_rules(&path.display().to_string(), &text),
            Err(e) => format!("error: cannot read {}: {e}", path.display()),
        }
    }

    fn save(&mut self, path: &Path) -> String {
        let rules = self.sorted_rules();
        if rules.is_empty() {
            return "no rules to save".to_string();
        }
        let text = render::rule_file(&rules);
        match ferret_core::outfile::create(path).map(|mut f| f.write_all(text.as_bytes())) {
            Ok(Err(e)) => format!("error: cannot write {}: {e}", path.display()),
            Ok(Ok(())) => format!(
                "saved {} rule{} to {}",
                rules.len(),
                if rules.len() == 1 { "" } else { "s" },
                path.display()
            ),
            Err(e) => format!("error: {e}"),
        }
    }
}

#[cfg(test)]
mod tests;
