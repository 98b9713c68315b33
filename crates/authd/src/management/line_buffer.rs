//! Splitting the byte stream of the management interface into lines.
//!
//! OpenVPN ends lines with `\r\n`, except its password prompt: `ENTER PASSWORD:` is
//! written without a line ending (OpenVPN 2.6 `manage.c` `man_prompt`), so it is
//! recognised as the whole unterminated rest of the buffer.

use std::io;

/// The password prompt of a management interface with a password file.
pub const PASSWORD_PROMPT: &str = "ENTER PASSWORD:";

/// Maximum line length accepted, in bytes. OpenVPN's longest lines, the variables of a
/// client with a long `IV_*` list or certificate subject, stay far below this.
pub const MAX_LINE_LEN: usize = 64 * 1024;

/// One unit read from the management interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk {
    /// A complete line without its line ending.
    Line(String),
    /// The password prompt.
    PasswordPrompt,
}

/// Bytes received and not yet returned as chunks.
#[derive(Debug, Default)]
pub struct LineBuffer {
    /// Received bytes after the last returned chunk.
    bytes: Vec<u8>,
}

impl LineBuffer {
    /// Appends received bytes.
    pub fn extend(&mut self, data: &[u8]) {
        self.bytes.extend_from_slice(data);
    }

    /// Returns the next complete chunk, if the buffer contains one.
    ///
    /// Fails with `InvalidData` if a line grows past [`MAX_LINE_LEN`].
    pub fn next_chunk(&mut self) -> io::Result<Option<Chunk>> {
        if let Some(end) = self.bytes.iter().position(|byte| *byte == b'\n') {
            let line: Vec<u8> = self.bytes.drain(..=end).collect();
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end_matches(['\r', '\n']).to_owned();
            return Ok(Some(Chunk::Line(text)));
        }
        if self.bytes == PASSWORD_PROMPT.as_bytes() {
            self.bytes.clear();
            return Ok(Some(Chunk::PasswordPrompt));
        }
        if self.bytes.len() > MAX_LINE_LEN {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the server sent a line longer than {MAX_LINE_LEN} bytes"),
            ));
        }
        Ok(None)
    }

    /// Returns whether bytes of an unfinished line are buffered.
    pub fn has_partial_line(&self) -> bool {
        !self.bytes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(buffer: &mut LineBuffer) -> Vec<Chunk> {
        let mut chunks = Vec::new();
        while let Some(chunk) = buffer.next_chunk().expect("no overlong line") {
            chunks.push(chunk);
        }
        chunks
    }

    #[test]
    fn next_chunk_splits_crlf_lines() {
        let mut buffer = LineBuffer::default();
        buffer.extend(b">INFO:hello\r\nSUCCESS: ok\r\n>CLIENT:CON");
        let expected = [
            Chunk::Line(">INFO:hello".to_owned()),
            Chunk::Line("SUCCESS: ok".to_owned()),
        ];
        assert_eq!(drain(&mut buffer), expected, "complete lines");
        assert!(buffer.has_partial_line(), "the partial line stays buffered");

        buffer.extend(b"NECT,1,0\r\n");
        let rest = [Chunk::Line(">CLIENT:CONNECT,1,0".to_owned())];
        assert_eq!(drain(&mut buffer), rest, "line completed by the next read");
    }

    #[test]
    fn next_chunk_password_prompt_without_newline() {
        let mut buffer = LineBuffer::default();
        buffer.extend(b"ENTER PASS");
        assert_eq!(drain(&mut buffer), [], "half a prompt is no chunk");
        buffer.extend(b"WORD:");
        assert_eq!(drain(&mut buffer), [Chunk::PasswordPrompt], "whole prompt");
    }

    #[test]
    fn next_chunk_overlong_line_fails() {
        let mut buffer = LineBuffer::default();
        buffer.extend(&vec![b'a'; MAX_LINE_LEN + 1]);
        let error = buffer.next_chunk().expect_err("line too long");
        assert_eq!(error.kind(), io::ErrorKind::InvalidData, "{error}");
    }
}
