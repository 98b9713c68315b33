//! Decisions of the engine for each flow, driven by notifications as OpenVPN 2.6 writes
//! them, on an in-memory store.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use super::*;
use crate::password::hash_password;
use crate::totp::{code_at, code_for_step, time_step, TotpSecret};

const NOW: u64 = 1_700_000_000;
const USER: &str = "alice";
const PASSWORD: &str = "correct horse";
const SOURCE: &str = "198.18.0.2";

fn secret() -> TotpSecret {
    TotpSecret::from_bytes(b"engine test secret 20".to_vec())
}

fn code(now: u64) -> String {
    code_at(&secret(), now).to_string()
}

fn engine_with(config: EngineConfig) -> Engine {
    let mut store = Store::open_in_memory().expect("in-memory store");
    let hash = hash_password(PASSWORD).expect("hashing works");
    store
        .add_user(USER, &hash, &secret(), NOW - 100)
        .expect("user added");
    Engine::new(store, config)
}

fn engine() -> Engine {
    engine_with(EngineConfig::default())
}

fn connect(cid: u64, kid: u32, env: &[(&str, &str)]) -> ClientNotification {
    connect_from(SOURCE, cid, kid, env)
}

fn connect_from(source: &str, cid: u64, kid: u32, env: &[(&str, &str)]) -> ClientNotification {
    let mut variables = vec![
        ("untrusted_ip".to_owned(), source.to_owned()),
        ("common_name".to_owned(), "client".to_owned()),
    ];
    variables.extend(env.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())));
    ClientNotification {
        event: ClientEvent::Connect { cid, kid },
        env: variables,
    }
}

fn login(cid: u64, username: &str, password: &str) -> ClientNotification {
    connect(cid, 1, &[("username", username), ("password", password)])
}

fn cr_response(cid: u64, key_id: u32, answer: &str) -> ClientNotification {
    ClientNotification {
        event: ClientEvent::CrResponse {
            cid,
            key_id,
            response: BASE64.encode(answer),
        },
        env: Vec::new(),
    }
}

fn decide(engine: &mut Engine, notification: &ClientNotification, now: u64) -> Verdict {
    engine
        .handle(notification, now)
        .unwrap_or_else(|| panic!("no verdict for {notification:?}"))
}

/// Returns the state id from the CRV1 challenge of `verdict`.
fn state_id(verdict: &Verdict) -> String {
    let ClientCommand::Deny {
        client_reason: Some(text),
        ..
    } = &verdict.command
    else {
        panic!("no CRV1 challenge in {verdict:?}");
    };
    let fields: Vec<&str> = text.splitn(5, ':').collect();
    assert_eq!(fields[0], "CRV1", "challenge {text:?}");
    fields[2].to_owned()
}

fn static_password(password: &str, code: &str) -> String {
    format!("SCRV1:{}:{}", BASE64.encode(password), BASE64.encode(code))
}

fn assert_decision(verdict: &Verdict, outcome: Outcome, reason: Reason) {
    assert_eq!(
        (verdict.decision.outcome, verdict.decision.reason),
        (outcome, reason),
        "decision {:?}",
        verdict.decision
    );
}

#[test]
fn crv1_challenge_then_code_accepted() {
    let mut engine = engine();
    let challenge = decide(&mut engine, &login(1, USER, PASSWORD), NOW);
    assert_decision(&challenge, Outcome::Challenged, Reason::Crv1ChallengeSent);
    let ClientCommand::Deny { client_reason, .. } = &challenge.command else {
        panic!("challenge must be a client-deny: {challenge:?}");
    };
    let text = client_reason.as_deref().unwrap_or_default();
    assert!(
        text.starts_with("CRV1:R,E:") && text.ends_with(":YWxpY2U=:Enter your authenticator code"),
        "challenge text {text:?}"
    );

    let password = format!("CRV1::{}::{}", state_id(&challenge), code(NOW + 20));
    let verdict = decide(&mut engine, &login(2, USER, &password), NOW + 20);
    assert_decision(&verdict, Outcome::Accepted, Reason::CodeAccepted);
    assert_eq!(verdict.command, ClientCommand::Auth { cid: 2, kid: 1 });
    assert_eq!(verdict.decision.flow, Flow::Crv1, "flow");
    assert_eq!(verdict.decision.source, SOURCE, "source");
}

