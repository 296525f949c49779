//! What a rule table has attached, in words: the ready line and the REPL's
//! `status` say it, for the real kernel and the fake alike.

use super::{FuncStatus, RuleTable};

impl RuleTable {
    /// "drop (tp_btf), recv (tp_btf), 12 functions (kprobe.multi, ...)":
    /// the hooks and function probes attached, or "no hooks".
    pub fn attached_text(&self) -> String {
        let mut names: Vec<String> = self
            .attached()
            .iter()
            .map(|(h, k)| format!("{} ({})", self.hook_label(*h), k.name()))
            .collect();
        let st = self.func_status();
        if let Some(backend) = st.backend {
            names.push(func_status_text(st, backend));
        }
        for kind in ferret_core::bpf_prog::ProgKind::ALL {
            let progs: Vec<&str> = self
                .traced_programs()
                .values()
                .filter(|p| p.kind == kind)
                .map(|p| p.name.as_str())
                .collect();
            if !progs.is_empty() {
                names.push(format!(
                    "{} {} (fentry/fexit)",
                    kind.name(),
                    progs.join(" ")
                ));
            }
        }
        if names.is_empty() {
            "no hooks".into()
        } else {
            names.join(", ")
        }
    }
}

fn func_status_text(st: &FuncStatus, backend: &str) -> String {
    let mut text = format!(
        "{} functions ({backend}, attached in {:.2} s",
        st.attached,
        st.attach_time.as_secs_f64()
    );
    if !st.skipped.is_empty() {
        let mut why: Vec<String> = st
            .skipped
            .iter()
            .take(3)
            .map(|(f, w)| format!("{f}: {w}"))
            .collect();
        if st.skipped.len() > 3 {
            why.push(format!("and {} more", st.skipped.len() - 3));
        }
        text.push_str(&format!(
            "; {} skipped: {}",
            st.skipped.len(),
            why.join(", ")
        ));
    }
    if let Some(why) = &st.clone_tracking {
        text.push_str(&format!("; clones do not inherit `track`: {why}"));
    }
    text.push(')');
    text
}

/// The exit line of a session that had function probes: both times, so
/// attaching and detaching compare at a glance.
pub fn detached_text(st: &FuncStatus) -> String {
    format!(
        "ferret: detached {} function probes in {:.2} s (attached in {:.2} s{})",
        st.attached,
        st.detach_time.as_secs_f64(),
        st.attach_time.as_secs_f64(),
        st.backend.map(|b| format!(", {b}")).unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_exit_line_has_both_times_and_the_backend() {
        let st = FuncStatus {
            backend: Some("kprobe"),
            attached: 1463,
            attach_time: Duration::from_millis(18_210),
            detach_time: Duration::from_millis(2_500),
            ..FuncStatus::default()
        };
        assert_eq!(
            detached_text(&st),
            "ferret: detached 1463 function probes in 2.50 s (attached in 18.21 s, kprobe)"
        );
    }
}
