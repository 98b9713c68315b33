//! Named sessions of a long-running provider, each owned by the local user who started it.
//!
//! The manager runs every session on its own task, keeps a snapshot of its
//! state, its pending auth requests and its recent log lines, and broadcasts
//! state changes. It does no authorization itself: the app message layer
//! checks who may see or touch a session before calling in.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use ferrovpn_profile::Profile;
use ferrovpn_protocol::auth_request::{
    AnswerError, AuthAnswer, AuthRequest, AuthRequestId, AuthRequestOutcome,
};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::auth_broker::{answer_channel, AnswerMessage, AnswerSender};
use crate::events::ProviderEvent;
use crate::supervisor::{run_session, SessionOptions};

/// Log lines kept per session for `logs`.
const LOG_LINES_KEPT: usize = 200;

/// Events kept for slow subscribers before they start missing some.
const EVENT_BUFFER: usize = 256;

/// State of a managed session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManagedState {
    /// Connecting or reconnecting to the server.
    Connecting,
    /// Waiting for a person to answer an auth request.
    WaitingForAuthentication,
    /// The tunnel is up.
    Connected,
    /// The connection was lost; the provider is trying again.
    Reconnecting,
    /// Ended on request.
    Disconnected,
    /// Ended with an error.
    Failed,
}

impl ManagedState {
    /// True once the session ended.
    pub fn is_final(self) -> bool {
        matches!(self, ManagedState::Disconnected | ManagedState::Failed)
    }
}

/// A point-in-time view of one session.
#[derive(Clone, Debug)]
pub struct SessionSnapshot {
    /// Session name.
    pub name: String,
    /// User id of the local user who started it.
    pub owner_uid: u32,
    /// Current state.
    pub state: ManagedState,
    /// Server address, once reached.
    pub server: Option<String>,
    /// Addresses of the tunnel device.
    pub addresses: Vec<IpAddr>,
    /// Name of the tunnel device.
    pub device: Option<String>,
    /// When the current state began.
    pub since: SystemTime,
    /// Last error, if the session failed or is reconnecting.
    pub last_error: Option<String>,
    /// Auth requests waiting for an answer.
    pub pending: Vec<AuthRequest>,
}

/// A change that subscribers hear about.
#[derive(Clone, Debug)]
pub enum ManagerEvent {
    /// A session changed state.
    State {
        /// Session name.
        session: String,
        /// Owner of the session.
        owner_uid: u32,
        /// New state.
        state: ManagedState,
        /// Detail such as the error or the addresses.
        detail: Option<String>,
    },
    /// An auth request appeared.
    AuthRequestAdded {
        /// Owner of the session the request belongs to.
        owner_uid: u32,
        /// The request.
        request: AuthRequest,
    },
    /// An auth request left the pending list.
    AuthRequestClosed {
        /// Session name.
        session: String,
        /// Owner of the session.
        owner_uid: u32,
        /// The request.
        id: AuthRequestId,
        /// How it ended.
        outcome: AuthRequestOutcome,
    },
}

/// Errors of session management calls.
#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    /// A session with this name already runs.
    #[error("a session named {0:?} already exists; pick another name or disconnect it first")]
    AlreadyExists(String),
    /// No session has this name.
    #[error("no session named {0:?}")]
    NotFound(String),
    /// No session has a pending request with this id.
    #[error("auth request {0} is no longer pending; it expired or was completed")]
    RequestNotFound(AuthRequestId),
    /// The session rejected the answer.
    #[error("{0}")]
    Answer(#[from] AnswerError),
}

struct Managed {
    snapshot: SessionSnapshot,
    answers: AnswerSender,
    shutdown: watch::Sender<bool>,
    logs: VecDeque<String>,
    /// Notified whenever the state changes, for callers waiting for the tunnel.
    changed: watch::Sender<ManagedState>,
}

