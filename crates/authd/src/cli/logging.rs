//! Log output through `tracing`, to standard error.

use tracing_subscriber::EnvFilter;

use super::Command;

/// Sets up logging: info (the audit lines) for `run`, warnings for user commands, more
/// with each `-v`; `RUST_LOG` overrides both.
pub fn init(command: &Command, verbose: u8) {
    let base = match command {
        Command::Run(_) => "info",
        Command::User { .. } => "warn",
    };
    let default = match verbose {
        0 => base.to_owned(),
        1 => format!("{base},ferrovpn_authd=debug"),
        _ => format!("{base},ferrovpn_authd=trace"),
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
