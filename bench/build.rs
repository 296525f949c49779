//! Compiles bench/bpf/*.bpf.c (the cost floor and the single-operation
//! profile) with the same clang the engine uses; see engine/kernel/build.rs.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    println!("cargo:rerun-if-changed={}", manifest.join("bpf").display());
    println!(
        "cargo:rerun-if-changed={}",
        manifest.join("../ebpf/kernel_types.bpf.h").display()
    );
    println!("cargo:rerun-if-env-changed=FERRET_CLANG");
    for name in ["empty", "ops"] {
        compile(&manifest, name);
    }
}

fn compile(manifest: &Path, name: &str) {
    let src = manifest.join("bpf").join(format!("{name}.bpf.c"));
    let out =
        PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo")).join(format!("{name}.bpf.o"));
    let clang = env::var_os("FERRET_CLANG")
        .map(PathBuf::from)
        .into_iter()
        .chain(["clang-19", "clang"].map(PathBuf::from))
        .find(|c| Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()))
        .unwrap_or_else(|| fail("no clang found (tried $FERRET_CLANG, clang-19, clang): apt-get install clang-19 libbpf-dev"));
    let mut cmd = Command::new(&clang);
    cmd.args(["-target", "bpf", "-O2", "-g", "-Wall", "-mcpu=v3"]);
    // ops.bpf.c reads the engine's hand-written kernel types.
    cmd.arg("-I").arg(manifest.join("../ebpf"));
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let multiarch = Path::new("/usr/include").join(format!("{arch}-linux-gnu"));
    if multiarch.is_dir() {
        cmd.arg("-idirafter").arg(multiarch);
    }
    cmd.arg("-c").arg(&src).arg("-o").arg(&out);
    match cmd.status() {
        Ok(s) if s.success() => {}
        Ok(_) => fail(&format!(
            "clang failed to compile {} (errors above)",
            src.display()
        )),
        Err(e) => fail(&format!("cannot run {}: {e}", clang.display())),
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("error: ferret-bench: {msg}");
    std::process::exit(1);
}
