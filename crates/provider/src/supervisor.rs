//! Runs a profile until a shutdown is requested: connects, reconnects with backoff
//! through the `remote` list, and keeps the auth-token between attempts.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ferrovpn_profile::Profile;
use ferrovpn_protocol::config::Credentials;
use ferrovpn_protocol::event::CloseReason;
use ferrovpn_protocol::Session;
use tokio::sync::{mpsc, watch};

use crate::attempt::{run_attempt, AttemptContext, AttemptEnd, AttemptResult};
use crate::auth_broker::{AnswerReceiver, AuthBroker};
use crate::auth_state::{AuthDecision, AuthState, DEFAULT_MAX_AUTH_ATTEMPTS};
use crate::client_config::{client_config, ClientConfigError};
use crate::events::ProviderEvent;
use crate::transport::Transport;
use crate::tunnel_device::TunnelDevice;

/// First wait before reconnecting, doubled after each failed attempt.
const RECONNECT_BACKOFF_START: Duration = Duration::from_secs(1);

/// Maximum wait between attempts unless `connect-retry` sets another.
const RECONNECT_BACKOFF_MAX: Duration = Duration::from_secs(60);

/// Time allowed for resolving a host name and opening a TCP connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Error that ends a session for good.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The profile cannot be used.
    #[error("{0}")]
    Config(#[from] ClientConfigError),
    /// The profile has no `remote`.
    #[error("the profile has no remote; add `remote HOST [PORT] [udp|tcp]`")]
    NoRemote,
    /// The server needs an answer and no one can give it (`--no-prompt`).
    #[error("{0}")]
    AuthNeeded(String),
    /// The server rejected the credentials.
    #[error("authentication failed: {0}")]
    AuthFailed(String),
    /// The server or the TLS layer ended the session in a way retrying cannot fix.
    #[error("{0}")]
    Fatal(String),
    /// The tunnel device or its settings could not be set up.
    #[error("{0}")]
    Device(String),
    /// `connect-retry-max` attempts failed.
    #[error("gave up after {attempts} attempts; last error: {last}")]
    RetriesExhausted {
        /// Attempts made.
        attempts: u32,
        /// Reason the last attempt failed.
        last: String,
    },
}

/// Settings of one session beyond its profile.
#[derive(Clone, Debug)]
pub struct SessionOptions {
    /// Name of the session, shown in auth requests and logs.
    pub name: String,
    /// Username that replaces the one in the profile's `auth-user-pass` file.
    pub username: Option<String>,
    /// Attempts whose answers the server may reject before the session gives up.
    pub max_auth_attempts: u32,
}

impl SessionOptions {
    /// Returns options with the defaults for session `name`.
    pub fn new(name: impl Into<String>) -> SessionOptions {
        SessionOptions {
            name: name.into(),
            username: None,
            max_auth_attempts: DEFAULT_MAX_AUTH_ATTEMPTS,
        }
    }
}

/// Runs the session described by `profile` until `shutdown` is set or it fails for good.
///
/// Everything added to the system (TUN device, addresses, routes) is removed before this returns.
pub async fn run_session(
    profile: Profile,
    options: SessionOptions,
    events: mpsc::UnboundedSender<ProviderEvent>,
    answers: AnswerReceiver,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), SessionError> {
    if profile.remotes.is_empty() {
        return Err(SessionError::NoRemote);
    }

    let mut device = TunnelDevice::new(profile.tun_mtu.unwrap_or(1500), profile.route_nopull);
    let mut broker = AuthBroker::new(options.name.clone(), answers, events.clone());
    let mut auth = AuthState::new(
        &profile,
        options.username.clone(),
        options.max_auth_attempts,
    );
    let result = supervise(
        &profile,
        &mut auth,
        &mut broker,
        &events,
        &mut shutdown,
        &mut device,
    )
    .await;
    device.teardown().await;

    let reason = match &result {
        Ok(()) => "disconnected".to_owned(),
        Err(error) => error.to_string(),
    };
    let _ = events.send(ProviderEvent::Disconnected { reason });
    result
}

