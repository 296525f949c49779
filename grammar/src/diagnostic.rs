//! Diagnostics as data. Every stage (parse here, check in the engine)
//! produces these; one renderer in the engine turns them into text.

use crate::ast::Span;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// The headline: what is wrong.
    pub message: String,
    /// Where; a byte span into the whole program text.
    pub span: Span,
    /// Text under the caret, e.g. "did you mean `dport`?".
    pub label: String,
    /// Further lines: what is expected, what to do.
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            span,
            label: String::new(),
            notes: Vec::new(),
        }
    }

    pub fn warning(message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(message, span)
        }
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = label.into();
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    /// Labels the caret with the closest candidate, when one is close enough.
    pub fn suggesting<'a>(
        self,
        word: &str,
        candidates: impl IntoIterator<Item = &'a str>,
    ) -> Diagnostic {
        match closest(word, candidates) {
            // The word itself is valid here, so the problem lies elsewhere
            // (e.g. after it); "did you mean `limit`?" under `limit` misleads.
            Some(best) if best.eq_ignore_ascii_case(word) => self,
            Some(best) => self.with_label(format!("did you mean `{best}`?")),
            None => self,
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// The candidate nearest to `word` by edit distance (case-insensitive),
/// if it is near enough to be a plausible typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    let limit = (word.chars().count() / 3).max(1);
    let mut best: Option<(usize, &'a str)> = None;
    for cand in candidates {
        let d = edit_distance(&word, &cand.to_ascii_lowercase());
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, cand));
        }
    }
    best.map(|(_, c)| c)
}

/// Levenshtein distance, with adjacent transpositions counted as one edit
/// (the commonest typo: `dprot` for `dport`).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev2 = vec![0usize; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0usize; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(prev2[j - 2] + 1);
            }
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_counts_transpositions_once() {
        assert_eq!(edit_distance("dport", "dport"), 0);
        assert_eq!(edit_distance("dprt", "dport"), 1);
        assert_eq!(edit_distance("dprot", "dport"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn closest_picks_the_nearest_plausible_word() {
        let fields = ["sport", "dport", "saddr", "daddr", "proto"];
        assert_eq!(closest("dprt", fields), Some("dport"));
        assert_eq!(closest("DPORT", fields), Some("dport"));
        assert_eq!(closest("xyzzy", fields), None);
    }

    #[test]
    fn an_exact_word_gets_no_suggestion() {
        let d = Diagnostic::error("x", Span::default()).suggesting("Limit", ["limit", "print"]);
        assert_eq!(d.label, "");
    }
}
