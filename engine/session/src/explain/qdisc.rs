//! QDISC_DROP: the queueing disciplines of the device the packet was
//! queued on, with their counters and limits, as `tc -j -s qdisc show`
//! inside the drop's namespace reports them.

use super::netns::{Netns, NetnsError};
use ferret_core::verdict::{QdiscFacts, QdiscStats};
use serde_json::Value;

/// Why the qdiscs could not be read.
#[derive(Debug, thiserror::Error)]
pub enum QdiscError {
    #[error("{source}")]
    Run {
        #[from]
        source: NetnsError,
    },
    #[error("tc printed no JSON list: {source}")]
    Json { source: serde_json::Error },
    #[error("the drop names no device")]
    NoDevice,
}

/// The qdiscs of `device` in namespace `ns`.
pub fn facts(ns: &Netns, device: &str) -> Result<QdiscFacts, QdiscError> {
    if device.is_empty() || device.starts_with('-') {
        return Err(QdiscError::NoDevice);
    }
    let text = ns.output("tc", &["-j", "-s", "qdisc", "show", "dev", device])?;
    Ok(QdiscFacts {
        device: device.to_string(),
        qdiscs: parse(&text)?,
    })
}

/// `tc -j -s qdisc show`'s list.
pub fn parse(text: &str) -> Result<Vec<QdiscStats>, QdiscError> {
    let list: Vec<Value> =
        serde_json::from_str(text).map_err(|source| QdiscError::Json { source })?;
    Ok(list.iter().map(stats).collect())
}

fn stats(q: &Value) -> QdiscStats {
    let text = |k: &str| q[k].as_str().unwrap_or_default().to_string();
    let number = |k: &str| q[k].as_u64().unwrap_or(0);
    let parent = if q["root"] == true {
        "root".to_string()
    } else {
        text("parent")
    };
    QdiscStats {
        kind: text("kind"),
        handle: text("handle"),
        parent,
        limit: q["options"]["limit"].as_u64(),
        packets: number("packets"),
        drops: number("drops"),
        overlimits: number("overlimits"),
        qlen: number("qlen"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_limits_come_from_tcs_json() {
        let text = r#"[{"kind":"pfifo","handle":"8001:","root":true,"refcnt":3,"options":{"limit":0},"bytes":0,"packets":0,"drops":4,"overlimits":0,"requeues":0,"backlog":0,"qlen":0},
{"kind":"fq_codel","handle":"0:","parent":"8001:1","options":{},"packets":9,"drops":0,"overlimits":1,"qlen":2}]"#;
        let q = parse(text).unwrap();
        assert_eq!(q.len(), 2);
        assert_eq!(
            (q[0].parent.as_str(), q[0].limit, q[0].drops),
            ("root", Some(0), 4)
        );
        assert_eq!(
            (q[1].parent.as_str(), q[1].limit, q[1].qlen),
            ("8001:1", None, 2)
        );
        assert!(parse("not json").is_err());
    }
}
