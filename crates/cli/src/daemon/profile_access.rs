//! Reading a profile by path on behalf of a local user, with that user's file permissions.
//!
//! The daemon runs as root, so it could read any file. Before it reads a
//! profile (and the files the profile names) for a request, it switches the
//! filesystem user and group of one thread to the requesting user's, so the
//! kernel applies that user's permissions. Linux keeps the filesystem ids per
//! thread, so the rest of the daemon keeps its own.

use std::path::{Path, PathBuf};

use ferrovpn_profile::{Loaded, Profile, ProfileError};

/// Error reading a profile for a user.
#[derive(Debug, thiserror::Error)]
pub enum ProfileAccessError {
    /// The path is not absolute, so it would resolve against the daemon's directory.
    #[error("profile path {0} is relative; give an absolute path")]
    RelativePath(PathBuf),
    /// Reading or parsing failed, including permission errors for the user.
    #[error("{0}")]
    Profile(#[from] ProfileError),
    /// The reading thread failed.
    #[error("reading the profile failed: {0}")]
    Thread(String),
}

/// Time allowed for reading a profile and the files it names.
const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Loads the profile at `path` with the file permissions of `uid` and `gid`.
///
/// NOTE: supplementary groups of the user are not applied, so a file readable only
/// through a secondary group is refused.
pub async fn load_as_user(path: &Path, uid: u32, gid: u32) -> Result<Loaded, ProfileAccessError> {
    if !path.is_absolute() {
        return Err(ProfileAccessError::RelativePath(path.to_path_buf()));
    }
    let path = path.to_path_buf();
    run_as_user(uid, gid, move || Profile::load(&path)).await?
}

/// Parses profile `text` with the file permissions of `uid` and `gid`, so the files it
/// names (`ca /root/...`) are read as that user would read them.
pub async fn parse_as_user(
    text: String,
    name: String,
    uid: u32,
    gid: u32,
) -> Result<Loaded, ProfileAccessError> {
    run_as_user(uid, gid, move || Profile::parse(&text, &name, None)).await?
}

/// Runs `read` on a thread of its own whose filesystem ids are `uid` and `gid`.
///
/// The thread is not a runtime worker, and the wait is bounded, so a read that blocks
/// cannot stall the daemon for other users.
async fn run_as_user<T: Send + 'static>(
    uid: u32,
    gid: u32,
    read: impl FnOnce() -> Result<T, ProfileError> + Send + 'static,
) -> Result<Result<T, ProfileAccessError>, ProfileAccessError> {
    let (sender, receiver) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        // SAFETY: setfsuid and setfsgid change only this thread's filesystem ids; the
        // thread ends after reading, so nothing else runs with them.
        unsafe {
            libc::setfsgid(gid);
            libc::setfsuid(uid);
        }
        let _ = sender.send(read());
    });
    match tokio::time::timeout(READ_TIMEOUT, receiver).await {
        Ok(Ok(result)) => Ok(result.map_err(ProfileAccessError::from)),
        Ok(Err(_)) => Err(ProfileAccessError::Thread(
            "the reading thread failed".to_owned(),
        )),
        Err(_) => Err(ProfileAccessError::Thread(format!(
            "reading the profile took longer than {} s",
            READ_TIMEOUT.as_secs()
        ))),
    }
}
