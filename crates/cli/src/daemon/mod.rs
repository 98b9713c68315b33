//! `ferrovpn daemon`: the provider as a root service that holds sessions for local
//! users and answers app messages on a Unix socket.

mod convert;
mod handler;
mod profile_access;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ferrovpn_provider::SessionManager;
use tokio::net::{UnixListener, UnixStream};

use crate::exit_code;

/// Time sessions get to tell their servers goodbye and remove their devices on shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Runs the daemon on `socket` until SIGTERM or Ctrl-C.
pub async fn run(socket: PathBuf) -> u8 {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("ferrovpn: the daemon creates TUN devices for other users and must run as root");
        return exit_code::PERMISSION_DENIED;
    }

    let listener = match bind(&socket).await {
        Ok(listener) => listener,
        Err(message) => {
            eprintln!("ferrovpn: {message}");
            return exit_code::FAILURE;
        }
    };
    tracing::info!(socket = %socket.display(), "daemon listening");
    eprintln!("ferrovpn daemon listening on {}", socket.display());

    let manager = SessionManager::new();
    let signal = crate::connect::wait_for_signal();
    tokio::pin!(signal);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(handler::serve(stream, manager.clone()));
                }
                Err(error) => tracing::warn!(%error, "accepting an app connection failed"),
            },
            () = &mut signal => break,
        }
    }

    tracing::info!("daemon stopping; disconnecting every session");
    manager.stop_all();
    let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
    while manager
        .list()
        .iter()
        .any(|session| !session.state.is_final())
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for session in manager.list() {
        tracing::info!(session = %session.name, state = ?session.state, "session ended with the daemon");
    }
    let _ = std::fs::remove_file(&socket);
    exit_code::SUCCESS
}

/// Binds the socket, replacing a stale one left by a daemon that died.
async fn bind(socket: &Path) -> Result<UnixListener, String> {
    if let Some(parent) = socket.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|error| format!("cannot create {}: {error}", parent.display()))?;
    }
    if socket.exists() {
        if UnixStream::connect(socket).await.is_ok() {
            return Err(format!(
                "another daemon already listens on {}; stop it first",
                socket.display()
            ));
        }
        std::fs::remove_file(socket).map_err(|error| {
            format!(
                "cannot remove the stale socket {}: {error}",
                socket.display()
            )
        })?;
    }
    let listener = UnixListener::bind(socket)
        .map_err(|error| format!("cannot listen on {}: {error}", socket.display()))?;
    // Every local user may connect; each request is checked against the peer's uid.
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o666)).map_err(|error| {
        format!(
            "cannot set the permissions of {}: {error}",
            socket.display()
        )
    })?;
    Ok(listener)
}
