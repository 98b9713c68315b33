//! The provider's end of one app connection.

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::UnixStream;

use crate::envelope::{
    decode_request, EventEnvelope, ResponseEnvelope, PROTOCOL_VERSION, UNKNOWN_ID,
};
use crate::error::IpcError;
use crate::event::Event;
use crate::frame::{encode_frame, FrameError, FrameReader};
use crate::peer::PeerCredentials;
use crate::protocol_error::ProtocolError;
use crate::request::Request;
use crate::response::{ErrorKind, Response};

/// One request as read by [`Connection::read_request`]: its id, and the request or why it is invalid.
pub type IncomingRequest = (u64, Result<Request, ProtocolError>);

/// The provider's end of an app connection: reads requests, sends responses and events.
///
/// A frame that is intact but invalid comes back as `Err(ProtocolError)` with
/// its id, and the provider sends the error response with [`Connection::reject`] and reads on.
/// A broken frame ends the connection.
pub struct Connection<S = UnixStream> {
    /// The byte stream to the app.
    stream: S,
    /// Bytes of a request frame received so far.
    frames: FrameReader,
}

impl Connection<UnixStream> {
    /// Reads the credentials of the app process at the other end.
    pub fn peer_credentials(&self) -> Result<PeerCredentials, IpcError> {
        PeerCredentials::of_stream(&self.stream)
    }
}

