//! The user database: one SQLite file with users, their Argon2id password hashes, TOTP
//! secrets, replay and lockout state, and the outstanding CRV1 challenges.
//!
//! Every change that decides on a login is one SQL statement, so a crash leaves no half
//! update, and `user` commands can change the file while `ferrovpn-authd run` uses it
//! (WAL mode, with a busy timeout for short lock waits).

mod error;
mod schema;

use std::fmt;
use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row};

use crate::totp::TotpSecret;
pub use error::StoreError;
use schema::SchemaState;

/// Time a statement waits for a lock held by another process before it fails with
/// [`StoreError::Locked`]. A `user` command holds the lock for milliseconds.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Path that stands for an in-memory database in errors.
const IN_MEMORY_PATH: &str = ":memory:";

/// One user as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// Username, as OpenVPN sends it.
    pub name: String,
    /// Argon2id PHC string of the password.
    pub password_hash: String,
    /// Shared TOTP secret.
    pub totp_secret: TotpSecret,
    /// Time the user was added, Unix seconds.
    pub created_at: u64,
    /// Last TOTP time step accepted; codes of this and earlier steps are replays.
    pub last_totp_step: Option<u64>,
    /// Failures since the last success or unlock.
    pub failed_attempts: u32,
    /// Time of the lockout, Unix seconds, or `None` while the user may log in.
    pub locked_at: Option<u64>,
    /// Time of the last accepted login, Unix seconds.
    pub last_login_at: Option<u64>,
}

impl fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The password hash and the secret stay out of debug output.
        f.debug_struct("UserRecord")
            .field("name", &self.name)
            .field("created_at", &self.created_at)
            .field("last_totp_step", &self.last_totp_step)
            .field("failed_attempts", &self.failed_attempts)
            .field("locked_at", &self.locked_at)
            .field("last_login_at", &self.last_login_at)
            .finish_non_exhaustive()
    }
}

/// Failure count of a user after one more failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureCount {
    /// Failures since the last success or unlock, this one included.
    pub failed_attempts: u32,
    /// Whether the user is locked now, by this failure or before.
    pub locked: bool,
}

/// An open user database.
pub struct Store {
    /// The SQLite connection.
    connection: Connection,
    /// Path of the file, for error messages.
    path: PathBuf,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens the database at `path`, creating the file (mode 0600, because it contains TOTP
    /// secrets) and its schema if it does not exist.
    ///
    /// Fails with [`StoreError::Corrupt`] for a damaged file or one that is no SQLite
    /// database, [`StoreError::ForeignDatabase`] for another program's database and
    /// [`StoreError::Locked`] if another process keeps it locked.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_with_busy_timeout(path, BUSY_TIMEOUT)
    }

    /// Opens the database like [`Store::open`], waiting at most `busy_timeout` for locks.
    pub fn open_with_busy_timeout(
        path: &Path,
        busy_timeout: Duration,
    ) -> Result<Store, StoreError> {
        create_file_if_missing(path)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(path, flags)
            .map_err(|error| StoreError::from_sqlite(path, error))?;
        Store::prepare(connection, path, busy_timeout)
    }

    /// Opens a new database in memory, for tests.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        let path = Path::new(IN_MEMORY_PATH);
        let connection =
            Connection::open_in_memory().map_err(|error| StoreError::from_sqlite(path, error))?;
        Store::prepare(connection, path, BUSY_TIMEOUT)
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Adds a user with a password hash and a TOTP secret at time `now`.
    pub fn add_user(
        &mut self,
        name: &str,
        password_hash: &str,
        totp_secret: &TotpSecret,
        now: u64,
    ) -> Result<(), StoreError> {
        let inserted = self.connection.execute(
            "INSERT INTO users (name, password_hash, totp_secret, created_at)
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO NOTHING",
            params![
                name,
                password_hash,
                totp_secret.as_bytes(),
                to_sql_time(now)
            ],
        );
        match self.check(inserted)? {
            0 => Err(StoreError::UserExists {
                name: name.to_owned(),
            }),
            _ => Ok(()),
        }
    }

    /// Returns the user `name`, or `None` if there is none.
    pub fn user(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        let user = self
            .connection
            .query_row(
                &format!("{SELECT_USER} WHERE name = ?1"),
                [name],
                user_from_row,
            )
            .optional();
        self.check(user)
    }

