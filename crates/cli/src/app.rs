//! App commands that talk to a running daemon: `auth`, `status`, `sessions`,
//! `disconnect`, `logs`, and `connect` when a daemon runs.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Args;
use ferrovpn_ipc::{
    ErrorKind, Event, IpcClient, ProfileSource, Request, Response, SessionState, SessionStatus,
    WireAnswer, WireAskReason, WireAuthRequest, WireAuthRequestKind,
};
use ferrovpn_protocol::auth_request::{
    AskReason, AuthAnswer, AuthRequest, AuthRequestId, AuthRequestKind,
};
use zeroize::Zeroizing;

use crate::answer::{self, AnswerSource};
use crate::exit_code;

/// Options of `ferrovpn auth`.
#[derive(Debug, Args)]
pub struct AuthArgs {
    /// Only requests of this session.
    session: Option<String>,

    /// Answer with this value (a code or response) instead of prompting.
    #[arg(long, value_name = "VALUE", conflicts_with = "answer_stdin")]
    answer: Option<String>,

    /// Read answers from standard input, one line per field.
    #[arg(long)]
    answer_stdin: bool,

    /// Answer this request id directly with --answer, without listing (for scripts and
    /// notification actions).
    #[arg(long, value_name = "ID", requires = "answer")]
    request: Option<u64>,

    /// Wait up to this many seconds for a request when none is pending.
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    wait: u64,

    /// List the pending requests as JSON and answer nothing.
    #[arg(long)]
    json: bool,
}

/// Connects to the daemon, printing why it failed and returning the exit code otherwise.
pub async fn client(socket: &Path) -> Result<IpcClient, u8> {
    IpcClient::connect(socket).await.map_err(|error| {
        eprintln!("ferrovpn: {error}");
        exit_code::DAEMON_UNREACHABLE
    })
}

/// Sends one request, mapping transport failures and error responses to exit codes.
async fn send(client: &mut IpcClient, request: Request) -> Result<Response, u8> {
    match client.request(request).await {
        Ok(Response::Error { kind, message }) => {
            eprintln!("ferrovpn: {message}");
            Err(error_code(kind))
        }
        Ok(response) => Ok(response),
        Err(error) => {
            eprintln!("ferrovpn: {error}");
            Err(exit_code::DAEMON_UNREACHABLE)
        }
    }
}

fn error_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::PermissionDenied => exit_code::PERMISSION_DENIED,
        ErrorKind::AuthFailed => exit_code::AUTH_FAILED,
        ErrorKind::ConnectFailed => exit_code::CONNECTION_FAILED,
        ErrorKind::InvalidRequest => exit_code::PROFILE_ERROR,
        ErrorKind::NotPending => exit_code::AUTH_NEEDED,
        _ => exit_code::FAILURE,
    }
}

