//! `ferrovpn-authd`: TOTP second factor for a stock OpenVPN 2.6 server, through its
//! management interface.

mod cli;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    cli::logging::init(&cli.command, cli.verbose);

    let result = match cli.command {
        Command::Run(args) => cli::run::run(&cli.database, args),
        Command::User { command } => cli::user::run(&cli.database, command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ferrovpn-authd: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
