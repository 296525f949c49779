//! The REPL arrives with the live-rules issue; this crate holds its place in the workspace.
