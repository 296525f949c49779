//! ferret as a node agent (`ferret serve`): rules from a file, re-read on
//! SIGHUP or when the file changes and applied as rule-table changes (the
//! counts of unchanged rules continue); events as JSON lines with the
//! node's name, to a rotated file or standard output; `count` and `hist`
//! tables and ferret's own figures as Prometheus metrics, with a health
//! endpoint beside them; and `ferret merge`, which puts the JSON lines of
//! several nodes into one time-ordered stream.

pub mod error;
pub mod events;
pub mod health;
pub mod http;
pub mod merge;
pub mod merge_pcap;
pub mod metrics;
pub mod reconcile;
pub mod rotate;
pub mod rules_file;
pub mod serve;
pub mod watch;
