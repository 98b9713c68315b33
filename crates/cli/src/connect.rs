//! `ferrovpn connect` and `ferrovpn check`.

use std::path::{Path, PathBuf};

use clap::Args;
use ferrovpn_profile::{Loaded, Profile};
use ferrovpn_protocol::auth_request::AuthRequestId;
use ferrovpn_provider::{
    answer_channel, AnswerMessage, ProviderEvent, SessionError, SessionOptions,
};
use serde_json::json;
use tokio::sync::{mpsc, oneshot, watch};

use crate::answer::{self, AnswerSource};
use crate::answer_lines::{self, Input, LineDispatcher};
use crate::{exit_code, progress};

/// Options of `ferrovpn connect`.
#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// Path of the .ovpn profile.
    profile: PathBuf,

    /// Print progress as JSON lines on standard output instead of text on standard error.
    #[arg(long)]
    json: bool,

    /// Never ask for input; exit with code 7 when the server or the profile needs an answer.
    #[arg(long)]
    no_prompt: bool,

    /// Session name in the daemon (default: the profile's file name without extension).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,

    /// With a daemon: return once the session started instead of waiting for the tunnel.
    #[arg(long)]
    no_wait: bool,

    /// Run the session in this process even when a daemon runs (needs root).
    #[arg(long)]
    foreground: bool,

    /// Username, instead of the one in the auth-user-pass file or a prompt.
    ///
    /// Answers to auth requests are read from the terminal, or one line per field from
    /// standard input when it is not a terminal.
    #[arg(long, value_name = "NAME")]
    username: Option<String>,
}

/// Loads a profile and prints its warnings; on error prints it and returns the exit code.
fn load_profile(path: &Path, as_json: bool) -> Result<Loaded, u8> {
    match Profile::load(path) {
        Ok(loaded) => {
            if !as_json {
                for warning in &loaded.warnings {
                    eprintln!("warning: {}: {warning}", path.display());
                }
            }
            Ok(loaded)
        }
        Err(error) => {
            if as_json {
                println!(
                    "{}",
                    json!({"event": "error", "valid": false, "kind": "profile", "message": error.to_string()})
                );
            } else {
                eprintln!("ferrovpn: {error}");
            }
            Err(exit_code::PROFILE_ERROR)
        }
    }
}

/// Loads the certificates and keys the way a connection will, so bad TLS material is
/// reported before anything is sent.
fn validate_tls_material(profile: &Profile, path: &Path, as_json: bool) -> Result<(), u8> {
    match ferrovpn_provider::client_config::client_config(profile, false, None) {
        Ok(_) => Ok(()),
        Err(error) => {
            if as_json {
                println!(
                    "{}",
                    json!({"event": "error", "valid": false, "kind": "profile", "message": format!("{}: {error}", path.display())})
                );
            } else {
                eprintln!("ferrovpn: {}: {error}", path.display());
            }
            Err(exit_code::PROFILE_ERROR)
        }
    }
}

/// Runs `ferrovpn check`.
pub fn check(path: &Path, as_json: bool) -> u8 {
    let loaded = match load_profile(path, as_json) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    if let Err(code) = validate_tls_material(&loaded.profile, path, as_json) {
        return code;
    }
    let profile = &loaded.profile;
    if as_json {
        let remotes: Vec<_> = profile
            .remotes
            .iter()
            .map(|remote| json!({"host": remote.host, "port": remote.port, "proto": format!("{:?}", remote.proto).to_lowercase()}))
            .collect();
        let warnings: Vec<_> = loaded
            .warnings
            .iter()
            .map(|warning| warning.to_string())
            .collect();
        println!(
            "{}",
            json!({"valid": true, "remotes": remotes, "warnings": warnings,
                   "needs_credentials": profile.auth_user_pass.is_some()})
        );
    } else {
        eprintln!(
            "{}: valid, {} remote(s), {} warning(s)",
            path.display(),
            profile.remotes.len(),
            loaded.warnings.len()
        );
    }
    exit_code::SUCCESS
}

