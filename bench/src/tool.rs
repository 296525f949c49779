//! The tracers the bench compares.

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tool {
    Ferret,
    Bpftrace,
}
