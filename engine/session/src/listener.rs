//! What the caller of a one-shot trace or a playbook hears while it runs.

/// The caller's side of a trace: lines for standard error, and the moment
/// every probe is attached. A closure taking `&str` is a listener that
/// only hears the lines.
pub trait Listener {
    /// A line for standard error: the ready line, a warning, how long
    /// detaching took.
    fn notice(&mut self, line: &str);

    /// Once, when every probe is attached, just before the ready line is
    /// told and before the `--cmd` command starts: the place to give up
    /// what attaching needed, so that a process waiting for the ready line
    /// sees it already done.
    fn ready(&mut self) {}
}

impl<F: FnMut(&str)> Listener for F {
    fn notice(&mut self, line: &str) {
        self(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closure_hears_the_lines_and_ignores_ready() {
        let mut heard = Vec::new();
        {
            let mut closure = |line: &str| heard.push(line.to_string());
            let listener: &mut dyn Listener = &mut closure;
            listener.notice("ferret: ready");
            listener.ready();
        }
        assert_eq!(heard, ["ferret: ready"]);
    }
}
