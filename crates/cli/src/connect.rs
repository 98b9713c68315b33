//! `ferrovpn connect` and `ferrovpn check`.

use std::path::{Path, PathBuf};

use clap::Args;
use ferrovpn_profile::{Loaded, Profile};
use ferrovpn_protocol::config::Credentials;
use ferrovpn_provider::{ProviderEvent, SessionError};
use serde_json::json;
use tokio::sync::{mpsc, watch};
use zeroize::Zeroizing;

use crate::{exit_code, progress, prompt};

/// Options of `ferrovpn connect`.
#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// Path of the .ovpn profile.
    profile: PathBuf,

    /// Print progress as JSON lines on standard output instead of text on standard error.
    #[arg(long)]
    json: bool,

    /// Never prompt on the terminal; exit with code 7 when credentials are missing.
    #[arg(long)]
    no_prompt: bool,

    /// Username, instead of the one in the auth-user-pass file or a prompt.
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
                    json!({"event": "error", "kind": "profile", "message": error.to_string()})
                );
            } else {
                eprintln!("ferrovpn: {error}");
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

/// Runs `ferrovpn connect` in the foreground until Ctrl-C or SIGTERM.
pub async fn run(args: ConnectArgs) -> u8 {
    let loaded = match load_profile(&args.profile, args.json) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let profile = loaded.profile;

    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!(
            "ferrovpn: connect creates a TUN device and routes, which needs root; run it with sudo"
        );
        return exit_code::PERMISSION_DENIED;
    }

    let credentials = match resolve_credentials(&profile, &args) {
        Ok(credentials) => credentials,
        Err(code) => return code,
    };

    let (events_tx, mut events_rx) = mpsc::unbounded_channel();
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let session = tokio::spawn(ferrovpn_provider::run_session(
        profile,
        credentials,
        events_tx,
        shutdown_rx,
    ));

    let as_json = args.json;
    let printer = tokio::spawn(async move {
        while let Some(event) = events_rx.recv().await {
            if !matches!(event, ProviderEvent::Disconnected { .. }) || as_json {
                progress::print(&event, as_json);
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

async fn wait_for_signal() {
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

/// Username and password from the command line, the profile's file or the terminal.
fn resolve_credentials(profile: &Profile, args: &ConnectArgs) -> Result<Option<Credentials>, u8> {
    let Some(auth) = &profile.auth_user_pass else {
        return Ok(None);
    };

    let username = match args.username.clone().or_else(|| auth.username.clone()) {
        Some(username) => username,
        None => ask(args, "Username: ", true)?.to_string(),
    };
    let password = match &auth.password {
        Some(password) => password.clone(),
        None => ask(args, &format!("Password for {username}: "), false)?,
    };
    Ok(Some(Credentials { username, password }))
}

fn ask(args: &ConnectArgs, question: &str, echo: bool) -> Result<Zeroizing<String>, u8> {
    if args.no_prompt {
        eprintln!(
            "ferrovpn: the profile needs a username and password; put them in the auth-user-pass file or run without --no-prompt"
        );
        return Err(exit_code::AUTH_NEEDED);
    }
    prompt::ask(question, echo).map_err(|error| {
        eprintln!(
            "ferrovpn: cannot ask for credentials: {error}; put them in the auth-user-pass file"
        );
        exit_code::AUTH_NEEDED
    })
}
