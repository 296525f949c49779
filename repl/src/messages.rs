//! The messages between the terminal thread and the session thread, over
//! their two channels: requests one way, notes back.

/// What the terminal thread asks for.
#[derive(Debug)]
pub(crate) enum Request {
    Line(String),
    /// Ctrl-C at the prompt.
    Interrupt,
    /// Ctrl-D, or the input ended.
    Quit,
}

/// What the session thread tells the terminal thread.
#[derive(Debug)]
pub(crate) enum Note {
    /// The kernel side is loaded; the prompt may appear.
    Ready,
    /// A request is done and its output printed.
    Done { quit: bool },
}
