use std::fs;
use std::os::unix::fs::PermissionsExt;

use super::*;

const NOW: u64 = 1_700_000_000;

fn secret(byte: u8) -> TotpSecret {
    TotpSecret::from_bytes(vec![byte; 20])
}

fn store_with_alice() -> Store {
    let mut store = Store::open_in_memory().expect("in-memory store");
    store
        .add_user("alice", "$argon2id$hash", &secret(1), NOW)
        .expect("alice added");
    store
}

fn temp_database() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("users.db");
    (dir, path)
}

#[test]
fn add_user_then_read_back() {
    let store = store_with_alice();
    let alice = store
        .user("alice")
        .expect("query works")
        .expect("alice exists");
    assert_eq!(alice.name, "alice");
    assert_eq!(alice.password_hash, "$argon2id$hash");
    assert_eq!(alice.totp_secret, secret(1), "secret");
    assert_eq!(alice.created_at, NOW);
    assert_eq!(alice.last_totp_step, None);
    assert_eq!(alice.failed_attempts, 0);
    assert_eq!(alice.locked_at, None);
}

#[test]
fn add_user_twice_is_user_exists() {
    let mut store = store_with_alice();
    let error = store
        .add_user("alice", "other", &secret(2), NOW)
        .expect_err("second add must fail");
    assert!(
        matches!(error, StoreError::UserExists { ref name } if name == "alice"),
        "got {error:?}"
    );
}

#[test]
fn user_missing_is_none() {
    let store = store_with_alice();
    assert_eq!(store.user("bob").expect("query works"), None);
}

#[test]
fn users_sorted_by_name() {
    let mut store = store_with_alice();
    store
        .add_user("aaron", "h", &secret(2), NOW)
        .expect("added");
    let names: Vec<String> = store
        .users()
        .expect("query works")
        .into_iter()
        .map(|user| user.name)
        .collect();
    assert_eq!(names, ["aaron", "alice"]);
}

#[test]
fn remove_user_missing_is_not_found() {
    let mut store = store_with_alice();
    let error = store.remove_user("bob").expect_err("bob does not exist");
    assert!(
        matches!(error, StoreError::UserNotFound { .. }),
        "got {error:?}"
    );
}

#[test]
fn remove_user_drops_crv1_states() {
    let mut store = store_with_alice();
    store
        .insert_crv1_state(b"hash", "alice", NOW)
        .expect("stored");
    store.remove_user("alice").expect("removed");
    assert_eq!(store.take_crv1_state(b"hash").expect("query works"), None);
}

#[test]
fn use_totp_step_rejects_same_and_earlier() {
    let mut store = store_with_alice();
    // (step, expected result) in order of use.
    let cases = [(100, true), (100, false), (99, false), (101, true)];
    for (step, expected) in cases {
        let fresh = store.use_totp_step("alice", step).expect("update works");
        assert_eq!(fresh, expected, "use of step {step}");
    }
    let alice = store.user("alice").expect("query").expect("exists");
    assert_eq!(alice.last_totp_step, Some(101), "last used step");
}

#[test]
fn record_failure_locks_at_limit() {
    let mut store = store_with_alice();
    for attempt in 1..=5u32 {
        let count = store
            .record_failure("alice", 5, NOW)
            .expect("update works")
            .expect("alice exists");
        assert_eq!(count.failed_attempts, attempt, "failure count");
        assert_eq!(count.locked, attempt == 5, "locked after failure {attempt}");
    }
    let alice = store.user("alice").expect("query").expect("exists");
    assert_eq!(alice.locked_at, Some(NOW), "lockout time");
}

#[test]
fn record_failure_unknown_user_is_none() {
    let mut store = store_with_alice();
    let count = store.record_failure("bob", 5, NOW).expect("update works");
    assert_eq!(count, None);
}

#[test]
fn record_success_resets_failures() {
    let mut store = store_with_alice();
    store.record_failure("alice", 5, NOW).expect("update works");
    store
        .record_success("alice", NOW + 1)
        .expect("update works");
    let alice = store.user("alice").expect("query").expect("exists");
    assert_eq!(alice.failed_attempts, 0, "failure count");
    assert_eq!(alice.last_login_at, Some(NOW + 1), "last login");
}

#[test]
fn unlock_clears_lockout() {
    let mut store = store_with_alice();
    for _ in 0..5 {
        store.record_failure("alice", 5, NOW).expect("update works");
    }
    store.unlock("alice").expect("unlocked");
    let alice = store.user("alice").expect("query").expect("exists");
    assert_eq!(alice.locked_at, None, "lockout time");
    assert_eq!(alice.failed_attempts, 0, "failure count");
}

