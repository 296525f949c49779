//! The agent's rules file: read, checked as root would run it, compiled
//! against the running kernel's facts, each rule with the name its
//! metrics carry. A rule is named by a `# name: NAME` comment on the line
//! before it; an unnamed rule is labelled by its own text, which is what
//! identifies it across reloads anyway.

use ferret_core::plan::RulePlan;
use ferret_session::system::{uses_functions, SystemFacts};
use std::path::{Path, PathBuf};

/// One rule of the file and the name its metrics carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedRule {
    pub name: String,
    pub plan: RulePlan,
}

#[derive(Debug, thiserror::Error)]
pub enum RulesFileError {
    #[error("cannot read the rules file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Untrusted(#[from] ferret_session::trust::UntrustedFile),
    /// `diagnostics` is the rendered text of every error and warning.
    #[error("the rules file {path} has errors; the running rules stay:\n{diagnostics}")]
    Invalid { path: PathBuf, diagnostics: String },
    #[error("the rules file {path} holds no rules")]
    Empty { path: PathBuf },
}

/// What reading the file gave: the rules, and the warnings the checker
/// had (rendered), for the log.
#[derive(Debug)]
pub struct Loaded {
    pub rules: Vec<NamedRule>,
    pub warnings: Option<String>,
}

/// Reads and compiles `path`. As root, a file others can change is refused
/// unless `allow_unsafe`. Function names are looked up only when a rule
/// traces functions (the catalog is built once and kept in `facts`).
pub fn load(
    path: &Path,
    facts: &mut SystemFacts,
    allow_unsafe: bool,
) -> Result<Loaded, RulesFileError> {
    if !allow_unsafe {
        // SAFETY: geteuid has no preconditions.
        ferret_session::trust::check(path, unsafe { libc::geteuid() })?;
    }
    let text = std::fs::read_to_string(path).map_err(|source| RulesFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if uses_functions(&text) {
        if let Ok(catalog) = facts.kernel.catalog() {
            catalog.add_to(&mut facts.funcs);
        }
    }
    compile(path, &text, facts)
}

/// Compiles the text of the file named `path`.
pub fn compile(path: &Path, text: &str, facts: &SystemFacts) -> Result<Loaded, RulesFileError> {
    let (plan, diags) = ferret_core::compile(text, &facts.env());
    let rendered = (!diags.is_empty())
        .then(|| ferret_core::diag::render(&path.display().to_string(), text, &diags, false));
    let Some(plan) = plan else {
        if !text.lines().any(is_rule_line) {
            return Err(RulesFileError::Empty {
                path: path.to_path_buf(),
            });
        }
        return Err(RulesFileError::Invalid {
            path: path.to_path_buf(),
            diagnostics: rendered.unwrap_or_default(),
        });
    };
    let names = names_in(text, plan.rules.iter().map(|r| r.text.as_str()));
    let rules = plan
        .rules
        .into_iter()
        .zip(names)
        .map(|(plan, name)| NamedRule {
            name: name.unwrap_or_else(|| plan.text.clone()),
            plan,
        })
        .collect();
    Ok(Loaded {
        rules,
        warnings: rendered,
    })
}

fn is_rule_line(line: &str) -> bool {
    let t = line.trim();
    !t.is_empty() && !t.starts_with('#')
}

/// The `# name: NAME` comment on the line before each rule, found by the
/// rule's text in order through the file.
fn names_in<'a>(text: &str, rules: impl Iterator<Item = &'a str>) -> Vec<Option<String>> {
    let mut from = 0;
    rules
        .map(|rule| {
            let at = text[from..].find(rule).map(|i| i + from)?;
            from = at + rule.len();
            let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
            if line_start == 0 {
                return None;
            }
            let before = &text[..line_start - 1];
            let prev = &before[before.rfind('\n').map_or(0, |i| i + 1)..];
            name_comment(prev)
        })
        .collect()
}

/// `# name: drops` → `drops`.
fn name_comment(line: &str) -> Option<String> {
    let rest = line.trim().strip_prefix('#')?.trim_start();
    let name = rest.strip_prefix("name:")?.trim();
    (!name.is_empty()).then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> SystemFacts {
        SystemFacts {
            reasons: Ok(ferret_core::reasons::DropReasons::from_pairs([(
                "NETFILTER_DROP",
                12,
            )])),
            funcs: ferret_core::hooks::HookNames::tracepoints(),
            kernel: Default::default(),
        }
    }

    #[test]
    fn rules_take_the_name_of_the_comment_above_them() {
        let text = "# name: drops\non drop count by reason\n\non recv where udp hist len\n# a note\n# name: web\non drop where dport == 443 print\n";
        let loaded = compile(Path::new("r.ferret"), text, &facts()).unwrap();
        let names: Vec<&str> = loaded.rules.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            ["drops", "on recv where udp hist len", "web"],
            "an unnamed rule is labelled by its text"
        );
    }

    #[test]
    fn a_broken_file_is_refused_with_its_diagnostics() {
        let e = compile(
            Path::new("r.ferret"),
            "on drop where dprt == 443\n",
            &facts(),
        )
        .unwrap_err();
        let RulesFileError::Invalid { diagnostics, .. } = &e else {
            panic!("{e:?}");
        };
        assert!(diagnostics.contains("dport"), "{diagnostics}");
        assert!(e.to_string().contains("the running rules stay"), "{e}");
        let e = compile(Path::new("r.ferret"), "# nothing yet\n", &facts()).unwrap_err();
        assert!(matches!(e, RulesFileError::Empty { .. }), "{e:?}");
    }
}
