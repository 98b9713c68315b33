//! Frame layer: a `u32` big-endian length prefix, then that many bytes of UTF-8 JSON.
//!
//! The length is checked against [`MAX_FRAME_LEN`] before any buffer for the
//! payload is allocated, and the payload buffer grows only as bytes arrive, so
//! a peer that claims a large frame and sends little costs almost nothing.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use zeroize::{Zeroize, Zeroizing};

/// Maximum payload length of one frame in bytes (1 MiB).
///
/// The largest legitimate message is a `connect` request that carries a whole
/// profile with inline certificates and keys, which stays well below this.
pub const MAX_FRAME_LEN: usize = 1024 * 1024;

/// Length of the big-endian length prefix in bytes.
pub const FRAME_HEADER_LEN: usize = 4;

/// Largest read into a growing frame buffer at a time, in bytes.
const READ_CHUNK: usize = 64 * 1024;

/// Failure to read or write one frame. Any of these leaves the byte stream out of step.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The length prefix names more than [`MAX_FRAME_LEN`] bytes.
    #[error(
        "app message frame of {len} bytes exceeds the maximum of {max} bytes; \
         the peer sent an oversized message or does not speak the ferrovpn app message protocol"
    )]
    TooLarge {
        /// The length the prefix claimed, in bytes.
        len: u64,
        /// The maximum, [`MAX_FRAME_LEN`].
        max: usize,
    },
    /// The stream ended inside a frame, after `received` of `expected` bytes.
    #[error(
        "connection closed in the middle of an app message frame: \
         received {received} of {expected} bytes"
    )]
    Truncated {
        /// Bytes the frame needed: the header, or the header plus the payload.
        expected: usize,
        /// Bytes of the frame that arrived before the end of the stream.
        received: usize,
    },
    /// Reading from or writing to the stream failed.
    #[error("app message stream failed: {0}")]
    Io(#[from] io::Error),
}

/// Checks a length prefix against [`MAX_FRAME_LEN`] and returns it as a `usize`.
pub(crate) fn check_frame_len(len: u32) -> Result<usize, FrameError> {
    let len_usize = len as usize;
    if len_usize > MAX_FRAME_LEN {
        return Err(FrameError::TooLarge {
            len: u64::from(len),
            max: MAX_FRAME_LEN,
        });
    }
    Ok(len_usize)
}

/// Reads one frame and returns its payload, or `None` when the stream ends between frames.
///
/// Not cancel safe: dropping the future after some bytes were read loses them.
/// [`crate::Connection`] and [`crate::IpcClient`] buffer internally, so their reads are cancel safe.
pub async fn read_frame<R>(reader: &mut R) -> Result<Option<Vec<u8>>, FrameError>
where
    R: AsyncRead + Unpin,
{
    let mut header = [0u8; FRAME_HEADER_LEN];
    let mut filled = 0;
    while filled < FRAME_HEADER_LEN {
        let read = reader.read(&mut header[filled..]).await?;
        if read == 0 {
            if filled == 0 {
                return Ok(None);
            }
            return Err(FrameError::Truncated {
                expected: FRAME_HEADER_LEN,
                received: filled,
            });
        }
        filled += read;
    }

    let len = check_frame_len(u32::from_be_bytes(header))?;

    let mut payload = Vec::with_capacity(len.min(READ_CHUNK));
    (&mut *reader)
        .take(len as u64)
        .read_to_end(&mut payload)
        .await?;
    if payload.len() < len {
        return Err(FrameError::Truncated {
            expected: FRAME_HEADER_LEN + len,
            received: FRAME_HEADER_LEN + payload.len(),
        });
    }
    Ok(Some(payload))
}

/// Writes one frame with `payload` and flushes the writer.
///
/// A payload longer than [`MAX_FRAME_LEN`] is rejected before anything is written.
pub async fn write_frame<W>(writer: &mut W, payload: &[u8]) -> Result<(), FrameError>
where
    W: AsyncWrite + Unpin,
{
    let len = frame_len_prefix(payload.len())?;
    writer.write_all(&len.to_be_bytes()).await?;
    writer.write_all(payload).await?;
    writer.flush().await?;
    Ok(())
}

/// Returns the length prefix for a payload of `len` bytes, or an error when it is too long.
fn frame_len_prefix(len: usize) -> Result<u32, FrameError> {
    match u32::try_from(len) {
        Ok(prefix) if len <= MAX_FRAME_LEN => Ok(prefix),
        _ => Err(FrameError::TooLarge {
            len: len as u64,
            max: MAX_FRAME_LEN,
        }),
    }
}