/// Runs `ferrovpn auth`: lists pending requests and answers each.
pub async fn auth(socket: &Path, args: AuthArgs) -> u8 {
    let mut client = match client(socket).await {
        Ok(client) => client,
        Err(code) => return code,
    };
    if let (Some(id), Some(value)) = (args.request, &args.answer) {
        let message = Request::Answer {
            request: id,
            answer: WireAnswer::Response {
                response: value.clone(),
            },
        };
        return match send(&mut client, message).await {
            Ok(_) => {
                eprintln!("auth request {id} answered");
                exit_code::SUCCESS
            }
            Err(code) => code,
        };
    }
    let mut pending = match pending_requests(&mut client, args.session.clone()).await {
        Ok(pending) => pending,
        Err(code) => return code,
    };
    if pending.is_empty() && args.wait > 0 {
        pending = match wait_for_request(socket, args.session.as_deref(), args.wait).await {
            Ok(pending) => pending,
            Err(code) => return code,
        };
    }

    if args.json {
        println!(
            "{}",
            serde_json::to_string(&pending).unwrap_or_else(|_| "[]".to_owned())
        );
        return exit_code::SUCCESS;
    }
    if pending.is_empty() {
        eprintln!("no pending auth requests");
        return exit_code::SUCCESS;
    }

    let source = if args.answer_stdin {
        AnswerSource::stdin_lines()
    } else {
        AnswerSource::detect()
    };
    for wire in pending {
        let request = to_request(&wire);
        let left = answer::seconds_left(request.expires_at)
            .map(|seconds| format!(", {seconds} s left"))
            .unwrap_or_default();
        eprintln!(
            "session {}: auth request {} ({}{left}): {}",
            wire.session,
            wire.id,
            request.kind.name(),
            request.prompt
        );
        if let AuthRequestKind::WebAuth { url } = &request.kind {
            open_url(url);
        }

        let answer = match &args.answer {
            Some(value) => match answer_from_value(&request, value) {
                Ok(answer) => answer,
                Err(message) => {
                    eprintln!("ferrovpn: {message}");
                    return exit_code::AUTH_NEEDED;
                }
            },
            None if !request.response_required => continue,
            None => {
                let (request, source) = (request.clone(), source.clone());
                match tokio::task::spawn_blocking(move || answer::read_answer(&request, &source))
                    .await
                {
                    Ok(Ok(answer)) => answer,
                    Ok(Err(error)) => {
                        eprintln!("ferrovpn: cannot read the answer: {error}");
                        return exit_code::AUTH_NEEDED;
                    }
                    Err(error) => {
                        eprintln!("ferrovpn: the prompt failed: {error}");
                        return exit_code::FAILURE;
                    }
                }
            }
        };

        let message = Request::Answer {
            request: wire.id,
            answer: WireAnswer::from(&answer),
        };
        drop(answer);
        match send(&mut client, message).await {
            Ok(_) => eprintln!("auth request {} answered", wire.id),
            Err(code) => return code,
        }
    }
    exit_code::SUCCESS
}

async fn pending_requests(
    client: &mut IpcClient,
    session: Option<String>,
) -> Result<Vec<WireAuthRequest>, u8> {
    match send(client, Request::ListAuthRequests { session }).await? {
        Response::AuthRequests(requests) => Ok(requests),
        other => {
            eprintln!("ferrovpn: unexpected response from the daemon: {other:?}");
            Err(exit_code::FAILURE)
        }
    }
}

/// Waits up to `seconds` for an auth request of the caller's sessions to appear.
async fn wait_for_request(
    socket: &Path,
    session: Option<&str>,
    seconds: u64,
) -> Result<Vec<WireAuthRequest>, u8> {
    let client = client(socket).await?;
    let mut events = client.subscribe().await.map_err(|error| {
        eprintln!("ferrovpn: {error}");
        exit_code::DAEMON_UNREACHABLE
    })?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    loop {
        let next = tokio::time::timeout_at(deadline, events.next()).await;
        match next {
            Ok(Some(Ok(Event::AuthRequestAdded(request))))
                if session.is_none_or(|name| name == request.session) =>
            {
                return Ok(vec![request]);
            }
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(error))) => {
                eprintln!("ferrovpn: {error}");
                return Err(exit_code::DAEMON_UNREACHABLE);
            }
            Ok(None) | Err(_) => return Ok(Vec::new()),
        }
    }
}

/// Builds an answer from `--answer VALUE` for requests that need one field.
fn answer_from_value(request: &AuthRequest, value: &str) -> Result<AuthAnswer, String> {
    let value = Zeroizing::new(value.to_owned());
    match &request.kind {
        AuthRequestKind::DynamicChallenge | AuthRequestKind::PendingChallenge => {
            Ok(AuthAnswer::Response(value))
        }
        AuthRequestKind::StaticChallenge {
            password_known: true,
            ..
        } => Ok(AuthAnswer::StaticChallenge {
            password: None,
            response: value,
        }),
        AuthRequestKind::WebAuth { .. } => Ok(AuthAnswer::Acknowledge),
        AuthRequestKind::StaticChallenge { .. } | AuthRequestKind::Credentials { .. } => {
            Err(format!(
            "auth request {} needs a password as well; use --answer-stdin with one line per field",
            request.id
        ))
        }
    }
}