#[test]
fn crv1_wrong_code_rejected() {
    let mut engine = engine();
    let challenge = decide(&mut engine, &login(1, USER, PASSWORD), NOW);
    let wrong = if code(NOW) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let password = format!("CRV1::{}::{wrong}", state_id(&challenge));
    let verdict = decide(&mut engine, &login(2, USER, &password), NOW);
    assert_decision(&verdict, Outcome::Rejected, Reason::WrongCode);
    let ClientCommand::Deny { client_reason, .. } = &verdict.command else {
        panic!("expected client-deny: {verdict:?}");
    };
    assert_eq!(
        client_reason.as_deref(),
        Some("wrong code"),
        "client reason"
    );
}

#[test]
fn crv1_state_single_use() {
    let mut engine = engine();
    let challenge = decide(&mut engine, &login(1, USER, PASSWORD), NOW);
    let state = state_id(&challenge);
    let first = format!("CRV1::{state}::000000");
    decide(&mut engine, &login(2, USER, &first), NOW);

    let second = format!("CRV1::{state}::{}", code(NOW));
    let verdict = decide(&mut engine, &login(3, USER, &second), NOW);
    assert_decision(&verdict, Outcome::Rejected, Reason::Crv1StateUnknown);
}

#[test]
fn crv1_state_bound_to_user() {
    let mut engine = engine();
    let hash = hash_password("bob password").expect("hashing works");
    engine
        .store
        .add_user("bob", &hash, &secret(), NOW)
        .expect("bob added");
    let challenge = decide(&mut engine, &login(1, "bob", "bob password"), NOW);

    let password = format!("CRV1::{}::{}", state_id(&challenge), code(NOW));
    let verdict = decide(&mut engine, &login(2, USER, &password), NOW);
    assert_decision(&verdict, Outcome::Rejected, Reason::Crv1StateOtherUser);
}

#[test]
fn crv1_state_expires() {
    let mut engine = engine();
    let challenge = decide(&mut engine, &login(1, USER, PASSWORD), NOW);
    let later = NOW + EngineConfig::default().crv1_lifetime_seconds + 1;
    let password = format!("CRV1::{}::{}", state_id(&challenge), code(later));
    let verdict = decide(&mut engine, &login(2, USER, &password), later);
    assert_decision(&verdict, Outcome::Rejected, Reason::Crv1StateExpired);
}

#[test]
fn crv1_malformed_response_rejected() {
    let mut engine = engine();
    let verdict = decide(&mut engine, &login(1, USER, "CRV1::no-separator"), NOW);
    assert_decision(&verdict, Outcome::Rejected, Reason::MalformedCrv1Response);
}

#[test]
fn wrong_password_plain_auth_failed() {
    let mut engine = engine();
    let verdict = decide(&mut engine, &login(1, USER, "wrong horse"), NOW);
    assert_decision(&verdict, Outcome::Rejected, Reason::WrongPassword);
    let ClientCommand::Deny { client_reason, .. } = &verdict.command else {
        panic!("expected client-deny: {verdict:?}");
    };
    assert_eq!(
        client_reason, &None,
        "a wrong password gets no client reason"
    );
}

#[test]
fn unknown_user_plain_auth_failed() {
    let mut engine = engine();
    let verdict = decide(&mut engine, &login(1, "mallory", PASSWORD), NOW);
    assert_decision(&verdict, Outcome::Rejected, Reason::UnknownUser);
    let ClientCommand::Deny { client_reason, .. } = &verdict.command else {
        panic!("expected client-deny: {verdict:?}");
    };
    assert_eq!(
        client_reason, &None,
        "an unknown user gets no client reason"
    );
}