impl<S> Connection<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// Wraps the provider's end of an accepted stream.
    pub fn new(stream: S) -> Connection<S> {
        Connection {
            stream,
            frames: FrameReader::default(),
        }
    }

    /// Reads the next request, or returns `None` when the app closed the connection between frames.
    ///
    /// Cancel safe, so it can wait in `tokio::select!` next to an event source.
    /// On a broken frame (oversized length prefix, or the stream ending inside a
    /// frame) it sends an error response with id 0 where the app can still read
    /// it, then returns the error, and the caller should drop the connection.
    pub async fn read_request(&mut self) -> Result<Option<IncomingRequest>, IpcError> {
        match self.frames.read_frame(&mut self.stream).await {
            Ok(Some(payload)) => Ok(Some(decode_request(&payload))),
            Ok(None) => Ok(None),
            Err(error) => {
                self.report_broken_frame(&error).await;
                Err(IpcError::Frame(error))
            }
        }
    }

    /// Sends the response to the request with `id`.
    pub async fn send_response(&mut self, id: u64, response: Response) -> Result<(), IpcError> {
        let envelope = ResponseEnvelope {
            version: PROTOCOL_VERSION,
            id,
            response: &response,
        };
        let frame = encode_frame(&envelope)?;
        self.write(&frame).await
    }

    /// Sends an event. Call it only for apps that subscribed.
    pub async fn send_event(&mut self, event: Event) -> Result<(), IpcError> {
        let envelope = EventEnvelope {
            version: PROTOCOL_VERSION,
            event: &event,
        };
        let frame = encode_frame(&envelope)?;
        self.write(&frame).await
    }

    /// Sends the error response for an invalid request.
    pub async fn reject(&mut self, id: u64, error: &ProtocolError) -> Result<(), IpcError> {
        self.send_response(id, error.to_response()).await
    }

    /// Returns the underlying stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    async fn write(&mut self, frame: &[u8]) -> Result<(), IpcError> {
        self.stream.write_all(frame).await.map_err(FrameError::Io)?;
        self.stream.flush().await.map_err(FrameError::Io)?;
        Ok(())
    }

    /// Tells the app why its frame broke the connection, as far as it can still read.
    async fn report_broken_frame(&mut self, error: &FrameError) {
        let kind = match error {
            FrameError::TooLarge { .. } => ErrorKind::FrameTooLarge,
            FrameError::Truncated { .. } => ErrorKind::InvalidRequest,
            FrameError::Io(_) => return,
        };

        let response = Response::error(kind, error.to_string());
        if let Err(send_error) = self.send_response(UNKNOWN_ID, response).await {
            // An app that closed its end cannot read the report, which is expected.
            tracing::debug!(
                error = %send_error,
                frame_error = %error,
                "could not report a broken app message frame"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use tokio::io::{AsyncReadExt, DuplexStream};

    use crate::envelope::{decode_provider_message, ProviderMessage};
    use crate::frame::{read_frame, write_frame};

    async fn read_message(app: &mut DuplexStream) -> ProviderMessage {
        let payload = read_frame(app)
            .await
            .expect("frame")
            .expect("a frame before the end");
        decode_provider_message(&payload).expect("provider message")
    }

    #[tokio::test]
    async fn oversized_frame_gets_error_response() {
        let (mut app, provider) = tokio::io::duplex(1024);
        let mut connection = Connection::new(provider);
        app.write_all(&u32::MAX.to_be_bytes()).await.expect("write");

        let result = connection.read_request().await;
        let message = read_message(&mut app).await;

        assert!(
            matches!(result, Err(IpcError::Frame(FrameError::TooLarge { .. }))),
            "unexpected result: {result:?}"
        );
        assert!(
            matches!(
                message,
                ProviderMessage::Response {
                    id: UNKNOWN_ID,
                    response: Response::Error {
                        kind: ErrorKind::FrameTooLarge,
                        ..
                    }
                }
            ),
            "unexpected response: {message:?}"
        );
    }

    #[tokio::test]
    async fn malformed_frame_keeps_connection_open() {
        let (mut app, provider) = tokio::io::duplex(1024);
        let mut connection = Connection::new(provider);
        write_frame(&mut app, b"{not json").await.expect("write");
        let valid = br#"{"version":1,"id":2,"request":{"type":"subscribe"}}"#;
        write_frame(&mut app, valid).await.expect("write");

        let first = connection.read_request().await.expect("first frame");
        let second = connection.read_request().await.expect("second frame");

        assert!(
            matches!(
                first,
                Some((UNKNOWN_ID, Err(ProtocolError::MalformedJson { .. })))
            ),
            "unexpected first request: {first:?}"
        );
        assert_eq!(second, Some((2, Ok(Request::Subscribe))));
    }

    #[tokio::test]
    async fn reject_sends_error_with_id() {
        let (mut app, provider) = tokio::io::duplex(1024);
        let mut connection = Connection::new(provider);
        let error = ProtocolError::UnsupportedVersion { found: 9 };

        connection.reject(5, &error).await.expect("reject");
        let message = read_message(&mut app).await;

        assert!(
            matches!(
                message,
                ProviderMessage::Response {
                    id: 5,
                    response: Response::Error {
                        kind: ErrorKind::UnsupportedVersion,
                        ..
                    }
                }
            ),
            "unexpected response: {message:?}"
        );
    }

    #[tokio::test]
    async fn app_closing_mid_frame_is_truncated() {
        let (mut app, provider) = tokio::io::duplex(1024);
        let mut connection = Connection::new(provider);
        app.write_all(&100u32.to_be_bytes()).await.expect("write");
        app.write_all(b"{\"version\":1").await.expect("write");
        app.shutdown().await.expect("shutdown");

        let result = connection.read_request().await;
        drop(connection);
        let mut rest = Vec::new();
        app.read_to_end(&mut rest).await.expect("read report");

        assert!(
            matches!(
                result,
                Err(IpcError::Frame(FrameError::Truncated {
                    expected: 104,
                    received: 16
                }))
            ),
            "unexpected result: {result:?}"
        );
        assert!(!rest.is_empty(), "no error response for a half-closed app");
    }

    #[tokio::test]
    async fn clean_close_reads_none() {
        let (app, provider) = tokio::io::duplex(1024);
        let mut connection = Connection::new(provider);
        drop(app);

        let result = connection.read_request().await.expect("clean close");

        assert!(result.is_none(), "expected None, got {result:?}");
    }
}
