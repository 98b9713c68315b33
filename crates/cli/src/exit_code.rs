//! Exit codes of the `ferrovpn` command, for scripts.

/// Connected and later disconnected on request, or the check passed.
pub const SUCCESS: u8 = 0;
/// An error not covered by another code.
pub const FAILURE: u8 = 1;
/// The profile could not be read or is invalid (2 is taken by usage errors).
pub const PROFILE_ERROR: u8 = 3;
/// The server rejected the credentials.
pub const AUTH_FAILED: u8 = 4;
/// The connection could not be made or was lost for good.
pub const CONNECTION_FAILED: u8 = 5;
/// The command needs root or CAP_NET_ADMIN.
pub const PERMISSION_DENIED: u8 = 6;
/// The server or the profile needs an answer and none can be given.
pub const AUTH_NEEDED: u8 = 7;
/// Ctrl-C or SIGTERM arrived before the tunnel ever came up.
pub const CANCELLED: u8 = 8;
/// No daemon answers on the socket.
pub const DAEMON_UNREACHABLE: u8 = 9;

/// The table shown at the end of `--help`.
pub const HELP: &str = "\
Exit codes:
  0  success (connected, then disconnected on request)
  1  other error
  2  invalid command line
  3  invalid profile
  4  authentication failed
  5  connection failed
  6  permission denied (run as root)
  7  an answer is needed but --no-prompt was given or input ended
  8  cancelled before the tunnel came up
  9  the daemon is unreachable";
