//! The terminal thread: rustyline on a terminal, plain lines otherwise.
//! It starts the session thread, waits until the kernel side is loaded,
//! then hands each accepted line over and waits until its answer is shown.

use crate::helper::{CtrlC, FerretHelper};
use crate::output::{EventOut, External, Printer, Stdout};
use crate::owner::{Note, Owner, Request};
use crate::vocab::Vocabulary;
use crate::{history, ReplError, ReplOptions};
use ferret_core::summary::Summary;
use ferret_session::session::SessionOptions;
use ferret_session::system::SystemFacts;
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{CompletionType, Config, Editor, EventHandler, KeyEvent};
use std::io::{BufRead, IsTerminal};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use tokio::sync::mpsc::UnboundedSender;

const PROMPT: &str = "ferret> ";
const BANNER: &str = "ferret: ready. Type a rule, e.g. `on drop where dport == 443 print`; `help` lists commands; Tab completes; Ctrl-D quits.";

/// The session thread, seen from the terminal thread.
struct Link {
    requests: UnboundedSender<Request>,
    notes: mpsc::Receiver<Note>,
    thread: JoinHandle<Result<Summary, ReplError>>,
}

impl Link {
    fn start(
        opts: &ReplOptions,
        facts: &SystemFacts,
        vocab: &Arc<Vocabulary>,
        printer: Box<dyn Printer>,
        restore_terminal: Box<dyn FnOnce() + Send>,
    ) -> Result<Link, ReplError> {
        let events = match &opts.output {
            Some(path) => EventOut::file(path, opts.json)?,
            None => EventOut::screen(opts.json),
        };
        let owner = Owner {
            facts: facts.clone(),
            vocab: Arc::clone(vocab),
            opts: SessionOptions {
                ring_bytes: opts.ring_bytes,
                verbose: opts.verbose,
                ..SessionOptions::default()
            },
            interval: opts.interval,
            color: std::io::stdout().is_terminal(),
            printer,
            events,
            restore_terminal,
            interrupt_pauses: opts.interactive,
            allow_unsafe_files: opts.allow_unsafe_files,
            hidden_untold: 0,
        };
        let (requests, rx) = tokio::sync::mpsc::unbounded_channel();
        let (tx, notes) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("ferret-session".into())
            .spawn(move || owner.run(rx, tx))
            .map_err(|source| ReplError::Thread { source })?;
        let link = Link {
            requests,
            notes,
            thread,
        };
        match link.notes.recv() {
            Ok(Note::Ready) => Ok(link),
            _ => Err(link.join().err().unwrap_or(ReplError::Died)),
        }
    }

    /// Sends a request and waits until its output is shown; `true` when the
    /// session has ended.
    fn ask(&self, request: Request) -> bool {
        if self.requests.send(request).is_err() {
            return true;
        }
        loop {
            match self.notes.recv() {
                Ok(Note::Done { quit }) => return quit,
                Ok(Note::Ready) => continue,
                Err(_) => return true,
            }
        }
    }

    fn join(self) -> Result<Summary, ReplError> {
        drop(self.requests);
        self.thread.join().unwrap_or(Err(ReplError::Died))
    }
}

/// Runs the REPL until `quit`, Ctrl-D or the end of input.
pub fn run(opts: &ReplOptions) -> Result<Summary, ReplError> {
    let facts = SystemFacts::load();
    let vocab = Arc::new(Vocabulary::from_kernel(&facts));
    if opts.interactive {
        interactive(opts, facts, vocab)
    } else {
        plain(opts, &facts, &vocab)
    }
}

fn plain(
    opts: &ReplOptions,
    facts: &SystemFacts,
    vocab: &Arc<Vocabulary>,
) -> Result<Summary, ReplError> {
    let link = Link::start(opts, facts, vocab, Box::new(Stdout), Box::new(|| ()))?;
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if link.ask(Request::Line(line)) {
            return link.join();
        }
    }
    link.ask(Request::Quit);
    link.join()
}

fn interactive(
    opts: &ReplOptions,
    facts: SystemFacts,
    vocab: Arc<Vocabulary>,
) -> Result<Summary, ReplError> {
    let terminal = |source| ReplError::Terminal { source };
    let config = Config::builder()
        .auto_add_history(true)
        .history_ignore_dups(true)
        .map_err(terminal)?
        .history_ignore_space(true)
        .max_history_size(2000)
        .map_err(terminal)?
        .completion_type(CompletionType::List)
        .build();
    let color = std::io::stdout().is_terminal();
    let mut rl: Editor<FerretHelper, FileHistory> =
        Editor::with_config(config).map_err(terminal)?;
    rl.set_helper(Some(FerretHelper::new(
        Arc::clone(&vocab),
        facts.clone(),
        color,
    )));
    rl.bind_sequence(
        KeyEvent::ctrl('C'),
        EventHandler::Conditional(Box::new(CtrlC)),
    );
    let history = match history::prepare() {
        Ok(path) => {
            if let Err(e) = rl.load_history(&path) {
                eprintln!(
                    "ferret: warning: cannot read history {}: {e}",
                    path.display()
                );
            }
            Some(path)
        }
        Err(e) => {
            eprintln!("ferret: warning: history is not kept: {e}");
            None
        }
    };
    let external = rl.create_external_printer().map_err(terminal)?;
    let (printer, printing) =
        External::start(external).map_err(|source| ReplError::Thread { source })?;
    let saved = SavedTerminal::now();
    let restore = Box::new(move || saved.restore());
    let link = Link::start(opts, &facts, &vocab, Box::new(printer), restore)?;
    vocab.preload_functions();
    println!("{BANNER}");
    let result = edit(&mut rl, link, history.as_deref());
    // The editor goes first: a message rustyline still holds for the next
    // prompt is then written plainly by the printing thread, which ends
    // once the session thread (the last sender) is gone.
    drop(rl);
    let _ = printing.join();
    result
}

fn edit(
    rl: &mut Editor<FerretHelper, FileHistory>,
    link: Link,
    history: Option<&std::path::Path>,
) -> Result<Summary, ReplError> {
    let terminal = |source| ReplError::Terminal { source };
    loop {
        let request = match rl.readline(PROMPT) {
            Ok(line) => {
                if let Some(path) = history {
                    if let Err(e) = rl.append_history(path) {
                        eprintln!(
                            "ferret: warning: cannot write history {}: {e}",
                            path.display()
                        );
                    }
                }
                Request::Line(line)
            }
            Err(ReadlineError::Interrupted) => Request::Interrupt,
            Err(ReadlineError::Eof) => Request::Quit,
            Err(e) => {
                link.ask(Request::Quit);
                let _ = link.join();
                return Err(terminal(e));
            }
        };
        if link.ask(request) {
            return link.join();
        }
    }
}

/// The terminal's settings before rustyline changed them, to put back if
/// the session ends while a line is being edited (SIGTERM).
struct SavedTerminal(Option<libc::termios>);

impl SavedTerminal {
    fn now() -> SavedTerminal {
        // SAFETY: termios is plain data; tcgetattr fills it or fails.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: fd 0 and a valid pointer to a termios.
        let ok = unsafe { libc::tcgetattr(libc::STDIN_FILENO, &mut t) } == 0;
        SavedTerminal(ok.then_some(t))
    }

    fn restore(&self) {
        if let Some(t) = &self.0 {
            // SAFETY: fd 0 and a termios that tcgetattr filled.
            unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, t) };
            println!();
        }
    }
}
