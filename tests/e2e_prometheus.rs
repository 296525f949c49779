//! End to end: `ferret serve` scraped by a real Prometheus (Debian's
//! `prometheus`, started here on loopback with a temporary configuration
//! and data directory). A lab drops a known number of packets; the query
//! API must return exactly that number under the rule's name and the drop
//! reason; a change of the rules file must keep the counts (no counter
//! reset in Prometheus' eyes) and add the new rule's series.

mod common;

use common::{root_or_skip, Trace};
use ferret_lab::{Lab, ADDR_B};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const DROP_UDP_7777: &str = "table inet ferret_lab {\n  chain input {\n    type filter hook input priority 0; policy accept;\n    udp dport 7777 drop\n  }\n}\n";

/// A free loopback port (closed again; the server that takes it binds it).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A plain HTTP/1.0 GET to a loopback address: the body, if 200.
fn get(addr: SocketAddr, path: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let (head, body) = out.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?;
    (status == "200").then(|| body.to_string())
}

fn url_encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Prometheus on loopback, scraping `target` every second; killed on drop.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
}

impl Prometheus {
    fn start(dir: &Path, target: SocketAddr) -> Prometheus {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: ferret\n    static_configs:\n      - targets: ['{target}']\n"),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("prometheus starts");
        Prometheus {
            child,
            addr,
            dir: dir.to_path_buf(),
        }
    }

    /// The instant vector of `query` (metric labels and value per series).
    fn query(&self, query: &str) -> Vec<(Value, f64)> {
        let Some(body) = get(
            self.addr,
            &format!("/api/v1/query?query={}", url_encode(query)),
        ) else {
            return Vec::new();
        };
        let v: Value = serde_json::from_str(&body).unwrap_or_default();
        v["data"]["result"]
            .as_array()
            .map(|rs| {
                rs.iter()
                    .map(|r| {
                        let n = r["value"][1].as_str().and_then(|s| s.parse().ok());
                        (r["metric"].clone(), n.unwrap_or(f64::NAN))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits (at most 60 s) until `query` returns `want` as its one value.
    fn wait_for(&self, query: &str, want: f64) {
        let until = Instant::now() + Duration::from_secs(60);
        let mut last = Vec::new();
        while Instant::now() < until {
            last = self.query(query);
            if last.len() == 1 && last[0].1 == want {
                return;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        let log = std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default();
        panic!(
            "`{query}` never returned {want}; last {last:?}\nprometheus log tail:\n{}",
            log.lines().rev().take(15).collect::<Vec<_>>().join("\n")
        );
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether Debian's prometheus is installed; without it the test skips,
/// except in CI (CI=true), where tools/deps.sh must have installed it.
fn prometheus_or_skip(test: &str) -> bool {
    let found = Command::new("prometheus")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found && std::env::var_os("CI").is_some() {
        panic!("{test}: prometheus is not installed (tools/deps.sh installs it)");
    }
    if !found {
        eprintln!("skipped {test}: prometheus is not installed (apt-get install prometheus)");
    }
    found
}

#[test]
fn prometheus_sees_the_lab_drops_and_a_rules_change_keeps_the_counts() {
    let test = "prometheus_sees_the_lab_drops";
    if !root_or_skip(test) || !prometheus_or_skip(test) {
        return;
    }
    let lab = Lab::create("prom").expect("lab");
    lab.nft(&lab.b, DROP_UDP_7777).unwrap();
    let dir = std::env::temp_dir().join(format!("ferret-prom-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("rules.ferret");
    let drops = format!(
        "# name: drops\non drop where netns == \"{}\" and udp count by reason\n",
        lab.b
    );
    std::fs::write(&rules, &drops).unwrap();

    let metrics: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let trace = Trace::start_exact(
        &[
            "serve",
            "-f",
            rules.to_str().unwrap(),
            "--metrics",
            &metrics.to_string(),
            "--node",
            "lab-node",
            "--duration",
            "180s",
        ],
        &[],
    );
    let prom = Prometheus::start(&dir, metrics);

    // 7 datagrams the firewall drops, 5 to a port nobody listens on.
    assert_eq!(lab.udp_send(ADDR_B.into(), 7777, 7, 32).unwrap(), 7);
    assert_eq!(lab.udp_send(ADDR_B.into(), 9, 5, 32).unwrap(), 5);
    prom.wait_for(
        "ferret_matches_total{rule=\"drops\",reason=\"NETFILTER_DROP\"}",
        7.0,
    );
    prom.wait_for(
        "ferret_matches_total{rule=\"drops\",reason=\"NO_SOCKET\"}",
        5.0,
    );
    prom.wait_for("ferret_agent_info{node=\"lab-node\"}", 1.0);
    let series = prom.query("ferret_matches_total{rule=\"drops\"}");
    assert_eq!(
        series.len(),
        2,
        "only the two reasons the lab caused (udp): {series:?}"
    );
    assert_eq!(series[0].0["job"], "ferret");

    // Two more rules; the first one unchanged (its name and text), so its
    // counts must go on from 7, not start again.
    let ports = format!(
        "# name: ports\non drop where netns == \"{0}\" and udp count by dport\n# name: lens\non recv where netns == \"{0}\" and udp and dport == 7777 hist len\n",
        lab.b
    );
    let next = dir.join("rules.next");
    std::fs::write(&next, format!("{drops}{ports}")).unwrap();
    std::fs::rename(&next, &rules).unwrap();
    let until = Instant::now() + Duration::from_secs(20);
    while !get(metrics, "/metrics")
        .is_some_and(|m| m.contains("ferret_reloads_total{result=\"ok\"} 1"))
    {
        assert!(
            Instant::now() < until,
            "the rules file change was not applied"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(lab.udp_send(ADDR_B.into(), 7777, 3, 32).unwrap(), 3);
    prom.wait_for(
        "ferret_matches_total{rule=\"drops\",reason=\"NETFILTER_DROP\"}",
        10.0,
    );
    prom.wait_for("ferret_matches_total{rule=\"ports\",dport=\"7777\"}", 3.0);
    // 32 bytes of payload: 60-byte IP packets, in the [32, 64) bucket.
    prom.wait_for("ferret_hist_count{rule=\"lens\",field=\"len\"}", 3.0);
    prom.wait_for("ferret_hist_bucket{rule=\"lens\",le=\"63.0\"} - ignoring(le) ferret_hist_bucket{rule=\"lens\",le=\"31.0\"}", 3.0);
    prom.wait_for(
        "resets(ferret_matches_total{rule=\"drops\",reason=\"NETFILTER_DROP\"}[10m])",
        0.0,
    );
    prom.wait_for("ferret_rules", 3.0);

    let health: Value =
        serde_json::from_str(&get(metrics, "/healthz").expect("healthz 200")).unwrap();
    assert_eq!(health["probes_attached"], true, "{health}");
    assert_eq!(health["lost"]["total"], 0, "{health}");
    assert_eq!(health["last_reload"]["ok"], true, "{health}");
    drop(prom);
    let out = trace.terminate();
    assert_eq!(out.code, Some(0), "stderr:\n{}", out.stderr);
    assert!(
        out.stderr.contains("1 kept, 2 added, 0 removed"),
        "{}",
        out.stderr
    );
    let _ = std::fs::remove_dir_all(&dir);
}
