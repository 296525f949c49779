//! File access for playbooks, only with `--allow-script-io`. Without it the
//! same functions exist and fail with a message that says how to allow
//! them, so a playbook that needs files is told why, not "not found".
//! There are no network functions at all.

use ferret_core::outfile::WriteMode;
use rhai::{Engine, EvalAltResult, NativeCallContext};
use std::io::Write;
use std::path::Path;

type Res<T> = Result<T, Box<EvalAltResult>>;

fn fail(ctx: &NativeCallContext, message: String) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(message.into(), ctx.call_position()).into()
}

pub fn register(engine: &mut Engine, allow: bool, dir: Option<&Path>) {
    if !allow {
        for name in ["read_file", "write_file", "append_file"] {
            let refuse = move |ctx: NativeCallContext| -> Res<()> {
                Err(fail(
                    &ctx,
                    format!("{name}(): playbooks have no file access; run ferret with --allow-script-io to allow it"),
                ))
            };
            engine.register_fn(name, move |ctx: NativeCallContext, _: &str| refuse(ctx));
            engine.register_fn(name, move |ctx: NativeCallContext, _: &str, _: &str| {
                refuse(ctx)
            });
        }
        return;
    }
    if let Some(dir) = dir {
        engine.set_module_resolver(rhai::module_resolvers::FileModuleResolver::new_with_path(
            dir,
        ));
    }
    engine.register_fn(
        "read_file",
        |ctx: NativeCallContext, path: &str| -> Res<String> {
            std::fs::read_to_string(path)
                .map_err(|e| fail(&ctx, format!("read_file(\"{path}\"): {e}")))
        },
    );
    engine.register_fn(
        "write_file",
        |ctx: NativeCallContext, path: &str, text: &str| -> Res<()> {
            write_with(Path::new(path), text, WriteMode::Truncate)
                .map_err(|e| fail(&ctx, format!("write_file(\"{path}\"): {e}")))
        },
    );
    engine.register_fn(
        "append_file",
        |ctx: NativeCallContext, path: &str, text: &str| -> Res<()> {
            write_with(Path::new(path), text, WriteMode::Append)
                .map_err(|e| fail(&ctx, format!("append_file(\"{path}\"): {e}")))
        },
    );
}

/// Through the one opener of files ferret writes (no link followed, mode
/// 0600, another user's file refused).
fn write_with(path: &Path, text: &str, mode: WriteMode) -> std::io::Result<()> {
    let mut file = ferret_core::outfile::open(path, mode).map_err(std::io::Error::other)?;
    file.write_all(text.as_bytes())
}