/// Serializes `message` as JSON into a complete frame, header included.
///
/// The buffer is wiped on drop because a request frame may carry an answer with a password.
pub(crate) fn encode_frame<T>(message: &T) -> Result<Zeroizing<Vec<u8>>, EncodeError>
where
    T: serde::Serialize,
{
    // Enough room for typical messages, so the buffer does not reallocate and
    // leave unwiped copies of a secret behind.
    let mut frame = Zeroizing::new(Vec::with_capacity(4096));
    frame.extend_from_slice(&[0u8; FRAME_HEADER_LEN]);
    serde_json::to_writer(&mut *frame, message).map_err(EncodeError::Json)?;

    let payload_len = frame.len() - FRAME_HEADER_LEN;
    let prefix = frame_len_prefix(payload_len).map_err(|_| EncodeError::TooLarge {
        len: payload_len,
        max: MAX_FRAME_LEN,
    })?;
    frame[..FRAME_HEADER_LEN].copy_from_slice(&prefix.to_be_bytes());
    Ok(frame)
}

/// Failure to turn an outgoing message into a frame.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// The message did not serialize as JSON.
    #[error("app message could not be encoded as JSON: {0}")]
    Json(#[source] serde_json::Error),
    /// The encoded message is longer than [`MAX_FRAME_LEN`].
    #[error(
        "app message of {len} bytes exceeds the maximum frame of {max} bytes; \
         send a smaller profile or fewer log lines"
    )]
    TooLarge {
        /// Length of the encoded JSON in bytes.
        len: usize,
        /// The maximum, [`MAX_FRAME_LEN`].
        max: usize,
    },
}

/// Cancel-safe frame reader that keeps bytes read past the current frame for the next one.
///
/// Consumed bytes are wiped, because request frames may carry passwords.
#[derive(Default)]
pub(crate) struct FrameReader {
    /// Bytes received and not yet returned as a frame.
    buffer: Vec<u8>,
}

