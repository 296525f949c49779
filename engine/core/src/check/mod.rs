//! check: AST → IR. Resolves fields against the catalog, literals by field
//! type, drop reason names against the kernel's BTF, and finds rules that
//! can never match. Collects every diagnostic of the input. Pure: what it
//! needs from the system comes in through `CheckEnv`.

mod filter;
mod never;
mod pcap;
mod values;

use crate::bpf_prog::ProgKind;
use crate::catalog;
use crate::hooks::{HookNames, TRACEPOINT_TRIGGERS};
use crate::ir::{ActionsIr, CheckedRule, Filter, KeyField, TriggerIr};
use crate::reasons::DropReasons;
use ferret_grammar::ast::{ActionKind, Ident, Program, Rule, TriggerKind};
use ferret_grammar::Diagnostic;

pub use values::addr_text;

/// Resolves `netns` names and paths to inode numbers.
pub trait NetnsResolver {
    /// The inode of the namespace, or why it cannot be found.
    fn resolve(&self, name: &str) -> Result<u32, NetnsError>;
}

/// Why a namespace name or path does not resolve.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    #[error("`{name}` is not a known namespace")]
    Unknown { name: String },
    #[error("{}: {source}", path.display())]
    Unreadable {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{}: inode does not fit 32 bits", path.display())]
    InodeTooWide { path: std::path::PathBuf },
}

/// A resolver that knows no names (pure checks, tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoNetnsNames;

impl NetnsResolver for NoNetnsNames {
    fn resolve(&self, name: &str) -> Result<u32, NetnsError> {
        Err(NetnsError::Unknown {
            name: name.to_string(),
        })
    }
}

/// What the checker may know about the running system.
pub struct CheckEnv<'a> {
    /// The kernel's drop reasons, or why they could not be read.
    pub reasons: Result<&'a DropReasons, &'a dyn std::error::Error>,
    pub funcs: &'a HookNames,
    pub netns: &'a dyn NetnsResolver,
}

impl std::fmt::Debug for CheckEnv<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckEnv")
            .field("reasons", &self.reasons.map(|r| r.len()))
            .finish_non_exhaustive()
    }
}

