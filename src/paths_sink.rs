//! `--by-skb` and `--html FILE`: events are kept until the session (or
//! the recording) ends, then shown grouped per packet
//! (ferret_core::recording::paths): as text or JSON lines, or as one
//! self-contained HTML page (ferret_core::recording::html).

use anyhow::Context as _;
use ferret_core::event::Event;
use ferret_core::output::{Aggregates, Names, Sink};
use ferret_core::recording::{html, paths};
use ferret_core::summary::Summary;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

pub struct PathSink<W: Write> {
    out: W,
    json: bool,
    /// `--html`: the page's file, path and title.
    html: Option<(File, PathBuf, String)>,
    events: Vec<(Event, Option<Vec<String>>)>,
    names: Names,
    written: bool,
}

impl<W: Write> PathSink<W> {
    pub fn new(out: W, json: bool) -> PathSink<W> {
        PathSink {
            out,
            json,
            html: None,
            events: Vec::new(),
            names: Names::default(),
            written: false,
        }
    }

    /// Paths go to an HTML page at `path` (created 0600) instead of `out`.
    pub fn html(mut self, path: &Path, title: &str) -> anyhow::Result<PathSink<W>> {
        let file = ferret_core::outfile::create(path).context("the page (--html)")?;
        self.html = Some((file, path.to_path_buf(), title.to_string()));
        Ok(self)
    }

    fn write_paths(&mut self) -> io::Result<()> {
        if std::mem::replace(&mut self.written, true) {
            return Ok(());
        }
        self.events.sort_by_key(|(e, _)| e.meta.ts_ns);
        let refs: Vec<&Event> = self.events.iter().map(|(e, _)| e).collect();
        let groups = paths::group(&refs, &self.names);
        if let Some((file, path, title)) = self.html.as_mut() {
            let stacks: Vec<Option<&[String]>> =
                self.events.iter().map(|(_, s)| s.as_deref()).collect();
            let page = html::page(title, &groups, &refs, &stacks, &self.names);
            file.write_all(page.as_bytes())?;
            eprintln!(
                "ferret: wrote {} packet paths to {}",
                groups.len(),
                path.display()
            );
        } else if self.json {
            for p in &groups {
                serde_json::to_writer(&mut self.out, &paths::to_json(p, &refs, &self.names))?;
                self.out.write_all(b"\n")?;
            }
        } else {
            self.out
                .write_all(paths::render_text(&groups, &refs, &self.names).as_bytes())?;
        }
        Ok(())
    }
}

impl<W: Write> Sink for PathSink<W> {
    fn event(&mut self, ev: &Event, stack: Option<&[String]>, ctx: &Names) -> io::Result<()> {
        // The names grow as functions are first seen: keep the latest.
        if self.events.is_empty() || self.names.funcs != ctx.funcs {
            self.names = ctx.clone();
        }
        self.events
            .push((ev.clone(), stack.map(<[String]>::to_vec)));
        Ok(())
    }

    fn summary(&mut self, summary: &Summary) -> io::Result<()> {
        self.write_paths()?;
        eprint!("{}", summary.render_text());
        if self.json && self.html.is_none() {
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