#[test]
fn crtext_prompt_then_code_accepted() {
    let mut engine = engine();
    let env = [
        ("username", USER),
        ("password", PASSWORD),
        ("IV_SSO", "openurl,crtext"),
    ];
    let prompt = decide(&mut engine, &connect(7, 3, &env), NOW);
    assert_decision(&prompt, Outcome::Challenged, Reason::CrTextPromptSent);
    assert_eq!(
        prompt.command,
        ClientCommand::PendingAuth {
            cid: 7,
            kid: 3,
            extra: CR_TEXT_PROMPT.to_owned(),
            timeout_seconds: 120,
        }
    );

    // The KID of CR_RESPONSE is the wire key_id (0); the decision echoes the KID 3.
    let verdict = decide(&mut engine, &cr_response(7, 0, &code(NOW + 5)), NOW + 5);
    assert_decision(&verdict, Outcome::Accepted, Reason::CodeAccepted);
    assert_eq!(verdict.command, ClientCommand::Auth { cid: 7, kid: 3 });
    assert_eq!(engine.pending_clients(), 0, "no client waits any more");
}

#[test]
fn crtext_wrong_code_rejected() {
    let mut engine = engine();
    let env = [
        ("username", USER),
        ("password", PASSWORD),
        ("IV_SSO", "crtext"),
    ];
    decide(&mut engine, &connect(7, 3, &env), NOW);
    let verdict = decide(&mut engine, &cr_response(7, 0, "12345"), NOW);
    assert_decision(&verdict, Outcome::Rejected, Reason::MalformedCode);
    assert_eq!(verdict.decision.flow, Flow::CrText, "flow");
}

#[test]
fn crtext_wrong_password_no_prompt() {
    let mut engine = engine();
    let env = [
        ("username", USER),
        ("password", "nope"),
        ("IV_SSO", "crtext"),
    ];
    let verdict = decide(&mut engine, &connect(7, 3, &env), NOW);
    assert_decision(&verdict, Outcome::Rejected, Reason::WrongPassword);
    assert_eq!(engine.pending_clients(), 0, "no client waits");
}

#[test]
fn cr_response_without_prompt_ignored() {
    let mut engine = engine();
    let verdict = engine.handle(&cr_response(9, 0, &code(NOW)), NOW);
    assert_eq!(verdict, None, "no client waits for a code");
}

#[test]
fn cr_response_after_disconnect_ignored() {
    let mut engine = engine();
    let env = [
        ("username", USER),
        ("password", PASSWORD),
        ("IV_SSO", "crtext"),
    ];
    decide(&mut engine, &connect(7, 3, &env), NOW);
    let disconnect = ClientNotification {
        event: ClientEvent::Disconnect { cid: 7 },
        env: Vec::new(),
    };
    assert_eq!(
        engine.handle(&disconnect, NOW),
        None,
        "DISCONNECT needs no command"
    );
    assert_eq!(engine.handle(&cr_response(7, 0, &code(NOW)), NOW), None);
}

#[test]
fn static_challenge_accepted_then_replay_rejected() {
    let mut engine = engine();
    let password = static_password(PASSWORD, &code(NOW));
    let first = decide(&mut engine, &login(1, USER, &password), NOW);
    assert_decision(&first, Outcome::Accepted, Reason::CodeAccepted);
    assert_eq!(first.decision.flow, Flow::StaticChallenge, "flow");

    let second = decide(&mut engine, &login(2, USER, &password), NOW + 1);
    assert_decision(&second, Outcome::Rejected, Reason::CodeAlreadyUsed);
}

#[test]
fn static_challenge_wrong_password_rejected() {
    let mut engine = engine();
    let password = static_password("wrong", &code(NOW));
    let verdict = decide(&mut engine, &login(1, USER, &password), NOW);
    assert_decision(&verdict, Outcome::Rejected, Reason::WrongPassword);
}

#[test]
fn static_challenge_malformed_rejected() {
    let mut engine = engine();
    let verdict = decide(&mut engine, &login(1, USER, "SCRV1:only-one-field"), NOW);
    assert_decision(
        &verdict,
        Outcome::Rejected,
        Reason::MalformedStaticChallenge,
    );
}

#[test]
fn skew_previous_step_accepted() {
    let mut engine = engine();
    let previous = code_for_step(&secret(), time_step(NOW) - 1).to_string();
    let password = static_password(PASSWORD, &previous);
    let verdict = decide(&mut engine, &login(1, USER, &password), NOW);
    assert_decision(&verdict, Outcome::Accepted, Reason::CodeAccepted);
}

