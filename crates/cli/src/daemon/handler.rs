//! One app connection to the daemon: requests in, responses and events out, with
//! every request checked against the peer's credentials.
//!
//! Root and the user who started a session may see its auth requests, answer
//! them, read its logs and disconnect it. Other local users get a permission
//! error and see only a session's name, state and start time in listings.

use std::path::Path;

use ferrovpn_ipc::{
    Connection, ErrorKind, Event, PeerCredentials, ProfileSource, Request, Response,
    WireAuthRequest,
};
use ferrovpn_protocol::auth_request::{AuthAnswer, AuthRequestId};
use ferrovpn_provider::session_manager::ManagerError;
use ferrovpn_provider::{ManagedState, ManagerEvent, SessionManager};
use tokio::net::UnixStream;

use super::convert;
use super::profile_access::{load_as_user, parse_as_user};

/// Log lines returned by `logs` when the request asks for more.
const MAX_LOG_LINES: u32 = 200;

/// Serves one app connection until it closes.
pub async fn serve(stream: UnixStream, manager: SessionManager) {
    let mut connection = Connection::new(stream);
    let peer = match connection.peer_credentials() {
        Ok(peer) => peer,
        Err(error) => {
            tracing::warn!(%error, "cannot read the peer credentials; closing the connection");
            return;
        }
    };
    tracing::debug!(uid = peer.uid, pid = ?peer.pid, "app connected");

    loop {
        let (id, request) = match connection.read_request().await {
            Ok(Some(incoming)) => incoming,
            Ok(None) => break,
            Err(error) => {
                tracing::debug!(uid = peer.uid, %error, "closing the app connection");
                break;
            }
        };
        let request = match request {
            Ok(request) => request,
            Err(error) => {
                tracing::info!(uid = peer.uid, %error, "rejected a malformed app message");
                if connection.reject(id, &error).await.is_err() {
                    break;
                }
                continue;
            }
        };

        tracing::debug!(uid = peer.uid, request = request.type_name(), "app request");
        if matches!(request, Request::Subscribe) {
            if connection.send_response(id, Response::Ok).await.is_ok() {
                forward_events(connection, &manager, peer).await;
            }
            return;
        }

        let response = handle(request, &manager, peer).await;
        if connection.send_response(id, response).await.is_err() {
            break;
        }
    }
}

fn may_access(peer: PeerCredentials, owner_uid: u32) -> bool {
    peer.is_root() || peer.uid == owner_uid
}

fn permission_denied(session: &str) -> Response {
    Response::error(
        ErrorKind::PermissionDenied,
        format!("session {session:?} belongs to another user; only that user or root may use it"),
    )
}

async fn handle(request: Request, manager: &SessionManager, peer: PeerCredentials) -> Response {
    match request {
        Request::Connect {
            profile,
            name,
            username,
            wait,
        } => connect(manager, peer, profile, name, username, wait).await,
        Request::Disconnect { session, all } => disconnect(manager, peer, session, all),
        Request::Status { session } => status(manager, peer, session),
        Request::ListAuthRequests { session } => {
            let requests: Vec<WireAuthRequest> = manager
                .list()
                .iter()
                .filter(|snapshot| may_access(peer, snapshot.owner_uid))
                .filter(|snapshot| session.as_ref().is_none_or(|name| *name == snapshot.name))
                .flat_map(|snapshot| snapshot.pending.iter().map(WireAuthRequest::from))
                .collect();
            Response::AuthRequests(requests)
        }
        Request::Answer { request, answer } => {
            let id = AuthRequestId(request);
            match manager.request_owner(id) {
                Some((session, owner)) if !may_access(peer, owner) => {
                    tracing::warn!(uid = peer.uid, request, "rejected an answer from a user who does not own the session");
                    permission_denied(&session)
                }
                _ => match manager.answer(id, AuthAnswer::from(answer)).await {
                    Ok(()) => Response::Ok,
                    Err(ManagerError::RequestNotFound(_)) => Response::error(
                        ErrorKind::NotPending,
                        format!("auth request {request} is no longer pending; it expired or was completed"),
                    ),
                    Err(error) => Response::error(ErrorKind::InvalidRequest, error.to_string()),
                },
            }
        }
        Request::Logs { session, lines } => match manager.snapshot(&session) {
            None => Response::error(ErrorKind::NotFound, format!("no session named {session:?}")),
            Some(snapshot) if !may_access(peer, snapshot.owner_uid) => permission_denied(&session),
            Some(_) => Response::Logs(
                manager
                    .logs(&session, lines.min(MAX_LOG_LINES) as usize)
                    .unwrap_or_default(),
            ),
        },
        Request::Subscribe => {
            Response::error(ErrorKind::InvalidRequest, "subscribe is handled apart")
        }
    }
}

