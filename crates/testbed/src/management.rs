//! A minimal client for the OpenVPN management interface on a Unix socket.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// Maximum number of lines read for one command, so a flood of notifications cannot
/// keep the loop running.
const MAX_RESPONSE_LINES: usize = 10_000;

/// Sends `command` to the management socket and returns the response lines.
///
/// OpenVPN 2.6 (`doc/management-notes.txt`) greets with a `>INFO:` line, replies to
/// single-line commands with `SUCCESS: ...` or `ERROR: ...` and multi-line commands with
/// lines ending in `END`. Lines starting with `>` are notifications and are skipped. An
/// `ERROR:` response is returned as `Err`.
pub(crate) fn command(socket: &Path, command: &str, timeout: Duration) -> Result<String, String> {
    let deadline = Instant::now() + timeout;
    let stream = UnixStream::connect(socket).map_err(|error| {
        format!(
            "failed to connect to the management socket {}: {error}",
            socket.display()
        )
    })?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|error| format!("failed to set management socket timeouts: {error}"))?;

    let mut writer = stream
        .try_clone()
        .map_err(|error| format!("failed to clone the management socket: {error}"))?;
    writer
        .write_all(format!("{command}\n").as_bytes())
        .map_err(|error| format!("failed to send management command {command:?}: {error}"))?;

    let mut reader = BufReader::new(stream);
    let mut response = Vec::new();
    for _ in 0..MAX_RESPONSE_LINES {
        if Instant::now() >= deadline {
            break;
        }
        let mut line = String::new();
        let read = reader
            .read_line(&mut line)
            .map_err(|error| format!("no response to management command {command:?}: {error}"))?;
        if read == 0 {
            return Err(format!(
                "management interface closed the connection during {command:?}"
            ));
        }

        let line = line.trim_end_matches(['\r', '\n']);
        if line.starts_with('>') {
            continue;
        }
        if line.starts_with("SUCCESS:") {
            response.push(line.to_owned());
            return Ok(response.join("\n"));
        }
        if line.starts_with("ERROR:") {
            return Err(format!("management command {command:?} failed: {line}"));
        }
        if line == "END" {
            return Ok(response.join("\n"));
        }
        response.push(line.to_owned());
    }

    Err(format!(
        "management command {command:?} got no complete response within {} s",
        timeout.as_secs()
    ))
}
