//! One line of REPL input → a [`Command`]. A line that starts with `on` is
//! rule text (possibly several rules joined by `;`); anything else is a
//! command word and its arguments.

use std::path::PathBuf;

/// The commands, with a one-line description each, in the order `help`
/// lists them. Completion offers the same words.
pub const COMMANDS: &[(&str, &str, &str)] = &[
    (
        "list",
        "",
        "show the rules, their numbers and whether they run",
    ),
    (
        "del",
        "N [N..]",
        "delete rules (their probes go when no rule needs them)",
    ),
    ("pause", "N|all", "stop a rule matching without deleting it"),
    ("resume", "N|all", "let paused rules match again"),
    (
        "stats",
        "",
        "per rule: matched, emitted, shown, lost, rate-limited",
    ),
    ("clear", "", "delete every rule"),
    ("load", "FILE", "add the rules of a rule file"),
    ("save", "FILE", "write the rules to a rule file"),
    ("fields", "", "the fields a filter can use"),
    (
        "funcs",
        "GLOB",
        "kernel functions that take an skb, e.g. funcs ip_*",
    ),
    ("reasons", "", "the drop reasons of the running kernel"),
    ("help", "", "this list"),
    ("quit", "", "end the session (also Ctrl-D)"),
];

/// Which rules a `pause`/`resume` acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    All,
    Ids(Vec<usize>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Nothing typed (or only a comment).
    Empty,
    /// Rule text, as typed.
    Rules(String),
    List,
    Del(Vec<usize>),
    Pause(Target),
    Resume(Target),
    Stats,
    Clear,
    Load(PathBuf),
    Save(PathBuf),
    Fields,
    Funcs(String),
    Reasons,
    Help,
    Quit,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("unknown command `{word}`{}; type a rule (`on drop where dport == 443`) or `help`", suggestion(.closest))]
    Unknown {
        word: String,
        closest: Option<&'static str>,
    },
    #[error("`{command}` needs {what}, e.g. `{example}`")]
    MissingArgument {
        command: &'static str,
        what: &'static str,
        example: &'static str,
    },
    #[error("`{text}` is not a rule number; `list` shows them")]
    NotARuleNumber { text: String },
    #[error("`{command}` takes no arguments")]
    UnexpectedArgument { command: &'static str },
}

fn suggestion(closest: &Option<&'static str>) -> String {
    closest.map_or(String::new(), |c| format!(" (did you mean `{c}`?)"))
}

/// Is this line rule text rather than a command?
pub fn is_rule_text(line: &str) -> bool {
    let first = line.split_whitespace().next().unwrap_or("");
    first.eq_ignore_ascii_case("on")
}

pub fn parse(line: &str) -> Result<Command, CommandError> {
    let trimmed = line.trim();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Ok(Command::Empty);
    }
    if is_rule_text(trimmed) {
        return Ok(Command::Rules(trimmed.to_string()));
    }
    let (word, rest) = match trimmed.split_once(char::is_whitespace) {
        Some((w, r)) => (w, r.trim()),
        None => (trimmed, ""),
    };
    let lower = word.to_ascii_lowercase();
    let bare = |command: &'static str, cmd: Command| {
        if rest.is_empty() {
            Ok(cmd)
        } else {
            Err(CommandError::UnexpectedArgument { command })
        }
    };
    match lower.as_str() {
        "list" | "ls" => bare("list", Command::List),
        "del" | "delete" | "rm" => Ok(Command::Del(ids("del", rest)?)),
        "pause" => Ok(Command::Pause(target("pause", rest)?)),
        "resume" => Ok(Command::Resume(target("resume", rest)?)),
        "stats" => bare("stats", Command::Stats),
        "clear" => bare("clear", Command::Clear),
        "load" => Ok(Command::Load(path("load", rest, "load rules.ferret")?)),
        "save" => Ok(Command::Save(path("save", rest, "save rules.ferret")?)),
        "fields" => bare("fields", Command::Fields),
        "funcs" => Ok(Command::Funcs(
            if rest.is_empty() { "*" } else { rest }.to_string(),
        )),
        "reasons" => bare("reasons", Command::Reasons),
        "help" | "?" => Ok(Command::Help),
        "quit" | "exit" | "q" => bare("quit", Command::Quit),
        _ => Err(CommandError::Unknown {
            word: word.to_string(),
            closest: ferret_grammar::closest(
                &lower,
                COMMANDS.iter().map(|(c, ..)| *c).chain(["on"]),
            ),
        }),
    }
}

