//! A TOTP second factor for the test bed's OpenVPN server, given through
//! `--management-client-auth`.
//!
//! OpenVPN 2.6 announces every client that needs authentication on the management socket
//! as `>CLIENT:CONNECT`, or `>CLIENT:REAUTH` on renegotiation. An ENV block follows with
//! `username`, `password`, `IV_SSO` and the other variables an `auth-user-pass-verify`
//! script would get. The server then waits until the management client replies with
//! `client-auth-nt`, `client-deny` or `client-pending-auth` (OpenVPN
//! `doc/management-notes.txt`). An [`Authenticator`] is that management client: it checks
//! the password and an RFC 6238 code in the way its [`AuthPolicy`] prescribes, and records
//! every step as a [`Decision`].
//!
//! The policy logic is a state machine without I/O. A worker thread owns the socket, feeds
//! the state machine the notifications and writes its replies.

mod challenge;
mod engine;
mod notification;
mod policy;
mod reply;

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::server::OpenVpnServer;
use crate::totp::unix_now;
use engine::Engine;
use notification::ClientNotificationReader;
use reply::Reply;

pub use policy::{
    AuthPolicy, Decision, DecisionKind, CRV1_CODE_TEXT, CRV1_STATE_LIFETIME, CRV1_WORD,
    CRV1_WORD_TEXT, CR_TEXT_CHALLENGE, DEFAULT_PENDING_TIMEOUT, PUSH_CHALLENGE,
};

/// Time the worker blocks on one read, which bounds the delay of stops and approvals.
const READ_TICK: Duration = Duration::from_millis(50);

/// Time allowed for writing one command to the management socket.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// Interval between two connection attempts to the management socket.
const CONNECT_INTERVAL: Duration = Duration::from_millis(100);

/// Number of connection attempts after start or after the server closed the connection.
///
/// 300 attempts 100 ms apart cover a restart of the server: up to 5 s to stop the old
/// process and up to 20 s until the new one is ready.
const CONNECT_ATTEMPTS: u32 = 300;

/// Time [`Authenticator::management_command`] waits for the response.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// A management client that authenticates the clients of one OpenVPN server.
///
/// Dropping it stops the worker thread and closes the connection. While it is connected,
/// [`OpenVpnServer::management_command`] cannot get through, because OpenVPN 2.6 serves one
/// management client at a time. [`Authenticator::management_command`] sends commands over
/// the authenticator's own connection instead.
///
/// With [`crate::ServerConfig::auth_gen_token_external_auth`], OpenVPN 2.6 still announces
/// a client that presents its auth-token. On a renegotiation that is `>CLIENT:REAUTH` with
/// `password=SESS_ID_AT_...` (the token), `session_state=Authenticated` and `session_id` in
/// the ENV block, and the authenticator accepts it without a code
/// ([`DecisionKind::AuthToken`]). It treats a `CONNECT` with that state the same way,
/// denies `Expired` with the client reason `SESSION: auth-token expired` and denies
/// `Invalid` with a plain `AUTH_FAILED`.
#[derive(Debug)]
pub struct Authenticator {
    /// State shared with the worker thread.
    shared: Arc<Shared>,
    /// The worker thread, joined on drop.
    worker: Option<JoinHandle<()>>,
}

/// State shared by the API and the worker thread.
#[derive(Debug)]
struct Shared {
    /// The server's management socket.
    socket: PathBuf,
    /// Flag set on drop, after which the worker exits within one read tick.
    stop: AtomicBool,
    /// Policy state and connection, behind one lock so commands are written in order.
    state: Mutex<State>,
}

/// Mutable state behind [`Shared::state`].
struct State {
    /// The policy state machine.
    engine: Engine,
    /// Write half of the current management connection.
    writer: Option<UnixStream>,
    /// Senders of the commands written, oldest first, each waiting for its response.
    waiters: VecDeque<Waiter>,
    /// Number of management connections made so far.
    connections: u32,
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("State")
            .field("policy", self.engine.policy())
            .field("connected", &self.writer.is_some())
            .field("connections", &self.connections)
            .finish_non_exhaustive()
    }
}

/// Recipient of the response to a written command.
enum Waiter {
    /// A reply of the authenticator itself, whose errors are logged.
    Reply(&'static str),
    /// A caller of [`Authenticator::management_command`].
    Caller(mpsc::Sender<Result<String, String>>),
}

impl Authenticator {
    /// Connects to the management socket of `server` and starts replying to its clients with
    /// `policy`.
    ///
    /// Users are added with [`Authenticator::add_user`]. Panics if `server` was not
    /// configured with [`crate::ServerConfig::management_client_auth`] or if the socket does
    /// not accept a connection within 30 s.
    pub fn start(server: &OpenVpnServer, policy: AuthPolicy) -> Authenticator {
        assert!(
            server.config().management_client_auth,
            "the authenticator needs a server configured with \
             ServerConfig::management_client_auth()"
        );
        let socket = server
            .management_socket()
            .expect("management_client_auth enables the management socket")
            .to_owned();

        let shared = Arc::new(Shared {
            socket,
            stop: AtomicBool::new(false),
            state: Mutex::new(State {
                engine: Engine::new(policy),
                writer: None,
                waiters: VecDeque::new(),
                connections: 0,
            }),
        });

        let (ready_sender, ready) = mpsc::channel();
        let worker_shared = Arc::clone(&shared);
        let worker = thread::Builder::new()
            .name("authenticator".to_owned())
            .spawn(move || run_worker(&worker_shared, ready_sender))
            .expect("failed to spawn the authenticator thread");

        let authenticator = Authenticator {
            shared,
            worker: Some(worker),
        };
        match ready.recv() {
            Ok(Ok(())) => authenticator,
            Ok(Err(error)) => panic!("{error}"),
            Err(_) => panic!("the authenticator thread ended before it connected"),
        }
    }

