//! `ferret funcs [GLOB..]`: the functions `func GLOB` and `any` can trace,
//! with the argument that holds the skb (and, for drop functions, the one
//! that holds the drop reason), and what was left out and why.

use crate::exit::Exit;
use ferret_kernel::func_catalog::FuncCatalog;
use ferret_kernel::kernel_btf::KernelBtf;

pub fn run(globs: &[String]) -> anyhow::Result<Exit> {
    let catalog = FuncCatalog::discover(&KernelBtf::running())?;
    let all = ["*".to_string()];
    let globs = if globs.is_empty() { &all[..] } else { globs };
    let mut n = 0;
    for f in catalog.select(globs) {
        if f.is_drop() {
            println!(
                "{:<48} arg {}, drop reason arg {}",
                f.display_name(),
                f.position,
                f.reason_position
            );
        } else {
            println!("{:<48} arg {}", f.display_name(), f.position);
        }
        n += 1;
    }
    eprintln!("ferret: {n} matching; {}", catalog.caveats());
    Ok(if n == 0 { Exit::RuleError } else { Exit::Ok })
}
