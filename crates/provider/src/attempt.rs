//! One connection attempt: drives a protocol [`Session`] over a socket and the TUN device.

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use ferrovpn_protocol::event::{CloseReason, Event};
use ferrovpn_protocol::push_reply::PushedOptions;
use ferrovpn_protocol::Session;
use tokio::sync::{mpsc, watch};

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
}

/// State carried from an attempt to the supervisor.
pub struct AttemptResult {
    /// Why the attempt ended.
    pub end: AttemptEnd,
    /// Whether the attempt reached the connected state.
    pub was_connected: bool,
    /// The newest `auth-token` push, if any, for the next attempt.
    pub pushed_token: Option<PushedOptions>,
}

/// Runs `session` on `transport` until it closes, the socket fails or `shutdown` fires.
pub async fn run_attempt(
    mut session: Session,
    mut transport: Transport,
    server: SocketAddr,
    device: &mut TunnelDevice,
    events: &mpsc::UnboundedSender<ProviderEvent>,
    shutdown: &mut watch::Receiver<bool>,
) -> AttemptResult {
    let mut socket_buffer = vec![0u8; MAX_PACKET];
    let mut tun_buffer = vec![0u8; MAX_PACKET];
    let mut encrypted = Vec::with_capacity(MAX_PACKET);
    let mut result = AttemptResult {
        end: AttemptEnd::Shutdown,
        was_connected: false,
        pushed_token: None,
    };

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
                    result.end = AttemptEnd::Closed(reason);
                    return result;
                }
                Event::Connected(options) => {
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

        let deadline = session.poll_timeout();
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
            () = sleep => session.handle_timeout(Instant::now()),
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
