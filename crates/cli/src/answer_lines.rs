//! Answers from standard input lines when it is not a terminal, for scripts.
//!
//! One thread reads lines as they come; each line goes to the request pending at
//! that moment, one line per answer field. A line is never bound to a request
//! that was closed meanwhile (a server restart, an expiry), and a rejected answer
//! (an empty line) simply waits for the next line.

use std::collections::VecDeque;
use std::io::BufRead;

use ferrovpn_protocol::auth_request::{AuthAnswer, AuthRequest, AuthRequestId, AuthRequestKind};
use tokio::sync::mpsc;
use zeroize::Zeroizing;

/// Lines read ahead of a request, at most; more are dropped with a warning.
const MAX_BUFFERED_LINES: usize = 16;

/// A line of standard input, or its end.
pub enum Input {
    /// One line without its line end.
    Line(Zeroizing<String>),
    /// Standard input ended.
    End,
}

/// Starts the thread that reads standard input lines.
pub fn spawn_reader() -> mpsc::UnboundedReceiver<Input> {
    let (sender, receiver) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        loop {
            let mut line = Zeroizing::new(String::new());
            match stdin.lock().read_line(&mut line) {
                Ok(0) | Err(_) => {
                    let _ = sender.send(Input::End);
                    return;
                }
                Ok(_) => {
                    while line.ends_with('\n') || line.ends_with('\r') {
                        line.pop();
                    }
                    if sender.send(Input::Line(line)).is_err() {
                        return;
                    }
                }
            }
        }
    });
    receiver
}

/// Binds input lines to the pending request.
#[derive(Default)]
pub struct LineDispatcher {
    /// The request that takes the next line.
    current: Option<AuthRequest>,
    /// Fields collected for it so far.
    fields: Vec<Zeroizing<String>>,
    /// Lines that arrived while nothing was pending.
    buffered: VecDeque<Zeroizing<String>>,
    /// Standard input ended.
    ended: bool,
}

impl LineDispatcher {
    /// Makes `request` the one that takes the next lines, if it needs an answer.
    pub fn request_added(&mut self, request: &AuthRequest) {
        if request.response_required && fields_needed(request) > 0 {
            self.current = Some(request.clone());
            self.fields.clear();
        }
    }

    /// Forgets request `id` once it closed.
    pub fn request_closed(&mut self, id: AuthRequestId) {
        if self
            .current
            .as_ref()
            .is_some_and(|request| request.id == id)
        {
            self.current = None;
            self.fields.clear();
        }
    }

    /// Starts over collecting fields for request `id` after its answer was rejected.
    pub fn answer_rejected(&mut self, id: AuthRequestId) {
        if self
            .current
            .as_ref()
            .is_some_and(|request| request.id == id)
        {
            self.fields.clear();
        }
    }

    /// Takes one input.
    pub fn input(&mut self, input: Input) {
        match input {
            Input::Line(line) if self.buffered.len() < MAX_BUFFERED_LINES => {
                self.buffered.push_back(line)
            }
            Input::Line(_) => {
                eprintln!("ferrovpn: ignoring an input line: no auth request is pending")
            }
            Input::End => self.ended = true,
        }
    }

    /// Returns a complete answer for the current request when enough lines arrived.
    pub fn take_answer(&mut self) -> Option<(AuthRequestId, AuthAnswer)> {
        let request = self.current.as_ref()?;
        let needed = fields_needed(request);
        while self.fields.len() < needed {
            self.fields.push(self.buffered.pop_front()?);
        }
        let fields = std::mem::take(&mut self.fields);
        Some((request.id, build_answer(request, fields)))
    }

    /// True when a request waits for lines that can no longer come.
    pub fn is_stuck(&self) -> bool {
        self.ended && self.buffered.is_empty() && self.current.is_some()
    }
}

