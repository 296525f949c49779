//! Prometheus metrics of the agent: [`scrape`] turns what the session
//! read into families, [`cap`] keeps high-cardinality rules in bounds,
//! [`family`] encodes them in the text exposition format.

pub mod cap;
pub mod family;
pub mod scrape;

/// The content type of [`family::encode`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
