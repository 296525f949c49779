//! `--phases profile`: what single operations cost on the drop
//! tracepoint. Every program of bench/bpf/ops.bpf.c is attached at once,
//! so all run on the same calls; each is reported above `op_empty`.

use crate::bpfstats::{self, StatsOn};
use crate::load;
use crate::scenarios::FLOOD_PORT;
use crate::Settings;
use aya::programs::BtfTracePoint;
use aya::{Btf, EbpfLoader};
use ferret_lab::Lab;

static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/ops.bpf.o"));

/// Program, what it does beyond an empty program.
const OPS: [(&str, &str); 10] = [
    ("op_empty", "nothing (the floor)"),
    (
        "op_skb_loads",
        "8 skb field loads through the typed pointer (tp_btf)",
    ),
    (
        "op_maps",
        "array lookup + per-CPU array lookup and increment",
    ),
    ("op_cpu_id", "`bpf_get_smp_processor_id`"),
    ("op_probe_read4", "one `bpf_probe_read_kernel` of 4 bytes"),
    ("op_probe_read64", "one `bpf_probe_read_kernel` of 64 bytes"),
    ("op_ktime", "`bpf_ktime_get_ns`"),
    (
        "op_pid_comm",
        "`bpf_get_current_pid_tgid` + `bpf_get_current_comm`",
    ),
    (
        "op_bpf_loop4",
        "`bpf_loop`, 4 iterations of a trivial callback",
    ),
    (
        "op_zero_call",
        "zeroing 256 bytes of stack and one BPF-to-BPF call",
    ),
];

#[derive(Debug, Clone, serde::Serialize)]
pub struct Op {
    pub program: &'static str,
    pub what: &'static str,
    pub ns_per_call: f64,
    /// Above op_empty.
    pub extra_ns: f64,
}

pub fn run(lab: &Lab, set: &Settings) -> Result<Vec<Op>, String> {
    crate::progress("profile of single operations");
    let btf = Btf::from_sys_fs().map_err(|e| e.to_string())?;
    let mut ebpf = EbpfLoader::new()
        .btf(Some(&btf))
        .load(OBJECT)
        .map_err(|e| e.to_string())?;
    for (name, _) in OPS {
        program(&mut ebpf, name)?
            .load("kfree_skb", &btf)
            .map_err(|e| format!("{name}: {e}"))?;
    }
    // One at a time: programs sharing a tracepoint were seen to trade
    // part of their cost with their neighbour in bpf_stats.
    let mut runs: Vec<Vec<f64>> = vec![Vec::new(); OPS.len()];
    for _ in 0..set.rounds.max(3) {
        for (i, (name, _)) in OPS.iter().enumerate() {
            let prog = program(&mut ebpf, name)?;
            let link = prog.attach().map_err(|e| format!("{name}: {e}"))?;
            let id = prog.info().map_err(|e| e.to_string())?.id();
            let measured = {
                let _on = StatsOn::enable().map_err(|e| e.to_string())?;
                let before = bpfstats::sample(&[id]);
                load::udp_flood(&lab.a, FLOOD_PORT, set.trial / 3, None)
                    .map_err(|e| e.to_string())?;
                bpfstats::cost(&before, &bpfstats::sample(&[id]))
            };
            program(&mut ebpf, name)?
                .detach(link)
                .map_err(|e| format!("{name}: {e}"))?;
            if let Some(c) = measured {
                runs[i].push(c.ns_per_call);
            }
        }
    }
    let medians: Vec<f64> = runs
        .into_iter()
        .map(|r| crate::cost::median(r).unwrap_or(f64::NAN))
        .collect();
    let floor = medians[0];
    Ok(OPS
        .iter()
        .zip(medians)
        .map(|((program, what), ns)| Op {
            program,
            what,
            ns_per_call: ns,
            extra_ns: ns - floor,
        })
        .collect())
}

fn program<'a>(ebpf: &'a mut aya::Ebpf, name: &str) -> Result<&'a mut BtfTracePoint, String> {
    ebpf.program_mut(name)
        .ok_or_else(|| format!("the ops object lacks {name}"))?
        .try_into()
        .map_err(|e| format!("{name}: {e}"))
}
