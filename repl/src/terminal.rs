//! The terminal side: rustyline on a terminal, plain lines otherwise. It
//! starts the session thread, waits until the kernel side is loaded, then
//! an input thread hands each accepted line over and waits until its
//! answer is shown, while the caller's thread waits for the session's end:
//! a session that ends by itself (a signal, a failed output) must not wait
//! for a line that may never come.

use crate::helper::{CtrlC, FerretHelper};
use crate::messages::{Note, Request};
use crate::output::{EventOut, External, Printer, Stdout};
use crate::owner::Owner;
use crate::vocab::Vocabulary;
use crate::{history, Ending, ReplError, ReplOptions};
use ferret_session::driver::EndReason;
use ferret_session::options::SessionOptions;
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

/// The session thread, seen from the input thread.
struct Link {
    requests: UnboundedSender<Request>,
    notes: mpsc::Receiver<Note>,
}

/// The session thread itself: how the session ended.
type SessionThread = JoinHandle<Result<Ending, ReplError>>;

impl Link {
    fn start(
        opts: &ReplOptions,
        facts: &SystemFacts,
        vocab: &Arc<Vocabulary>,
        printer: Box<dyn Printer>,
        restore_terminal: Box<dyn FnOnce() + Send>,
    ) -> Result<(Link, SessionThread), ReplError> {
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
        };
        let (requests, rx) = tokio::sync::mpsc::unbounded_channel();
        let (tx, notes) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("ferret-session".into())
            .spawn(move || owner.run(rx, tx))
            .map_err(|source| ReplError::Thread { source })?;
        match notes.recv() {
            Ok(Note::Ready) => Ok((Link { requests, notes }, thread)),
            _ => {
                drop(requests);
                Err(finish(thread).err().unwrap_or(ReplError::Died))
            }
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
}

/// Waits for the session thread's end.
fn finish(thread: SessionThread) -> Result<Ending, ReplError> {
    thread.join().unwrap_or(Err(ReplError::Died))
}

/// Runs the REPL until `quit`, Ctrl-D or the end of input, or until the
/// session ends by itself.
pub fn run(opts: &ReplOptions) -> Result<Ending, ReplError> {
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
) -> Result<Ending, ReplError> {
    let (link, session) = Link::start(opts, facts, vocab, Box::new(Stdout), Box::new(|| ()))?;
    // Not waited for: when the session ends by itself the reader may still
    // be blocked on standard input.
    std::thread::Builder::new()
        .name("ferret-input".into())
        .spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if link.ask(Request::Line(line)) {
                    return;
                }
            }
            link.ask(Request::Quit);
        })
        .map_err(|source| ReplError::Thread { source })?;
    finish(session)
}

fn interactive(
    opts: &ReplOptions,
    facts: SystemFacts,
    vocab: Arc<Vocabulary>,
) -> Result<Ending, ReplError> {
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
    let (link, session) = Link::start(opts, &facts, &vocab, Box::new(printer), restore)?;
    vocab.preload_functions();
    println!("{BANNER}");
    let editor = std::thread::Builder::new()
        .name("ferret-editor".into())
        .spawn(move || {
            let edited = edit(&mut rl, &link, history.as_deref());
            // The editor goes first: a message rustyline still holds for
            // the next prompt is then written plainly by the printing
            // thread, which ends once the session thread (the last sender)
            // is gone.
            drop(rl);
            edited
        })
        .map_err(|source| ReplError::Thread { source })?;
    let ending = finish(session);
    if matches!(&ending, Ok(e) if e.ended_by == EndReason::Quit) {
        // The editor asked for the end and is finishing.
        let edited = editor.join().unwrap_or(Err(ReplError::Died));
        let _ = printing.join();
        edited?;
    }
    // Otherwise the session ended by itself: the terminal is back in line
    // mode and the editor, perhaps waiting for a key, is not waited for.
    ending
}

/// Reads lines until the session is over (`quit`, Ctrl-D, or the end the
/// session thread announces).
fn edit(
    rl: &mut Editor<FerretHelper, FileHistory>,
    link: &Link,
    history: Option<&std::path::Path>,
) -> Result<(), ReplError> {
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
                return Err(terminal(e));
            }
        };
        if link.ask(request) {
            return Ok(());
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
