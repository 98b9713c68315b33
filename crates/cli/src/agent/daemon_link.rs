//! The agent's event subscription at the daemon, made again with backoff whenever the
//! daemon restarts or the connection breaks.

use std::path::PathBuf;
use std::time::Duration;

use ferrovpn_ipc::{
    Event, EventStream, IpcClient, IpcError, ProtocolError, Request, Response, WireAuthRequest,
};
use tokio::time::Instant;

use super::backoff::Backoff;

/// A subscription that lasted this long counted as working, so the next reconnect
/// starts again from the first backoff delay.
const STABLE_SUBSCRIPTION: Duration = Duration::from_secs(10);

/// Update that the daemon link delivers to the agent.
#[derive(Debug)]
pub enum DaemonUpdate {
    /// A new subscription started. Holds the requests pending right after it started,
    /// so the agent can drop those that closed while it was not subscribed.
    Subscribed(Vec<WireAuthRequest>),
    /// An event of the caller's sessions.
    Event(Event),
}

/// Event subscription at the daemon socket, reconnecting with bounded backoff.
pub struct DaemonLink {
    /// The daemon socket.
    socket: PathBuf,
    /// The current subscription, if there is one.
    events: Option<EventStream>,
    /// When the current subscription started.
    subscribed_at: Instant,
    /// When the next subscribe attempt is due while there is no subscription.
    retry_at: Instant,
    /// Delays between subscribe attempts.
    backoff: Backoff,
    /// A subscription has worked before, so the next one is a reconnect.
    was_subscribed: bool,
}

impl DaemonLink {
    /// Creates a link whose first subscribe attempt is due at once.
    pub fn new(socket: PathBuf) -> DaemonLink {
        let now = Instant::now();
        DaemonLink {
            socket,
            events: None,
            subscribed_at: now,
            retry_at: now,
            backoff: Backoff::default(),
            was_subscribed: false,
        }
    }

    /// Waits for the next event, subscribing first when there is no subscription.
    ///
    /// Never returns an error: failures are logged and retried after a delay that
    /// doubles from [`super::backoff::FIRST_DELAY`] to [`super::backoff::MAX_DELAY`].
    /// Cancel safe: a subscribe attempt cut short is started again on the next call.
    pub async fn next(&mut self) -> DaemonUpdate {
        loop {
            if let Some(events) = self.events.as_mut() {
                match events.next().await {
                    Some(Ok(event)) => return DaemonUpdate::Event(event),
                    Some(Err(error)) => {
                        tracing::warn!(%error, "skipped an event from the daemon");
                    }
                    None => self.lost(),
                }
                continue;
            }

            tokio::time::sleep_until(self.retry_at).await;
            match self.subscribe().await {
                Ok((events, pending)) => {
                    if self.was_subscribed {
                        tracing::info!(socket = %self.socket.display(), pending = pending.len(), "subscribed to the daemon again");
                    } else {
                        tracing::info!(socket = %self.socket.display(), pending = pending.len(), "subscribed to the daemon");
                    }
                    self.events = Some(events);
                    self.subscribed_at = Instant::now();
                    self.was_subscribed = true;
                    return DaemonUpdate::Subscribed(pending);
                }
                Err(error) => {
                    let delay = self.backoff.next_delay();
                    self.retry_at = Instant::now() + delay;
                    tracing::warn!(
                        %error,
                        attempt = self.backoff.attempts(),
                        retry_in_ms = delay.as_millis() as u64,
                        "subscribing to the daemon failed; retrying"
                    );
                }
            }
        }
    }

    /// Drops the ended subscription and schedules the next attempt.
    fn lost(&mut self) {
        self.events = None;
        if self.subscribed_at.elapsed() >= STABLE_SUBSCRIPTION {
            self.backoff.reset();
        }
        let delay = self.backoff.next_delay();
        self.retry_at = Instant::now() + delay;
        tracing::warn!(
            socket = %self.socket.display(),
            retry_in_ms = delay.as_millis() as u64,
            "the daemon closed the event subscription; reconnecting"
        );
    }

    /// Subscribes, then lists the pending requests on a second connection.
    ///
    /// Listing after subscribing leaves no gap: a request that closes after the list
    /// was taken still sends its closing event on the subscription.
    async fn subscribe(&self) -> Result<(EventStream, Vec<WireAuthRequest>), IpcError> {
        let events = IpcClient::connect(&self.socket).await?.subscribe().await?;

        let mut client = IpcClient::connect(&self.socket).await?;
        let listed = client
            .request(Request::ListAuthRequests { session: None })
            .await?;
        let pending = match listed {
            Response::AuthRequests(pending) => pending,
            Response::Error { kind, message } => {
                return Err(IpcError::Rejected { kind, message });
            }
            other => {
                return Err(IpcError::Protocol(ProtocolError::InvalidResponse {
                    message: format!(
                        "expected auth_requests to list_auth_requests, got {}",
                        response_name(&other)
                    ),
                }))
            }
        };
        Ok((events, pending))
    }
}

/// JSON `type` of a response, for messages that must not show its fields.
fn response_name(response: &Response) -> &'static str {
    match response {
        Response::Ok => "ok",
        Response::Session(_) => "session",
        Response::Sessions(_) => "sessions",
        Response::AuthRequests(_) => "auth_requests",
        Response::Logs(_) => "logs",
        Response::Error { .. } => "error",
    }
}
