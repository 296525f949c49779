//! Item 4: from launch to the ready line, with the "no match" program (a
//! tracepoint rule). ferret's ready line is printed once every probe is
//! attached; bpftrace's BEGIN probe fires once its probes are attached.

use crate::cost::median;
use crate::scenarios::Scenario;
use crate::tool::Tool;
use crate::tracer::Binaries;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Startup {
    pub tool: Tool,
    pub runs_ms: Vec<f64>,
    pub median_ms: Option<f64>,
    pub note: Option<String>,
}

pub fn run(bins: &Binaries, miss: &Scenario, runs: usize) -> Vec<Startup> {
    [Tool::Ferret, Tool::Bpftrace]
        .into_iter()
        .map(|tool| {
            let mut s = Startup {
                tool,
                runs_ms: Vec::new(),
                median_ms: None,
                note: None,
            };
            let Some(spec) = miss.spec(tool) else {
                return s;
            };
            crate::progress(format!("startup {tool:?} x{runs}"));
            for _ in 0..runs {
                match spec.start(bins) {
                    Ok(r) => {
                        s.runs_ms.push(r.startup.as_secs_f64() * 1e3);
                        r.stop();
                    }
                    Err(e) => {
                        s.note = Some(crate::cost::first_line(&e.to_string()));
                        break;
                    }
                }
            }
            s.median_ms = median(s.runs_ms.clone());
            s
        })
        .collect()
}