async fn connect(
    manager: &SessionManager,
    peer: PeerCredentials,
    profile: ProfileSource,
    name: Option<String>,
    username: Option<String>,
    wait: bool,
) -> Response {
    let (loaded, default_name) = match profile {
        ProfileSource::Path(path) => {
            let path = Path::new(&path);
            let stem = path
                .file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
                .unwrap_or_else(|| "vpn".to_owned());
            match load_as_user(path, peer.uid, peer.gid).await {
                Ok(loaded) => (loaded, stem),
                Err(error) => return Response::error(ErrorKind::InvalidRequest, error.to_string()),
            }
        }
        ProfileSource::Contents { name, text } => {
            match parse_as_user(text, name.clone(), peer.uid, peer.gid).await {
                Ok(loaded) => (loaded, name),
                Err(error) => return Response::error(ErrorKind::InvalidRequest, error.to_string()),
            }
        }
    };
    if let Err(error) =
        ferrovpn_provider::client_config::client_config(&loaded.profile, false, None)
    {
        return Response::error(ErrorKind::InvalidRequest, error.to_string());
    }

    let name = name.unwrap_or(default_name);
    if let Some(existing) = manager.snapshot(&name) {
        // A name stays with its owner, also after the session ended, so its history
        // cannot be replaced by another user.
        if !may_access(peer, existing.owner_uid) {
            return Response::error(
                ErrorKind::AlreadyExists,
                format!("a session named {name:?} already exists; pick another name"),
            );
        }
    }
    let mut changes = match manager.start(name.clone(), peer.uid, loaded.profile, username) {
        Ok(changes) => changes,
        Err(error @ ManagerError::AlreadyExists(_)) => {
            return Response::error(ErrorKind::AlreadyExists, error.to_string())
        }
        Err(error) => return Response::error(ErrorKind::Internal, error.to_string()),
    };

    if wait {
        // A start is complete only when the tunnel is up or the session failed.
        loop {
            let state = *changes.borrow_and_update();
            if state == ManagedState::Connected || state.is_final() {
                break;
            }
            if changes.changed().await.is_err() {
                break;
            }
        }
    }

    match manager.snapshot(&name) {
        Some(snapshot) if snapshot.state == ManagedState::Failed => Response::error(
            if snapshot
                .last_error
                .as_deref()
                .is_some_and(|error| error.starts_with("authentication failed"))
            {
                ErrorKind::AuthFailed
            } else {
                ErrorKind::ConnectFailed
            },
            snapshot
                .last_error
                .unwrap_or_else(|| "the session failed".to_owned()),
        ),
        Some(snapshot) => Response::Session(convert::status(&snapshot)),
        None => Response::error(ErrorKind::Internal, "the session vanished"),
    }
}

fn disconnect(
    manager: &SessionManager,
    peer: PeerCredentials,
    session: Option<String>,
    all: bool,
) -> Response {
    if all {
        for snapshot in manager.list() {
            if may_access(peer, snapshot.owner_uid) && !snapshot.state.is_final() {
                let _ = manager.stop(&snapshot.name);
            }
        }
        return Response::Ok;
    }
    let Some(session) = session else {
        return Response::error(ErrorKind::InvalidRequest, "name a session or pass --all");
    };
    match manager.snapshot(&session) {
        None => Response::error(ErrorKind::NotFound, format!("no session named {session:?}")),
        Some(snapshot) if !may_access(peer, snapshot.owner_uid) => permission_denied(&session),
        Some(_) => match manager.stop(&session) {
            Ok(()) => Response::Ok,
            Err(error) => Response::error(ErrorKind::NotFound, error.to_string()),
        },
    }
}

fn status(manager: &SessionManager, peer: PeerCredentials, session: Option<String>) -> Response {
    let visible = |snapshot: &ferrovpn_provider::SessionSnapshot| {
        let status = convert::status(snapshot);
        if may_access(peer, snapshot.owner_uid) {
            status
        } else {
            status.redacted_for_other_user()
        }
    };
    match session {
        Some(name) => match manager.snapshot(&name) {
            Some(snapshot) => Response::Session(visible(&snapshot)),
            None => Response::error(ErrorKind::NotFound, format!("no session named {name:?}")),
        },
        None => Response::Sessions(manager.list().iter().map(visible).collect()),
    }
}

/// Streams events of the peer's sessions (all sessions for root), starting with the
/// requests already pending, until the app goes away.
async fn forward_events(
    mut connection: Connection,
    manager: &SessionManager,
    peer: PeerCredentials,
) {
    let mut events = manager.subscribe();
    for snapshot in manager.list() {
        if !may_access(peer, snapshot.owner_uid) {
            continue;
        }
        for request in &snapshot.pending {
            if connection
                .send_event(Event::AuthRequestAdded(WireAuthRequest::from(request)))
                .await
                .is_err()
            {
                return;
            }
        }
    }

    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(
                    uid = peer.uid,
                    missed,
                    "a subscriber fell behind; events were dropped"
                );
                continue;
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        };
        let wire = match event {
            ManagerEvent::State {
                session,
                owner_uid,
                state,
                detail,
            } if may_access(peer, owner_uid) => Event::SessionState {
                session,
                state: convert::state(state),
                detail,
            },
            ManagerEvent::AuthRequestAdded { owner_uid, request }
                if may_access(peer, owner_uid) =>
            {
                Event::AuthRequestAdded(WireAuthRequest::from(&request))
            }
            ManagerEvent::AuthRequestClosed {
                session,
                owner_uid,
                id,
                outcome,
            } if may_access(peer, owner_uid) => Event::AuthRequestClosed {
                id: id.0,
                session,
                outcome: outcome.into(),
            },
            _ => continue,
        };
        if connection.send_event(wire).await.is_err() {
            return;
        }
    }
}
