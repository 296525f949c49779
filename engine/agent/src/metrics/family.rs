//! The exposition of one scrape as plain data (families of samples), and
//! its encoding through the Prometheus client's text encoder as a
//! collector. The kernel holds the counts; nothing here counts by itself,
//! so each scrape builds its families afresh from what the session read.

use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

/// Label pairs, values not yet escaped.
pub type Labels = Vec<(String, String)>;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Counter(u64),
    Gauge(i64),
    /// (inclusive upper bound, count in that bucket alone); the last
    /// bound is `f64::MAX` (`+Inf`).
    Histogram {
        sum: f64,
        count: u64,
        buckets: Vec<(f64, u64)>,
    },
    /// An info metric: the value is 1, the labels say it all.
    Info,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// Without the `_total` a counter's samples get.
    pub name: &'static str,
    pub help: &'static str,
    pub samples: Vec<(Labels, Value)>,
}

impl Family {
    pub fn new(name: &'static str, help: &'static str) -> Family {
        Family {
            name,
            help,
            samples: Vec::new(),
        }
    }

    pub fn add(&mut self, labels: Labels, value: Value) {
        self.samples.push((labels, value));
    }

    fn metric_type(&self) -> MetricType {
        match self.samples.first().map(|(_, v)| v) {
            Some(Value::Counter(_)) => MetricType::Counter,
            Some(Value::Histogram { .. }) => MetricType::Histogram,
            Some(Value::Info) => MetricType::Info,
            _ => MetricType::Gauge,
        }
    }
}

/// Every family of a scrape.
#[derive(Debug, Clone, Default)]
struct Exposition(Vec<Family>);

impl prometheus_client::collector::Collector for Exposition {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        for family in &self.0 {
            if family.samples.is_empty() {
                continue;
            }
            let mut desc =
                encoder.encode_descriptor(family.name, family.help, None, family.metric_type())?;
            if let [(labels, value)] = family.samples.as_slice() {
                if *value == Value::Info {
                    // The info's labels are its own, not a family's
                    // (which the encoder would write after a stray comma).
                    desc.encode_info(&escape_all(labels))?;
                    continue;
                }
                if labels.is_empty() {
                    // Without labels: `name 1`, not `name{} 1`.
                    Sample(value).encode(desc)?;
                    continue;
                }
            }
            for (labels, value) in &family.samples {
                let escaped = escape_all(labels);
                let metric = desc.encode_family(&escaped)?;
                Sample(value).encode(metric)?;
            }
        }
        Ok(())
    }
}

struct Sample<'a>(&'a Value);

impl EncodeMetric for Sample<'_> {
    fn encode(&self, mut encoder: prometheus_client::encoding::MetricEncoder) -> std::fmt::Result {
        match self.0 {
            Value::Counter(n) => {
                encoder.encode_counter::<prometheus_client::encoding::NoLabelSet, u64, u64>(n, None)
            }
            Value::Gauge(v) => encoder.encode_gauge(v),
            Value::Histogram {
                sum,
                count,
                buckets,
            } => encoder.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
                *sum, *count, buckets, None,
            ),
            Value::Info => encoder.encode_info(&Labels::new()),
        }
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Unknown
    }
}

/// The OpenMetrics text of `families`, `# EOF` included.
pub fn encode(families: Vec<Family>) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Exposition(families)));
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
    out
}

fn escape_all(labels: &Labels) -> Labels {
    labels.iter().map(|(k, v)| (k.clone(), escape(v))).collect()
}

/// A label value as the text format quotes it: backslash, double quote
/// and newline escaped (the encoder writes values as given).
fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn counters_histograms_and_quotes_encode_as_openmetrics() {
        let mut matches = Family::new("ferret_matches", "Matches.");
        matches.add(
            labels(&[
                ("rule", "on recv where ifname == \"veth*\""),
                ("reason", "NO_SOCKET"),
            ]),
            Value::Counter(3),
        );
        let mut hist = Family::new("ferret_hist", "Values.");
        hist.add(
            labels(&[("rule", "len")]),
            Value::Histogram {
                sum: 10.0,
                count: 3,
                buckets: vec![(1.0, 1), (3.0, 2), (f64::MAX, 0)],
            },
        );
        let text = encode(vec![
            matches,
            hist,
            Family::new("ferret_empty", "No samples."),
        ]);
        assert!(text.contains("# TYPE ferret_matches counter\n"), "{text}");
        assert!(
            text.contains(
                "ferret_matches_total{rule=\"on recv where ifname == \\\"veth*\\\"\",reason=\"NO_SOCKET\"} 3\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("ferret_hist_bucket{le=\"3.0\",rule=\"len\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains("ferret_hist_bucket{le=\"+Inf\",rule=\"len\"} 3\n"),
            "{text}"
        );
        assert!(
            !text.contains("ferret_empty"),
            "a family without samples is left out"
        );
        assert!(text.ends_with("# EOF\n"));
    }
}
