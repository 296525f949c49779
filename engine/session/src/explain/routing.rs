//! IP_RPFILTER, IP_INNOROUTES, IP_OUTNOROUTES: what routing in the drop's
//! namespace says about the packet. The reverse-path filter in force on
//! the receiving device (read from that namespace's `/proc/sys`), and the
//! route lookups the kernel made, asked again with `ip route get` inside
//! the namespace: the input lookup (from the source, in on the device),
//! for rp_filter also the route back to the source, for output the route
//! to the destination.

use super::netns::{Netns, NetnsError};
use ferret_core::event::Event;
use ferret_core::verdict::{RouteFacts, RouteLookup, RpFilter};

/// The routing facts of drop `ev` (reason `reason`) in namespace `ns`.
pub fn facts(ns: &Netns, reason: &str, ev: &Event) -> RouteFacts {
    let input = reason != "IP_OUTNOROUTES";
    let dev = ev.ifname();
    let v4 = ev.daddr().is_some_and(|a| a.is_ipv4());
    let rp_filter = (input && v4 && valid_device(dev)).then(|| rp_filter(ns, dev));
    let queries = queries(reason, ev);
    let lookups: Vec<RouteLookup> = queries.iter().map(|q| lookup(ns, q)).collect();
    let routes = lookups.is_empty().then(|| {
        ns.output("ip", &["route", "show"])
            .map(|t| t.lines().map(one_line).collect())
            .unwrap_or_else(|e| vec![format!("cannot list: {e}")])
    });
    RouteFacts {
        reason: reason.to_string(),
        rp_filter,
        lookups,
        routes,
    }
}

/// The `ip route get` arguments that ask what the kernel asked: for
/// input drops the input lookup (and, for rp_filter, the route back to
/// the source), for output drops the route to the destination; none
/// without a destination.
fn queries(reason: &str, ev: &Event) -> Vec<Vec<String>> {
    let input = reason != "IP_OUTNOROUTES";
    let dev = ev.ifname();
    let mark = (ev.meta.mark != 0).then(|| ev.meta.mark.to_string());
    let with_mark = |mut q: Vec<String>| {
        if let Some(m) = &mark {
            q.extend(["mark".to_string(), m.clone()]);
        }
        q
    };
    let mut queries = Vec::new();
    match (ev.daddr(), ev.saddr()) {
        (Some(d), Some(s)) if input && valid_device(dev) => {
            let q = vec![d.to_string(), "from".into(), s.to_string(), "iif".into()];
            queries.push(with_mark([q, vec![dev.to_string()]].concat()));
            if reason == "IP_RPFILTER" {
                queries.push(with_mark(vec![s.to_string()]));
            }
        }
        (Some(d), s) => {
            let mut q = vec![d.to_string()];
            if let Some(s) = s.filter(|s| !s.is_unspecified()) {
                q.extend(["from".to_string(), s.to_string()]);
            }
            queries.push(with_mark(q));
        }
        (None, _) => {}
    }
    queries
}

/// A device name that is safe in a `/proc/sys` path and as an argument.
fn valid_device(dev: &str) -> bool {
    !dev.is_empty() && dev != "." && dev != ".." && !dev.contains('/')
}

fn rp_filter(ns: &Netns, dev: &str) -> RpFilter {
    let paths: Vec<String> = ["all", "default", dev]
        .iter()
        .map(|c| format!("/proc/sys/net/ipv4/conf/{c}/rp_filter"))
        .collect();
    let values = ns.read_files(&paths).unwrap_or_default();
    let value = |i: usize| -> Option<u8> { values.get(i)?.as_deref()?.trim().parse().ok() };
    let (all, default, device_value) = (value(0), value(1), value(2));
    RpFilter {
        all,
        default,
        device: dev.to_string(),
        device_value,
        in_force: all.zip(device_value).map(|(a, d)| a.max(d)),
    }
}

fn lookup(ns: &Netns, query: &[String]) -> RouteLookup {
    let mut args = vec!["route", "get"];
    args.extend(query.iter().map(String::as_str));
    let (route, error) = match ns.output("ip", &args) {
        Ok(text) => (Some(one_line(&text)), None),
        Err(e) => (None, Some(lookup_error(e))),
    };
    RouteLookup {
        query: query.join(" "),
        route,
        error,
    }
}

/// The kernel's answer without `ip`'s prefix: `Network is unreachable`.
fn lookup_error(e: NetnsError) -> String {
    match e {
        NetnsError::Failed { stderr, .. } => stderr
            .trim()
            .strip_prefix("RTNETLINK answers: ")
            .unwrap_or(stderr.trim())
            .to_string(),
        other => other.to_string(),
    }
}

/// `ip`'s answer on one line, whitespace collapsed.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_one_line_and_errors_lose_ips_prefix() {
        assert_eq!(
            one_line("198.18.0.2 dev fb0 src 198.18.0.1 uid 0 \n    cache \n"),
            "198.18.0.2 dev fb0 src 198.18.0.1 uid 0 cache"
        );
        let e = NetnsError::Failed {
            program: "ip".into(),
            stderr: "RTNETLINK answers: Network is unreachable\n".into(),
        };
        assert_eq!(lookup_error(e), "Network is unreachable");
    }

    fn drop_on(dev: &str, mark: u32) -> Event {
        let mut ev = ferret_core::testing::tcp_drop(vec![1]);
        ev.meta.ifname = [0; 16];
        ev.meta.ifname[..dev.len()].copy_from_slice(dev.as_bytes());
        ev.meta.mark = mark;
        ev
    }

    #[test]
    fn lookups_ask_what_the_kernel_asked() {
        let joined =
            |qs: Vec<Vec<String>>| -> Vec<String> { qs.iter().map(|q| q.join(" ")).collect() };
        let ev = drop_on("fb0", 0);
        assert_eq!(
            joined(queries("IP_RPFILTER", &ev)),
            ["198.18.0.2 from 198.18.0.1 iif fb0", "198.18.0.1"]
        );
        assert_eq!(
            joined(queries("IP_INNOROUTES", &drop_on("fb0", 7))),
            ["198.18.0.2 from 198.18.0.1 iif fb0 mark 7"]
        );
        assert_eq!(
            joined(queries("IP_OUTNOROUTES", &ev)),
            ["198.18.0.2 from 198.18.0.1"]
        );
        let mut bare = drop_on("", 0);
        bare.meta.present = 0;
        assert!(queries("IP_OUTNOROUTES", &bare).is_empty());
    }

    #[test]
    fn device_names_that_could_leave_the_conf_directory_are_refused() {
        assert!(valid_device("fb0"));
        for bad in ["", ".", "..", "a/b"] {
            assert!(!valid_device(bad), "{bad}");
        }
    }
}
