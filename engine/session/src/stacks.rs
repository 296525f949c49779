//! Kernel stacks as the user reads them: symbolised, without the tracer's
//! own frames on top.

use ferret_core::kallsyms::Kallsyms;
use ferret_kernel::Kernel;

pub(crate) fn resolve_stack(kernel: &Kernel, id: i32, syms: &Kallsyms) -> Vec<String> {
    match kernel.stack(id) {
        Ok(ips) => trim_tracer_frames(ips.iter().map(|ip| syms.describe(*ip)).collect()),
        Err(e) => vec![format!("<stack unavailable: {e}>")],
    }
}

/// Drops the innermost frames that belong to the tracer itself (the BPF
/// program and the tracepoint dispatch), so a stack starts in the kernel
/// code the user asked about.
pub fn trim_tracer_frames(frames: Vec<String>) -> Vec<String> {
    // kprobe and kprobe.multi dispatch: ftrace's trampoline (no symbol, so
    // a bare address), fprobe or the kprobe handlers, trace_call_bpf.
    const OURS: &[&str] = &[
        "bpf_prog_",
        "__traceiter_",
        "bpf_trace_run",
        "__bpf_trace_",
        "trace_call_bpf",
        "kprobe_",
        "fprobe_",
        "__fprobe_",
        "ftrace_",
        "arch_ftrace_",
        "0x",
    ];
    let ours = |f: &str| OURS.iter().any(|p| f.starts_with(p));
    let skip = frames.iter().take_while(|f| ours(f)).count();
    frames.into_iter().skip(skip).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracer_frames_are_trimmed_only_at_the_top() {
        let frames = [
            "bpf_prog_abc_ferret_drop+0x3a4",
            "bpf_trace_run4+0x10d",
            "__traceiter_kfree_skb+0x41",
            "sk_skb_reason_drop+0x90",
            "bpf_prog_x+0x1",
        ];
        let out = trim_tracer_frames(frames.iter().map(|s| s.to_string()).collect());
        assert_eq!(out, ["sk_skb_reason_drop+0x90", "bpf_prog_x+0x1"]);
    }
}
