//! The app's end: send requests to the provider and follow its events.

use std::collections::VecDeque;
use std::path::Path;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::UnixStream;

use crate::envelope::{
    decode_provider_message, ProviderMessage, RequestEnvelope, PROTOCOL_VERSION, UNKNOWN_ID,
};
use crate::error::IpcError;
use crate::event::Event;
use crate::frame::{encode_frame, FrameError, FrameReader};
use crate::protocol_error::ProtocolError;
use crate::request::Request;
use crate::response::Response;
use crate::socket_path::default_socket_path;

/// An app's connection to the provider, for one request at a time.
pub struct IpcClient<S = UnixStream> {
    /// The byte stream to the provider.
    stream: S,
    /// Bytes of a provider frame received so far.
    frames: FrameReader,
    /// Id of the next request. Ids start at 1 because 0 marks an unreadable id.
    next_id: u64,
    /// Events that arrived while `subscribe` waited for its response.
    early_events: VecDeque<Event>,
}

impl IpcClient<UnixStream> {
    /// Connects to the provider's socket at `path`.
    ///
    /// The error names the path and, when nothing listens there, how to start the daemon.
    pub async fn connect(path: impl AsRef<Path>) -> Result<IpcClient<UnixStream>, IpcError> {
        let path = path.as_ref();
        let stream = UnixStream::connect(path)
            .await
            .map_err(|error| IpcError::from_connect_error(path, error))?;
        tracing::debug!(socket = %path.display(), "connected to the ferrovpn daemon");
        Ok(IpcClient::new(stream))
    }

    /// Connects to the socket at [`default_socket_path`].
    pub async fn connect_default() -> Result<IpcClient<UnixStream>, IpcError> {
        IpcClient::connect(default_socket_path()).await
    }
}

impl<S> IpcClient<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// Wraps a stream that is already connected to a provider.
    pub fn new(stream: S) -> IpcClient<S> {
        IpcClient {
            stream,
            frames: FrameReader::default(),
            next_id: 1,
            early_events: VecDeque::new(),
        }
    }

    /// Sends `request` and waits for the response with the same id.
    ///
    /// A failed request is `Ok(Response::Error { .. })`, and `Err` means that the
    /// connection or the provider's message failed. Not cancel safe: after a
    /// cancelled call the request may be half written, so drop the client.
    /// For events use [`IpcClient::subscribe`] instead of sending `subscribe` here.
    pub async fn request(&mut self, request: Request) -> Result<Response, IpcError> {
        self.exchange(&request).await
    }

    /// Subscribes to events and turns the connection into an [`EventStream`].
    pub async fn subscribe(mut self) -> Result<EventStream<S>, IpcError> {
        match self.exchange(&Request::Subscribe).await? {
            Response::Ok => Ok(EventStream {
                stream: self.stream,
                frames: self.frames,
                queued: self.early_events,
                finished: false,
            }),
            Response::Error { kind, message } => Err(IpcError::Rejected { kind, message }),
            other => Err(IpcError::Protocol(ProtocolError::InvalidResponse {
                message: format!("expected ok to subscribe, got {other:?}"),
            })),
        }
    }

    async fn exchange(&mut self, request: &Request) -> Result<Response, IpcError> {
        let id = self.next_id;
        self.next_id = self.next_id.checked_add(1).unwrap_or(1);

        let envelope = RequestEnvelope {
            version: PROTOCOL_VERSION,
            id,
            request,
        };
        let frame = encode_frame(&envelope)?;
        self.stream
            .write_all(&frame)
            .await
            .map_err(FrameError::Io)?;
        self.stream.flush().await.map_err(FrameError::Io)?;

        loop {
            let Some(payload) = self.frames.read_frame(&mut self.stream).await? else {
                return Err(IpcError::ClosedBeforeResponse);
            };
            match decode_provider_message(&payload)? {
                ProviderMessage::Response {
                    id: response_id,
                    response,
                } if response_id == id || response_id == UNKNOWN_ID => return Ok(response),
                ProviderMessage::Response {
                    id: response_id, ..
                } => {
                    // Left over from a request whose caller stopped waiting.
                    tracing::debug!(id = response_id, expected = id, "skipped a stale response");
                }
                ProviderMessage::Event(event) if matches!(request, Request::Subscribe) => {
                    self.early_events.push_back(event);
                }
                ProviderMessage::Event(_) => {
                    tracing::debug!(
                        id,
                        "skipped an event on a connection without a subscription"
                    );
                }
            }
        }
    }
}

/// Events from the provider after a successful `subscribe`.
pub struct EventStream<S = UnixStream> {
    /// The byte stream to the provider.
    stream: S,
    /// Bytes of a provider frame received so far.
    frames: FrameReader,
    /// Events received before the `subscribe` response.
    queued: VecDeque<Event>,
    /// The stream ended or broke, so no further event can come.
    finished: bool,
}