/// Lines one answer to `request` takes.
fn fields_needed(request: &AuthRequest) -> usize {
    match &request.kind {
        AuthRequestKind::Credentials { username: Some(_) } => 1,
        AuthRequestKind::Credentials { username: None } => 2,
        AuthRequestKind::StaticChallenge {
            password_known: true,
            ..
        } => 1,
        AuthRequestKind::StaticChallenge {
            password_known: false,
            ..
        } => 2,
        AuthRequestKind::DynamicChallenge | AuthRequestKind::PendingChallenge => 1,
        AuthRequestKind::WebAuth { .. } => 0,
    }
}

fn build_answer(request: &AuthRequest, mut fields: Vec<Zeroizing<String>>) -> AuthAnswer {
    let mut next = || {
        if fields.is_empty() {
            Zeroizing::new(String::new())
        } else {
            fields.remove(0)
        }
    };
    match &request.kind {
        AuthRequestKind::Credentials { username } => {
            let username = match username {
                Some(username) => username.clone(),
                None => next().to_string(),
            };
            AuthAnswer::Credentials {
                username,
                password: next(),
            }
        }
        AuthRequestKind::StaticChallenge { password_known, .. } => {
            let password = if *password_known { None } else { Some(next()) };
            AuthAnswer::StaticChallenge {
                password,
                response: next(),
            }
        }
        AuthRequestKind::DynamicChallenge | AuthRequestKind::PendingChallenge => {
            AuthAnswer::Response(next())
        }
        AuthRequestKind::WebAuth { .. } => AuthAnswer::Acknowledge,
    }
}

#[cfg(test)]
mod tests {
    use ferrovpn_protocol::auth_request::AskReason;

    use super::*;

    fn request(id: u64, kind: AuthRequestKind) -> AuthRequest {
        AuthRequest {
            id: AuthRequestId(id),
            session: "work".to_owned(),
            kind,
            prompt: "Code".to_owned(),
            echo: false,
            response_required: true,
            expires_at: None,
            reason: AskReason::Initial,
        }
    }

    fn line(text: &str) -> Input {
        Input::Line(Zeroizing::new(text.to_owned()))
    }

    #[test]
    fn line_goes_to_current_request() {
        let mut dispatcher = LineDispatcher::default();
        dispatcher.request_added(&request(1, AuthRequestKind::PendingChallenge));
        dispatcher.input(line("123456"));
        let (id, answer) = dispatcher.take_answer().expect("an answer");
        assert_eq!(id, AuthRequestId(1));
        assert!(matches!(answer, AuthAnswer::Response(code) if code.as_str() == "123456"));
    }

    #[test]
    fn closed_request_does_not_take_line() {
        let mut dispatcher = LineDispatcher::default();
        dispatcher.request_added(&request(1, AuthRequestKind::PendingChallenge));
        dispatcher.request_closed(AuthRequestId(1));
        dispatcher.input(line("123456"));
        assert!(
            dispatcher.take_answer().is_none(),
            "a closed request took the line"
        );
        dispatcher.request_added(&request(2, AuthRequestKind::PendingChallenge));
        assert_eq!(
            dispatcher.take_answer().map(|(id, _)| id),
            Some(AuthRequestId(2))
        );
    }

    #[test]
    fn credentials_take_two_lines() {
        let mut dispatcher = LineDispatcher::default();
        dispatcher.request_added(&request(3, AuthRequestKind::Credentials { username: None }));
        dispatcher.input(line("alice"));
        assert!(
            dispatcher.take_answer().is_none(),
            "answered after one of two lines"
        );
        dispatcher.input(line("secret"));
        let answer = dispatcher.take_answer().map(|(_, answer)| answer);
        assert!(
            matches!(answer, Some(AuthAnswer::Credentials { username, .. }) if username == "alice")
        );
    }

    #[test]
    fn ended_input_with_pending_request_is_stuck() {
        let mut dispatcher = LineDispatcher::default();
        dispatcher.request_added(&request(4, AuthRequestKind::DynamicChallenge));
        dispatcher.input(Input::End);
        assert!(dispatcher.is_stuck(), "no answer can come, yet not stuck");
    }
}