    /// Adds or replaces a user with a password and a raw TOTP secret.
    pub fn add_user(&self, username: &str, password: &str, totp_secret: &[u8]) {
        self.lock().engine.add_user(username, password, totp_secret);
    }

    /// Sets the timeout sent with later `client-pending-auth` commands, in whole seconds.
    pub fn set_pending_timeout(&self, timeout: Duration) {
        self.lock().engine.set_pending_timeout(timeout);
    }

    /// Finishes the pending web authentication of `username` with `client-auth-nt`.
    ///
    /// Fails if no client of that user waits for web authentication or the command cannot be
    /// written.
    pub fn complete_web_auth(&self, username: &str) -> Result<(), String> {
        let mut state = self.lock();
        let reply = state.engine.complete_web_auth(username)?;
        state.send_reply(&reply)
    }

    /// Returns every decision so far, oldest first.
    pub fn decisions(&self) -> Vec<Decision> {
        self.lock().engine.decisions().to_vec()
    }

    /// Number of decisions of `kind` so far.
    pub fn count(&self, kind: DecisionKind) -> usize {
        let state = self.lock();
        let decisions = state.engine.decisions();
        decisions
            .iter()
            .filter(|decision| decision.kind == kind)
            .count()
    }

    /// Number of `>CLIENT:CR_RESPONSE` notifications received, including ignored ones.
    pub fn cr_responses(&self) -> usize {
        self.lock().engine.cr_responses()
    }

    /// Number of management connections made, which grows by one after each server restart.
    pub fn connection_count(&self) -> u32 {
        self.lock().connections
    }

    /// Returns whether the management connection is up.
    pub fn is_connected(&self) -> bool {
        self.lock().writer.is_some()
    }

    /// Sends `command`, such as "status", over the authenticator's own connection and
    /// returns the response without notifications.
    ///
    /// Fails if not connected, if the server replies `ERROR:` or after 10 s without a
    /// response.
    pub fn management_command(&self, command: &str) -> Result<String, String> {
        let (sender, response) = mpsc::channel();
        self.lock().send(command, Waiter::Caller(sender))?;
        response
            .recv_timeout(COMMAND_TIMEOUT)
            .map_err(|_| format!("management command {command:?} got no response within 10 s"))?
    }

    /// Locks the shared state, also after a panic of the worker.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.lock()
    }
}

impl Drop for Authenticator {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(worker) = self.worker.take() {
            if worker.join().is_err() {
                eprintln!("ferrovpn-testbed: the authenticator thread panicked");
            }
        }
    }
}

impl Shared {
    /// Locks the state, also after a panic of another thread.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Returns whether the authenticator is being dropped.
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

impl State {
    /// Writes `command` and queues `waiter` for its response.
    fn send(&mut self, command: &str, waiter: Waiter) -> Result<(), String> {
        let writer = self
            .writer
            .as_mut()
            .ok_or("the authenticator is not connected to the management socket")?;
        writer
            .write_all(format!("{command}\n").as_bytes())
            .map_err(|error| format!("failed to write a management command: {error}"))?;
        self.waiters.push_back(waiter);
        Ok(())
    }

    /// Writes a reply to a client, logging a failure.
    fn send_reply(&mut self, reply: &Reply) -> Result<(), String> {
        tracing::debug!(?reply, "sending management reply");
        let result = self.send(&reply.command(), Waiter::Reply(reply.verb()));
        if let Err(error) = &result {
            tracing::warn!(%error, command = reply.verb(), "failed to send management reply");
        }
        result
    }

    /// Hands a complete response to the oldest waiter.
    fn deliver(&mut self, response: Result<String, String>) {
        match self.waiters.pop_front() {
            Some(Waiter::Caller(sender)) => {
                // The caller may have timed out and returned, so the response is dropped.
                let _ = sender.send(response);
            }
            Some(Waiter::Reply(verb)) => {
                if let Err(error) = response {
                    tracing::warn!(command = verb, %error, "openvpn rejected a management reply");
                }
            }
            None => tracing::debug!(?response, "management response without a command"),
        }
    }

