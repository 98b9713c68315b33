//! One connection attempt: drives a protocol [`Session`] over a socket and the TUN device.

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use std::time::Duration;

use ferrovpn_protocol::auth_request::{AskReason, AuthAnswer, AuthRequestKind, AuthRequestOutcome};
use ferrovpn_protocol::challenge::PendingAuthInfo;
use ferrovpn_protocol::event::{CloseReason, Event};
use ferrovpn_protocol::push_reply::PushedOptions;
use ferrovpn_protocol::Session;
use tokio::sync::{mpsc, watch};

use crate::auth_broker::AuthBroker;
use crate::events::ProviderEvent;
use crate::transport::{Transport, MAX_PACKET};
use crate::tunnel_device::TunnelDevice;

/// How an attempt ended.
#[derive(Debug)]
pub enum AttemptEnd {
    /// The session closed for this reason.
    Closed(CloseReason),
    /// The socket failed.
    Transport(io::Error),
    /// The tunnel device or its network settings failed.
    Device(String),
    /// The provider was asked to stop.
    Shutdown,
    /// The server needs an answer and nobody is left to give one.
    AuthNeeded,
}

/// State carried from an attempt to the supervisor.
pub struct AttemptResult {
    /// Why the attempt ended.
    pub end: AttemptEnd,
    /// Whether the attempt reached the connected state.
    pub was_connected: bool,
    /// The newest `auth-token` push, if any, for the next attempt.
    pub pushed_token: Option<PushedOptions>,
    /// A challenge answer went to the server during this attempt.
    pub answered_challenge: bool,
}

/// What an attempt needs besides the session and the socket.
pub struct AttemptContext<'a> {
    /// The session's TUN device.
    pub device: &'a mut TunnelDevice,
    /// Where progress goes.
    pub events: &'a mpsc::UnboundedSender<ProviderEvent>,
    /// Set when the provider should stop.
    pub shutdown: &'a mut watch::Receiver<bool>,
    /// Pending authentication requests.
    pub broker: &'a mut AuthBroker,
    /// Reason given with a challenge raised during this attempt.
    pub reason: AskReason,
}