/// The provider's table of running sessions.
#[derive(Clone)]
pub struct SessionManager {
    sessions: Arc<Mutex<HashMap<String, Managed>>>,
    events: broadcast::Sender<ManagerEvent>,
}

impl Default for SessionManager {
    fn default() -> Self {
        SessionManager::new()
    }
}

impl SessionManager {
    /// Creates an empty manager.
    pub fn new() -> SessionManager {
        SessionManager {
            sessions: Arc::new(Mutex::new(HashMap::new())),
            events: broadcast::channel(EVENT_BUFFER).0,
        }
    }

    /// Subscribes to state changes and auth request events of every session.
    pub fn subscribe(&self) -> broadcast::Receiver<ManagerEvent> {
        self.events.subscribe()
    }

    /// Starts session `name` for `owner_uid`; it runs until stopped or it fails for good.
    pub fn start(
        &self,
        name: String,
        owner_uid: u32,
        profile: Profile,
        username: Option<String>,
    ) -> Result<watch::Receiver<ManagedState>, ManagerError> {
        let mut sessions = self.lock();
        if let Some(existing) = sessions.get(&name) {
            if !existing.snapshot.state.is_final() {
                return Err(ManagerError::AlreadyExists(name));
            }
        }

        let (answers_tx, answers_rx) = answer_channel();
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (changed_tx, changed_rx) = watch::channel(ManagedState::Connecting);
        sessions.insert(
            name.clone(),
            Managed {
                snapshot: SessionSnapshot {
                    name: name.clone(),
                    owner_uid,
                    state: ManagedState::Connecting,
                    server: None,
                    addresses: Vec::new(),
                    device: None,
                    since: SystemTime::now(),
                    last_error: None,
                    pending: Vec::new(),
                },
                answers: answers_tx,
                shutdown: shutdown_tx,
                logs: VecDeque::new(),
                changed: changed_tx,
            },
        );
        drop(sessions);
        tracing::info!(session = %name, owner_uid, "session started");

        let mut options = SessionOptions::new(name.clone());
        options.username = username;
        let manager = self.clone();
        let watcher_name = name.clone();
        let session = tokio::spawn(run_session(
            profile,
            options,
            events_tx,
            answers_rx,
            shutdown_rx,
        ));
        tokio::spawn(async move {
            manager.follow(&watcher_name, events_rx).await;
            let result = session.await;
            let (state, error) = match result {
                Ok(Ok(())) => (ManagedState::Disconnected, None),
                Ok(Err(error)) => (ManagedState::Failed, Some(error.to_string())),
                Err(error) => (
                    ManagedState::Failed,
                    Some(format!("session task failed: {error}")),
                ),
            };
            manager.set_state(&watcher_name, state, error);
        });
        Ok(changed_rx)
    }

    /// Asks session `name` to disconnect.
    pub fn stop(&self, name: &str) -> Result<(), ManagerError> {
        let sessions = self.lock();
        let managed = sessions
            .get(name)
            .ok_or_else(|| ManagerError::NotFound(name.to_owned()))?;
        let _ = managed.shutdown.send(true);
        tracing::info!(session = %name, "disconnect requested");
        Ok(())
    }

    /// Asks every session to disconnect.
    pub fn stop_all(&self) {
        for managed in self.lock().values() {
            let _ = managed.shutdown.send(true);
        }
    }

    /// Snapshot of session `name`.
    pub fn snapshot(&self, name: &str) -> Option<SessionSnapshot> {
        self.lock()
            .get(name)
            .map(|managed| managed.snapshot.clone())
    }

    /// Snapshots of every session, sorted by name.
    pub fn list(&self) -> Vec<SessionSnapshot> {
        let mut list: Vec<SessionSnapshot> = self
            .lock()
            .values()
            .map(|managed| managed.snapshot.clone())
            .collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        list
    }