impl FrameReader {
    /// Reads until one whole frame is buffered and returns its payload, or `None` at a clean end.
    ///
    /// Cancel safe: bytes read before the future is dropped stay buffered.
    pub(crate) async fn read_frame<R>(
        &mut self,
        reader: &mut R,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, FrameError>
    where
        R: AsyncRead + Unpin,
    {
        loop {
            if let Some(payload) = self.take_frame()? {
                return Ok(Some(payload));
            }

            let missing = self.expected_len()? - self.buffer.len();
            self.buffer.reserve(missing.min(READ_CHUNK));
            let read = reader.read_buf(&mut self.buffer).await?;
            if read == 0 {
                return self.end_of_stream();
            }
        }
    }

    /// Bytes the current frame needs in total: the header until it is complete, then all of it.
    fn expected_len(&self) -> Result<usize, FrameError> {
        match self.header() {
            Some(len) => Ok(FRAME_HEADER_LEN + check_frame_len(len)?),
            None => Ok(FRAME_HEADER_LEN),
        }
    }

    fn header(&self) -> Option<u32> {
        let header = self.buffer.get(..FRAME_HEADER_LEN)?;
        Some(u32::from_be_bytes(header.try_into().ok()?))
    }

    fn take_frame(&mut self) -> Result<Option<Zeroizing<Vec<u8>>>, FrameError> {
        let end = self.expected_len()?;
        if self.header().is_none() || self.buffer.len() < end {
            return Ok(None);
        }

        let payload = Zeroizing::new(self.buffer[FRAME_HEADER_LEN..end].to_vec());
        let rest = Zeroizing::new(self.buffer[end..].to_vec());

        // Wipes the consumed frame together with the spare capacity before reuse.
        self.buffer.zeroize();
        self.buffer.extend_from_slice(&rest);
        Ok(Some(payload))
    }

    fn end_of_stream(&mut self) -> Result<Option<Zeroizing<Vec<u8>>>, FrameError> {
        if self.buffer.is_empty() {
            return Ok(None);
        }

        let error = FrameError::Truncated {
            expected: self.expected_len()?,
            received: self.buffer.len(),
        };
        self.buffer.zeroize();
        Err(error)
    }
}

impl Drop for FrameReader {
    fn drop(&mut self) {
        self.buffer.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use tokio::io::AsyncWriteExt;

    fn frame(payload: &[u8]) -> Vec<u8> {
        let mut bytes = (payload.len() as u32).to_be_bytes().to_vec();
        bytes.extend_from_slice(payload);
        bytes
    }

    #[tokio::test]
    async fn read_frame_returns_payload() {
        let bytes = frame(br#"{"a":1}"#);
        let mut reader = &bytes[..];

        let payload = read_frame(&mut reader).await.expect("frame should read");

        assert_eq!(payload.as_deref(), Some(&br#"{"a":1}"#[..]));
    }

    #[tokio::test]
    async fn read_frame_clean_end_is_none() {
        let mut reader: &[u8] = &[];

        let payload = read_frame(&mut reader)
            .await
            .expect("empty stream is no error");

        assert!(payload.is_none(), "expected None, got {payload:?}");
    }

    #[tokio::test]
    async fn read_frame_rejects_oversized_prefix() {
        let bytes = ((MAX_FRAME_LEN + 1) as u32).to_be_bytes();
        let mut reader = &bytes[..];

        let error = read_frame(&mut reader).await.expect_err("oversized frame");

        let message = error.to_string();
        assert!(
            message.contains(&(MAX_FRAME_LEN + 1).to_string()),
            "message does not name the length: {message}"
        );
    }

    #[tokio::test]
    async fn read_frame_accepts_max_length() {
        let bytes = frame(&vec![b' '; MAX_FRAME_LEN]);
        let mut reader = &bytes[..];

        let payload = read_frame(&mut reader)
            .await
            .expect("max frame should read");

        assert_eq!(payload.map(|p| p.len()), Some(MAX_FRAME_LEN));
    }

    #[tokio::test]
    async fn read_frame_truncated_payload() {
        let mut bytes = 10u32.to_be_bytes().to_vec();
        bytes.extend_from_slice(b"abc");
        let mut reader = &bytes[..];

        let error = read_frame(&mut reader).await.expect_err("truncated frame");

        assert!(
            matches!(
                error,
                FrameError::Truncated {
                    expected: 14,
                    received: 7
                }
            ),
            "unexpected error: {error:?}"
        );
    }

    #[tokio::test]
    async fn read_frame_truncated_header() {
        let bytes = [0u8, 0];
        let mut reader = &bytes[..];

        let error = read_frame(&mut reader).await.expect_err("truncated header");

        assert!(
            matches!(
                error,
                FrameError::Truncated {
                    expected: 4,
                    received: 2
                }
            ),
            "unexpected error: {error:?}"
        );
    }

    #[tokio::test]
    async fn write_frame_prefixes_length() {
        let mut written = Vec::new();

        write_frame(&mut written, b"hello").await.expect("write");

        assert_eq!(written, frame(b"hello"));
    }

    #[tokio::test]
    async fn write_frame_rejects_oversized_payload() {
        let mut written = Vec::new();
        let payload = vec![b' '; MAX_FRAME_LEN + 1];

        let error = write_frame(&mut written, &payload)
            .await
            .expect_err("too large");

        assert!(
            matches!(error, FrameError::TooLarge { .. }),
            "unexpected error: {error:?}"
        );
        assert!(written.is_empty(), "{} bytes were written", written.len());
    }

    #[test]
    fn encode_frame_prefixes_json_length() {
        let frame = encode_frame(&serde_json::json!({"a": 1})).expect("encode");

        assert_eq!(&frame[..], &self::frame(br#"{"a":1}"#)[..]);
    }

    #[tokio::test]
    async fn frame_reader_splits_coalesced_frames() {
        let mut bytes = frame(b"first");
        bytes.extend_from_slice(&frame(b"second"));
        let mut reader = &bytes[..];
        let mut frames = FrameReader::default();

        let first = frames.read_frame(&mut reader).await.expect("first");
        let second = frames.read_frame(&mut reader).await.expect("second");
        let end = frames.read_frame(&mut reader).await.expect("end");

        assert_eq!(first.as_deref().map(|p| &p[..]), Some(&b"first"[..]));
        assert_eq!(second.as_deref().map(|p| &p[..]), Some(&b"second"[..]));
        assert!(end.is_none(), "expected a clean end");
    }

    #[tokio::test]
    async fn frame_reader_survives_cancelled_read() {
        let (mut client, mut server) = tokio::io::duplex(64);
        let mut frames = FrameReader::default();
        let bytes = frame(b"split across reads");
        client.write_all(&bytes[..6]).await.expect("write start");

        let early = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            frames.read_frame(&mut server),
        )
        .await;
        client.write_all(&bytes[6..]).await.expect("write rest");
        let payload = frames.read_frame(&mut server).await.expect("frame");

        assert!(early.is_err(), "the first read should time out");
        assert_eq!(
            payload.as_deref().map(|p| &p[..]),
            Some(&b"split across reads"[..])
        );
    }

    #[tokio::test]
    async fn frame_reader_truncated_payload() {
        let mut bytes = 10u32.to_be_bytes().to_vec();
        bytes.extend_from_slice(b"abc");
        let mut reader = &bytes[..];
        let mut frames = FrameReader::default();

        let error = frames.read_frame(&mut reader).await.expect_err("truncated");

        assert!(
            matches!(
                error,
                FrameError::Truncated {
                    expected: 14,
                    received: 7
                }
            ),
            "unexpected error: {error:?}"
        );
    }

    #[tokio::test]
    async fn frame_reader_rejects_oversized_prefix() {
        let bytes = u32::MAX.to_be_bytes();
        let mut reader = &bytes[..];
        let mut frames = FrameReader::default();

        let error = frames.read_frame(&mut reader).await.expect_err("oversized");

        assert!(
            matches!(error, FrameError::TooLarge { len, .. } if len == u64::from(u32::MAX)),
            "unexpected error: {error:?}"
        );
    }
}