#[test]
fn reset_totp_forgets_used_step() {
    let mut store = store_with_alice();
    store.use_totp_step("alice", 100).expect("update works");
    store
        .insert_crv1_state(b"hash", "alice", NOW)
        .expect("stored");
    store.reset_totp("alice", &secret(9)).expect("reset");

    let alice = store.user("alice").expect("query").expect("exists");
    assert_eq!(alice.totp_secret, secret(9), "new secret");
    assert_eq!(alice.last_totp_step, None, "last used step");
    assert_eq!(
        store.take_crv1_state(b"hash").expect("query works"),
        None,
        "challenges of the old secret"
    );
}

#[test]
fn take_crv1_state_single_use() {
    let mut store = store_with_alice();
    store
        .insert_crv1_state(b"hash", "alice", NOW)
        .expect("stored");
    let first = store.take_crv1_state(b"hash").expect("query works");
    assert_eq!(first, Some(("alice".to_owned(), NOW)), "first take");
    let second = store.take_crv1_state(b"hash").expect("query works");
    assert_eq!(second, None, "second take");
}

#[test]
fn purge_crv1_states_before_time() {
    let mut store = store_with_alice();
    store
        .insert_crv1_state(b"old", "alice", NOW)
        .expect("stored");
    store
        .insert_crv1_state(b"new", "alice", NOW + 10)
        .expect("stored");
    let purged = store.purge_crv1_states(NOW + 5).expect("delete works");
    assert_eq!(purged, 1, "purged challenges");
    assert!(
        store
            .take_crv1_state(b"new")
            .expect("query works")
            .is_some(),
        "the newer challenge stays"
    );
}

#[test]
fn open_file_persists_users() {
    let (_dir, path) = temp_database();
    {
        let mut store = Store::open(&path).expect("new database");
        store
            .add_user("alice", "h", &secret(1), NOW)
            .expect("added");
        store.use_totp_step("alice", 7).expect("update works");
    }
    let store = Store::open(&path).expect("existing database");
    let alice = store
        .user("alice")
        .expect("query")
        .expect("alice persisted");
    assert_eq!(alice.last_totp_step, Some(7), "used step persisted");
}

#[test]
fn open_creates_file_mode_0600() {
    let (_dir, path) = temp_database();
    Store::open(&path).expect("new database");
    let mode = fs::metadata(&path)
        .expect("file exists")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
}

#[test]
fn open_garbage_file_is_corrupt() {
    let (_dir, path) = temp_database();
    fs::write(&path, vec![0x5a; 8192]).expect("garbage written");
    let error = Store::open(&path).expect_err("garbage must not open");
    assert!(matches!(error, StoreError::Corrupt { .. }), "got {error:?}");
    assert!(
        error.to_string().contains("restore it from a backup"),
        "message must say what to do: {error}"
    );
}

#[test]
fn open_foreign_database_rejected() {
    let (_dir, path) = temp_database();
    let connection = Connection::open(&path).expect("sqlite opens");
    connection
        .execute_batch("CREATE TABLE other (x INTEGER);")
        .expect("table created");
    drop(connection);

    let error = Store::open(&path).expect_err("foreign database must not open");
    assert!(
        matches!(error, StoreError::ForeignDatabase { .. }),
        "got {error:?}"
    );
}

#[test]
fn open_missing_directory_named() {
    let (dir, _) = temp_database();
    let path = dir.path().join("missing").join("users.db");
    let error = Store::open(&path).expect_err("missing directory");
    assert!(
        matches!(error, StoreError::DirectoryMissing { .. }),
        "got {error:?}"
    );
}

#[test]
fn write_while_locked_is_locked() {
    let (_dir, path) = temp_database();
    let mut store =
        Store::open_with_busy_timeout(&path, Duration::from_millis(100)).expect("new database");

    let holder = Connection::open(&path).expect("second connection");
    holder
        .execute_batch("BEGIN EXCLUSIVE;")
        .expect("exclusive lock taken");

    let error = store
        .add_user("alice", "h", &secret(1), NOW)
        .expect_err("write must wait and fail");
    assert!(matches!(error, StoreError::Locked { .. }), "got {error:?}");
    assert!(
        error.to_string().contains("locked by another process"),
        "message: {error}"
    );
}
