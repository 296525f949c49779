//! `--cmd 'COMMAND'`: the command a session traces. It starts once every
//! probe is attached, runs through `sh -c`, and its end ends the session;
//! its exit status becomes ferret's.
//!
//! It stays in ferret's process group, so Ctrl-C at a terminal reaches
//! both and an interactive command keeps its terminal. When the session
//! ends first (duration, signal, `stop after`), the command gets SIGTERM,
//! then SIGKILL if it has not ended after [`GRACE`].

use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long a command may take to end after SIGTERM.
pub const GRACE: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("cannot start `{command}` with /bin/sh: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    #[error("cannot wait for `{command}`: {source}")]
    Wait {
        command: String,
        source: std::io::Error,
    },
}

#[derive(Debug)]
pub struct RunningCommand {
    child: Child,
    text: String,
}

impl RunningCommand {
    /// Starts `sh -c COMMAND`. With `stdout_to_stderr` its standard output
    /// goes to ferret's standard error, keeping a JSON stream on stdout
    /// parseable.
    pub fn spawn(command: &str, stdout_to_stderr: bool) -> Result<RunningCommand, CommandError> {
        let spawn_error = |source| CommandError::Spawn {
            command: command.to_string(),
            source,
        };
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c").arg(command);
        if stdout_to_stderr {
            use std::os::fd::AsFd;
            let fd = std::io::stderr()
                .as_fd()
                .try_clone_to_owned()
                .map_err(spawn_error)?;
            cmd.stdout(Stdio::from(fd));
        }
        let child = cmd.spawn().map_err(spawn_error)?;
        Ok(RunningCommand {
            child,
            text: command.to_string(),
        })
    }

    /// The exit status once the command has ended; never blocks.
    pub fn try_status(&mut self) -> Result<Option<i32>, CommandError> {
        self.child
            .try_wait()
            .map(|s| s.map(status_code))
            .map_err(|source| self.wait_error(source))
    }

    /// Ends the command (SIGTERM, then SIGKILL after [`GRACE`]) and
    /// returns its status; a command that already ended just reports it.
    pub fn stop(mut self) -> Result<i32, CommandError> {
        if let Some(code) = self.try_status()? {
            return Ok(code);
        }
        // SAFETY: signalling our own child, which has not been reaped yet
        // (try_wait said it is running), so its pid is still ours.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + GRACE;
        while Instant::now() < deadline {
            if let Some(code) = self.try_status()? {
                return Ok(code);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        self.child
            .wait()
            .map(status_code)
            .map_err(|source| self.wait_error(source))
    }

    fn wait_error(&self, source: std::io::Error) -> CommandError {
        CommandError::Wait {
            command: self.text.clone(),
            source,
        }
    }
}

/// The status as a shell reports it: the exit code, or 128 + the signal.
pub fn status_code(status: ExitStatus) -> i32 {
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_and_signals_read_as_a_shell_reports_them() {
        let mut c = RunningCommand::spawn("exit 7", false).unwrap();
        let code = loop {
            if let Some(code) = c.try_status().unwrap() {
                break code;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        assert_eq!(code, 7);
        let killed = RunningCommand::spawn("exec sleep 30", false).unwrap();
        assert_eq!(killed.stop().unwrap(), 128 + libc::SIGTERM);
    }
}