    /// Returns the most recent `lines` log lines of session `name`.
    pub fn logs(&self, name: &str, lines: usize) -> Option<Vec<String>> {
        self.lock().get(name).map(|managed| {
            let skip = managed.logs.len().saturating_sub(lines);
            managed.logs.iter().skip(skip).cloned().collect()
        })
    }

    /// Returns the name and owner of the session with pending request `id`.
    pub fn request_owner(&self, id: AuthRequestId) -> Option<(String, u32)> {
        self.lock().values().find_map(|managed| {
            managed
                .snapshot
                .pending
                .iter()
                .any(|request| request.id == id)
                .then(|| (managed.snapshot.name.clone(), managed.snapshot.owner_uid))
        })
    }

    /// Hands `answer` to the session holding request `id` and waits for its verdict.
    pub async fn answer(&self, id: AuthRequestId, answer: AuthAnswer) -> Result<(), ManagerError> {
        let sender = {
            let sessions = self.lock();
            sessions
                .values()
                .find(|managed| {
                    managed
                        .snapshot
                        .pending
                        .iter()
                        .any(|request| request.id == id)
                })
                .map(|managed| managed.answers.clone())
                .ok_or(ManagerError::RequestNotFound(id))?
        };
        let (reply, verdict) = oneshot::channel();
        sender
            .send(AnswerMessage { id, answer, reply })
            .map_err(|_| ManagerError::RequestNotFound(id))?;
        match verdict.await {
            Ok(result) => result.map_err(ManagerError::from),
            Err(_) => Err(ManagerError::RequestNotFound(id)),
        }
    }

    /// Forgets sessions that ended.
    pub fn remove_finished(&self) {
        self.lock()
            .retain(|_, managed| !managed.snapshot.state.is_final());
    }

    async fn follow(&self, name: &str, mut events: mpsc::UnboundedReceiver<ProviderEvent>) {
        while let Some(event) = events.recv().await {
            self.log(name, describe(&event));
            match event {
                ProviderEvent::Connecting { .. } => {}
                ProviderEvent::ServerReached { server } => {
                    self.update(name, |snapshot| snapshot.server = Some(server.to_string()));
                }
                ProviderEvent::AuthRequested(request) => {
                    let owner = self.update(name, |snapshot| {
                        snapshot.pending.retain(|pending| pending.id != request.id);
                        snapshot.pending.push(request.clone());
                    });
                    if request.response_required {
                        self.set_state(name, ManagedState::WaitingForAuthentication, None);
                    }
                    if let Some(owner_uid) = owner {
                        let _ = self
                            .events
                            .send(ManagerEvent::AuthRequestAdded { owner_uid, request });
                    }
                }
                ProviderEvent::AuthRequestClosed { id, outcome } => {
                    let owner = self.update(name, |snapshot| {
                        snapshot.pending.retain(|pending| pending.id != id)
                    });
                    if let Some(owner_uid) = owner {
                        let _ = self.events.send(ManagerEvent::AuthRequestClosed {
                            session: name.to_owned(),
                            owner_uid,
                            id,
                            outcome,
                        });
                    }
                    if self
                        .snapshot(name)
                        .is_some_and(|s| s.state == ManagedState::WaitingForAuthentication)
                    {
                        self.set_state(name, ManagedState::Connecting, None);
                    }
                }
                ProviderEvent::Connected {
                    device,
                    addresses,
                    server,
                    ..
                } => {
                    self.update(name, |snapshot| {
                        snapshot.device = Some(device.clone());
                        snapshot.addresses = addresses.clone();
                        snapshot.server = Some(server.to_string());
                        snapshot.last_error = None;
                    });
                    let detail = addresses
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ");
                    self.set_state(name, ManagedState::Connected, Some(detail));
                }
                ProviderEvent::Reconnecting { reason, .. } => {
                    self.update(name, |snapshot| snapshot.last_error = Some(reason.clone()));
                    self.set_state(name, ManagedState::Reconnecting, Some(reason));
                }
                _ => {}
            }
        }
    }

