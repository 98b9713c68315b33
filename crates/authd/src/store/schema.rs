//! Layout of the user database and its creation.
//!
//! The file header carries [`APPLICATION_ID`], so a database of another program is
//! recognised, and the schema version in `user_version`, so a later release can migrate.

use rusqlite::Connection;

/// `PRAGMA application_id` of a ferrovpn-authd database: "FVAD" in ASCII.
pub(crate) const APPLICATION_ID: i32 = 0x4656_4144;

/// Schema version this build creates and reads.
pub(crate) const SCHEMA_VERSION: i64 = 1;

/// Statements that create schema version 1. Times are Unix seconds.
const CREATE_V1: &str = "
CREATE TABLE users (
    -- Username as OpenVPN sends it in the `username` variable.
    name TEXT PRIMARY KEY NOT NULL,
    -- Argon2id PHC string.
    password_hash TEXT NOT NULL,
    -- Raw TOTP secret, the HMAC-SHA1 key.
    totp_secret BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    -- Last TOTP time step accepted, so its code and earlier ones are not accepted again.
    last_totp_step INTEGER,
    -- Failures since the last success or unlock.
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    -- Time of the lockout, NULL while the user is not locked.
    locked_at INTEGER,
    last_login_at INTEGER
) STRICT;

CREATE TABLE crv1_states (
    -- SHA-256 of the state id, so a copy of the database reveals no live state id.
    state_hash BLOB PRIMARY KEY NOT NULL,
    username TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    issued_at INTEGER NOT NULL
) STRICT;
";

/// State of a database file found at open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SchemaState {
    /// A new, empty file, which gets the current schema.
    Empty,
    /// A ferrovpn-authd database of the current schema.
    Current,
    /// A ferrovpn-authd database of a newer schema.
    Newer(i64),
    /// A database of another program.
    Foreign(i32),
}

/// Reads the application id, user version and table count of the open database.
pub(crate) fn inspect(connection: &Connection) -> rusqlite::Result<SchemaState> {
    let application_id: i32 =
        connection.query_row("PRAGMA application_id", [], |row| row.get(0))?;
    let version: i64 = connection.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let tables: i64 = connection.query_row(
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table'",
        [],
        |row| row.get(0),
    )?;

    let state = if application_id == 0 && version == 0 && tables == 0 {
        SchemaState::Empty
    } else if application_id != APPLICATION_ID {
        SchemaState::Foreign(application_id)
    } else if version > SCHEMA_VERSION {
        SchemaState::Newer(version)
    } else {
        SchemaState::Current
    };
    Ok(state)
}

/// Creates the current schema in an empty database, in one transaction.
pub(crate) fn create(connection: &mut Connection) -> rusqlite::Result<()> {
    let transaction = connection.transaction()?;
    transaction.execute_batch(CREATE_V1)?;
    transaction.pragma_update(None, "application_id", APPLICATION_ID)?;
    transaction.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    transaction.commit()
}
