//! `ferret demo`: the firewall-blocks-HTTPS scenario in a throwaway lab.

use crate::cli::OutputArgs;
use crate::exit::Exit;
use crate::trace_cmd;
use anyhow::Context;
use ferret_core::output::TableSink;
use ferret_lab::{self as lab, Lab, ADDR_A, ADDR_B};
use ferret_session::oneshot;
use ferret_session::options::SessionOptions;
use ferret_session::system::SystemFacts;
use std::time::Duration;

pub const RULE: &str = "on drop where dport == 443 print stack";

pub fn run(args: &OutputArgs) -> anyhow::Result<Exit> {
    if let Err(exit) = trace_cmd::require_root() {
        return Ok(exit);
    }
    let lab = Lab::create("demo").context("cannot build the demo lab")?;
    lab.nft(&lab.b, lab::DROP_HTTPS)
        .context("cannot install the demo's nftables rule")?;
    eprintln!(
        "ferret demo: lab ready: namespace {} ({ADDR_A}) -> namespace {} ({ADDR_B}),",
        lab.a, lab.b
    );
    eprintln!(
        "ferret demo: where nftables drops TCP port 443 (`tcp dport 443 drop` in the input chain)."
    );
    eprintln!("ferret demo: tracing: ferret '{RULE}'\n");

    let facts = SystemFacts::load();
    let (plan, _) = ferret_core::compile(RULE, &facts.env());
    let plan = plan.context("the demo rule must compile")?;
    let mut sink = TableSink::new(std::io::stdout().lock());
    let opts = SessionOptions {
        ring_bytes: 8 << 20,
        duration: Some(args.duration.unwrap_or(Duration::from_secs(4))),
        verbose: args.verbose,
        ..SessionOptions::default()
    };
    let client = lab.a.clone();
    let mut traffic = None;
    let mut ready = |line: &str| {
        eprintln!("{line}");
        let ns = client.clone();
        // Three connection attempts; each SYN (and its retries) is dropped.
        traffic = Some(std::thread::spawn(move || {
            lab::tcp_attempts(&ns, ADDR_B.into(), 443, 3, Duration::from_millis(1200))
        }));
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(oneshot::run(&plan, &facts, &opts, &mut sink, &mut ready));
    if let Some(t) = traffic {
        let _ = t.join();
    }
    let exit = trace_cmd::finish(result, &mut sink, args.verbose)?;
    println!(
        "\nWhat this shows: every line is a TCP SYN from {ADDR_A} to {ADDR_B}:443 that the kernel freed as
dropped. FUNC reads kfree_skb_reason(SKB_DROP_REASON_NETFILTER_DROP): netfilter dropped it,
here the nftables rule `tcp dport 443 drop` in namespace {}. The stack below each line is
the kernel path to the drop: nf_hook_slow is netfilter running the rule, called from
ip_local_deliver on the way to the TCP socket the SYN never reached. The client retried
(TCP retransmits the SYN), so one connection attempt can show several lines.
The lab has been removed.",
        lab.b
    );
    drop(lab);
    Ok(exit)
}
