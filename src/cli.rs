//! The command line, as clap sees it.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

const EXAMPLES: &str = "\
Examples:
  sudo ferret 'on drop where dport == 443 print stack'
  sudo ferret 'on drop count by reason, func' --duration 10s
  sudo ferret 'on drop count by reason, func' --cmd 'curl -s https://example.invalid'
  sudo ferret 'on recv where udp hist len' --interval 1s
  sudo ferret 'on drop where tcp capture snaplen 128' --pcap drops.pcapng
  sudo ferret --json 'on recv, xmit where host 198.18.0.2 and tcp port 80'
  sudo ferret 'on any where port 443'
  sudo ferret 'on func ip_*, tcp_v4_* where host 198.18.0.2'
  sudo ferret funcs 'ip_*'
  sudo ferret features
  sudo ferret demo
  sudo ferret run scripts/why-dropped.rhai --for 10s
  sudo ferret run scripts/port-blocked.rhai 443 --cmd 'curl -m2 https://198.18.0.2'
  sudo ferret repl     (or just `sudo ferret` on a terminal)
  ferret check -e 'on drop where reason == NETFILTER_DROP limit 10/s'
  ferret check rules.ferret --json
  ferret fields";

#[derive(Debug, Parser)]
#[command(
    name = "ferret",
    version,
    about = "Follow packets through the Linux kernel with rules you write",
    after_help = EXAMPLES,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub trace: TraceArgs,
}

#[derive(Debug, Args, Clone, Default)]
pub struct TraceArgs {
    /// Rules to trace, e.g. 'on drop where dport == 443 print stack'.
    pub rules: Option<String>,

    /// Read the rules from a file instead (one rule per line).
    #[arg(
        short = 'f',
        long = "file",
        value_name = "FILE",
        conflicts_with = "rules"
    )]
    pub file: Option<PathBuf>,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args, Clone, Default)]
pub struct OutputArgs {
    /// Write one JSON object per event (and a summary object at the end).
    #[arg(long, global = true)]
    pub json: bool,

    /// Write events to FILE instead of standard output (created 0600).
    #[arg(short = 'o', long = "output", value_name = "FILE", global = true)]
    pub output: Option<PathBuf>,

    /// Stop after this long, e.g. 500ms, 10s, 2m.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, global = true)]
    pub duration: Option<std::time::Duration>,

    /// Ring buffer size in MiB (a power of two).
    #[arg(long, value_name = "MIB", default_value_t = 8, global = true)]
    pub ring_mib: u32,

    /// Also print the `count`/`hist` tables this often (totals so far), e.g. 1s.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, global = true)]
    pub interval: Option<std::time::Duration>,

    /// Write the packets of `capture` rules to FILE as pcap-ng (created 0600).
    #[arg(long, value_name = "FILE", global = true)]
    pub pcap: Option<PathBuf>,

    /// Record the session to FILE (pcap-ng, created 0600) instead of
    /// printing it: every match of every rule with all its fields, stacks,
    /// the packets of `capture` rules, and what reading it elsewhere needs.
    #[arg(short = 'w', long = "write", value_name = "FILE", global = true)]
    pub write: Option<PathBuf>,

    /// Read a recording made with -w instead of tracing: print it as the
    /// session did, or apply the rules given to it offline (then -w FILE
    /// records what they select, --pcap FILE writes their captures).
    #[arg(short = 'r', long = "read", value_name = "FILE", global = true)]
    pub read: Option<PathBuf>,

    /// Group events per packet (skb) into paths: each packet's functions or
    /// hooks in order, the time between them, the drop or free at the end.
    #[arg(long, global = true)]
    pub by_skb: bool,

    /// Write the packets' paths (as --by-skb groups them) to FILE as one
    /// self-contained HTML page: a timeline per packet, the drop marked,
    /// its reason and stack on hover.
    #[arg(long, value_name = "FILE", global = true)]
    pub html: Option<PathBuf>,

    /// Run COMMAND with sh -c once the probes are ready; the trace ends when
    /// it exits, and ferret exits with its status.
    #[arg(long = "cmd", value_name = "COMMAND", global = true)]
    pub cmd: Option<String>,

    /// How function triggers (`func`, `any`) attach: auto picks
    /// kprobe-multi where the kernel has it, else single kprobes.
    #[arg(long, value_enum, default_value_t = BackendArg::Auto, global = true)]
    pub backend: BackendArg,

    /// More detail: the full verifier log on a load failure.
    #[arg(short, long, global = true)]
    pub verbose: bool,

    /// Run rule files and playbooks even when other users can change them.
    #[arg(long, global = true)]
    pub allow_unsafe_files: bool,