fn ids(command: &'static str, rest: &str) -> Result<Vec<usize>, CommandError> {
    if rest.is_empty() {
        return Err(CommandError::MissingArgument {
            command,
            what: "a rule number",
            example: "del 1",
        });
    }
    rest.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .map(|w| {
            w.trim_start_matches('#')
                .parse::<usize>()
                .map_err(|_| CommandError::NotARuleNumber {
                    text: w.to_string(),
                })
        })
        .collect()
}

fn target(command: &'static str, rest: &str) -> Result<Target, CommandError> {
    if rest.eq_ignore_ascii_case("all") {
        return Ok(Target::All);
    }
    match ids(command, rest) {
        Err(CommandError::MissingArgument { .. }) => Err(CommandError::MissingArgument {
            command,
            what: "a rule number or `all`",
            example: if command == "pause" {
                "pause all"
            } else {
                "resume 1"
            },
        }),
        other => other.map(Target::Ids),
    }
}

fn path(command: &'static str, rest: &str, example: &'static str) -> Result<PathBuf, CommandError> {
    let unquoted = rest.trim_matches(|c| c == '"' || c == '\'');
    if unquoted.is_empty() {
        return Err(CommandError::MissingArgument {
            command,
            what: "a file name",
            example,
        });
    }
    Ok(PathBuf::from(unquoted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_lines_that_start_with_on() {
        assert_eq!(
            parse("  ON drop where dport == 443 print ").unwrap(),
            Command::Rules("ON drop where dport == 443 print".into())
        );
        assert_eq!(parse("").unwrap(), Command::Empty);
        assert_eq!(parse("# a note").unwrap(), Command::Empty);
    }

    #[test]
    fn commands_take_their_arguments() {
        assert_eq!(parse("del 1").unwrap(), Command::Del(vec![1]));
        assert_eq!(parse("del 2, 3 #4").unwrap(), Command::Del(vec![2, 3, 4]));
        assert_eq!(parse("pause ALL").unwrap(), Command::Pause(Target::All));
        assert_eq!(
            parse("resume 7").unwrap(),
            Command::Resume(Target::Ids(vec![7]))
        );
        assert_eq!(
            parse("load 'my rules.ferret'").unwrap(),
            Command::Load("my rules.ferret".into())
        );
        assert_eq!(parse("funcs").unwrap(), Command::Funcs("*".into()));
        assert_eq!(parse("funcs ip_*").unwrap(), Command::Funcs("ip_*".into()));
        assert_eq!(parse("Quit").unwrap(), Command::Quit);
    }

    #[test]
    fn mistakes_say_what_to_type() {
        let e = parse("lsit").unwrap_err();
        assert_eq!(
            e,
            CommandError::Unknown {
                word: "lsit".into(),
                closest: Some("list")
            }
        );
        assert!(e.to_string().contains("did you mean `list`?"), "{e}");
        let e = parse("del").unwrap_err().to_string();
        assert!(e.contains("`del 1`"), "{e}");
        let e = parse("pause").unwrap_err().to_string();
        assert!(e.contains("`pause all`"), "{e}");
        assert_eq!(
            parse("del one").unwrap_err(),
            CommandError::NotARuleNumber { text: "one".into() }
        );
        assert_eq!(
            parse("list 3").unwrap_err(),
            CommandError::UnexpectedArgument { command: "list" }
        );
        assert!(parse("save").is_err());
    }
}
