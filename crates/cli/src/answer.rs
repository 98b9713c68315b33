//! Answers to the provider's auth requests from the foreground `ferrovpn connect`:
//! prompts on the terminal, or lines from standard input when it is not a terminal.

use std::io::{self, IsTerminal};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use ferrovpn_protocol::auth_request::{AnswerError, AuthAnswer, AuthRequest, AuthRequestKind};
use ferrovpn_provider::{AnswerMessage, AnswerSender};
use tokio::sync::oneshot;
use zeroize::Zeroizing;

use crate::prompt;

/// Source of answers to auth requests.
#[derive(Clone)]
pub enum AnswerSource {
    /// Prompts on the controlling terminal, without echo unless the request allows it.
    Terminal,
    /// One line of standard input per answer field, for scripts; the lock keeps answers in order.
    Lines(Arc<Mutex<()>>),
}

impl AnswerSource {
    /// Reads answers from standard input lines, whatever it is connected to.
    pub fn stdin_lines() -> AnswerSource {
        AnswerSource::Lines(Arc::new(Mutex::new(())))
    }

    /// Picks the terminal when standard input is one, else standard input lines.
    pub fn detect() -> AnswerSource {
        if io::stdin().is_terminal() {
            AnswerSource::Terminal
        } else {
            AnswerSource::Lines(Arc::new(Mutex::new(())))
        }
    }

    fn read(&self, question: &str, echo: bool) -> io::Result<Zeroizing<String>> {
        match self {
            AnswerSource::Terminal => prompt::ask(question, echo),
            AnswerSource::Lines(order) => {
                let _turn = order
                    .lock()
                    .map_err(|_| io::Error::other("standard input reader failed"))?;
                let mut line = Zeroizing::new(String::new());
                if io::stdin().read_line(&mut line)? == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "standard input ended before the answer",
                    ));
                }
                while line.ends_with('\n') || line.ends_with('\r') {
                    line.pop();
                }
                Ok(line)
            }
        }
    }
}

/// Times a rejected answer is asked for again on the terminal.
const PROMPT_ATTEMPTS: usize = 3;

/// Seconds until `expires_at`, if set and still ahead.
pub fn seconds_left(expires_at: Option<SystemTime>) -> Option<u64> {
    expires_at
        .and_then(|at| at.duration_since(SystemTime::now()).ok())
        .map(|left| left.as_secs())
}

/// Asks for the answer to `request` and sends it; runs on a blocking thread.
///
/// Returns false when no answer can be read at all, such as at the end of standard input.
pub fn answer_request(request: AuthRequest, source: AnswerSource, answers: AnswerSender) -> bool {
    if !request.response_required {
        if let AuthRequestKind::WebAuth { url } = &request.kind {
            eprintln!("open this page to sign in: {url}");
        }
        return true;
    }

    // An answer the provider rejects (empty, too long) is asked for again, a few times.
    for _ in 0..PROMPT_ATTEMPTS {
        let answer = match read_answer(&request, &source) {
            Ok(answer) => answer,
            Err(error) => {
                eprintln!(
                    "ferrovpn: cannot read the answer to auth request {}: {error}",
                    request.id
                );
                return false;
            }
        };

        let (reply, verdict) = oneshot::channel();
        if answers
            .send(AnswerMessage {
                id: request.id,
                answer,
                reply,
            })
            .is_err()
        {
            return true;
        }
        match verdict.blocking_recv() {
            Ok(Err(error @ (AnswerError::Empty(_) | AnswerError::TooLong { .. }))) => {
                eprintln!("ferrovpn: {error}");
            }
            Ok(Err(error)) => {
                eprintln!("ferrovpn: {error}");
                return true;
            }
            _ => return true,
        }
    }
    true
}

/// Reads the answer to `request` from `source`, prompting on the terminal when it is one.
pub fn read_answer(request: &AuthRequest, source: &AnswerSource) -> io::Result<AuthAnswer> {
    let left = seconds_left(request.expires_at)
        .map(|seconds| format!(" ({seconds} s left)"))
        .unwrap_or_default();
    match &request.kind {
        AuthRequestKind::Credentials { username } => {
            let username = match username {
                Some(username) => username.clone(),
                None => source.read("Username: ", true)?.to_string(),
            };
            let password = source.read(&format!("Password for {username}: "), false)?;
            Ok(AuthAnswer::Credentials { username, password })
        }
        AuthRequestKind::StaticChallenge {
            username,
            password_known,
        } => {
            let password = if *password_known {
                None
            } else {
                Some(source.read(&format!("Password for {username}: "), false)?)
            };
            let response = source.read(&format!("{}: ", request.prompt), request.echo)?;
            Ok(AuthAnswer::StaticChallenge { password, response })
        }
        AuthRequestKind::DynamicChallenge | AuthRequestKind::PendingChallenge => {
            let response = source.read(&format!("{}{left}: ", request.prompt), request.echo)?;
            Ok(AuthAnswer::Response(response))
        }
        AuthRequestKind::WebAuth { .. } => Ok(AuthAnswer::Acknowledge),
    }
}
