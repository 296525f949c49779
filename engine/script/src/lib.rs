//! Rhai playbooks: rules say what to catch, a script says what to do with
//! it in userspace. One hardened Rhai engine per playbook ([`setup`]), the
//! event as a registered type ([`event`]), the script API ([`api`]), the
//! host that calls the hooks ([`host`]) and the trace loop over a real
//! [`Session`](ferret_session::session::Session) ([`run`]).
//!
//! The host drives anything that implements
//! [`RuleControl`](ferret_session::control::RuleControl), so everything but
//! the kernel is tested without root against a fake one.

pub mod api;
mod capture;
pub mod error;
pub mod event;
pub mod facts;
pub mod host;
mod io;
pub mod replay;
pub mod run;
pub mod setup;
mod state;
pub mod value;

pub use error::{ScriptError, ScriptErrorKind};
pub use event::ScriptEvent;
pub use host::{Host, HostOptions};
pub use setup::Limits;

use std::path::{Path, PathBuf};

/// Hooks ferret calls by name, with the number of parameters each takes.
pub const HOOKS: &[(&str, usize)] = &[("on_start", 0), ("on_event", 1), ("on_end", 0)];

/// A compiled playbook: its name (the path, for messages), its text (for
/// error lines) and its syntax tree. Compiling checks the syntax and the
/// hook signatures; nothing runs yet.
#[derive(Debug, Clone)]
pub struct Playbook {
    pub name: String,
    pub text: String,
    /// Where `import` looks when script I/O is allowed.
    pub dir: Option<PathBuf>,
    pub(crate) ast: rhai::AST,
}

impl Playbook {
    pub fn load(path: &Path) -> Result<Playbook, ScriptError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ScriptError {
            file: name.clone(),
            kind: ScriptErrorKind::Read { source },
            at: None,
            notes: vec![],
        })?;
        let mut p = Playbook::from_text(&name, &text)?;
        p.dir = path.parent().map(Path::to_path_buf);
        Ok(p)
    }

    pub fn from_text(name: &str, text: &str) -> Result<Playbook, ScriptError> {
        let engine = setup::base_engine(&Limits::default());
        let mut ast = engine
            .compile(text)
            .map_err(|e| error::from_parse(name, &e))?;
        ast.set_source(name);
        for f in ast.iter_functions() {
            if let Some((hook, want)) = HOOKS.iter().find(|(h, _)| *h == f.name) {
                if f.params.len() != *want {
                    return Err(ScriptError {
                        file: name.to_string(),
                        kind: ScriptErrorKind::HookSignature {
                            hook,
                            want: *want,
                            found: f.params.len(),
                        },
                        at: error::find_fn(text, hook),
                        notes: vec![],
                    });
                }
            }
        }
        Ok(Playbook {
            name: name.to_string(),
            text: text.to_string(),
            dir: None,
            ast,
        })
    }

    /// Whether the script defines `fn name(..)` with `params` parameters.
    pub fn has_fn(&self, name: &str, params: usize) -> bool {
        self.ast
            .iter_functions()
            .any(|f| f.name == name && f.params.len() == params)
    }

    /// The error with its source line and a caret, as the user sees it.
    pub fn render_error(&self, err: &ScriptError, color: bool) -> String {
        err.render(&self.text, color)
    }
}