    /// Returns every user, ordered by name.
    pub fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        let users = self
            .connection
            .prepare(&format!("{SELECT_USER} ORDER BY name"))
            .and_then(|mut statement| {
                statement
                    .query_map([], user_from_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            });
        self.check(users)
    }

    /// Removes the user `name` and its outstanding CRV1 challenges.
    pub fn remove_user(&mut self, name: &str) -> Result<(), StoreError> {
        let deleted = self
            .connection
            .execute("DELETE FROM users WHERE name = ?1", [name]);
        self.require_user(name, deleted)
    }

    /// Replaces the TOTP secret of `name`, clears its last used step and deletes its
    /// outstanding CRV1 challenges, which were issued for the old secret.
    pub fn reset_totp(&mut self, name: &str, totp_secret: &TotpSecret) -> Result<(), StoreError> {
        let updated = self.connection.execute(
            "UPDATE users SET totp_secret = ?2, last_totp_step = NULL WHERE name = ?1",
            params![name, totp_secret.as_bytes()],
        );
        self.require_user(name, updated)?;
        let deleted = self
            .connection
            .execute("DELETE FROM crv1_states WHERE username = ?1", [name]);
        self.check(deleted).map(drop)
    }

    /// Clears the lockout and the failure count of `name`.
    pub fn unlock(&mut self, name: &str) -> Result<(), StoreError> {
        let updated = self.connection.execute(
            "UPDATE users SET failed_attempts = 0, locked_at = NULL WHERE name = ?1",
            [name],
        );
        self.require_user(name, updated)
    }

    /// Counts one more failure of `name` at `now` and locks the user when the count
    /// reaches `max_failures`. Returns `None` if the user does not exist.
    pub fn record_failure(
        &mut self,
        name: &str,
        max_failures: u32,
        now: u64,
    ) -> Result<Option<FailureCount>, StoreError> {
        let count = self
            .connection
            .query_row(
                "UPDATE users SET
                     failed_attempts = failed_attempts + 1,
                     locked_at = CASE
                         WHEN locked_at IS NULL AND failed_attempts + 1 >= ?2 THEN ?3
                         ELSE locked_at
                     END
                 WHERE name = ?1
                 RETURNING failed_attempts, locked_at IS NOT NULL",
                params![name, max_failures, to_sql_time(now)],
                |row| {
                    Ok(FailureCount {
                        failed_attempts: row.get(0)?,
                        locked: row.get(1)?,
                    })
                },
            )
            .optional();
        self.check(count)
    }

    /// Records an accepted login of `name` at `now`: the failure count starts again at 0.
    pub fn record_success(&mut self, name: &str, now: u64) -> Result<(), StoreError> {
        let updated = self.connection.execute(
            "UPDATE users SET failed_attempts = 0, last_login_at = ?2 WHERE name = ?1",
            params![name, to_sql_time(now)],
        );
        self.require_user(name, updated)
    }

    /// Marks TOTP time step `step` of `name` as used, if it is later than the last used
    /// one. Returns `false` if it is not, which makes the code a replay.
    ///
    /// The comparison and the update are one statement, so two attempts with the same
    /// code cannot both pass.
    pub fn use_totp_step(&mut self, name: &str, step: u64) -> Result<bool, StoreError> {
        let updated = self.connection.execute(
            "UPDATE users SET last_totp_step = ?2
             WHERE name = ?1 AND (last_totp_step IS NULL OR last_totp_step < ?2)",
            params![name, to_sql_time(step)],
        );
        self.check(updated).map(|rows| rows == 1)
    }

    /// Stores an outstanding CRV1 challenge of `name`, keyed by the hash of its state id.
    pub fn insert_crv1_state(
        &mut self,
        state_hash: &[u8],
        name: &str,
        issued_at: u64,
    ) -> Result<(), StoreError> {
        let inserted = self.connection.execute(
            "INSERT INTO crv1_states (state_hash, username, issued_at) VALUES (?1, ?2, ?3)",
            params![state_hash, name, to_sql_time(issued_at)],
        );
        self.check(inserted).map(drop)
    }

    /// Removes the CRV1 challenge with `state_hash` and returns its username and issue
    /// time, or `None` if there is no such challenge. Removing it makes each state id
    /// single use, whatever the response.
    pub fn take_crv1_state(
        &mut self,
        state_hash: &[u8],
    ) -> Result<Option<(String, u64)>, StoreError> {
        let state = self
            .connection
            .query_row(
                "DELETE FROM crv1_states WHERE state_hash = ?1 RETURNING username, issued_at",
                [state_hash],
                |row| Ok((row.get::<_, String>(0)?, from_sql_time(row.get(1)?))),
            )
            .optional();
        self.check(state)
    }

