//! Function triggers (`func GLOB`, `any`) as a user meets them on the
//! machine running the tests. The backends themselves run in the VM tests
//! (tests/vm/), since the CI machine's kernel has no kprobes; here: the
//! listing, glob selection in filters, and the failure on a kernel without
//! any function backend, next to tracepoint triggers that keep working.

mod common;

use common::root_or_skip;
use std::path::Path;
use std::process::Command;

fn ferret(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ferret"))
        .args(args)
        .output()
        .expect("ferret runs")
}

fn has_kprobes() -> bool {
    Path::new("/sys/bus/event_source/devices/kprobe").exists()
}

#[test]
fn funcs_lists_skb_functions_with_their_argument() {
    if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        eprintln!("skipped funcs_lists: no kernel BTF");
        return;
    }
    let out = ferret(&["funcs", "ip_rcv*", "ip_local_out"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let arg_of = |name: &str| {
        stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .and_then(|l| l.split_whitespace().last().map(str::to_owned))
    };
    assert_eq!(arg_of("ip_rcv").as_deref(), Some("1"), "{stdout}");
    assert_eq!(arg_of("ip_local_out").as_deref(), Some("3"), "{stdout}");
    assert!(stdout.lines().all(|l| l.starts_with("ip_")), "{stdout}");
    // The caveats say where "probe-able" came from and what was left out.
    assert!(stderr.contains("after argument 5"), "{stderr}");
    assert!(stderr.contains("probe-able"), "{stderr}");

    let none = ferret(&["funcs", "no_such_function_*"]);
    assert_eq!(none.status.code(), Some(1), "no match is a rule error");
}

#[test]
fn a_func_glob_in_a_filter_names_the_kernels_functions() {
    if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        eprintln!("skipped func_glob_in_filter: no kernel BTF");
        return;
    }
    // Hundreds of functions still fit the branch program: name order
    // makes a prefix glob one id range.
    let out = ferret(&["check", "-e", "on any where func == ip_* and port 443"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(">="), "a range test: {stdout}");
}

#[test]
fn function_triggers_fail_clearly_where_the_kernel_cannot_probe() {
    if !root_or_skip("function_triggers_fail_clearly") {
        return;
    }
    let out = ferret(&["--duration", "1s", "on any where port 443"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if has_kprobes() {
        // This kernel can: the ready line names the backend and counts.
        assert!(out.status.success(), "{stderr}");
        assert!(stderr.contains("functions (kprobe"), "{stderr}");
    } else {
        assert_eq!(out.status.code(), Some(3), "{stderr}");
        assert!(stderr.contains("CONFIG_KPROBES"), "{stderr}");
        assert!(stderr.contains("kprobe.multi"), "{stderr}");
        assert!(
            stderr.contains("tracepoint"),
            "names what still works: {stderr}"
        );
    }
    // Tracepoint triggers keep working either way.
    let tp = ferret(&["--duration", "500ms", "on drop where port 443"]);
    assert!(
        tp.status.success(),
        "{}",
        String::from_utf8_lossy(&tp.stderr)
    );
}