    /// Clears the connection and fails every waiting caller.
    fn disconnect(&mut self) {
        self.writer = None;
        for waiter in self.waiters.drain(..) {
            if let Waiter::Caller(sender) = waiter {
                let _ = sender.send(Err("the management connection closed".to_owned()));
            }
        }
        self.engine.forget_clients();
    }
}

/// Body of the worker thread: connects, serves until the server closes the connection,
/// and reconnects, each time with at most [`CONNECT_ATTEMPTS`] attempts.
///
/// The first connection result goes to `ready`.
fn run_worker(shared: &Shared, ready: mpsc::Sender<Result<(), String>>) {
    let mut ready = Some(ready);
    loop {
        let stream = match connect(shared) {
            Ok(Some(stream)) => stream,
            Ok(None) => return,
            Err(error) => {
                match ready.take() {
                    Some(ready) => {
                        let _ = ready.send(Err(error));
                    }
                    None => tracing::warn!(%error, "authenticator gave up reconnecting"),
                }
                return;
            }
        };

        let writer = match split_connection(&stream) {
            Ok(writer) => writer,
            Err(error) => {
                let error = format!("failed to set up the management connection: {error}");
                if let Some(ready) = ready.take() {
                    let _ = ready.send(Err(error));
                }
                return;
            }
        };
        {
            let mut state = shared.lock();
            state.writer = Some(writer);
            state.connections += 1;
            tracing::info!(connections = state.connections, "authenticator connected");
        }
        if let Some(ready) = ready.take() {
            let _ = ready.send(Ok(()));
        }

        let outcome = serve(shared, stream);
        shared.lock().disconnect();
        match outcome {
            Ok(()) => return,
            Err(error) => tracing::info!(%error, "management connection lost, reconnecting"),
        }
    }
}

/// Sets the timeouts of a new connection and returns its write half.
fn split_connection(stream: &UnixStream) -> io::Result<UnixStream> {
    stream.set_read_timeout(Some(READ_TICK))?;
    let writer = stream.try_clone()?;
    writer.set_write_timeout(Some(WRITE_TIMEOUT))?;
    Ok(writer)
}

/// Connects to the management socket, retrying while it does not accept.
///
/// Returns `Ok(None)` if the authenticator is dropped meanwhile.
fn connect(shared: &Shared) -> Result<Option<UnixStream>, String> {
    let mut last_error = None;
    for _ in 0..CONNECT_ATTEMPTS {
        if shared.stopping() {
            return Ok(None);
        }
        match UnixStream::connect(&shared.socket) {
            Ok(stream) => return Ok(Some(stream)),
            Err(error) => last_error = Some(error),
        }
        thread::sleep(CONNECT_INTERVAL);
    }
    Err(format!(
        "failed to connect to the management socket {} after {CONNECT_ATTEMPTS} attempts: {}",
        shared.socket.display(),
        last_error.map_or_else(|| "no attempt made".to_owned(), |error| error.to_string())
    ))
}

/// Reads the connection until the authenticator stops (`Ok`) or the connection ends
/// (`Err` with the reason), replying to notifications and sending due approvals.
fn serve(shared: &Shared, stream: UnixStream) -> Result<(), String> {
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    let mut notifications = ClientNotificationReader::default();
    let mut response_lines: Vec<String> = Vec::new();

    loop {
        if shared.stopping() {
            return Ok(());
        }

        // A timed-out read keeps what it read in `line`, so a line split across ticks is
        // completed by the next read.
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => return Err("the server closed the management connection".to_owned()),
            Ok(_) if line.ends_with(b"\n") => {
                let text = String::from_utf8_lossy(&line);
                let text = text.trim_end_matches(['\r', '\n']);
                handle_line(shared, text, &mut notifications, &mut response_lines);
                line.clear();
            }
            Ok(_) => return Err("the management connection ended inside a line".to_owned()),
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(error) => return Err(format!("failed to read the management socket: {error}")),
        }

        let mut state = shared.lock();
        for reply in state.engine.poll_approvals(Instant::now()) {
            let _ = state.send_reply(&reply);
        }
    }
}

/// Handles one line from the management socket.
///
/// `>CLIENT:` lines go to the policy, other `>` lines are notifications that are ignored,
/// and the rest are responses: `SUCCESS:` or `ERROR:` alone, or lines up to `END`.
fn handle_line(
    shared: &Shared,
    line: &str,
    notifications: &mut ClientNotificationReader,
    response_lines: &mut Vec<String>,
) {
    let mut state = shared.lock();

    if line.starts_with(">CLIENT:") {
        match notifications.push_line(line) {
            Ok(Some(notification)) => {
                tracing::debug!(event = ?notification.event, "management client notification");
                let replies = state
                    .engine
                    .handle(&notification, unix_now(), Instant::now());
                for reply in replies {
                    let _ = state.send_reply(&reply);
                }
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "invalid management client notification"),
        }
        return;
    }
    if line.starts_with('>') {
        tracing::trace!(line, "management notification");
        return;
    }

    if response_lines.is_empty() && line.starts_with("SUCCESS:") {
        state.deliver(Ok(line.to_owned()));
    } else if response_lines.is_empty() && line.starts_with("ERROR:") {
        state.deliver(Err(line.to_owned()));
    } else if line == "END" {
        let response = std::mem::take(response_lines).join("\n");
        state.deliver(Ok(response));
    } else {
        response_lines.push(line.to_owned());
    }
}