    /// Deletes the CRV1 challenges issued before `issued_before` and returns how many.
    pub fn purge_crv1_states(&mut self, issued_before: u64) -> Result<usize, StoreError> {
        let deleted = self.connection.execute(
            "DELETE FROM crv1_states WHERE issued_at < ?1",
            [to_sql_time(issued_before)],
        );
        self.check(deleted)
    }

    /// Applies the connection settings, checks the file and creates the schema if the
    /// file is new.
    fn prepare(
        mut connection: Connection,
        path: &Path,
        busy_timeout: Duration,
    ) -> Result<Store, StoreError> {
        let sqlite = |error| StoreError::from_sqlite(path, error);
        connection.busy_timeout(busy_timeout).map_err(sqlite)?;
        connection
            .pragma_update(None, "foreign_keys", true)
            .map_err(sqlite)?;
        // Reading the journal mode is the first access to the file header, so a file
        // that is no database fails here with SQLITE_NOTADB.
        connection
            .query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
            .map_err(sqlite)?;

        let integrity: String = connection
            .query_row("PRAGMA quick_check", [], |row| row.get(0))
            .map_err(sqlite)?;
        if integrity != "ok" {
            return Err(StoreError::Corrupt {
                path: path.to_owned(),
                detail: integrity,
            });
        }

        match schema::inspect(&connection).map_err(sqlite)? {
            SchemaState::Empty => schema::create(&mut connection).map_err(sqlite)?,
            SchemaState::Current => {}
            SchemaState::Newer(version) => {
                return Err(StoreError::NewerSchema {
                    path: path.to_owned(),
                    version,
                    supported: schema::SCHEMA_VERSION,
                })
            }
            SchemaState::Foreign(application_id) => {
                return Err(StoreError::ForeignDatabase {
                    path: path.to_owned(),
                    application_id,
                })
            }
        }

        Ok(Store {
            connection,
            path: path.to_owned(),
        })
    }

    /// Maps a SQLite error of this database to a [`StoreError`].
    fn check<T>(&self, result: rusqlite::Result<T>) -> Result<T, StoreError> {
        result.map_err(|error| StoreError::from_sqlite(&self.path, error))
    }

    /// Maps a result of a statement on one user, where no changed row means no such user.
    fn require_user(&self, name: &str, changed: rusqlite::Result<usize>) -> Result<(), StoreError> {
        match self.check(changed)? {
            0 => Err(StoreError::UserNotFound {
                name: name.to_owned(),
            }),
            _ => Ok(()),
        }
    }
}

/// Column list of [`user_from_row`].
const SELECT_USER: &str = "SELECT name, password_hash, totp_secret, created_at, last_totp_step,
    failed_attempts, locked_at, last_login_at FROM users";

/// Reads one row of [`SELECT_USER`].
fn user_from_row(row: &Row<'_>) -> rusqlite::Result<UserRecord> {
    Ok(UserRecord {
        name: row.get(0)?,
        password_hash: row.get(1)?,
        totp_secret: TotpSecret::from_bytes(row.get(2)?),
        created_at: from_sql_time(row.get(3)?),
        last_totp_step: row.get::<_, Option<i64>>(4)?.map(from_sql_time),
        failed_attempts: row.get(5)?,
        locked_at: row.get::<_, Option<i64>>(6)?.map(from_sql_time),
        last_login_at: row.get::<_, Option<i64>>(7)?.map(from_sql_time),
    })
}

/// Converts Unix seconds or a time step to SQLite's signed integer, saturating far in
/// the future.
fn to_sql_time(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Converts a stored time back, treating a negative value as 0.
fn from_sql_time(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// Creates an empty database file with mode 0600, unless one exists.
fn create_file_if_missing(path: &Path) -> Result<(), StoreError> {
    let directory = match path.parent() {
        Some(parent) if parent.as_os_str().is_empty() => Path::new("."),
        Some(parent) => parent,
        None => Path::new("/"),
    };
    if !directory.is_dir() {
        return Err(StoreError::DirectoryMissing {
            path: path.to_owned(),
            directory: directory.to_owned(),
        });
    }

    let created = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
    match created {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(StoreError::Create {
            path: path.to_owned(),
            error,
        }),
    }
}

#[cfg(test)]
mod tests;
