//! `ferrovpn`: connect to OpenVPN servers from the command line.

mod answer;
mod connect;
mod exit_code;
mod logging;
mod progress;
mod prompt;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// OpenVPN-compatible VPN client whose tunnel bring-up can wait for a person.
#[derive(Debug, Parser)]
#[command(name = "ferrovpn", version, after_help = exit_code::HELP)]
struct Cli {
    /// Log more: -v for info, -vv for debug, -vvv for trace (RUST_LOG overrides).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,

    /// The command to run.
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Connect with an .ovpn profile and stay connected until Ctrl-C or SIGTERM (needs root).
    Connect(connect::ConnectArgs),
    /// Parse an .ovpn profile and report warnings and errors without connecting.
    Check {
        /// Path of the .ovpn profile.
        profile: PathBuf,
        /// Print the result as one JSON object.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.verbose);

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("ferrovpn: could not start the async runtime: {error}");
            return exit_code::FAILURE.into();
        }
    };

    let code = match cli.command {
        Command::Connect(args) => runtime.block_on(connect::run(args)),
        Command::Check { profile, json } => connect::check(&profile, json),
    };
    // A prompt may still block on the terminal; do not wait for it, and give the
    // terminal its echo back.
    runtime.shutdown_background();
    prompt::restore_terminal();
    code.into()
}
