//! `ferrovpn`: connect to OpenVPN servers from the command line.

mod agent;
mod answer;
mod answer_lines;
mod app;
mod connect;
mod daemon;
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

    /// Socket of the ferrovpn daemon (default /run/ferrovpn/ferrovpn.sock, or $FERROVPN_SOCKET).
    #[arg(long, global = true, value_name = "PATH")]
    socket: Option<PathBuf>,

    /// The command to run.
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Connect with an .ovpn profile: through the daemon when one runs, else in this process as root.
    Connect(connect::ConnectArgs),
    /// Run the provider as a root service that keeps sessions for local users.
    Daemon,
    /// List the pending auth requests of your sessions and answer them.
    Auth(app::AuthArgs),
    /// Show auth requests of your sessions as desktop notifications and answer them from there.
    Agent(agent::AgentArgs),
    /// Show one session, or all of them.
    Status {
        /// Session name; all sessions when left out.
        session: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the daemon's sessions.
    Sessions {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Disconnect a session, or all of yours with --all.
    Disconnect {
        /// Session name.
        #[arg(required_unless_present = "all")]
        session: Option<String>,
        /// Disconnect every session you may disconnect.
        #[arg(long)]
        all: bool,
    },
    /// Show recent log lines of a session.
    Logs {
        /// Session name.
        session: String,
        /// Number of lines.
        #[arg(long, default_value_t = 50)]
        lines: u32,
    },
    /// Print a shell completion script, for example `ferrovpn completions bash > /etc/bash_completion.d/ferrovpn`.
    Completions {
        /// The shell: bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
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

    let socket = cli.socket.unwrap_or_else(ferrovpn_ipc::default_socket_path);
    let code = match cli.command {
        Command::Connect(args) => runtime.block_on(connect::run(args, socket)),
        Command::Check { profile, json } => connect::check(&profile, json),
        Command::Daemon => runtime.block_on(daemon::run(socket)),
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "ferrovpn", &mut std::io::stdout());
            exit_code::SUCCESS
        }
        Command::Auth(args) => runtime.block_on(app::auth(&socket, args)),
        Command::Agent(args) => runtime.block_on(agent::run(socket, args)),
        Command::Status { session, json } => runtime.block_on(app::status(&socket, session, json)),
        Command::Sessions { json } => runtime.block_on(app::status(&socket, None, json)),
        Command::Disconnect { session, all } => {
            runtime.block_on(app::disconnect(&socket, session, all))
        }
        Command::Logs { session, lines } => runtime.block_on(app::logs(&socket, session, lines)),
    };
    // A prompt may still block on the terminal; do not wait for it, and give the
    // terminal its echo back.
    runtime.shutdown_background();
    prompt::restore_terminal();
    code.into()
}