/// Rebuilds the provider's request type from its app message form.
fn to_request(wire: &WireAuthRequest) -> AuthRequest {
    AuthRequest {
        id: AuthRequestId(wire.id),
        session: wire.session.clone(),
        kind: match wire.kind {
            WireAuthRequestKind::Credentials => AuthRequestKind::Credentials {
                username: wire.username.clone(),
            },
            WireAuthRequestKind::StaticChallenge => AuthRequestKind::StaticChallenge {
                username: wire.username.clone().unwrap_or_default(),
                password_known: wire.password_known.unwrap_or(false),
            },
            WireAuthRequestKind::DynamicChallenge => AuthRequestKind::DynamicChallenge,
            WireAuthRequestKind::PendingChallenge => AuthRequestKind::PendingChallenge,
            WireAuthRequestKind::WebAuth => AuthRequestKind::WebAuth {
                url: wire.url.clone().unwrap_or_default(),
            },
        },
        prompt: wire.prompt.clone(),
        echo: wire.echo,
        response_required: wire.response_required,
        expires_at: wire
            .expires_at_unix
            .map(|seconds| UNIX_EPOCH + Duration::from_secs(seconds)),
        reason: match wire.reason_kind {
            WireAskReason::Initial => AskReason::Initial,
            WireAskReason::Rejected => AskReason::Rejected {
                server_reason: wire.reason.clone(),
            },
            WireAskReason::SessionExpired => AskReason::SessionExpired,
            WireAskReason::NextStep => AskReason::NextStep,
            WireAskReason::Reauthentication => AskReason::Reauthentication,
        },
    }
}

/// Opens a sign-in page with `xdg-open` when there is a desktop; prints it otherwise.
fn open_url(url: &str) {
    eprintln!("sign in at: {url}");
    if std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some() {
        if let Err(error) = std::process::Command::new("xdg-open").arg(url).spawn() {
            eprintln!("ferrovpn: could not open a browser with xdg-open: {error}");
        }
    }
}

/// Runs `ferrovpn status` and `ferrovpn sessions`.
pub async fn status(socket: &Path, session: Option<String>, as_json: bool) -> u8 {
    let mut client = match client(socket).await {
        Ok(client) => client,
        Err(code) => return code,
    };
    let sessions = match send(&mut client, Request::Status { session }).await {
        Ok(Response::Session(status)) => vec![status],
        Ok(Response::Sessions(sessions)) => sessions,
        Ok(other) => {
            eprintln!("ferrovpn: unexpected response from the daemon: {other:?}");
            return exit_code::FAILURE;
        }
        Err(code) => return code,
    };
    if as_json {
        println!(
            "{}",
            serde_json::to_string_pretty(&sessions).unwrap_or_default()
        );
        return exit_code::SUCCESS;
    }
    if sessions.is_empty() {
        println!("no sessions");
    }
    for status in &sessions {
        print_status(status);
    }
    exit_code::SUCCESS
}

fn print_status(status: &SessionStatus) {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH + Duration::from_secs(status.since_unix))
        .map(|elapsed| format!("{} s", elapsed.as_secs()))
        .unwrap_or_default();
    println!("{}: {} for {since}", status.name, status.state);
    if let Some(server) = &status.server {
        println!("  server: {server}");
    }
    if let Some(device) = &status.device {
        println!(
            "  device: {device}, addresses: {}",
            status.addresses.join(", ")
        );
    }
    if let Some(error) = &status.last_error {
        println!("  last error: {error}");
    }
    for request in &status.pending {
        println!(
            "  waiting for authentication: request {} ({:?}): {}",
            request.id, request.kind, request.prompt
        );
    }
}

/// Runs `ferrovpn disconnect`.
pub async fn disconnect(socket: &Path, session: Option<String>, all: bool) -> u8 {
    let mut client = match client(socket).await {
        Ok(client) => client,
        Err(code) => return code,
    };
    match send(&mut client, Request::Disconnect { session, all }).await {
        Ok(_) => exit_code::SUCCESS,
        Err(code) => code,
    }
}

/// Runs `ferrovpn logs`.
pub async fn logs(socket: &Path, session: String, lines: u32) -> u8 {
    let mut client = match client(socket).await {
        Ok(client) => client,
        Err(code) => return code,
    };
    match send(&mut client, Request::Logs { session, lines }).await {
        Ok(Response::Logs(lines)) => {
            for line in lines {
                println!("{line}");
            }
            exit_code::SUCCESS
        }
        Ok(_) => exit_code::FAILURE,
        Err(code) => code,
    }
}

