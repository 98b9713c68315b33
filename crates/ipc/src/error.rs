//! Errors of app message connections.

use std::io;
use std::path::{Path, PathBuf};

use crate::frame::{EncodeError, FrameError};
use crate::protocol_error::ProtocolError;
use crate::response::ErrorKind;

/// Failure of an app message connection, on the app side or the provider side.
#[derive(Debug, thiserror::Error)]
pub enum IpcError {
    /// Nothing listens on the socket: it does not exist or refuses connections.
    #[error(
        "cannot connect to {}: {source}; is the ferrovpn daemon running? \
         start it with `systemctl start ferrovpn` or `ferrovpn daemon`",
        path.display()
    )]
    DaemonNotRunning {
        /// The socket path.
        path: PathBuf,
        /// The connect error.
        source: io::Error,
    },
    /// The caller may not open the socket.
    #[error(
        "cannot connect to {}: {source}; run the command as a user that may open the socket, \
         such as a member of the group that owns it, or point FERROVPN_SOCKET at another socket",
        path.display()
    )]
    PermissionDenied {
        /// The socket path.
        path: PathBuf,
        /// The connect error.
        source: io::Error,
    },
    /// Connecting to the socket failed for another reason.
    #[error("cannot connect to {}: {source}", path.display())]
    Connect {
        /// The socket path.
        path: PathBuf,
        /// The connect error.
        source: io::Error,
    },
    /// Reading or writing a frame failed, so the connection is unusable.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// An outgoing message could not be encoded.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// A frame from the peer is not a valid message.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// The provider rejected a request that has no response of its own, such as `subscribe`.
    #[error("the ferrovpn daemon rejected the request ({kind}): {message}")]
    Rejected {
        /// Category of the failure.
        kind: ErrorKind,
        /// The provider's message.
        message: String,
    },
    /// The provider closed the connection before it responded.
    #[error("the ferrovpn daemon closed the connection before it responded")]
    ClosedBeforeResponse,
    /// Reading peer credentials of a socket failed.
    #[error("cannot read the peer credentials of the app message socket: {0}")]
    PeerCredentials(#[source] io::Error),
}

impl IpcError {
    /// Classifies an error of connecting to the socket at `path`.
    pub fn from_connect_error(path: &Path, source: io::Error) -> IpcError {
        let path = path.to_path_buf();
        match source.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => {
                IpcError::DaemonNotRunning { path, source }
            }
            io::ErrorKind::PermissionDenied => IpcError::PermissionDenied { path, source },
            _ => IpcError::Connect { path, source },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_denied_names_path() {
        let source = io::Error::from(io::ErrorKind::PermissionDenied);

        let error = IpcError::from_connect_error(Path::new("/run/ferrovpn/ferrovpn.sock"), source);
        let message = error.to_string();

        assert!(
            matches!(error, IpcError::PermissionDenied { .. }),
            "classified as {error:?}"
        );
        assert!(
            message.contains("/run/ferrovpn/ferrovpn.sock"),
            "path missing: {message}"
        );
    }

    #[test]
    fn refused_suggests_starting_daemon() {
        let source = io::Error::from(io::ErrorKind::ConnectionRefused);

        let error = IpcError::from_connect_error(Path::new("/tmp/x.sock"), source);
        let message = error.to_string();

        assert!(
            message.contains("systemctl start ferrovpn"),
            "hint missing: {message}"
        );
    }
}
