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

/// Loads the profile at `path` with the file permissions of `uid` and `gid`.
///
/// NOTE: supplementary groups of the user are not applied, so a file readable only
/// through a secondary group is refused.
pub fn load_as_user(path: &Path, uid: u32, gid: u32) -> Result<Loaded, ProfileAccessError> {
    if !path.is_absolute() {
        return Err(ProfileAccessError::RelativePath(path.to_path_buf()));
    }
    let path = path.to_path_buf();

    let reader = std::thread::spawn(move || {
        // SAFETY: setfsuid and setfsgid change only this thread's filesystem ids; the
        // thread ends after reading, so nothing else runs with them.
        unsafe {
            libc::setfsgid(gid);
            libc::setfsuid(uid);
        }
        Profile::load(&path)
    });
    let loaded = reader
        .join()
        .map_err(|_| ProfileAccessError::Thread("the reading thread panicked".to_owned()))??;
    Ok(loaded)
}
