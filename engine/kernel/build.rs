//! Compiles the C eBPF objects (ebpf/ferret.bpf.c, ebpf/ferret_func.bpf.c,
//! each with and without bpf_loop) with clang into OUT_DIR; src/lib.rs and src/funcload.rs embed them with
//! `include_bytes!`, and tests/abi_btf reads their BTF.
//!
//! The toolchain has no rust-src, so the kernel side cannot be Rust; clang is
//! a build dependency instead. A missing clang or libbpf header is a build
//! failure that says what to install, not a binary without its kernel side.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const INSTALL_HINT: &str = "apt-get install clang-19 libbpf-dev";

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let ebpf = manifest.join("../../ebpf");
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));
    // A directory: cargo rescans every file in it (include/ too).
    println!("cargo:rerun-if-changed={}", ebpf.display());
    println!("cargo:rerun-if-env-changed=FERRET_CLANG");

    let clang = find_clang().unwrap_or_else(|| {
        fail(&format!(
            "no clang found (tried $FERRET_CLANG, clang-19, clang); \
             ferret's eBPF programs are C compiled by clang: {INSTALL_HINT}"
        ))
    });
    if !Path::new("/usr/include/bpf/bpf_helpers.h").exists() {
        fail(&format!(
            "libbpf headers missing (/usr/include/bpf/bpf_helpers.h): {INSTALL_HINT}"
        ));
    }

    // The main object (loaded by aya) and the function-trigger object
    // (loaded by src/funcload.rs; see ebpf/ferret_func.bpf.c), each twice:
    // for kernels with bpf_loop, and `*_compat` for those without it
    // (before 5.17; see ebpf/compat.bpf.h). The loader picks by probing.
    for name in ["ferret", "ferret_func"] {
        compile(
            &clang,
            &ebpf,
            name,
            &[],
            &out_dir.join(format!("{name}.bpf.o")),
        );
        compile(
            &clang,
            &ebpf,
            name,
            &["-DFERRET_NO_BPF_LOOP"],
            &out_dir.join(format!("{name}_compat.bpf.o")),
        );
    }
}

fn compile(clang: &Path, ebpf: &Path, name: &str, defines: &[&str], out: &Path) {
    let mut cmd = Command::new(clang);
    cmd.args(["-target", "bpf", "-O2", "-g", "-Wall"])
        .args(defines)
        // v3: 32-bit sub-registers, and the atomics `limit N/s` uses.
        .arg("-mcpu=v3")
        // bpf_tracing.h picks the pt_regs layout by target architecture.
        .arg(target_arch_define())
        // include/: the contract shared with Rust; ebpf/: the kernel-only
        // *.bpf.h headers.
        .arg("-I")
        .arg(ebpf.join("include"))
        .arg("-I")
        .arg(ebpf);
    // linux/types.h wants <asm/types.h>, which Debian keeps in the
    // multiarch directory that clang does not search for the bpf target.
    for dir in multiarch_include_dirs() {
        cmd.arg("-idirafter").arg(dir);
    }
    cmd.arg("-c")
        .arg(ebpf.join(format!("{name}.bpf.c")))
        .arg("-o")
        .arg(out);
    let status = cmd.status().unwrap_or_else(|e| {
        fail(&format!(
            "cannot run {clang}: {e}; {INSTALL_HINT}",
            clang = clang.display()
        ))
    });
    if !status.success() {
        fail(&format!(
            "{} failed to compile ebpf/{name}.bpf.c (errors above)",
            clang.display()
        ));
    }
}

/// `$FERRET_CLANG`, else the first of clang-19 / clang that runs.
fn find_clang() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(c) = env::var_os("FERRET_CLANG") {
        candidates.push(c.into());
    }
    candidates.extend(["clang-19", "clang"].map(PathBuf::from));
    candidates.into_iter().find(|c| {
        Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

fn target_arch_define() -> &'static str {
    match env::var("CARGO_CFG_TARGET_ARCH")
        .unwrap_or_default()
        .as_str()
    {
        "aarch64" => "-D__TARGET_ARCH_arm64",
        "riscv64" => "-D__TARGET_ARCH_riscv",
        "powerpc64" => "-D__TARGET_ARCH_powerpc",
        "s390x" => "-D__TARGET_ARCH_s390",
        _ => "-D__TARGET_ARCH_x86",
    }
}

fn multiarch_include_dirs() -> Vec<PathBuf> {
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let triple = match arch.as_str() {
        "x86_64" => "x86_64-linux-gnu",
        "aarch64" => "aarch64-linux-gnu",
        "riscv64" => "riscv64-linux-gnu",
        "powerpc64" => "powerpc64le-linux-gnu",
        "s390x" => "s390x-linux-gnu",
        _ => return Vec::new(),
    };
    let dir = Path::new("/usr/include").join(triple);
    if dir.is_dir() {
        vec![dir]
    } else {
        Vec::new()
    }
}

fn fail(msg: &str) -> ! {
    // Cargo shows a failed build script's stderr; a panic would bury the
    // message under a backtrace.
    eprintln!("error: ferret-kernel: {msg}");
    std::process::exit(1);
}
