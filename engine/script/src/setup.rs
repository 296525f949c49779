//! The hardened engine: bounded work per call, bounded data, no `eval`,
//! and no way to reach files or the network (Rhai's core has none; `import`
//! is the only door and it is shut unless script I/O is allowed).

use rhai::{Engine, EvalAltResult, Module, Position, Shared};

/// What one script may use. Operations are counted per hook call, so an
/// endless loop in `on_event` stops that call, not the trace a second later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub operations: u64,
    pub call_levels: usize,
    pub expr_depth: usize,
    pub fn_expr_depth: usize,
    pub string_bytes: usize,
    pub array_items: usize,
    pub map_items: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            // About a second of work in a release build: far more than any
            // handler needs, soon enough to tell a loop from a slow script.
            operations: 10_000_000,
            call_levels: 32,
            expr_depth: 64,
            fn_expr_depth: 32,
            string_bytes: 1 << 20,
            array_items: 100_000,
            map_items: 100_000,
        }
    }
}

/// An engine with the limits set, `eval` removed, and imports refused;
/// the API is registered on top of this by the host.
pub fn base_engine(limits: &Limits) -> Engine {
    let mut engine = Engine::new();
    engine
        .set_max_operations(limits.operations)
        .set_max_call_levels(limits.call_levels)
        .set_max_expr_depths(limits.expr_depth, limits.fn_expr_depth)
        .set_max_string_size(limits.string_bytes)
        .set_max_array_size(limits.array_items)
        .set_max_map_size(limits.map_items)
        .set_module_resolver(NoImports);
    // `eval` runs text the playbook did not contain: error lines would
    // point nowhere, and review of a playbook could not see what it runs.
    engine.disable_symbol("eval");
    engine
}

/// Refuses every `import`, saying how to allow it.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoImports;

impl rhai::ModuleResolver for NoImports {
    fn resolve(
        &self,
        _: &Engine,
        _: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<Shared<Module>, Box<EvalAltResult>> {
        Err(EvalAltResult::ErrorRuntime(
            format!(
                "`import \"{path}\"` reads a file, and playbooks have no file access; \
                 run with --allow-script-io to import from the playbook's directory"
            )
            .into(),
            pos,
        )
        .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            operations: 10_000,
            ..Limits::default()
        }
    }

    #[test]
    fn endless_loops_stop_at_the_operation_limit() {
        let e = base_engine(&limits());
        let err = e.run("let i = 0; loop { i += 1; }").unwrap_err();
        assert!(
            matches!(*err, EvalAltResult::ErrorTooManyOperations(..)),
            "{err:?}"
        );
    }

    #[test]
    fn deep_recursion_and_huge_strings_are_refused() {
        let e = base_engine(&limits());
        let err = e.run("fn f(n) { f(n + 1) } f(0)").unwrap_err();
        assert!(format!("{err}").contains("Stack overflow"), "{err}");
        let e = base_engine(&Limits::default());
        let err = e
            .run("let s = \"x\"; for i in 0..30 { s += s; }")
            .unwrap_err();
        assert!(
            matches!(*err, EvalAltResult::ErrorDataTooLarge(..)),
            "{err:?}"
        );
    }

    #[test]
    fn eval_and_import_are_refused() {
        let e = base_engine(&limits());
        assert!(e.compile("eval(\"1\")").is_err());
        let err = e.run("import \"x\" as x;").unwrap_err();
        assert!(err.to_string().contains("--allow-script-io"), "{err}");
    }
}
