//! Credentials of the process at the other end of a Unix socket.

use tokio::net::unix::UCred;
use tokio::net::UnixStream;

use crate::error::IpcError;

/// Identity of the peer process, from `SO_PEERCRED` as the kernel recorded it at connect time.
///
/// The provider decides with it which sessions and auth requests an app may see and change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PeerCredentials {
    /// Effective user id of the peer.
    pub uid: u32,
    /// Effective group id of the peer.
    pub gid: u32,
    /// Process id of the peer, when the platform reports it.
    pub pid: Option<i32>,
}

impl PeerCredentials {
    /// Reads the credentials of the peer of `stream`.
    pub fn of_stream(stream: &UnixStream) -> Result<PeerCredentials, IpcError> {
        let credentials = stream.peer_cred().map_err(IpcError::PeerCredentials)?;
        Ok(PeerCredentials::from(credentials))
    }

    /// True for the superuser, which may see and change every session.
    pub fn is_root(&self) -> bool {
        self.uid == 0
    }
}

impl From<UCred> for PeerCredentials {
    fn from(credentials: UCred) -> PeerCredentials {
        PeerCredentials {
            uid: credentials.uid(),
            gid: credentials.gid(),
            pid: credentials.pid(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn socket_pair_reports_own_process() {
        let (left, _right) = UnixStream::pair().expect("socket pair");

        let credentials = PeerCredentials::of_stream(&left).expect("peer credentials");

        // SAFETY: geteuid and getegid have no preconditions and cannot fail.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        assert_eq!(credentials.uid, uid);
        assert_eq!(credentials.gid, gid);
        assert_eq!(credentials.pid, Some(std::process::id() as i32));
    }
}
