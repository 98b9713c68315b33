//! A child process that is terminated by PID when its guard is dropped.

use std::io;
use std::process::{Child, Command, ExitStatus};
use std::thread;
use std::time::{Duration, Instant};

/// Time a process gets to exit after SIGTERM before it receives SIGKILL.
pub const TERMINATE_GRACE: Duration = Duration::from_secs(5);

/// Interval between two checks whether a terminated process has exited.
const EXIT_POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Owns a child process started by the test and ends it when dropped, panic or not.
///
/// Only the PID returned by `spawn` is ever signalled: SIGTERM first, SIGKILL after
/// [`TERMINATE_GRACE`], then the process is reaped so it leaves no zombie.
#[derive(Debug)]
pub struct ProcessGuard {
    /// The running child, or `None` once it has been stopped and reaped.
    child: Option<Child>,
    /// PID of the child, kept after it exits for messages.
    pid: u32,
    /// Short description used in messages, such as "openvpn server".
    what: String,
}

impl ProcessGuard {
    /// Starts `command` and returns a guard that owns the new process.
    pub fn spawn(mut command: Command, what: &str) -> io::Result<ProcessGuard> {
        let child = command.spawn()?;
        let pid = child.id();
        tracing::debug!(pid, what, "started process");
        Ok(ProcessGuard {
            child: Some(child),
            pid,
            what: what.to_owned(),
        })
    }

    /// PID of the process.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Returns the exit status if the process has exited, reaping it, or `None` if it runs.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        match self.child.as_mut() {
            Some(child) => child.try_wait(),
            None => Err(io::Error::other(format!(
                "{} (pid {}) was already stopped",
                self.what, self.pid
            ))),
        }
    }

    /// Returns whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.try_wait(), Ok(None))
    }

    /// Sends SIGTERM, waits up to [`TERMINATE_GRACE`], sends SIGKILL if needed and reaps.
    ///
    /// Returns the exit status, or `None` if the process had already been stopped.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;

        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }

        signal(self.pid, libc::SIGTERM);
        let deadline = Instant::now() + TERMINATE_GRACE;
        while Instant::now() < deadline {
            match child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) => thread::sleep(EXIT_POLL_INTERVAL),
                Err(_) => break,
            }
        }

        tracing::warn!(pid = self.pid, what = %self.what, "process ignored SIGTERM, killing it");
        if let Err(error) = child.kill() {
            eprintln!(
                "ferrovpn-testbed: failed to kill {} (pid {}): {error}",
                self.what, self.pid
            );
        }
        child.wait().ok()
    }
}

impl Drop for ProcessGuard {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sends `signal` to `pid`, which must be a child this crate started and has not reaped.
fn signal(pid: u32, signal: libc::c_int) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill has no memory-safety preconditions. The PID belongs to an unreaped child
    // of this process, so it cannot have been reused by an unrelated process.
    unsafe { libc::kill(pid, signal) };
}