    fn set_state(&self, name: &str, state: ManagedState, detail: Option<String>) {
        let owner = {
            let mut sessions = self.lock();
            let Some(managed) = sessions.get_mut(name) else {
                return;
            };
            if managed.snapshot.state == state {
                return;
            }
            managed.snapshot.state = state;
            managed.snapshot.since = SystemTime::now();
            if state == ManagedState::Failed {
                managed.snapshot.last_error = detail.clone();
            }
            if state.is_final() {
                managed.snapshot.pending.clear();
            }
            let _ = managed.changed.send(state);
            managed.snapshot.owner_uid
        };
        tracing::info!(session = %name, state = ?state, detail = detail.as_deref().unwrap_or(""), "session state changed");
        let _ = self.events.send(ManagerEvent::State {
            session: name.to_owned(),
            owner_uid: owner,
            state,
            detail,
        });
    }

    fn update(&self, name: &str, change: impl FnOnce(&mut SessionSnapshot)) -> Option<u32> {
        let mut sessions = self.lock();
        let managed = sessions.get_mut(name)?;
        change(&mut managed.snapshot);
        Some(managed.snapshot.owner_uid)
    }

    fn log(&self, name: &str, line: String) {
        if let Some(managed) = self.lock().get_mut(name) {
            if managed.logs.len() == LOG_LINES_KEPT {
                managed.logs.pop_front();
            }
            let stamp = humantime_utc(SystemTime::now());
            managed.logs.push_back(format!("{stamp} {line}"));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Managed>> {
        // A panic while holding the lock leaves plain data behind, which stays usable.
        self.sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Formats one log line for a provider event; it never contains an answer or a secret.
fn describe(event: &ProviderEvent) -> String {
    match event {
        ProviderEvent::Connecting {
            host,
            port,
            proto,
            attempt,
        } => {
            format!("connecting to {host}:{port} ({proto}), attempt {attempt}")
        }
        ProviderEvent::ServerReached { server } => format!("server {server} answered"),
        ProviderEvent::TlsEstablished => "TLS established".to_owned(),
        ProviderEvent::Authenticating => "authenticating".to_owned(),
        ProviderEvent::AuthPending { timeout } => match timeout {
            Some(timeout) => format!("authentication pending, up to {} s", timeout.as_secs()),
            None => "authentication pending".to_owned(),
        },
        ProviderEvent::ServerInfo(text) => format!("server: {text}"),
        ProviderEvent::AuthRequested(request) => format!(
            "auth request {} ({}): {}",
            request.id,
            request.kind.name(),
            request.prompt
        ),
        ProviderEvent::AuthRequestClosed { id, outcome } => format!("auth request {id} {outcome}"),
        ProviderEvent::Connected {
            device,
            addresses,
            cipher,
            server,
        } => format!(
            "connected to {server}: device {device}, addresses {:?}, cipher {cipher}",
            addresses
        ),
        ProviderEvent::Renegotiated { key_id } => format!("renegotiated, key {key_id}"),
        ProviderEvent::Reconnecting { reason, delay } => {
            format!("{reason}; reconnecting in {} s", delay.as_secs())
        }
        ProviderEvent::Disconnected { reason } => format!("disconnected: {reason}"),
    }
}

/// Formats `time` as `YYYY-MM-DDTHH:MM:SSZ` without a date crate.
fn humantime_utc(time: SystemTime) -> String {
    let seconds = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|since| since.as_secs())
        .unwrap_or(0);
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    let (hour, minute, second) = (rest / 3600, rest % 3600 / 60, rest % 60);

    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_formats_known_date() {
        let time = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_796_400_000);
        assert_eq!(humantime_utc(time), "2026-12-04T16:00:00Z");
    }

    #[test]
    fn timestamp_formats_epoch() {
        assert_eq!(
            humantime_utc(SystemTime::UNIX_EPOCH),
            "1970-01-01T00:00:00Z"
        );
    }
}
