//! The daemon: one management connection at a time, every client notification through
//! the [`Engine`], and reconnects with bounded backoff when the server goes away.
//!
//! While the daemon is not connected, OpenVPN 2.6 drops the `>CLIENT:` notifications
//! (`manage.c` writes only to a connected client), so a client connecting then waits
//! until the server's `hand-window` ends and fails. No client is admitted unchecked.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use thiserror::Error;
use tokio::time::{sleep, Instant};
use zeroize::Zeroizing;

use crate::audit;
use crate::engine::{Engine, Verdict};
use crate::management::{
    parse_server_line, AssemblyError, ConnectError, ManagementAddress, ManagementConnection,
    NotificationAssembler, ServerLine,
};

/// Delays between reconnect attempts after the management connection is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconnectPolicy {
    /// Delay before the first attempt; each further delay doubles.
    pub first_delay: Duration,
    /// Maximum delay between two attempts.
    pub max_delay: Duration,
    /// Time after the loss at which the daemon stops trying and exits with an error.
    pub give_up_after: Duration,
}

impl Default for ReconnectPolicy {
    /// 250 ms doubling to 5 s, for up to 5 minutes: a server restart takes seconds, and
    /// a service manager restarts the daemon after a longer outage.
    fn default() -> Self {
        ReconnectPolicy {
            first_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(5),
            give_up_after: Duration::from_secs(300),
        }
    }
}

impl ReconnectPolicy {
    /// Delay before attempt number `attempt`, counted from 0.
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt).unwrap_or(u32::MAX);
        self.first_delay
            .checked_mul(factor)
            .map_or(self.max_delay, |delay| delay.min(self.max_delay))
    }
}

/// Settings of the daemon.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// Address of the management interface.
    pub address: ManagementAddress,
    /// Management password, the first line of the server's password file.
    pub password: Option<Zeroizing<String>>,
    /// Reconnect behaviour.
    pub reconnect: ReconnectPolicy,
}

/// A failure that ends the daemon.
#[derive(Debug, Error)]
pub enum DaemonError {
    /// The first connection, or a reconnect with a password problem, failed.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The connection was lost and every reconnect failed for too long.
    #[error("gave up reconnecting after {} s: {last_error}", waited.as_secs())]
    ReconnectTimedOut {
        /// Time spent reconnecting.
        waited: Duration,
        /// Error of the last attempt.
        last_error: ConnectError,
    },
}

/// Reason one management connection ended.
enum ServeEnd {
    /// The shutdown future completed.
    Shutdown,
    /// The connection broke or the server closed it.
    Lost(String),
}

