//! Starting an `openvpn` process in a namespace and waiting until it is ready.

use std::fs::{self, File, OpenOptions};
use std::path::Path;
use std::process::Stdio;
use std::thread;
use std::time::{Duration, Instant};

use crate::netns::Netns;
use crate::process::ProcessGuard;

/// Log line with which OpenVPN 2.6 reports that a server or client is ready.
pub const INITIALIZATION_COMPLETED: &str = "Initialization Sequence Completed";

/// Time an openvpn process gets to reach [`INITIALIZATION_COMPLETED`].
pub const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Number of log lines shown in an error message.
const LOG_TAIL_LINES: usize = 40;

/// Interval between two checks of a starting process.
const START_POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Runs `ip netns exec <ns> openvpn --config <config>` with standard output and standard
/// error appended to `log`, and waits up to [`START_TIMEOUT`] for
/// [`INITIALIZATION_COMPLETED`] in the part of the log written after `log_offset`.
///
/// On failure the process has been stopped and the error carries the log tail.
pub(crate) fn start_openvpn(
    ns: &str,
    config: &Path,
    log: &Path,
    log_offset: usize,
    what: &str,
) -> Result<ProcessGuard, String> {
    let stdout = open_log(log)?;
    let stderr = stdout
        .try_clone()
        .map_err(|error| format!("failed to duplicate the log file handle: {error}"))?;

    let config_arg = config.to_string_lossy().into_owned();
    let mut command = Netns::command(ns, "openvpn");
    command
        .args(["--config", &config_arg])
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr);

    let mut process = ProcessGuard::spawn(command, what)
        .map_err(|error| format!("failed to start `ip netns exec {ns} openvpn`: {error}"))?;

    let start = Instant::now();
    let max_polls = START_TIMEOUT.as_millis() / START_POLL_INTERVAL.as_millis() + 1;
    for _ in 0..max_polls {
        if read_log_from(log, log_offset).contains(INITIALIZATION_COMPLETED) {
            return Ok(process);
        }

        match process.try_wait() {
            Ok(None) => {}
            Ok(Some(status)) => {
                return Err(format!(
                    "{what} exited with {status} before \"{INITIALIZATION_COMPLETED}\"\n{}",
                    log_tail(log)
                ));
            }
            Err(error) => return Err(format!("failed to poll the {what} process: {error}")),
        }

        if start.elapsed() >= START_TIMEOUT {
            break;
        }
        thread::sleep(START_POLL_INTERVAL);
    }

    process.stop();
    Err(format!(
        "{what} did not log \"{INITIALIZATION_COMPLETED}\" within {} s\n{}",
        START_TIMEOUT.as_secs(),
        log_tail(log)
    ))
}

/// Current length of the log file in bytes, 0 if it does not exist yet.
pub(crate) fn log_len(path: &Path) -> usize {
    fs::metadata(path).map_or(0, |metadata| metadata.len() as usize)
}

/// Text of the log file from byte `offset` on, empty if the file does not exist yet.
pub(crate) fn read_log_from(path: &Path, offset: usize) -> String {
    let bytes = fs::read(path).unwrap_or_default();
    let part = bytes.get(offset..).unwrap_or_default();
    String::from_utf8_lossy(part).into_owned()
}

/// Last lines of the log file, after a header naming it.
pub(crate) fn log_tail(path: &Path) -> String {
    let log = read_log_from(path, 0);
    let lines: Vec<&str> = log.lines().collect();
    let start = lines.len().saturating_sub(LOG_TAIL_LINES);
    format!(
        "last {} lines of {}:\n{}",
        lines.len() - start,
        path.display(),
        lines[start..].join("\n")
    )
}

/// Opens the log file for appending, creating it if needed.
fn open_log(path: &Path) -> Result<File, String> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|error| format!("failed to open the log {}: {error}", path.display()))
}
