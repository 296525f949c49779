//! Where the session thread's text goes: a [`Printer`] for the screen
//! (rustyline's external printer on a terminal, so lines appear above the
//! prompt without garbling what is being typed) and an [`EventOut`] that
//! renders events as the CLI does (table or JSON), to the screen or a file.

use crate::ReplError;
use ferret_core::output::{JsonSink, Sink, TableSink};
use ferret_core::summary::Summary;
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;

pub(crate) trait Printer: Send {
    /// Shows `text` (one or more lines) above the prompt.
    fn print(&mut self, text: String);
    /// Bytes handed over but not yet on the terminal.
    fn backlog(&self) -> usize {
        0
    }
}

/// rustyline's external printer, fed from a queue by a thread of its own.
///
/// rustyline's printer blocks while no line is being edited if a message
/// it took earlier was not shown yet; the session thread must never block
/// on it, or a terminal thread waiting for the session's answer would wait
/// forever. So the session thread only queues text, and the printing
/// thread is the one that waits (until the next prompt shows the text).
pub(crate) struct External {
    queue: mpsc::Sender<String>,
    backlog: Arc<AtomicUsize>,
}

impl External {
    /// Starts the printing thread; it ends once every `External` is gone
    /// and the queue is empty.
    pub fn start<P>(mut printer: P) -> std::io::Result<(External, JoinHandle<()>)>
    where
        P: rustyline::ExternalPrinter + Send + 'static,
    {
        let (queue, texts) = mpsc::channel::<String>();
        let backlog = Arc::new(AtomicUsize::new(0));
        let pending = Arc::clone(&backlog);
        let thread = std::thread::Builder::new()
            .name("ferret-printer".into())
            .spawn(move || {
                for text in texts {
                    let len = text.len();
                    // Fails once the editor is gone (the session has ended):
                    // from then on the terminal is ours to write plainly.
                    if printer.print(text.clone()).is_err() {
                        Stdout.print(text);
                    }
                    pending.fetch_sub(len, Ordering::Relaxed);
                }
            })?;
        Ok((External { queue, backlog }, thread))
    }
}

impl Printer for External {
    fn print(&mut self, mut text: String) {
        // While no line is being edited rustyline writes straight to the
        // terminal, which would leave a last line without its newline.
        if !text.ends_with('\n') {
            text.push('\n');
        }
        self.backlog.fetch_add(text.len(), Ordering::Relaxed);
        if let Err(mpsc::SendError(text)) = self.queue.send(text) {
            self.backlog.fetch_sub(text.len(), Ordering::Relaxed);
            Stdout.print(text);
        }
    }

    fn backlog(&self) -> usize {
        self.backlog.load(Ordering::Relaxed)
    }
}

/// Plain standard output, when input is not a terminal.
pub(crate) struct Stdout;

impl Printer for Stdout {
    fn print(&mut self, text: String) {
        let mut out = io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        if !text.ends_with('\n') {
            let _ = out.write_all(b"\n");
        }
        let _ = out.flush();
    }
}

/// Bytes a sink wrote, for the printer to show.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| io::Error::other("event buffer poisoned"))?
            .extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

pub(crate) struct EventOut {
    sink: Box<dyn Sink + Send>,
    screen: Buffer,
    json: bool,
    to_file: bool,
}

impl EventOut {
    /// Events above the prompt.
    pub fn screen(json: bool) -> EventOut {
        let screen = Buffer::default();
        let sink: Box<dyn Sink + Send> = if json {
            Box::new(JsonSink::new(screen.clone()))
        } else {
            Box::new(TableSink::new(screen.clone()))
        };
        EventOut {
            sink,
            screen,
            json,
            to_file: false,
        }
    }

    /// Events to a new file readable only by its owner (as `-o` does for
    /// the CLI); answers still go to the screen.
    pub fn file(path: &Path, json: bool) -> Result<EventOut, ReplError> {
        let file = ferret_core::outfile::create(path)?;
        let out = io::BufWriter::new(file);
        let sink: Box<dyn Sink + Send> = if json {
            Box::new(JsonSink::new(out))
        } else {
            Box::new(TableSink::new(out))
        };
        Ok(EventOut {
            sink,
            screen: Buffer::default(),
            json,
            to_file: true,
        })
    }

    pub fn sink(&mut self) -> &mut dyn Sink {
        self.sink.as_mut()
    }

    /// Flushes the sink; returns what it wrote for the screen.
    pub fn take(&mut self) -> io::Result<String> {
        self.sink.flush()?;
        let mut bytes = self
            .screen
            .0
            .lock()
            .map_err(|_| io::Error::other("event buffer poisoned"))?;
        Ok(String::from_utf8_lossy(&std::mem::take(&mut *bytes)).into_owned())
    }

    /// The end-of-session account: JSON as the last line of JSON output,
    /// and the table on the screen unless the screen gets JSON.
    pub fn summary(&mut self, summary: &Summary, printer: &mut dyn Printer) {
        if self.json {
            let _ = self.sink.summary(summary);
        }
        if let Ok(text) = self.take() {
            if !text.is_empty() {
                printer.print(text);
            }
        }
        if !self.json || self.to_file {
            printer.print(summary.render_text());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect(Vec<String>);
    impl Printer for Collect {
        fn print(&mut self, text: String) {
            self.0.push(text);
        }
    }

    /// rustyline's printer as it behaves while no line is edited: it holds
    /// until the next prompt (here: until the test lets it go).
    struct HeldPrinter {
        gate: mpsc::Receiver<()>,
        shown: Arc<Mutex<Vec<String>>>,
    }

    impl rustyline::ExternalPrinter for HeldPrinter {
        fn print(&mut self, msg: String) -> rustyline::Result<()> {
            let _ = self.gate.recv();
            self.shown.lock().unwrap().push(msg);
            Ok(())
        }
    }

    #[test]
    fn queued_printing_never_blocks_the_session_thread() {
        let (release, gate) = mpsc::channel();
        let shown = Arc::new(Mutex::new(Vec::new()));
        let held = HeldPrinter {
            gate,
            shown: Arc::clone(&shown),
        };
        let (mut ext, thread) = External::start(held).unwrap();
        ext.print("rule 1 added".into());
        ext.print("event\n".into());
        assert_eq!(ext.backlog(), "rule 1 added\nevent\n".len());
        assert!(shown.lock().unwrap().is_empty(), "nothing shown yet");
        release.send(()).unwrap();
        release.send(()).unwrap();
        drop(ext);
        thread.join().unwrap();
        assert_eq!(*shown.lock().unwrap(), ["rule 1 added\n", "event\n"]);
    }

    #[test]
    fn json_on_the_screen_ends_with_the_summary_object_only() {
        let mut out = EventOut::screen(true);
        let mut p = Collect::default();
        out.summary(&Summary::default(), &mut p);
        assert_eq!(p.0.len(), 1, "{:?}", p.0);
        assert!(p.0[0].contains("\"type\":\"summary\""), "{:?}", p.0);
    }

    #[test]
    fn the_table_summary_is_text() {
        let mut out = EventOut::screen(false);
        let mut p = Collect::default();
        out.summary(&Summary::default(), &mut p);
        assert_eq!(p.0.len(), 1, "{:?}", p.0);
        assert!(p.0[0].contains("session ended"), "{:?}", p.0);
    }
}
