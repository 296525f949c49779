//! `--by-skb`: events are kept until the session ends, then shown grouped
//! per packet (ferret_core::recording::paths), in text or JSON lines.

use ferret_core::event::Event;
use ferret_core::output::{Aggregates, Names, Sink};
use ferret_core::recording::paths;
use ferret_core::summary::Summary;
use std::io::{self, Write};

pub struct PathSink<W: Write> {
    out: W,
    json: bool,
    events: Vec<Event>,
    names: Names,
}

impl<W: Write> PathSink<W> {
    pub fn new(out: W, json: bool) -> PathSink<W> {
        PathSink {
            out,
            json,
            events: Vec::new(),
            names: Names::default(),
        }
    }

    fn write_paths(&mut self) -> io::Result<()> {
        self.events.sort_by_key(|e| e.meta.ts_ns);
        let refs: Vec<&Event> = self.events.iter().collect();
        let groups = paths::group(&refs, &self.names);
        if self.json {
            for p in &groups {
                serde_json::to_writer(&mut self.out, &paths::to_json(p, &refs, &self.names))?;
                self.out.write_all(b"\n")?;
            }
        } else {
            self.out
                .write_all(paths::render_text(&groups, &refs, &self.names).as_bytes())?;
        }
        self.events.clear();
        Ok(())
    }
}

impl<W: Write> Sink for PathSink<W> {
    fn event(&mut self, ev: &Event, _stack: Option<&[String]>, ctx: &Names) -> io::Result<()> {
        // The names grow as functions are first seen: keep the latest.
        if self.events.is_empty() || self.names.funcs != ctx.funcs {
            self.names = ctx.clone();
        }
        self.events.push(ev.clone());
        Ok(())
    }

    fn summary(&mut self, summary: &Summary) -> io::Result<()> {
        self.write_paths()?;
        eprint!("{}", summary.render_text());
        if self.json {
            serde_json::to_writer(&mut self.out, &summary.to_json())?;
            self.out.write_all(b"\n")?;
        }
        self.out.flush()
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn aggregates(&mut self, aggs: &Aggregates, ctx: &Names) -> io::Result<()> {
        // The paths come first, as events come before tables elsewhere.
        self.write_paths()?;
        if self.json {
            for obj in aggs.to_json(ctx) {
                serde_json::to_writer(&mut self.out, &obj)?;
                self.out.write_all(b"\n")?;
            }
        } else {
            self.out.write_all(aggs.render_text(ctx).as_bytes())?;
        }
        Ok(())
    }
}
