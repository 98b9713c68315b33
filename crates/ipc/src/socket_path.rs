//! Path of the provider's app message socket.

use std::path::PathBuf;

/// Socket path of the system daemon.
pub const DEFAULT_SOCKET_PATH: &str = "/run/ferrovpn/ferrovpn.sock";

/// Environment variable that overrides [`DEFAULT_SOCKET_PATH`], for tests and per-user daemons.
pub const SOCKET_PATH_ENV: &str = "FERROVPN_SOCKET";

/// Returns the socket path: `$FERROVPN_SOCKET` when set and not empty, else [`DEFAULT_SOCKET_PATH`].
pub fn default_socket_path() -> PathBuf {
    match std::env::var_os(SOCKET_PATH_ENV) {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => PathBuf::from(DEFAULT_SOCKET_PATH),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The only test in this crate that reads or writes FERROVPN_SOCKET, so
    // changing it cannot race with another test.
    #[test]
    fn environment_overrides_default_path() {
        std::env::set_var(SOCKET_PATH_ENV, "/tmp/ferrovpn-test.sock");
        let overridden = default_socket_path();
        std::env::set_var(SOCKET_PATH_ENV, "");
        let empty = default_socket_path();
        std::env::remove_var(SOCKET_PATH_ENV);
        let unset = default_socket_path();

        assert_eq!(overridden, PathBuf::from("/tmp/ferrovpn-test.sock"));
        assert_eq!(empty, PathBuf::from(DEFAULT_SOCKET_PATH));
        assert_eq!(unset, PathBuf::from(DEFAULT_SOCKET_PATH));
    }
}