/// Runs `ferrovpn connect`: through the daemon when one listens on `socket`, else in
/// this process until Ctrl-C or SIGTERM.
pub async fn run(args: ConnectArgs, socket: std::path::PathBuf) -> u8 {
    let daemon_runs = !args.foreground && tokio::net::UnixStream::connect(&socket).await.is_ok();
    if daemon_runs {
        return crate::app::connect(
            &socket,
            &args.profile,
            args.name.clone(),
            args.username.clone(),
            args.no_wait,
            args.no_prompt,
        )
        .await;
    }

    let loaded = match load_profile(&args.profile, args.json) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let profile = loaded.profile;
    if let Err(code) = validate_tls_material(&profile, &args.profile, args.json) {
        return code;
    }

    if !has_net_admin() {
        eprintln!(
            "ferrovpn: no daemon listens on {}, and running the session in this process needs root or CAP_NET_ADMIN; start the daemon (`systemctl start ferrovpn`) or run with sudo",
            socket.display()
        );
        return exit_code::PERMISSION_DENIED;
    }

    let name = args
        .profile
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_else(|| "ferrovpn".to_owned());
    let mut options = SessionOptions::new(name);
    options.username = args.username.clone();

    let (events_tx, mut events_rx) = mpsc::unbounded_channel();
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (answers_tx, answers_rx) = answer_channel();
    let session = tokio::spawn(ferrovpn_provider::run_session(
        profile,
        options,
        events_tx,
        answers_rx,
        shutdown_rx,
    ));

    let as_json = args.json;
    let connected = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let connected_tx = connected.clone();
    // With --no-prompt nobody answers, so the provider reports that it needs input. The
    // sender is dropped here: a conditionally moved variable would live to the end of `run`.
    let answers = if args.no_prompt {
        drop(answers_tx);
        None
    } else {
        Some(answers_tx)
    };
    let source = AnswerSource::detect();
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stdin());
    // A prompt that cannot be answered (standard input ended) makes the printer drop its
    // sender, so the provider learns that nobody can answer and the command exits with 7.
    let (unanswerable_tx, mut unanswerable_rx) = mpsc::unbounded_channel::<()>();
    let (rejected_tx, mut rejected_rx) = mpsc::unbounded_channel::<AuthRequestId>();
    let mut lines = (!terminal && answers.is_some()).then(answer_lines::spawn_reader);
    let printer = tokio::spawn(async move {
        let mut answers = answers;
        let mut dispatcher = LineDispatcher::default();
        loop {
            let event = tokio::select! {
                event = events_rx.recv() => match event {
                    Some(event) => Some(event),
                    None => break,
                },
                Some(()) = unanswerable_rx.recv() => {
                    answers = None;
                    None
                }
                Some(id) = rejected_rx.recv() => {
                    dispatcher.answer_rejected(id);
                    None
                }
                Some(input) = next_input(&mut lines) => {
                    dispatcher.input(input);
                    None
                }
            };

            if let Some(event) = event {
                if !matches!(event, ProviderEvent::Disconnected { .. }) || as_json {
                    progress::print(&event, as_json);
                }
                match &event {
                    ProviderEvent::Connected { .. } => {
                        connected_tx.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                    ProviderEvent::AuthRequested(request) if terminal => {
                        if let Some(answers) = &answers {
                            let (request, source, answers) =
                                (request.clone(), source.clone(), answers.clone());
                            let unanswerable = unanswerable_tx.clone();
                            tokio::task::spawn_blocking(move || {
                                if !answer::answer_request(request, source, answers) {
                                    let _ = unanswerable.send(());
                                }
                            });
                        }
                    }
                    ProviderEvent::AuthRequested(request) => dispatcher.request_added(request),
                    ProviderEvent::AuthRequestClosed { id, .. } => dispatcher.request_closed(*id),
                    _ => {}
                }
            }

            if terminal {
                continue;
            }
            let Some(sender) = &answers else {
                continue;
            };
            while let Some((id, answer)) = dispatcher.take_answer() {
                let (reply, verdict) = oneshot::channel();
                if sender.send(AnswerMessage { id, answer, reply }).is_err() {
                    break;
                }
                let rejected = rejected_tx.clone();
                tokio::spawn(async move {
                    if let Ok(Err(error)) = verdict.await {
                        eprintln!("ferrovpn: {error}; waiting for another line");
                        let _ = rejected.send(id);
                    }
                });
            }
            if dispatcher.is_stuck() {
                eprintln!("ferrovpn: standard input ended before the answer");
                answers = None;
            }
        }
    });

    tokio::spawn(async move {
        wait_for_signal().await;
        let _ = shutdown_tx.send(true);
    });

    let result = session.await;
    let _ = printer.await;
    match result {
        Ok(Ok(())) if !connected.load(std::sync::atomic::Ordering::Relaxed) => {
            if !as_json {
                eprintln!("cancelled before the tunnel came up");
            }
            exit_code::CANCELLED
        }
        Ok(Ok(())) => {
            if !as_json {
                eprintln!("disconnected");
            }
            exit_code::SUCCESS
        }
        Ok(Err(error)) => {
            if !as_json {
                eprintln!("ferrovpn: {error}");
            }
            match error {
                SessionError::Config(_) | SessionError::NoRemote => exit_code::PROFILE_ERROR,
                SessionError::AuthFailed(_) => exit_code::AUTH_FAILED,
                SessionError::AuthNeeded(_) => {
                    if !as_json {
                        eprintln!("ferrovpn: run `ferrovpn connect` without --no-prompt to answer on the terminal or from standard input");
                    }
                    exit_code::AUTH_NEEDED
                }
                SessionError::Device(message) if message.contains("Operation not permitted") => {
                    exit_code::PERMISSION_DENIED
                }
                SessionError::Device(_) => exit_code::FAILURE,
                SessionError::Fatal(_) | SessionError::RetriesExhausted { .. } => {
                    exit_code::CONNECTION_FAILED
                }
            }
        }
        Err(error) => {
            eprintln!("ferrovpn: the session task failed: {error}");
            exit_code::FAILURE
        }
    }
}

/// True when this process may create TUN devices and change routes: root, or a process
/// with CAP_NET_ADMIN in its effective set.
fn has_net_admin() -> bool {
    /// Bit of CAP_NET_ADMIN in the capability sets of /proc/self/status.
    const CAP_NET_ADMIN: u32 = 12;

    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return false;
    };
    status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|effective| effective & (1 << CAP_NET_ADMIN) != 0)
}

/// Waits for the next standard input line, or forever when lines are not read.
async fn next_input(lines: &mut Option<mpsc::UnboundedReceiver<Input>>) -> Option<Input> {
    match lines {
        Some(lines) => lines.recv().await,
        None => std::future::pending().await,
    }
}

/// Waits for Ctrl-C or SIGTERM.
pub async fn wait_for_signal() {
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(error) => {
                tracing::warn!(%error, "cannot watch SIGTERM; only Ctrl-C disconnects");
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}