/// The rules that passed, and every diagnostic (errors and warnings).
#[derive(Debug, Clone, Default)]
pub struct Checked {
    pub rules: Vec<CheckedRule>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

pub fn check_program(program: &Program, env: &CheckEnv<'_>) -> Checked {
    let mut out = Checked::default();
    for (i, rule) in program.rules.iter().enumerate() {
        let mut diags = Vec::new();
        let checked = check_rule(i + 1, rule, env, &mut diags);
        let failed = diags.iter().any(Diagnostic::is_error);
        out.diagnostics.extend(diags);
        if !failed {
            out.rules.push(checked);
        }
    }
    out
}

fn check_rule(
    number: usize,
    rule: &Rule,
    env: &CheckEnv<'_>,
    diags: &mut Vec<Diagnostic>,
) -> CheckedRule {
    let triggers = triggers(rule);
    // Calls of drop functions (kfree_skb_reason, sk_skb_reason_drop) carry
    // their reason too; on other functions it is absent and compares false,
    // so a function trigger naming none of them cannot match on `reason`
    // (known only when the kernel's functions were looked up).
    let carries_reason = triggers.iter().any(|t| match t {
        TriggerIr::Hook { hook, .. } => *hook == crate::abi::hook::DROP,
        TriggerIr::Func { globs } => globs.iter().any(|g| env.funcs.may_carry_reason(g)),
        TriggerIr::Tracepoint { .. } | TriggerIr::Prog { .. } => false,
    });
    let mut pcap = Vec::new();
    let filter = match &rule.filter {
        Some(expr) => {
            let mut fc = filter::FilterCheck {
                env,
                diags,
                carries_reason,
                pcap_units: Vec::new(),
            };
            let f = fc.expr(expr);
            pcap = fc.pcap_units;
            if !diags.iter().any(Diagnostic::is_error) {
                if let Some(why) = never::never_matches(&f, &rule.text, rule.span.start) {
                    diags.push(
                        Diagnostic::error("this rule can never match", expr.span)
                            .with_label(why)
                            .with_note("change the filter, or split it into rules that can match"),
                    );
                }
            }
            f
        }
        None => Filter::True,
    };
    let actions = actions(rule, diags);
    CheckedRule {
        number,
        text: rule.text.clone(),
        span: rule.span,
        triggers,
        filter,
        pcap,
        actions,
    }
}

fn triggers(rule: &Rule) -> Vec<TriggerIr> {
    let mut out: Vec<TriggerIr> = Vec::new();
    for t in &rule.triggers {
        let ir = match &t.kind {
            TriggerKind::Func { globs } => TriggerIr::Func {
                globs: globs.iter().map(|g| g.text.clone()).collect(),
            },
            TriggerKind::Any => TriggerIr::Func {
                globs: vec!["*".into()],
            },
            TriggerKind::Prog { xdp, globs } => TriggerIr::Prog {
                prog: if *xdp { ProgKind::Xdp } else { ProgKind::Tc },
                globs: if globs.is_empty() {
                    vec!["*".into()]
                } else {
                    globs.iter().map(|g| g.text.clone()).collect()
                },
            },
            TriggerKind::Tp { category, name } => TriggerIr::Tracepoint {
                category: category.text.clone(),
                name: name.text.clone(),
            },
            simple => {
                let word = match simple {
                    TriggerKind::Drop => "drop",
                    TriggerKind::Free => "free",
                    TriggerKind::Recv => "recv",
                    TriggerKind::Xmit => "xmit",
                    _ => "queue",
                };
                let (name, hook, tracepoint) = *TRACEPOINT_TRIGGERS
                    .iter()
                    .find(|(n, _, _)| *n == word)
                    .expect("every simple trigger has a tracepoint");
                TriggerIr::Hook {
                    hook,
                    name,
                    tracepoint,
                }
            }
        };
        if !out.contains(&ir) {
            out.push(ir);
        }
    }
    out
}

fn actions(rule: &Rule, diags: &mut Vec<Diagnostic>) -> ActionsIr {
    let mut a = ActionsIr::default();
    for action in &rule.actions {
        match &action.kind {
            ActionKind::Print { fields } => {
                a.print = true;
                a.print_fields = fields
                    .iter()
                    .filter_map(|f| known_field(f, diags).map(str::to_string))
                    .collect();
            }
            ActionKind::Stack => a.stack = true,
            ActionKind::Count { by } => {
                let keys = by
                    .iter()
                    .filter_map(|k| match k.text.as_str() {
                        "rule" => Some(KeyField::Rule),
                        _ => known_field(k, diags).map(|f| KeyField::Field(f.to_string())),
                    })
                    .collect();
                a.count_by = Some(keys);
            }
            ActionKind::Hist { field } => {
                if let Some(name) = known_field(field, diags) {
                    let def = catalog::lookup(name).expect("known field");
                    if def.is_ordered() || def.kind == catalog::FieldKind::Uint {
                        a.hist = Some(name.to_string());
                    } else {
                        diags.push(
                            Diagnostic::error(
                                format!("cannot make a histogram of `{name}`"),
                                field.span,
                            )
                            .with_label(
                                "`hist` needs a numeric field, like `len`, `ttl` or `dport`",
                            ),
                        );
                    }
                }
            }
            ActionKind::Capture { snaplen } => {
                let max = u64::from(crate::abi::MAX_SNAPLEN);
                let n = snaplen
                    .as_ref()
                    .map_or(Ok(max), |v| values::count(v, "snaplen", max));
                a.capture = n.map_err(|d| diags.push(d)).ok().map(|n| n as u32);
            }
            ActionKind::Track => a.track = true,
            ActionKind::Explain => a.explain = true,
            ActionKind::Call { handler } => a.call = Some(handler.text.clone()),
            ActionKind::Limit { rate, unit } => {
                if !matches!(unit.text.as_str(), "s" | "sec" | "second") {
                    diags.push(
                        Diagnostic::error(format!("unknown rate unit `/{}`", unit.text), unit.span)
                            .with_label("rates are per second: `limit 10/s`"),
                    );
                }
                a.limit_per_sec = values::count(rate, "rate", 10_000_000)
                    .map_err(|d| diags.push(d))
                    .ok();
            }
            ActionKind::StopAfter { count } => {
                a.stop_after = values::count(count, "match count", u64::MAX)
                    .map_err(|d| diags.push(d))
                    .ok();
            }
        }
    }
    if a.stack {
        a.print = true;
    }
    let outputs = a.print
        || a.count_by.is_some()
        || a.hist.is_some()
        || a.capture.is_some()
        || a.call.is_some();
    // `explain` annotates delivered events: a rule that only counts gets
    // them printed too.
    if !outputs || (a.explain && !(a.print || a.capture.is_some() || a.call.is_some())) {
        a.print = true;
    }
    a
}

/// A field name from the catalog, or a diagnostic with the nearest one.
pub(crate) fn known_field<'f>(ident: &'f Ident, diags: &mut Vec<Diagnostic>) -> Option<&'f str> {
    if catalog::lookup(&ident.text).is_some() {
        return Some(&ident.text);
    }
    diags.push(
        Diagnostic::error(format!("unknown field `{}`", ident.text), ident.span)
            .suggesting(&ident.text, catalog::names())
            .with_note("`ferret fields` lists every field"),
    );
    None
}
