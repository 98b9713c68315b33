//! Terminal prompts for credentials, with echo turned off for secrets.

use std::io::{self, BufRead, IsTerminal, Write};
use std::os::fd::AsRawFd;

use zeroize::Zeroizing;

/// Asks `question` on the terminal and reads one line; `echo` false hides the input.
pub fn ask(question: &str, echo: bool) -> io::Result<Zeroizing<String>> {
    let stdin = io::stdin();
    if !stdin.is_terminal() {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "standard input is not a terminal",
        ));
    }

    let mut stderr = io::stderr();
    write!(stderr, "{question}")?;
    stderr.flush()?;

    let guard = if echo {
        None
    } else {
        EchoOff::new(stdin.as_raw_fd())
    };
    let mut line = Zeroizing::new(String::new());
    let read = stdin.lock().read_line(&mut line);
    drop(guard);
    if !echo {
        writeln!(stderr)?;
    }
    read?;

    while line.ends_with('\n') || line.ends_with('\r') {
        line.pop();
    }
    Ok(line)
}

/// Terminal settings saved while echo is off, so an exit mid-prompt can restore them.
static SAVED_TERMINAL: std::sync::Mutex<Option<(i32, libc::termios)>> = std::sync::Mutex::new(None);

/// Restores terminal echo if a prompt turned it off and never finished.
pub fn restore_terminal() {
    if let Ok(mut saved) = SAVED_TERMINAL.lock() {
        if let Some((fd, termios)) = saved.take() {
            // SAFETY: restores settings read from the same fd by tcgetattr.
            unsafe {
                libc::tcsetattr(fd, libc::TCSANOW, &termios);
            }
        }
    }
}

/// Turns terminal echo off until dropped.
struct EchoOff {
    fd: i32,
    saved: libc::termios,
}

impl EchoOff {
    fn new(fd: i32) -> Option<EchoOff> {
        // SAFETY: termios is plain data; tcgetattr fills it for a valid fd or fails.
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        if unsafe { libc::tcgetattr(fd, &mut saved) } != 0 {
            return None;
        }
        let mut quiet = saved;
        quiet.c_lflag &= !libc::ECHO;
        quiet.c_lflag |= libc::ECHONL;
        // SAFETY: quiet is a valid termios copied from the terminal's own settings.
        if unsafe { libc::tcsetattr(fd, libc::TCSANOW, &quiet) } != 0 {
            return None;
        }
        if let Ok(mut slot) = SAVED_TERMINAL.lock() {
            *slot = Some((fd, saved));
        }
        Some(EchoOff { fd, saved })
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        if let Ok(mut slot) = SAVED_TERMINAL.lock() {
            *slot = None;
        }
        // SAFETY: restores the settings read from the same fd in `new`.
        unsafe {
            libc::tcsetattr(self.fd, libc::TCSANOW, &self.saved);
        }
    }
}