/// Runs `session` on `transport` until it closes, the socket fails or `shutdown` fires.
pub async fn run_attempt(
    mut session: Session,
    mut transport: Transport,
    server: SocketAddr,
    context: AttemptContext<'_>,
) -> AttemptResult {
    let AttemptContext {
        device,
        events,
        shutdown,
        broker,
        reason,
    } = context;
    let mut socket_buffer = vec![0u8; MAX_PACKET];
    let mut tun_buffer = vec![0u8; MAX_PACKET];
    let mut encrypted = Vec::with_capacity(MAX_PACKET);
    let mut result = AttemptResult {
        end: AttemptEnd::Shutdown,
        was_connected: false,
        pushed_token: None,
        answered_challenge: false,
    };
    // Timeout of the newest AUTH_PENDING, which bounds the challenge that follows it.
    let mut pending_timeout: Option<Duration> = None;
    // An ICMP refusal is reported once per attempt, not for every retransmission.
    let mut refused_reported = false;
    // Key whose exchange carries the pending CR_TEXT challenge.
    let mut challenge_key_id: u8 = 0;

    loop {
        let now = Instant::now();
        while let Some(packet) = session.poll_transmit(now) {
            if let Err(error) = transport.send(&packet).await {
                if !is_transient(&error) {
                    result.end = AttemptEnd::Transport(error);
                    return result;
                }
                tracing::debug!(%error, "send failed; the reliability layer retries");
            }
        }

        while let Some(event) = session.poll_event() {
            match event {
                Event::Closed(reason) => {
                    broker.close(AuthRequestOutcome::Cancelled);
                    result.end = AttemptEnd::Closed(reason);
                    return result;
                }
                Event::AuthPending { timeout } => {
                    pending_timeout = timeout;
                    report(Event::AuthPending { timeout }, server, events);
                }
                Event::PendingAuth { key_id, info } => {
                    let reason = if key_id > 0 {
                        AskReason::Reauthentication
                    } else {
                        reason.clone()
                    };
                    match info {
                        PendingAuthInfo::CrText(challenge) => {
                            challenge_key_id = key_id;
                            broker.raise(
                                AuthRequestKind::PendingChallenge,
                                challenge.text,
                                challenge.echo,
                                challenge.response_required,
                                pending_timeout,
                                reason,
                            );
                        }
                        PendingAuthInfo::WebAuth(web) => {
                            broker.raise(
                                AuthRequestKind::WebAuth { url: web.url },
                                "Sign in with your web browser".to_owned(),
                                false,
                                false,
                                pending_timeout,
                                reason,
                            );
                        }
                        PendingAuthInfo::Other(text) => {
                            let _ = events.send(ProviderEvent::ServerInfo(text));
                        }
                    }
                }
                Event::Renegotiated { key_id } => {
                    // A renegotiation that finished settles any re-authentication challenge.
                    if broker.has_pending() {
                        broker.close(AuthRequestOutcome::CompletedOutOfBand);
                    }
                    report(Event::Renegotiated { key_id }, server, events);
                }
                Event::Connected(options) => {
                    if broker.has_pending() {
                        broker.close(AuthRequestOutcome::CompletedOutOfBand);
                    }
                    if options.auth_token.is_some() {
                        result.pushed_token = Some((*options).clone());
                    }
                    let cipher = session
                        .cipher()
                        .map(|c| c.name().to_owned())
                        .unwrap_or_default();
                    match device.configure(&options).await {
                        Ok(addresses) => {
                            result.was_connected = true;
                            let _ = events.send(ProviderEvent::Connected {
                                device: device.name().unwrap_or_default(),
                                addresses,
                                cipher,
                                server,
                            });
                        }
                        Err(error) => {
                            session.disconnect(Instant::now());
                            flush(&mut session, &mut transport).await;
                            result.end = AttemptEnd::Device(error);
                            return result;
                        }
                    }
                }
                Event::AuthTokenUpdated(options) => result.pushed_token = Some(*options),
                other => report(other, server, events),
            }
        }

        let deadline = match (session.poll_timeout(), broker.deadline()) {
            (Some(session), Some(request)) => Some(session.min(request)),
            (session, request) => session.or(request),
        };
        let sleep = async {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
                None => std::future::pending().await,
            }
        };
        let tun_ready = session.is_connected() && device.is_up();

        tokio::select! {
            received = transport.recv(&mut socket_buffer) => match received {
                Ok(len) => {
                    let now = Instant::now();
                    if let Some(plaintext) = session.handle_packet(now, &mut socket_buffer[..len]) {
                        if let Err(error) = device.send(plaintext).await {
                            tracing::debug!(%error, "could not write a packet to the tunnel device");
                        }
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::ConnectionRefused => {
                    if !refused_reported {
                        refused_reported = true;
                        tracing::warn!(%server, "the server host refused the packets (ICMP port unreachable); check the remote's port and proto");
                    }
                }
                Err(error) if is_transient(&error) => {
                    tracing::debug!(%error, "receive failed; waiting for the next packet");
                }
                Err(error) => {
                    result.end = AttemptEnd::Transport(error);
                    return result;
                }
            },
            packet = device.recv(&mut tun_buffer), if tun_ready => match packet {
                Ok(len) => {
                    if session.encrypt_tunnel_packet(Instant::now(), &tun_buffer[..len], &mut encrypted) {
                        if let Err(error) = transport.send(&encrypted).await {
                            if !is_transient(&error) {
                                result.end = AttemptEnd::Transport(error);
                                return result;
                            }
                        }
                    }
                }
                Err(error) => {
                    result.end = AttemptEnd::Device(format!("reading from the tunnel device failed: {error}"));
                    return result;
                }
            },
            answer = broker.next_answer(), if broker.has_pending() => match answer {
                Ok(AuthAnswer::Response(response)) => {
                    if session.send_cr_response(challenge_key_id, &response) {
                        result.answered_challenge = true;
                        broker.close(AuthRequestOutcome::Answered);
                    } else {
                        broker.close(AuthRequestOutcome::Cancelled);
                    }
                }
                Ok(_) => tracing::debug!("request acknowledged; waiting for the server"),
                Err(end) if broker.pending().is_some_and(|request| !request.response_required) => {
                    tracing::debug!(?end, "no answers can arrive; the pending request needs none");
                }
                Err(end) => {
                    tracing::warn!(?end, "an auth request is pending and no answer can arrive");
                    broker.close(AuthRequestOutcome::Cancelled);
                    session.disconnect(Instant::now());
                    flush(&mut session, &mut transport).await;
                    result.end = AttemptEnd::AuthNeeded;
                    return result;
                }
            },
            () = sleep => {
                let now = Instant::now();
                broker.expire_if_due(now);
                session.handle_timeout(now);
            }
            _ = shutdown.changed() => {
                tracing::info!("disconnecting");
                session.disconnect(Instant::now());
                flush(&mut session, &mut transport).await;
                result.end = AttemptEnd::Shutdown;
                return result;
            }
        }
    }
}

/// Sends whatever the session still has to say, such as `EXIT`.
async fn flush(session: &mut Session, transport: &mut Transport) {
    let now = Instant::now();
    while let Some(packet) = session.poll_transmit(now) {
        if transport.send(&packet).await.is_err() {
            break;
        }
    }
}

fn report(event: Event, server: SocketAddr, events: &mpsc::UnboundedSender<ProviderEvent>) {
    let provider_event = match event {
        Event::ServerReached => ProviderEvent::ServerReached { server },
        Event::TlsEstablished { key_id: 0 } => ProviderEvent::TlsEstablished,
        Event::TlsEstablished { .. } => return,
        Event::PushRequested => ProviderEvent::Authenticating,
        Event::AuthPending { timeout } => ProviderEvent::AuthPending { timeout },
        Event::Info(text) => ProviderEvent::ServerInfo(text),
        Event::PendingAuth { .. } => return,
        Event::Renegotiated { key_id } => ProviderEvent::Renegotiated { key_id },
        Event::Connected(_) | Event::AuthTokenUpdated(_) | Event::Closed(_) => return,
    };
    let _ = events.send(provider_event);
}

/// Errors that a UDP socket reports for ICMP messages; the server may come back.
fn is_transient(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    ) || error.raw_os_error() == Some(libc::EHOSTUNREACH)
        || error.raw_os_error() == Some(libc::ENETUNREACH)
}
