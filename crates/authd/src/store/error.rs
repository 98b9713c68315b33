//! Errors of the user database, each naming the file and what to do about it.

use std::io;
use std::path::{Path, PathBuf};

use rusqlite::ErrorCode;
use thiserror::Error;

/// A failure of the user database.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The directory that should contain the database does not exist.
    #[error(
        "directory {} of database {} does not exist; create it or pass another --database",
        directory.display(),
        path.display()
    )]
    DirectoryMissing {
        /// Database file.
        path: PathBuf,
        /// Its parent directory.
        directory: PathBuf,
    },
    /// The database file could not be created.
    #[error("failed to create database {}: {error}", path.display())]
    Create {
        /// Database file.
        path: PathBuf,
        /// The operating system's error, part of the message.
        error: io::Error,
    },
    /// Another process holds a lock on the database for longer than the busy timeout.
    #[error(
        "database {} is locked by another process; stop the other ferrovpn-authd or \
         sqlite3 process that holds it, then retry",
        path.display()
    )]
    Locked {
        /// Database file.
        path: PathBuf,
    },
    /// The file is not a SQLite database, or SQLite found it damaged.
    #[error(
        "database {} is corrupt or not a SQLite database ({detail}); restore it from a \
         backup, or move it away and enrol the users again",
        path.display()
    )]
    Corrupt {
        /// Database file.
        path: PathBuf,
        /// SQLite's description of the damage.
        detail: String,
    },
    /// The file is a SQLite database of another program.
    #[error(
        "{} is a SQLite database of another program (application_id {application_id:#x}); \
         pass the path of a ferrovpn-authd database or of a new file",
        path.display()
    )]
    ForeignDatabase {
        /// Database file.
        path: PathBuf,
        /// The `application_id` found in the file header.
        application_id: i32,
    },
    /// The database was written by a later ferrovpn-authd with a newer schema.
    #[error(
        "database {} has schema version {version}, newer than the {supported} this \
         ferrovpn-authd supports; upgrade ferrovpn-authd",
        path.display()
    )]
    NewerSchema {
        /// Database file.
        path: PathBuf,
        /// Schema version found.
        version: i64,
        /// Highest schema version this build supports.
        supported: i64,
    },
    /// `user add` for a name that exists.
    #[error(
        "user {name:?} already exists; use `user reset-totp` for a new secret or \
         `user remove` first"
    )]
    UserExists {
        /// The username.
        name: String,
    },
    /// A user command for a name that does not exist.
    #[error("user {name:?} not found; `ferrovpn-authd user list` shows the users")]
    UserNotFound {
        /// The username.
        name: String,
    },
    /// Any other SQLite failure.
    #[error("database {} failed: {error}", path.display())]
    Sqlite {
        /// Database file.
        path: PathBuf,
        /// SQLite's error, part of the message.
        error: rusqlite::Error,
    },
}

impl StoreError {
    /// Classifies a SQLite error on the database at `path`.
    pub(crate) fn from_sqlite(path: &Path, error: rusqlite::Error) -> StoreError {
        let path = path.to_owned();
        match error.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                StoreError::Locked { path }
            }
            Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => StoreError::Corrupt {
                path,
                detail: error.to_string(),
            },
            _ => StoreError::Sqlite { path, error },
        }
    }
}
