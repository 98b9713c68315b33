//! `ferrovpn-authd run`: the daemon.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use ferrovpn_authd::{
    run as run_daemon, DaemonConfig, Engine, EngineConfig, ManagementAddress, ReconnectPolicy,
    Store,
};
use zeroize::Zeroizing;

/// Arguments of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Management interface: a Unix socket path, or 127.0.0.1:PORT.
    #[arg(long, value_name = "SOCKET|IP:PORT")]
    management: ManagementAddress,

    /// File whose first line is the management password, the file given to the server's
    /// `management` directive.
    #[arg(long, value_name = "FILE")]
    management_password_file: Option<PathBuf>,

    /// Failures in a row after which a user is locked until `user unlock`.
    #[arg(long, default_value_t = EngineConfig::default().max_failures, value_name = "COUNT")]
    max_failures: u32,

    /// Seconds a client gets to respond to a CR_TEXT prompt.
    #[arg(
        long,
        default_value_t = EngineConfig::default().pending_timeout_seconds,
        value_name = "SECONDS"
    )]
    pending_timeout: u32,

    /// Seconds a CRV1 challenge stays valid, including the client's reconnect.
    #[arg(
        long,
        default_value_t = EngineConfig::default().crv1_lifetime_seconds,
        value_name = "SECONDS"
    )]
    challenge_lifetime: u64,

    /// Seconds to keep reconnecting after the management connection is lost, before
    /// exiting with an error.
    #[arg(
        long,
        default_value_t = ReconnectPolicy::default().give_up_after.as_secs(),
        value_name = "SECONDS"
    )]
    reconnect_timeout: u64,
}

/// Runs the daemon until SIGINT or SIGTERM.
pub fn run(database: &Path, args: RunArgs) -> anyhow::Result<()> {
    if args.max_failures == 0 {
        bail!("--max-failures must be at least 1");
    }
    if args.pending_timeout == 0 {
        bail!("--pending-timeout must be at least 1 second");
    }

    let password = args
        .management_password_file
        .as_deref()
        .map(read_password_file)
        .transpose()?;
    let store = Store::open(database)?;
    let users = store.users()?.len();
    if users == 0 {
        tracing::warn!(
            database = %database.display(),
            "the database has no users, so every client is denied; add one with `ferrovpn-authd user add`"
        );
    }

    let engine_config = EngineConfig {
        max_failures: args.max_failures,
        pending_timeout_seconds: args.pending_timeout,
        crv1_lifetime_seconds: args.challenge_lifetime,
        ..EngineConfig::default()
    };
    let mut engine = Engine::new(store, engine_config);
    let config = DaemonConfig {
        address: args.management,
        password,
        reconnect: ReconnectPolicy {
            give_up_after: Duration::from_secs(args.reconnect_timeout),
            ..ReconnectPolicy::default()
        },
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    tracing::info!(
        management = %config.address,
        database = %database.display(),
        users,
        "ferrovpn-authd starting"
    );
    runtime.block_on(run_daemon(&config, &mut engine, shutdown_signal()))?;
    Ok(())
}

/// Reads the management password: the first line of `path`, as OpenVPN reads it.
fn read_password_file(path: &Path) -> anyhow::Result<Zeroizing<String>> {
    let text = Zeroizing::new(fs::read_to_string(path).with_context(|| {
        format!(
            "failed to read the management password file {}",
            path.display()
        )
    })?);
    let first_line = text.lines().next().unwrap_or_default();
    if first_line.is_empty() {
        bail!(
            "management password file {} is empty; its first line must be the password",
            path.display()
        );
    }
    Ok(Zeroizing::new(first_line.to_owned()))
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};

    let terminate = signal(SignalKind::terminate());
    let interrupt = signal(SignalKind::interrupt());
    match (terminate, interrupt) {
        (Ok(mut terminate), Ok(mut interrupt)) => {
            tokio::select! {
                _ = terminate.recv() => tracing::info!("received SIGTERM"),
                _ = interrupt.recv() => tracing::info!("received SIGINT"),
            }
        }
        (Err(error), _) | (_, Err(error)) => {
            // Without handlers the default action of both signals still ends the process.
            tracing::warn!(%error, "failed to install signal handlers");
            std::future::pending::<()>().await;
        }
    }
}