#[test]
fn skew_two_steps_back_rejected() {
    let mut engine = engine();
    let old = code_for_step(&secret(), time_step(NOW) - 2).to_string();
    let password = static_password(PASSWORD, &old);
    let verdict = decide(&mut engine, &login(1, USER, &password), NOW);
    let in_window =
        (0..3).any(|offset| code_for_step(&secret(), time_step(NOW) - 1 + offset).as_str() == old);
    assert!(
        !in_window,
        "the test secret must not repeat a code inside the window"
    );
    assert_decision(&verdict, Outcome::Rejected, Reason::WrongCode);
}

#[test]
fn replay_of_older_step_rejected() {
    let mut engine = engine();
    let current = static_password(PASSWORD, &code(NOW));
    decide(&mut engine, &login(1, USER, &current), NOW);

    let previous = code_for_step(&secret(), time_step(NOW) - 1).to_string();
    let older = static_password(PASSWORD, &previous);
    let verdict = decide(&mut engine, &login(2, USER, &older), NOW);
    assert_decision(&verdict, Outcome::Rejected, Reason::CodeAlreadyUsed);
}

#[test]
fn lockout_after_max_failures() {
    let mut engine = engine();
    for attempt in 1..=5 {
        let verdict = decide(&mut engine, &login(attempt, USER, "wrong"), NOW);
        assert_decision(&verdict, Outcome::Rejected, Reason::WrongPassword);
    }

    let password = static_password(PASSWORD, &code(NOW));
    let locked = decide(&mut engine, &login(6, USER, &password), NOW);
    assert_decision(&locked, Outcome::Rejected, Reason::UserLocked);
    let ClientCommand::Deny { client_reason, .. } = &locked.command else {
        panic!("expected client-deny: {locked:?}");
    };
    assert_eq!(client_reason, &None, "a locked user gets no client reason");
}

#[test]
fn unlock_lets_user_in_again() {
    let mut engine = engine();
    for attempt in 1..=5 {
        decide(&mut engine, &login(attempt, USER, "wrong"), NOW);
    }
    engine.store.unlock(USER).expect("unlocked");

    let password = static_password(PASSWORD, &code(NOW));
    let verdict = decide(&mut engine, &login(6, USER, &password), NOW);
    assert_decision(&verdict, Outcome::Accepted, Reason::CodeAccepted);
}

#[test]
fn success_resets_failure_count() {
    let mut engine = engine();
    for attempt in 1..=4 {
        decide(&mut engine, &login(attempt, USER, "wrong"), NOW);
    }
    let password = static_password(PASSWORD, &code(NOW));
    decide(&mut engine, &login(5, USER, &password), NOW);
    let verdict = decide(&mut engine, &login(6, USER, "wrong"), NOW + 40);
    assert_decision(&verdict, Outcome::Rejected, Reason::WrongPassword);

    let user = engine.store.user(USER).expect("query").expect("exists");
    assert_eq!(user.failed_attempts, 1, "count restarted after the success");
    assert_eq!(user.locked_at, None, "not locked");
}

#[test]
fn source_rate_limit_blocks_address() {
    let config = EngineConfig {
        source_limits: SourceLimits {
            max_failures: 3,
            window_seconds: 600,
        },
        ..EngineConfig::default()
    };
    let mut engine = engine_with(config);
    for attempt in 1..=3 {
        decide(&mut engine, &login(attempt, "mallory", "guess"), NOW);
    }

    let password = static_password(PASSWORD, &code(NOW));
    let blocked = decide(&mut engine, &login(4, USER, &password), NOW);
    assert_decision(&blocked, Outcome::Rejected, Reason::SourceRateLimited);

    let env = [("username", USER), ("password", password.as_str())];
    let other = connect_from("198.18.0.3", 5, 1, &env);
    let verdict = decide(&mut engine, &other, NOW);
    assert_decision(&verdict, Outcome::Accepted, Reason::CodeAccepted);
}

