//! The `ferret` command line.

mod caps;
mod check_cmd;
mod cli;
mod demo;
mod exit;
mod features_cmd;
mod funcs_cmd;
mod output_file;
mod paths_sink;
mod playbook_cmd;
mod privdrop;
mod progress;
mod record_sink;
mod repl_cmd;
mod replay_cmd;
mod serve_cmd;
mod source;
mod stderr_listener;
mod trace_cmd;

use clap::Parser;
use cli::{Cli, Command};
use exit::Exit;
use source::RuleSource;

fn main() {
    // A panic is a bug: say so plainly. The exit status stays Rust's 101,
    // and the kernel objects go with the process (nothing is pinned).
    std::panic::set_hook(Box::new(|info| {
        eprintln!("ferret: internal error: {info}");
        eprintln!("ferret: this is a bug; please report it with the command line that caused it");
    }));
    let cli = Cli::parse();
    let code = match dispatch(cli) {
        Ok(exit) => exit.code(),
        Err(e) => {
            eprintln!("ferret: error: {e:#}");
            Exit::System.code()
        }
    };
    std::process::exit(code);
}

fn dispatch(cli: Cli) -> anyhow::Result<Exit> {
    let json = cli.trace.output.json;
    let allow_unsafe = cli.trace.output.allow_unsafe_files;
    match cli.command {
        Some(Command::Check(args)) => {
            let source = match (&args.expr, &args.file) {
                (Some(e), _) => RuleSource::inline(e),
                // Checking runs nothing, so any readable file may be checked.
                (None, Some(path)) => RuleSource::file(path, true)?,
                (None, None) => {
                    eprintln!("ferret check: give rules with -e 'on drop ...' or a rule file");
                    return Ok(Exit::Usage);
                }
            };
            Ok(check_cmd::run(&source, json))
        }
        Some(Command::Fields) => {
            for f in ferret_core::catalog::FIELDS {
                println!("{:<10} {}", f.name, f.doc);
            }
            Ok(Exit::Ok)
        }
        Some(Command::Reasons) => {
            let reasons = ferret_kernel::kernel_btf::KernelBtf::running().drop_reasons()?;
            for name in reasons.names() {
                println!("{:>4}  {name}", reasons.value_of(name).unwrap_or_default());
            }
            Ok(Exit::Ok)
        }
        Some(Command::Funcs(args)) => funcs_cmd::run(&args.globs),
        Some(Command::Features) => features_cmd::run(json),
        Some(Command::Run(args)) => playbook_cmd::dispatch(args, cli.trace.output, allow_unsafe),
        Some(Command::Demo) => demo::run(&cli.trace.output),
        Some(Command::Repl) => repl_cmd::run(&cli.trace.output),
        Some(Command::Serve(args)) => serve_cmd::run(&args, &cli.trace.output),
        Some(Command::Merge(args)) => serve_cmd::merge(&args, &cli.trace.output),
        None => {
            let source = match (&cli.trace.rules, &cli.trace.file) {
                (Some(r), _) => RuleSource::inline(r),
                (None, Some(path)) => RuleSource::file(path, allow_unsafe)?,
                (None, None) if cli.trace.output.read.is_some() => {
                    let path = cli.trace.output.read.clone().unwrap_or_default();
                    return replay_cmd::run(&path, None, &cli.trace.output);
                }
                (None, None) if repl_cmd::on_a_terminal() => {
                    return repl_cmd::run(&cli.trace.output)
                }
                (None, None) => {
                    eprintln!("ferret: give rules to trace, e.g. sudo ferret 'on drop where dport == 443 print stack' (see ferret --help)");
                    return Ok(Exit::Usage);
                }
            };
            trace_cmd::run(&source, &cli.trace.output)
        }
    }
}