async fn supervise(
    profile: &Profile,
    auth: &mut AuthState,
    broker: &mut AuthBroker,
    events: &mpsc::UnboundedSender<ProviderEvent>,
    shutdown: &mut watch::Receiver<bool>,
    device: &mut TunnelDevice,
) -> Result<(), SessionError> {
    let mut remotes = profile.remotes.clone();
    if profile.remote_random {
        shuffle(&mut remotes);
    }

    let backoff_max = profile
        .connect_retry
        .and_then(|(_, max)| max)
        .map(|seconds| Duration::from_secs(u64::from(seconds)))
        .unwrap_or(RECONNECT_BACKOFF_MAX);
    let mut backoff = profile
        .connect_retry
        .map(|(start, _)| Duration::from_secs(u64::from(start.max(1))))
        .unwrap_or(RECONNECT_BACKOFF_START);
    let backoff_start = backoff;
    let retry_max = profile.connect_retry_max;

    let mut remote_index = 0;
    let mut attempt: u32 = 0;
    loop {
        if *shutdown.borrow() {
            return Ok(());
        }
        attempt += 1;
        let remote = &remotes[remote_index % remotes.len()];
        let tcp = remote.proto.is_tcp();
        let _ = events.send(ProviderEvent::Connecting {
            host: remote.host.clone(),
            port: remote.port,
            proto: if tcp { "tcp" } else { "udp" },
            attempt,
        });
        tracing::info!(host = %remote.host, port = remote.port, tcp, attempt, "connecting");

        let credentials = match auth.credentials_for_attempt(broker, shutdown).await {
            Ok(credentials) => credentials,
            Err(AuthDecision::Stop) => return Ok(()),
            Err(AuthDecision::Fail(message)) => return Err(SessionError::AuthFailed(message)),
            Err(AuthDecision::AuthNeeded(message)) => {
                return Err(SessionError::AuthNeeded(message))
            }
            Err(AuthDecision::Retry(_)) => continue,
        };
        let context = AttemptContext {
            device: &mut *device,
            events,
            shutdown: &mut *shutdown,
            broker: &mut *broker,
            reason: auth.reason(),
        };
        let result = connect_once(profile, remote, tcp, credentials, context).await?;
        let (end, was_connected) = (result.end, result.was_connected);
        if let Some(options) = &result.pushed_token {
            auth.store_token(options);
        }
        if was_connected {
            auth.connected();
            backoff = backoff_start;
            attempt = 0;
        }

        let reason = match end {
            AttemptEnd::Shutdown => return Ok(()),
            AttemptEnd::AuthNeeded => {
                return Err(SessionError::AuthNeeded(
                    "the server asks for a response, and no prompt is allowed".to_owned(),
                ))
            }
            AttemptEnd::Closed(CloseReason::AuthFailed(failed)) => {
                let server_reason = failed.to_string();
                let decision = auth
                    .handle_auth_failed(failed, result.answered_challenge, broker, shutdown)
                    .await;
                match decision {
                    AuthDecision::Retry(delay) => {
                        if !delay.is_zero() {
                            let _ = events.send(ProviderEvent::Reconnecting {
                                reason: format!("authentication failed: {server_reason}"),
                                delay,
                            });
                            tokio::select! {
                                () = tokio::time::sleep(delay) => {}
                                _ = shutdown.changed() => return Ok(()),
                            }
                        }
                        continue;
                    }
                    AuthDecision::Fail(message) => return Err(SessionError::AuthFailed(message)),
                    AuthDecision::AuthNeeded(message) => {
                        return Err(SessionError::AuthNeeded(message))
                    }
                    AuthDecision::Stop => return Ok(()),
                }
            }
            AttemptEnd::Closed(reason) if !reason.is_retryable() => {
                return Err(SessionError::Fatal(reason.to_string()));
            }
            AttemptEnd::Closed(CloseReason::Restart {
                preserve_credentials,
                advance,
                text,
            }) => {
                if !preserve_credentials {
                    // OpenVPN 2.6 purges cached user credentials on RESTART without [P]; the token survives.
                    tracing::debug!("server restart without [P]");
                }
                if advance {
                    remote_index += 1;
                }
                if text.is_empty() {
                    "the server asked the client to reconnect".to_owned()
                } else {
                    format!("the server asked the client to reconnect: {text}")
                }
            }
            AttemptEnd::Closed(reason) => {
                if !was_connected {
                    remote_index += 1;
                }
                reason.to_string()
            }
            AttemptEnd::Transport(error) => {
                remote_index += 1;
                format!(
                    "connection to {}:{} failed: {error}",
                    remote.host, remote.port
                )
            }
            AttemptEnd::Device(message) => return Err(SessionError::Device(message)),
        };

        if let Some(max) = retry_max {
            if attempt >= max {
                return Err(SessionError::RetriesExhausted {
                    attempts: attempt,
                    last: reason,
                });
            }
        }

        let delay = if was_connected {
            Duration::from_secs(1)
        } else {
            backoff
        };
        tracing::info!(%reason, delay_seconds = delay.as_secs(), "reconnecting");
        let _ = events.send(ProviderEvent::Reconnecting { reason, delay });
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            _ = shutdown.changed() => return Ok(()),
        }
        if !was_connected {
            backoff = (backoff * 2).min(backoff_max);
        }
    }
}