#[test]
fn auth_token_states_table() {
    let cases = [
        ("Authenticated", Outcome::Accepted, Reason::AuthTokenValid),
        (
            "AuthenticatedEmptyUser",
            Outcome::Accepted,
            Reason::AuthTokenValid,
        ),
        ("Expired", Outcome::Rejected, Reason::AuthTokenExpired),
        ("Invalid", Outcome::Rejected, Reason::AuthTokenInvalid),
    ];
    for (state, outcome, reason) in cases {
        let mut engine = engine();
        let reauth = ClientNotification {
            event: ClientEvent::Reauth { cid: 4, kid: 2 },
            env: vec![
                ("username".to_owned(), USER.to_owned()),
                ("password".to_owned(), "SESS_ID_AT_token".to_owned()),
                ("session_state".to_owned(), state.to_owned()),
            ],
        };
        let verdict = decide(&mut engine, &reauth, NOW);
        assert_eq!(
            (verdict.decision.outcome, verdict.decision.reason),
            (outcome, reason),
            "session_state {state}"
        );
        assert_eq!(verdict.decision.flow, Flow::AuthToken, "flow for {state}");
    }
}

#[test]
fn auth_token_expired_sends_session_reason() {
    let mut engine = engine();
    let env = [
        ("username", USER),
        ("password", "SESS_ID_AT_token"),
        ("session_state", "Expired"),
    ];
    let verdict = decide(&mut engine, &connect(4, 2, &env), NOW);
    let ClientCommand::Deny { client_reason, .. } = &verdict.command else {
        panic!("expected client-deny: {verdict:?}");
    };
    assert_eq!(
        client_reason.as_deref(),
        Some("SESSION: auth-token expired"),
        "client reason"
    );
}

#[test]
fn auth_token_of_locked_user_rejected() {
    let mut engine = engine();
    for attempt in 1..=5 {
        decide(&mut engine, &login(attempt, USER, "wrong"), NOW);
    }
    let env = [
        ("username", USER),
        ("password", "SESS_ID_AT_token"),
        ("session_state", "Authenticated"),
    ];
    let verdict = decide(&mut engine, &connect(9, 0, &env), NOW);
    assert_decision(&verdict, Outcome::Rejected, Reason::UserLocked);
}

#[test]
fn deny_incomplete_connect() {
    let mut engine = engine();
    let verdict = engine
        .deny_incomplete(&ClientEvent::Connect { cid: 3, kid: 1 })
        .expect("CONNECT gets a verdict");
    assert_decision(&verdict, Outcome::Rejected, Reason::IncompleteNotification);
    assert_eq!(verdict.command.name(), "client-deny", "command");
}

#[test]
fn replay_protection_survives_restart() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("users.db");
    let password = static_password(PASSWORD, &code(NOW));
    {
        let mut store = Store::open(&path).expect("new database");
        let hash = hash_password(PASSWORD).expect("hashing works");
        store.add_user(USER, &hash, &secret(), NOW).expect("added");
        let mut engine = Engine::new(store, EngineConfig::default());
        let verdict = decide(&mut engine, &login(1, USER, &password), NOW);
        assert_decision(&verdict, Outcome::Accepted, Reason::CodeAccepted);
    }

    let store = Store::open(&path).expect("existing database");
    let mut engine = Engine::new(store, EngineConfig::default());
    let verdict = decide(&mut engine, &login(1, USER, &password), NOW + 1);
    assert_decision(&verdict, Outcome::Rejected, Reason::CodeAlreadyUsed);
}

#[test]
fn decisions_never_contain_secrets() {
    let mut engine = engine();
    let challenge = decide(&mut engine, &login(1, USER, PASSWORD), NOW);
    let code_text = code(NOW);
    let password = format!("CRV1::{}::{code_text}", state_id(&challenge));
    let verdict = decide(&mut engine, &login(2, USER, &password), NOW);

    for decision in [&challenge.decision, &verdict.decision] {
        let text = format!("{decision:?} {}", decision.reason);
        assert!(!text.contains(PASSWORD), "password in {text}");
        assert!(!text.contains(&code_text), "code in {text}");
        assert!(!text.contains(&state_id(&challenge)), "state id in {text}");
    }
}
