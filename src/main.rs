//! The `ferret` command line.

mod check_cmd;
mod cli;
mod exit;
mod source;

use clap::Parser;
use cli::{Cli, Command};
use exit::Exit;
use source::RuleSource;

fn main() {
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
    match cli.command {
        Some(Command::Check(args)) => {
            let source = match (&args.expr, &args.file) {
                (Some(e), _) => RuleSource::inline(e),
                (None, Some(path)) => RuleSource::file(path)?,
                (None, None) => {
                    eprintln!("ferret check: give rules with -e 'on drop ...' or a rule file");
                    return Ok(Exit::Usage);
                }
            };
            Ok(check_cmd::run(&source, json))
        }
        Some(Command::Fields) => {
            for f in ferret_engine::catalog::FIELDS {
                println!("{:<10} {}", f.name, f.doc);
            }
            Ok(Exit::Ok)
        }
        Some(Command::Reasons) => {
            let reasons = ferret_engine::reasons::DropReasons::from_kernel()?;
            for name in reasons.names() {
                println!("{:>4}  {name}", reasons.value_of(name).unwrap_or_default());
            }
            Ok(Exit::Ok)
        }
        Some(Command::Run(_)) | Some(Command::Demo) | None => {
            anyhow::bail!("tracing is not built yet")
        }
    }
}
