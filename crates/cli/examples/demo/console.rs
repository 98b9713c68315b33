//! The demo's terminal: step titles, indented detail lines, reading a line from the
//! person, and the Ctrl-C handling that lets the demo clean up before it exits.

use std::io::BufRead;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use crate::STEPS;

/// Indentation of the demo's detail lines under a step title.
pub const INDENT: &str = "        ";

/// Interval at which waits check for Ctrl-C and for exited processes.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Number of the step running now, for the failure message.
static CURRENT_STEP: AtomicUsize = AtomicUsize::new(0);

/// Set by the SIGINT and SIGTERM handler.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Cause of a demo run that stopped before its last step.
pub enum Failure {
    /// A step failed. The message names what failed and, where known, the fix.
    Step(String),
    /// The person pressed Ctrl-C or the demo received SIGTERM.
    Interrupted,
}

impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure::Step(message)
    }
}

impl Failure {
    /// Appends `context`, such as the tail of a log, to a step failure.
    pub fn with_context(self, context: &str) -> Failure {
        match self {
            Failure::Step(message) => Failure::Step(format!("{message}\n{context}")),
            Failure::Interrupted => Failure::Interrupted,
        }
    }
}

/// Prints the title of step `number` and fails if the demo has been interrupted.
pub fn begin_step(number: usize) -> Result<(), Failure> {
    check_interrupted()?;
    CURRENT_STEP.store(number, Ordering::Relaxed);
    println!("\n[{number}/{}] {}", STEPS.len(), STEPS[number - 1]);
    Ok(())
}

/// Number and title of the step running now, or `None` before the first step.
pub fn current_step() -> Option<(usize, &'static str)> {
    let step = CURRENT_STEP.load(Ordering::Relaxed);
    let title = STEPS.get(step.checked_sub(1)?)?;
    Some((step, title))
}

/// Prints one indented line under the current step.
pub fn detail(text: &str) {
    println!("{INDENT}{text}");
}

/// Prints every line of `text` indented under the current step, after `prefix`.
pub fn detail_lines(prefix: &str, text: &str) {
    for line in text.lines() {
        println!("{INDENT}{prefix}{line}");
    }
}

/// Returns `Failure::Interrupted` once Ctrl-C or SIGTERM has arrived.
pub fn check_interrupted() -> Result<(), Failure> {
    if INTERRUPTED.load(Ordering::Relaxed) {
        Err(Failure::Interrupted)
    } else {
        Ok(())
    }
}

/// Records SIGINT and SIGTERM in [`INTERRUPTED`] instead of ending the process, so the
/// demo can stop its processes and delete its namespaces first.
pub fn install_interrupt_handler() {
    extern "C" fn record(_signal: libc::c_int) {
        INTERRUPTED.store(true, Ordering::Relaxed);
    }

    let handler = record as extern "C" fn(libc::c_int) as libc::sighandler_t;
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe { libc::signal(signal, handler) };
    }
}

/// Reads one line from standard input without its line end, or returns `None` at the
/// end of input. Fails on Ctrl-C.
pub fn read_line() -> Result<Option<String>, Failure> {
    // The read runs on its own thread because std retries a read that a signal interrupts.
    // Polling the flag here is what notices Ctrl-C while the read still blocks.
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let mut line = String::new();
        let line = match std::io::stdin().lock().read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line.trim_end_matches(['\n', '\r']).to_owned()),
        };
        let _ = sender.send(line);
    });
    loop {
        check_interrupted()?;
        match receiver.recv_timeout(POLL_INTERVAL) {
            Ok(line) => return Ok(line),
            Err(RecvTimeoutError::Disconnected) => return Ok(None),
            Err(RecvTimeoutError::Timeout) => {}
        }
    }
}

/// Prints `lines` and waits for Enter on standard input. Returns at the end of input too,
/// and fails on Ctrl-C.
pub fn wait_for_enter(lines: &[String]) -> Result<(), Failure> {
    for line in lines {
        detail(line);
    }
    read_line()?;
    Ok(())
}

/// Extracts the text of a panic payload, which is a `&str` or a `String` for `panic!`.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a step panicked without a message".to_owned()
    }
}

/// Describes an exit status as "exit code N" or "signal N".
pub fn describe_status(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("signal {signal}"),
        (None, None) => "an unknown status".to_owned(),
    }
}
