//! ferret's engine: check, IR, lowering to a kernel plan, and the kernel side.
pub mod abi;