impl<S> EventStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// Waits for the next event, or returns `None` once the provider closed the connection.
    ///
    /// Cancel safe. An event that does not parse, such as one from a newer
    /// provider, comes back as `Some(Err(..))` and the stream goes on.
    /// A broken frame comes back as `Some(Err(..))` and ends the stream.
    pub async fn next(&mut self) -> Option<Result<Event, IpcError>> {
        if let Some(event) = self.queued.pop_front() {
            return Some(Ok(event));
        }

        while !self.finished {
            let payload = match self.frames.read_frame(&mut self.stream).await {
                Ok(Some(payload)) => payload,
                Ok(None) => {
                    self.finished = true;
                    return None;
                }
                Err(error) => {
                    self.finished = true;
                    return Some(Err(IpcError::Frame(error)));
                }
            };

            match decode_provider_message(&payload) {
                Ok(ProviderMessage::Event(event)) => return Some(Ok(event)),
                Ok(ProviderMessage::Response { id, .. }) => {
                    tracing::debug!(id, "skipped a response on an event stream");
                }
                Err(error) => return Some(Err(IpcError::Protocol(error))),
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use tokio::io::DuplexStream;

    use crate::connection::Connection;
    use crate::frame::write_frame;
    use crate::session_status::SessionState;

    fn state_event(state: SessionState) -> Event {
        Event::SessionState {
            session: "work".to_owned(),
            state,
            detail: None,
        }
    }

    #[tokio::test]
    async fn request_skips_stale_response() {
        let (app, provider) = tokio::io::duplex(4096);
        let mut client = IpcClient::new(app);
        let mut connection = Connection::new(provider);

        let server = async {
            let (id, _) = connection
                .read_request()
                .await
                .expect("read")
                .expect("request");
            connection
                .send_response(id + 100, Response::Logs(vec!["stale".to_owned()]))
                .await
                .expect("stale");
            connection
                .send_response(id, Response::Ok)
                .await
                .expect("send");
        };
        let (response, ()) = tokio::join!(client.request(Request::Subscribe), server);

        assert_eq!(response.expect("response"), Response::Ok);
    }

    #[tokio::test]
    async fn request_reports_closed_connection() {
        let (app, provider) = tokio::io::duplex(4096);
        let mut client = IpcClient::new(app);
        drop(provider);

        let result = client.request(Request::Status { session: None }).await;

        assert!(result.is_err(), "expected an error, got {result:?}");
    }

    #[tokio::test]
    async fn subscribe_keeps_early_events() {
        let (app, provider) = tokio::io::duplex(4096);
        let mut connection = Connection::new(provider);

        let server = async {
            let (id, _) = connection
                .read_request()
                .await
                .expect("read")
                .expect("request");
            let early = state_event(SessionState::Connecting);
            connection.send_event(early).await.expect("event");
            connection
                .send_response(id, Response::Ok)
                .await
                .expect("ok");
            let late = state_event(SessionState::Connected);
            connection.send_event(late).await.expect("event");
        };
        let (events, ()) = tokio::join!(IpcClient::new(app).subscribe(), server);
        let mut events = events.expect("subscribe");

        let first = events.next().await;
        let second = events.next().await;

        assert_eq!(
            first.map(Result::ok),
            Some(Some(state_event(SessionState::Connecting)))
        );
        assert_eq!(
            second.map(Result::ok),
            Some(Some(state_event(SessionState::Connected)))
        );
    }

    #[tokio::test]
    async fn subscribe_rejection_is_error() {
        let (app, provider) = tokio::io::duplex(4096);
        let mut connection = Connection::new(provider);

        let server = async {
            let (id, _) = connection
                .read_request()
                .await
                .expect("read")
                .expect("request");
            let rejection = Response::error(crate::ErrorKind::PermissionDenied, "no");
            connection.send_response(id, rejection).await.expect("send");
        };
        let (result, ()) = tokio::join!(IpcClient::new(app).subscribe(), server);

        assert!(
            matches!(result, Err(IpcError::Rejected { .. })),
            "unexpected result: {:?}",
            result.err()
        );
    }

    #[tokio::test]
    async fn event_stream_skips_unknown_event() {
        let (app, mut provider) = tokio::io::duplex(4096);
        let mut events = EventStream::<DuplexStream> {
            stream: app,
            frames: FrameReader::default(),
            queued: VecDeque::new(),
            finished: false,
        };
        let unknown = br#"{"version":1,"event":{"type":"route_added"}}"#;
        write_frame(&mut provider, unknown).await.expect("write");
        drop(provider);

        let first = events.next().await;
        let second = events.next().await;

        assert!(
            matches!(
                first,
                Some(Err(IpcError::Protocol(ProtocolError::InvalidEvent { .. })))
            ),
            "unexpected first item: {first:?}"
        );
        assert!(second.is_none(), "expected the end, got {second:?}");
    }

    #[tokio::test]
    async fn connect_missing_socket_suggests_daemon() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("absent.sock");

        let error = IpcClient::connect(&path).await.err().expect("no socket");
        let message = error.to_string();

        assert!(
            message.contains(&path.display().to_string()),
            "path missing: {message}"
        );
        assert!(
            message.contains("ferrovpn daemon"),
            "hint missing: {message}"
        );
    }

    #[tokio::test]
    async fn connect_refused_suggests_daemon() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("stale.sock");
        drop(tokio::net::UnixListener::bind(&path).expect("bind"));

        let error = IpcClient::connect(&path).await.err().expect("refused");

        assert!(
            matches!(error, IpcError::DaemonNotRunning { .. }),
            "classified as {error:?}"
        );
    }
}
