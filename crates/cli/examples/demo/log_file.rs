//! Log files of the processes the demo starts, shown a part at a time between steps so
//! that their lines never mix with the demo's own output or a prompt.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

use crate::console::{Failure, INDENT};

/// Lines kept when a log is attached to a failure message.
const TAIL_LINES: usize = 30;

/// A log file that one child process writes, and the part of it already printed.
pub struct LogFile {
    /// Path of the file, inside the demo's temporary directory.
    path: PathBuf,
    /// Byte offset up to which the lines have been printed.
    printed_offset: u64,
    /// Name printed before each line, such as "authd".
    name: &'static str,
}

impl LogFile {
    /// Creates the empty file at `path` and returns it with a handle for the child's
    /// standard output and error.
    pub fn create(path: PathBuf, name: &'static str) -> Result<(LogFile, File), Failure> {
        let file = File::create(&path)
            .map_err(|error| format!("failed to create the log {}: {error}", path.display()))?;
        Ok((
            LogFile {
                path,
                printed_offset: 0,
                name,
            },
            file,
        ))
    }

    /// Takes the complete lines written since the last call, each with the timestamp
    /// that orders it: its own, or that of the line before it.
    fn take_new(&mut self) -> Vec<(String, String)> {
        let Ok(mut file) = File::open(&self.path) else {
            return Vec::new();
        };
        let mut bytes = Vec::new();
        if file.seek(SeekFrom::Start(self.printed_offset)).is_err()
            || file.read_to_end(&mut bytes).is_err()
        {
            return Vec::new();
        }

        // A line still being written is left for the next call.
        let Some(end) = bytes.iter().rposition(|&byte| byte == b'\n') else {
            return Vec::new();
        };
        let complete = &bytes[..=end];
        self.printed_offset += complete.len() as u64;

        let mut order = String::new();
        let mut lines = Vec::new();
        for line in String::from_utf8_lossy(complete).lines() {
            if let Some(timestamp) = timestamp(line) {
                order = timestamp.to_owned();
            }
            lines.push((
                order.clone(),
                format!("{:>6} | {}", self.name, shorten_timestamp(line)),
            ));
        }
        lines
    }

    /// Whole text of the file, empty if it cannot be read.
    pub fn text(&self) -> String {
        std::fs::read(&self.path)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default()
    }

    /// Last lines of the file after a header naming it, for failure messages.
    pub fn tail(&self) -> String {
        let text = self.text();
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.len().saturating_sub(TAIL_LINES);
        format!(
            "last lines of the {} log:\n{}",
            self.name,
            lines[start..].join("\n")
        )
    }
}

/// Prints the complete lines added to `logs` since the last call, in the order of their
/// timestamps, so that the lines of two processes read as one story.
pub fn show_new(logs: &mut [&mut LogFile]) {
    let mut lines: Vec<(String, String)> = logs.iter_mut().flat_map(|log| log.take_new()).collect();
    // The sort is stable, so lines with equal timestamps keep the order of their file.
    lines.sort_by(|first, second| first.0.cmp(&second.0));
    for (_, line) in lines {
        println!("{INDENT}{line}");
    }
}

/// Date, "T", time with microseconds and "Z", as `tracing` writes it: 27 characters.
const TIMESTAMP_LEN: usize = 27;

/// Returns the RFC 3339 timestamp that starts a `tracing` line, such as
/// `2024-05-01T12:34:56.789012Z`. Being UTC with a fixed width, such timestamps sort as
/// text.
fn timestamp(line: &str) -> Option<&str> {
    let bytes = line.as_bytes();
    let is_timestamp = bytes.len() > TIMESTAMP_LEN
        && bytes[4] == b'-'
        && bytes[10] == b'T'
        && bytes[TIMESTAMP_LEN - 1] == b'Z'
        && bytes[TIMESTAMP_LEN] == b' ';
    if is_timestamp && line.is_char_boundary(TIMESTAMP_LEN) {
        Some(&line[..TIMESTAMP_LEN])
    } else {
        None
    }
}

/// Replaces the RFC 3339 timestamp that starts a `tracing` line, such as
/// `2024-05-01T12:34:56.789012Z`, with the time of day to the millisecond.
fn shorten_timestamp(line: &str) -> String {
    match timestamp(line) {
        Some(timestamp) => format!("{}{}", &timestamp[11..23], &line[TIMESTAMP_LEN..]),
        None => line.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorten_timestamp_keeps_time_of_day() {
        let line = "2026-05-01T12:34:56.789012Z  INFO daemon listening";
        assert_eq!(
            shorten_timestamp(line),
            "12:34:56.789  INFO daemon listening"
        );
    }

    #[test]
    fn shorten_timestamp_leaves_other_lines() {
        let line = "ferrovpn daemon listening on /run/ferrovpn/ferrovpn.sock";
        assert_eq!(shorten_timestamp(line), line, "a line without a timestamp");
    }
}