    /// Once the probes are attached and the output files open, continue as
    /// USER (a name or uid), as tcpdump -Z does. Through sudo the default
    /// is the user who ran sudo; `--user root` stays root.
    #[arg(short = 'Z', long = "user", value_name = "USER", global = true)]
    pub user: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check rules and print the kernel plan, without loading anything.
    Check(CheckArgs),
    /// Trace the rules of a file, or run a playbook: `ferret run FILE`, `ferret run PLAYBOOK.rhai [ARGS]`.
    Run(RunArgs),
    /// Build a throwaway lab that drops HTTPS, trace it, explain, clean up.
    Demo,
    /// Type rules while the trace runs (also `ferret` alone on a terminal).
    Repl,
    /// List the fields rules can use.
    Fields,
    /// List the drop reasons of the running kernel.
    Reasons,
    /// List the kernel functions `func GLOB` / `any` can trace, with the
    /// argument that holds the skb.
    Funcs(FuncsArgs),
    /// What this kernel offers (BTF, triggers, function backends, drop
    /// reasons, kfuncs, limits) and which path ferret takes for each; add
    /// its output to bug reports. `--json` for one object.
    Features,
    /// Run as a node agent: rules from a file (reloaded on SIGHUP or when
    /// it changes), events as JSON lines (-o FILE, rotated with -C/-W, or
    /// standard output), Prometheus metrics and /healthz on --metrics ADDR.
    Serve(ServeArgs),
    /// Merge the JSON lines (from `ferret serve`) or pcap-ng recordings of
    /// several nodes into one stream or file ordered by wall-clock time
    /// (-o FILE or standard output).
    Merge(MergeArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The rules file (one rule per line; `# name: NAME` above a rule
    /// names its metrics).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: PathBuf,
    /// Serve /metrics (Prometheus) and /healthz on this address, e.g.
    /// 127.0.0.1:9464 or [::]:9464.
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<std::net::SocketAddr>,
    /// The node name events and metrics carry (default: the host name).
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,
    /// With -o: events files of at most this many MB (10^6 bytes), a new
    /// one started between two lines, as tcpdump -C does.
    #[arg(short = 'C', value_name = "MB", requires = "output")]
    pub file_size_mb: Option<u64>,
    /// With -C: keep this many files (the live one included); the oldest
    /// is deleted, as tcpdump -W does.
    #[arg(
        short = 'W',
        value_name = "N",
        requires = "file_size_mb",
        default_value_t = 10
    )]
    pub file_count: u32,
    /// Keys of one `count by` rule shown as series of their own; the rest
    /// are summed into one series whose labels read `other`.
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub series_cap: usize,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// JSON lines files or pcap-ng files (not both), one or more per node;
    /// a file's name (without extension) is its node when it does not say.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct FuncsArgs {
    /// Globs like `ip_*` (all functions when none is given).
    pub globs: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendArg {
    #[default]
    Auto,
    KprobeMulti,
    Kprobe,
    Fentry,
}

impl BackendArg {
    pub fn choice(self) -> ferret_kernel::BackendChoice {
        use ferret_kernel::{BackendChoice, FuncBackend};
        match self {
            BackendArg::Auto => BackendChoice::Auto,
            BackendArg::KprobeMulti => BackendChoice::Only(FuncBackend::KprobeMulti),
            BackendArg::Kprobe => BackendChoice::Only(FuncBackend::Kprobe),
            BackendArg::Fentry => BackendChoice::Only(FuncBackend::Fentry),
        }
    }
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Rules given on the command line.
    #[arg(
        short = 'e',
        long = "expr",
        value_name = "RULES",
        conflicts_with = "file"
    )]
    pub expr: Option<String>,
    /// A rule file.
    pub file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The rule file, or a playbook (`*.rhai`).
    #[arg(value_name = "FILE")]
    pub path: Option<PathBuf>,
    #[arg(
        short = 'f',
        long = "file",
        value_name = "FILE",
        conflicts_with = "path"
    )]
    pub file: Option<PathBuf>,
    /// Arguments for a playbook (its `ARGS`); put `--` before any that start with `-`.
    #[arg(value_name = "ARGS")]
    pub args: Vec<String>,
    /// Stop after this long (the playbook spelling of --duration).
    #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration)]
    pub for_duration: Option<std::time::Duration>,
    /// Let the playbook read and write files, and import modules from its directory.
    #[arg(long)]
    pub allow_script_io: bool,
    /// Operations one call of a playbook hook may take before it is stopped.
    #[arg(long, value_name = "N")]
    pub script_ops: Option<u64>,
}

/// `250ms`, `10s`, `2m`, `1h`, or plain seconds.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("`{text}` is not a duration; write e.g. 500ms, 10s or 2m"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => {
            return Err(format!(
                "unknown unit `{unit}` in `{text}`; use ms, s, m or h"
            ))
        }
    };
    if !(secs.is_finite() && secs > 0.0) {
        return Err(format!("`{text}` must be a positive duration"));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("500ms").unwrap().as_millis(), 500);
        assert_eq!(parse_duration("2m").unwrap().as_secs(), 120);
        assert_eq!(parse_duration("3").unwrap().as_secs(), 3);
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("0s").is_err());
    }

    #[test]
    fn clap_definition_is_valid() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