/// Starts a session through the daemon; without `no_wait` follows it until the tunnel is up.
pub async fn connect(
    socket: &Path,
    profile: &Path,
    name: Option<String>,
    username: Option<String>,
    no_wait: bool,
    no_prompt: bool,
) -> u8 {
    let path: PathBuf = match std::fs::canonicalize(profile) {
        Ok(path) => path,
        Err(error) => {
            eprintln!("ferrovpn: cannot read {}: {error}", profile.display());
            return exit_code::PROFILE_ERROR;
        }
    };

    // Subscribe before starting, so no event of the new session is missed.
    let mut events = if no_wait {
        None
    } else {
        let subscriber = match client(socket).await {
            Ok(client) => client,
            Err(code) => return code,
        };
        match subscriber.subscribe().await {
            Ok(events) => Some(events),
            Err(error) => {
                eprintln!("ferrovpn: {error}");
                return exit_code::DAEMON_UNREACHABLE;
            }
        }
    };

    let mut client = match client(socket).await {
        Ok(client) => client,
        Err(code) => return code,
    };
    let start = Request::Connect {
        profile: ProfileSource::Path(path.to_string_lossy().into_owned()),
        name,
        username,
        wait: false,
    };
    let status = match send(&mut client, start).await {
        Ok(Response::Session(status)) => status,
        Ok(other) => {
            eprintln!("ferrovpn: unexpected response from the daemon: {other:?}");
            return exit_code::FAILURE;
        }
        Err(code) => return code,
    };
    let session = status.name.clone();
    eprintln!("session {session} started through the daemon");
    let Some(events) = events.as_mut() else {
        eprintln!("answer its auth requests with `ferrovpn auth {session}`; see `ferrovpn status {session}`");
        return exit_code::SUCCESS;
    };

    let source = AnswerSource::detect();
    while let Some(event) = events.next().await {
        let event = match event {
            Ok(event) => event,
            Err(error) => {
                eprintln!("ferrovpn: {error}");
                return exit_code::DAEMON_UNREACHABLE;
            }
        };
        if event.session() != session {
            continue;
        }
        match event {
            Event::SessionState {
                state: SessionState::Connected,
                detail,
                ..
            } => {
                eprintln!("connected: {}", detail.unwrap_or_default());
                return exit_code::SUCCESS;
            }
            Event::SessionState {
                state: SessionState::Failed,
                detail,
                ..
            } => {
                let detail = detail.unwrap_or_default();
                eprintln!("ferrovpn: session {session} failed: {detail}");
                return if detail.starts_with("authentication failed") {
                    exit_code::AUTH_FAILED
                } else {
                    exit_code::CONNECTION_FAILED
                };
            }
            Event::SessionState { state, detail, .. } => {
                eprintln!(
                    "{state}{}",
                    detail
                        .map(|detail| format!(": {detail}"))
                        .unwrap_or_default()
                );
            }
            Event::AuthRequestAdded(wire) => {
                let request = to_request(&wire);
                eprintln!(
                    "auth request {} ({}): {}",
                    wire.id,
                    request.kind.name(),
                    request.prompt
                );
                if let AuthRequestKind::WebAuth { url } = &request.kind {
                    open_url(url);
                }
                if !request.response_required {
                    continue;
                }
                if no_prompt {
                    eprintln!("answer it with `ferrovpn auth {session}`");
                    return exit_code::AUTH_NEEDED;
                }
                let source = source.clone();
                let answer = match tokio::task::spawn_blocking(move || {
                    answer::read_answer(&request, &source)
                })
                .await
                {
                    Ok(Ok(answer)) => answer,
                    _ => {
                        eprintln!(
                            "ferrovpn: no answer; answer later with `ferrovpn auth {session}`"
                        );
                        return exit_code::AUTH_NEEDED;
                    }
                };
                let message = Request::Answer {
                    request: wire.id,
                    answer: WireAnswer::from(&answer),
                };
                drop(answer);
                if let Err(code) = send(&mut client, message).await {
                    if code != exit_code::AUTH_NEEDED {
                        return code;
                    }
                }
            }
            Event::AuthRequestClosed { id, outcome, .. } => {
                eprintln!("auth request {id} {outcome:?}")
            }
        }
    }
    exit_code::DAEMON_UNREACHABLE
}
