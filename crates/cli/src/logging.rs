//! Log output through `tracing`, to standard error.

use tracing_subscriber::EnvFilter;

/// Sets up logging: warnings by default, more with each `-v`, `RUST_LOG` overriding both.
pub fn init(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "warn,ferrovpn=info,ferrovpn_provider=info,ferrovpn_protocol=info,ferrovpn_profile=info",
        2 => "info,ferrovpn=debug,ferrovpn_provider=debug,ferrovpn_protocol=debug,ferrovpn_profile=debug",
        _ => "debug,ferrovpn=trace,ferrovpn_provider=trace,ferrovpn_protocol=trace,ferrovpn_profile=trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(verbose >= 2)
        .init();
}
