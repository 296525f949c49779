//! `ferret check`: rules → diagnostics and the kernel plan, no kernel needed.

use crate::exit::Exit;
use crate::source::RuleSource;
use ferret_session::system::SystemFacts;

pub fn run(source: &RuleSource, json: bool) -> Exit {
    let facts = SystemFacts::load_for(&source.text);
    let Some(plan) = source.compile_reporting(&facts) else {
        return Exit::RuleError;
    };
    if json {
        let value = serde_json::json!({ "rules": plan.rules, "needs": plan.needs });
        println!(
            "{}",
            serde_json::to_string_pretty(&value).expect("plans serialize")
        );
    } else {
        print!("{}", plan.render_text());
    }
    Exit::Ok
}
