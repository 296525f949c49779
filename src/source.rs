//! Where rules come from: the command line or a file, named for diagnostics.

use anyhow::Context;
use std::path::Path;

#[derive(Debug, Clone)]
pub struct RuleSource {
    /// `<rules>` for the command line, else the file path.
    pub name: String,
    pub text: String,
}

impl RuleSource {
    pub fn inline(text: &str) -> RuleSource {
        RuleSource {
            name: "<rules>".into(),
            text: text.to_string(),
        }
    }

    /// Reads a rule file; as root, one that others can change is refused
    /// unless `allow_unsafe` (see engine::trust).
    pub fn file(path: &Path, allow_unsafe: bool) -> anyhow::Result<RuleSource> {
        if !allow_unsafe {
            // SAFETY: geteuid has no preconditions.
            ferret_session::trust::check(path, unsafe { libc::geteuid() })?;
        }
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read rule file {}", path.display()))?;
        Ok(RuleSource {
            name: path.display().to_string(),
            text,
        })
    }
}

impl RuleSource {
    /// Compiles the rules, printing every diagnostic (warnings too) to
    /// stderr; the plan is `None` when any rule has an error.
    pub fn compile_reporting(
        &self,
        facts: &ferret_session::system::SystemFacts,
    ) -> Option<ferret_core::plan::Plan> {
        let (plan, diags) = ferret_core::compile(&self.text, &facts.env());
        if !diags.is_empty() {
            let color = std::io::IsTerminal::is_terminal(&std::io::stderr());
            eprint!(
                "{}",
                ferret_core::diag::render(&self.name, &self.text, &diags, color)
            );
        }
        plan
    }
}
