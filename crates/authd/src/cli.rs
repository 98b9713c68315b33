//! Command line of `ferrovpn-authd`.

pub mod logging;
pub mod run;
pub mod time;
pub mod user;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Database used when neither --database nor FERROVPN_AUTHD_DATABASE is given.
const DEFAULT_DATABASE: &str = "/var/lib/ferrovpn-authd/users.db";

/// TOTP second factor for a stock OpenVPN 2.6 server, through its management interface.
///
/// The server needs `management <socket> unix` (or `management 127.0.0.1 <port>
/// <password-file>`) and `management-client-auth`. Add `auth-gen-token <lifetime>
/// external-auth` too, because without a token every renegotiation (`reneg-sec`, 3600 s
/// by default) needs a new code.
#[derive(Debug, Parser)]
#[command(name = "ferrovpn-authd", version)]
pub struct Cli {
    /// Log more: -v for debug, -vv for trace (RUST_LOG overrides).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// SQLite database of users, created with mode 0600 if missing.
    #[arg(
        long,
        global = true,
        env = "FERROVPN_AUTHD_DATABASE",
        default_value = DEFAULT_DATABASE
    )]
    pub database: PathBuf,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Connect to the management interface and decide every client until stopped.
    Run(run::RunArgs),
    /// Manage users: add, list, remove, reset-totp, unlock.
    User {
        /// The user command.
        #[command(subcommand)]
        command: user::UserCommand,
    },
}
