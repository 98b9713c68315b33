//! `ferrovpn agent`: the per-user desktop agent.
//!
//! The agent subscribes to the daemon's events and shows each auth request of the
//! user's sessions as a desktop notification on the session D-Bus. The "Answer" action
//! runs the answer command, "Open" opens the sign-in page of a web authentication
//! request. The notification closes when the request is answered, expires or completes
//! out of band, and a notification says when the tunnel came up or the session failed.

mod backoff;
mod command;
mod daemon_link;
mod notifications;
mod tracker;

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use futures::StreamExt;

use crate::exit_code;
use command::{AnswerCommand, DEFAULT_ANSWER_COMMAND};
use daemon_link::{DaemonLink, DaemonUpdate};
use notifications::{DesktopNotifier, NotificationsProxy};
use tracker::{Action, NotificationTracker};

/// Time a notification server gets to respond to a method call. Events from the daemon
/// wait while a call is outstanding, so a hung server must not stop the agent.
const METHOD_TIMEOUT: Duration = Duration::from_secs(10);

/// Options of `ferrovpn agent`.
#[derive(Debug, Args)]
pub struct AgentArgs {
    /// Command run when "Answer" is clicked. `{id}`, `{session}` and `{socket}` are
    /// replaced by the request id, the session name and the daemon socket. Words are
    /// split like a shell does, but no shell runs the command.
    #[arg(
        long,
        value_name = "COMMAND",
        default_value = DEFAULT_ANSWER_COMMAND,
        value_parser = AnswerCommand::parse
    )]
    answer_command: AnswerCommand,
}

/// Runs the agent until SIGTERM or Ctrl-C, or until the session bus goes away.
pub async fn run(socket: PathBuf, args: AgentArgs) -> u8 {
    let bus = match session_bus().await {
        Ok(bus) => bus,
        Err(error) => {
            eprintln!(
                "ferrovpn: cannot connect to the session D-Bus: {error}; run the agent inside \
                 a desktop session or set DBUS_SESSION_BUS_ADDRESS"
            );
            return exit_code::FAILURE;
        }
    };
    let proxy = match NotificationsProxy::new(&bus).await {
        Ok(proxy) => proxy,
        Err(error) => {
            eprintln!("ferrovpn: cannot use org.freedesktop.Notifications: {error}");
            return exit_code::FAILURE;
        }
    };
    let (mut actions, mut closed) = match tokio::try_join!(
        proxy.receive_action_invoked(),
        proxy.receive_notification_closed()
    ) {
        Ok(streams) => streams,
        Err(error) => {
            eprintln!("ferrovpn: cannot watch notification signals: {error}");
            return exit_code::FAILURE;
        }
    };
    let actions_supported = match proxy.get_capabilities().await {
        Ok(capabilities) => capabilities.iter().any(|name| name == "actions"),
        Err(error) => {
            tracing::warn!(%error, "reading the notification server's capabilities failed; assuming it shows actions");
            true
        }
    };
    if !actions_supported {
        tracing::warn!("the notification server shows no action buttons; notifications name the auth command instead");
    }

    let mut tracker = NotificationTracker::new(DesktopNotifier::new(proxy), actions_supported);
    let mut daemon = DaemonLink::new(socket.clone());
    let shutdown = crate::connect::wait_for_signal();
    tokio::pin!(shutdown);
    tracing::info!(socket = %socket.display(), "agent started");

    let code = loop {
        tokio::select! {
            update = daemon.next() => match update {
                DaemonUpdate::Subscribed(pending) => tracker.keep_only(&pending).await,
                DaemonUpdate::Event(event) => tracker.handle_event(event).await,
            },
            signal = actions.next() => {
                let Some(signal) = signal else {
                    eprintln!("ferrovpn: the session D-Bus connection closed");
                    break exit_code::FAILURE;
                };
                match signal.args() {
                    Ok(invoked) => match tracker.action(invoked.id, &invoked.action_key) {
                        Some(action) => perform(action, &args.answer_command, &socket),
                        None => tracing::debug!(notification = invoked.id, key = %invoked.action_key, "ignored an action of another notification"),
                    },
                    Err(error) => tracing::warn!(%error, "skipped an ActionInvoked signal that does not parse"),
                }
            },
            signal = closed.next() => {
                let Some(signal) = signal else {
                    eprintln!("ferrovpn: the session D-Bus connection closed");
                    break exit_code::FAILURE;
                };
                match signal.args() {
                    Ok(gone) => tracker.notification_closed(gone.id),
                    Err(error) => tracing::warn!(%error, "skipped a NotificationClosed signal that does not parse"),
                }
            },
            () = &mut shutdown => {
                tracing::info!("agent stopping");
                break exit_code::SUCCESS;
            }
        }
    };

    tracker.close_all().await;
    code
}

/// Connects to the session bus named by `DBUS_SESSION_BUS_ADDRESS`.
async fn session_bus() -> zbus::Result<zbus::Connection> {
    zbus::connection::Builder::session()?
        .method_timeout(METHOD_TIMEOUT)
        .build()
        .await
}

/// Starts the program for a clicked action, logging a failure to start it.
fn perform(action: Action, answer_command: &AnswerCommand, socket: &Path) {
    match action {
        Action::Answer { id, session } => {
            if let Err(error) = answer_command.spawn(id, &session, socket) {
                tracing::warn!(request = id, %session, %error, "failed to start the answer command");
            }
        }
        Action::Open { id, url } => {
            tracing::info!(request = id, "opening the sign-in page");
            if let Err(message) = command::open_url(&url) {
                tracing::warn!(request = id, "{message}");
            }
        }
    }
}