async fn connect_once(
    profile: &Profile,
    remote: &ferrovpn_profile::Remote,
    tcp: bool,
    credentials: Option<Credentials>,
    context: AttemptContext<'_>,
) -> Result<AttemptResult, ClientConfigError> {
    let config = client_config(profile, tcp, credentials)?;

    let server = match resolve(&remote.host, remote.port, remote.proto).await {
        Ok(server) => server,
        Err(error) => return Ok(failed(AttemptEnd::Transport(error))),
    };
    let transport = match Transport::connect(server, tcp, CONNECT_TIMEOUT).await {
        Ok(transport) => transport,
        Err(error) => return Ok(failed(AttemptEnd::Transport(error))),
    };

    let unix_time = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|since| since.as_secs() as u32)
        .unwrap_or(0);
    let session = match Session::new(config, Instant::now(), unix_time) {
        Ok(session) => session,
        Err(reason) => return Ok(failed(AttemptEnd::Closed(reason))),
    };
    Ok(run_attempt(session, transport, server, context).await)
}

fn failed(end: AttemptEnd) -> AttemptResult {
    AttemptResult {
        end,
        was_connected: false,
        pushed_token: None,
        answered_challenge: false,
    }
}

async fn resolve(
    host: &str,
    port: u16,
    proto: ferrovpn_profile::Proto,
) -> std::io::Result<SocketAddr> {
    let lookup = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::lookup_host((host, port)))
        .await
        .map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("resolving {host} timed out"),
            )
        })??;
    let addresses: Vec<SocketAddr> = lookup.collect();
    let wanted = addresses.iter().find(|address| match proto {
        ferrovpn_profile::Proto::Udp4 | ferrovpn_profile::Proto::Tcp4 => address.is_ipv4(),
        ferrovpn_profile::Proto::Udp6 | ferrovpn_profile::Proto::Tcp6 => address.is_ipv6(),
        _ => true,
    });
    wanted.copied().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{host} has no address for {proto:?}"),
        )
    })
}

/// Shuffles the remote list for `remote-random` without a random number crate.
fn shuffle<T>(items: &mut [T]) {
    let mut seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|since| since.subsec_nanos() as u64 ^ since.as_secs())
        .unwrap_or(1)
        | 1;
    for index in (1..items.len()).rev() {
        // xorshift64: enough to vary the order, nothing depends on it being unpredictable.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let other = (seed % (index as u64 + 1)) as usize;
        items.swap(index, other);
    }
}