/// Runs the daemon until `shutdown` completes, returning `Ok`, or until it cannot
/// connect, returning the error.
pub async fn run(
    config: &DaemonConfig,
    engine: &mut Engine,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DaemonError> {
    tokio::pin!(shutdown);
    let address = &config.address;

    let mut connection = tokio::select! {
        () = shutdown.as_mut() => return Ok(()),
        connection = ManagementConnection::connect(address, config.password.as_ref()) => connection?,
    };
    tracing::info!(%address, "connected to the management interface");

    loop {
        match serve(&mut connection, engine, shutdown.as_mut()).await {
            ServeEnd::Shutdown => {
                tracing::info!("shutting down");
                return Ok(());
            }
            ServeEnd::Lost(reason) => {
                tracing::warn!(%address, %reason, "management connection lost; reconnecting");
                engine.forget_clients();
            }
        }

        connection = match reconnect(config, shutdown.as_mut()).await? {
            Some(connection) => connection,
            None => return Ok(()),
        };
        tracing::info!(%address, "reconnected to the management interface");
    }
}

/// Connects again with the delays of the reconnect policy. Returns `None` on shutdown.
async fn reconnect<F: Future<Output = ()>>(
    config: &DaemonConfig,
    mut shutdown: Pin<&mut F>,
) -> Result<Option<ManagementConnection>, DaemonError> {
    let started = Instant::now();
    let mut attempt = 0;
    loop {
        tokio::select! {
            () = shutdown.as_mut() => return Ok(None),
            () = sleep(config.reconnect.delay(attempt)) => {}
        }

        let error =
            match ManagementConnection::connect(&config.address, config.password.as_ref()).await {
                Ok(connection) => return Ok(Some(connection)),
                Err(error) if !error.is_transient() => return Err(DaemonError::Connect(error)),
                Err(error) => error,
            };

        let waited = started.elapsed();
        if waited >= config.reconnect.give_up_after {
            return Err(DaemonError::ReconnectTimedOut {
                waited,
                last_error: error,
            });
        }
        tracing::debug!(attempt, %error, "reconnect attempt failed");
        attempt = attempt.saturating_add(1);
    }
}

/// Serves one connection: reads lines, decides and sends the commands.
async fn serve<F: Future<Output = ()>>(
    connection: &mut ManagementConnection,
    engine: &mut Engine,
    mut shutdown: Pin<&mut F>,
) -> ServeEnd {
    let mut assembler = NotificationAssembler::default();
    // Commands sent without a response yet, oldest first, because OpenVPN responds in order.
    let mut sent: VecDeque<(&'static str, u64)> = VecDeque::new();

    loop {
        let line = tokio::select! {
            () = shutdown.as_mut() => return ServeEnd::Shutdown,
            line = connection.read_line() => line,
        };
        let line = match line {
            Ok(Some(line)) => line,
            Ok(None) => return ServeEnd::Lost("the server closed the connection".to_owned()),
            Err(error) => return ServeEnd::Lost(error.to_string()),
        };

        let verdicts = handle_line(&line, engine, &mut assembler, &mut sent);
        for verdict in verdicts {
            audit::record(&verdict.decision);
            tracing::debug!(command = ?verdict.command, "sending client command");
            if let Err(error) = connection.send_line(&verdict.command.to_line()).await {
                return ServeEnd::Lost(format!(
                    "failed to send {}: {error}",
                    verdict.command.name()
                ));
            }
            sent.push_back((verdict.command.name(), verdict.command.cid()));
        }
    }
}

/// Handles one line and returns the verdicts to send.
fn handle_line(
    line: &str,
    engine: &mut Engine,
    assembler: &mut NotificationAssembler,
    sent: &mut VecDeque<(&'static str, u64)>,
) -> Vec<Verdict> {
    let parsed = match parse_server_line(line) {
        Ok(parsed) => parsed,
        Err(error) => {
            tracing::error!(%error, "ignoring a malformed line; its client is left to the server's timeout");
            let interrupted = assembler.discard_block();
            return interrupted
                .and_then(|event| engine.deny_incomplete(&event))
                .into_iter()
                .collect();
        }
    };

    match parsed {
        ServerLine::Client(client_line) => match assembler.push(client_line) {
            Ok(Some(notification)) => {
                tracing::debug!(event = ?notification.event, "client notification");
                // Argon2 and SQLite block for milliseconds; the runtime moves other tasks
                // off this thread meanwhile.
                tokio::task::block_in_place(|| engine.handle(&notification, unix_now()))
                    .into_iter()
                    .collect()
            }
            Ok(None) => Vec::new(),
            Err(AssemblyError::Interrupted { dropped }) => {
                tracing::error!(event = ?dropped, "the server interrupted a notification; denying its client");
                engine.deny_incomplete(&dropped).into_iter().collect()
            }
            Err(error) => {
                tracing::error!(%error, "ignoring a >CLIENT:ENV line");
                Vec::new()
            }
        },
        ServerLine::Success(text) => {
            let command = sent.pop_front();
            tracing::trace!(?command, %text, "command succeeded");
            Vec::new()
        }
        ServerLine::Error(text) => {
            let (command, cid) = sent.pop_front().unwrap_or(("unknown command", 0));
            tracing::warn!(command, cid, error = %text, "openvpn rejected a command");
            Vec::new()
        }
        ServerLine::Notification { kind } => {
            tracing::trace!(%kind, "management notification");
            Vec::new()
        }
        ServerLine::Other(text) => {
            tracing::warn!(line = %text, "unexpected line from the management interface");
            Vec::new()
        }
    }
}

/// Current Unix time in seconds, 0 for a clock before 1970.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnect_delay_doubles_to_cap() {
        let policy = ReconnectPolicy::default();
        let delays: Vec<u128> = (0..8)
            .map(|attempt| policy.delay(attempt).as_millis())
            .collect();
        assert_eq!(delays, [250, 500, 1000, 2000, 4000, 5000, 5000, 5000]);
    }

    #[test]
    fn reconnect_delay_large_attempt_capped() {
        let policy = ReconnectPolicy::default();
        assert_eq!(policy.delay(u32::MAX), policy.max_delay, "no overflow");
    }
}
