//! The provider's side of pending authentication requests: raising them,
//! checking answers against them, and expiring them.
//!
//! A session has at most one pending request at a time. Answers arrive on a
//! channel from whoever shows the request (a terminal prompt, an app message,
//! a notification action); each answer gets a reply saying whether it was
//! taken, so an answer to an expired or completed request is rejected and
//! never sent to the server.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use ferrovpn_protocol::auth_request::{
    AnswerError, AskReason, AuthAnswer, AuthRequest, AuthRequestId, AuthRequestKind,
    AuthRequestOutcome, MAX_RESPONSE_LEN,
};
use tokio::sync::{mpsc, oneshot, watch};

use crate::events::ProviderEvent;

/// Source of request ids, unique within the process.
static NEXT_REQUEST_ID: AtomicU64 = AtomicU64::new(1);

/// One answer on its way to the provider, with the channel for the verdict.
pub struct AnswerMessage {
    /// The request answered.
    pub id: AuthRequestId,
    /// The answer.
    pub answer: AuthAnswer,
    /// Receives `Ok` when the answer was taken, or why it was not.
    pub reply: oneshot::Sender<Result<(), AnswerError>>,
}

/// Sending half for answers, held by the component that shows the requests.
pub type AnswerSender = mpsc::UnboundedSender<AnswerMessage>;

/// Receiving half for answers, given to the provider.
pub type AnswerReceiver = mpsc::UnboundedReceiver<AnswerMessage>;

/// Creates the channel that carries answers to a session.
pub fn answer_channel() -> (AnswerSender, AnswerReceiver) {
    mpsc::unbounded_channel()
}

/// Reason a wait for an answer ended without one.
#[derive(Debug, PartialEq, Eq)]
pub enum WaitEnd {
    /// The request's expiry passed.
    Expired,
    /// The provider is shutting down.
    Shutdown,
    /// Nobody can answer any more: the answer channel closed.
    NoAnswerer,
}

struct Pending {
    request: AuthRequest,
    deadline: Option<Instant>,
}

/// Pending request bookkeeping of one session.
pub struct AuthBroker {
    /// Session name put into every request.
    session: String,
    /// The request waiting for an answer, if any.
    pending: Option<Pending>,
    /// Receiving end of the answer channel.
    answers: AnswerReceiver,
    /// Channel for request events.
    events: mpsc::UnboundedSender<ProviderEvent>,
    /// Set once the answer channel closed.
    closed: bool,
}

impl AuthBroker {
    /// Creates the broker of session `session`.
    pub fn new(
        session: String,
        answers: AnswerReceiver,
        events: mpsc::UnboundedSender<ProviderEvent>,
    ) -> AuthBroker {
        AuthBroker {
            session,
            pending: None,
            answers,
            events,
            closed: false,
        }
    }

    /// True while a request waits for an answer.
    pub fn has_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Returns the pending request, if any.
    pub fn pending(&self) -> Option<&AuthRequest> {
        self.pending.as_ref().map(|pending| &pending.request)
    }

    /// When the pending request expires, if it does.
    pub fn deadline(&self) -> Option<Instant> {
        self.pending.as_ref().and_then(|pending| pending.deadline)
    }

    /// Raises a new request, replacing (and cancelling) any pending one.
    pub fn raise(
        &mut self,
        kind: AuthRequestKind,
        prompt: String,
        echo: bool,
        response_required: bool,
        timeout: Option<Duration>,
        reason: AskReason,
    ) -> AuthRequestId {
        self.close(AuthRequestOutcome::Cancelled);

        let id = AuthRequestId(NEXT_REQUEST_ID.fetch_add(1, Ordering::Relaxed));
        let request = AuthRequest {
            id,
            session: self.session.clone(),
            kind,
            prompt,
            echo,
            response_required,
            expires_at: timeout.map(|timeout| SystemTime::now() + timeout),
            reason,
        };
        tracing::info!(
            session = %self.session,
            request = %id,
            kind = request.kind.name(),
            response_required,
            timeout_seconds = timeout.map(|t| t.as_secs()),
            reason = %request.reason,
            "auth request pending"
        );
        let _ = self
            .events
            .send(ProviderEvent::AuthRequested(request.clone()));
        self.pending = Some(Pending {
            request,
            deadline: timeout.map(|timeout| Instant::now() + timeout),
        });
        id
    }

    /// Ends the pending request, if any, with `outcome`.
    pub fn close(&mut self, outcome: AuthRequestOutcome) {
        if let Some(pending) = self.pending.take() {
            let id = pending.request.id;
            tracing::info!(session = %self.session, request = %id, %outcome, "auth request closed");
            let _ = self
                .events
                .send(ProviderEvent::AuthRequestClosed { id, outcome });
        }
    }

    /// Expires the pending request when its deadline passed; returns true if it did.
    pub fn expire_if_due(&mut self, now: Instant) -> bool {
        let due = self.deadline().is_some_and(|deadline| now >= deadline);
        if due {
            self.close(AuthRequestOutcome::Expired);
        }
        due
    }

    /// Waits for a valid answer to the pending request; invalid answers are rejected and skipped.
    ///
    /// Without a pending request, every answer is rejected and this waits forever, so it
    /// is meant for a `select!` branch guarded by [`AuthBroker::has_pending`].
    pub async fn next_answer(&mut self) -> Result<AuthAnswer, WaitEnd> {
        loop {
            if self.closed {
                return std::future::pending().await;
            }
            let Some(message) = self.answers.recv().await else {
                self.closed = true;
                return Err(WaitEnd::NoAnswerer);
            };
            match self.check(&message) {
                Ok(()) => {
                    let _ = message.reply.send(Ok(()));
                    return Ok(message.answer);
                }
                Err(error) => {
                    tracing::info!(session = %self.session, request = %message.id, %error, "rejected an answer");
                    let _ = message.reply.send(Err(error));
                }
            }
        }
    }

    /// Raises a request and waits for its answer, its expiry or a shutdown.
    pub async fn ask(
        &mut self,
        kind: AuthRequestKind,
        prompt: String,
        echo: bool,
        timeout: Option<Duration>,
        reason: AskReason,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<AuthAnswer, WaitEnd> {
        self.raise(kind, prompt, echo, true, timeout, reason);
        let deadline = self.deadline();
        let expiry = async {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
                None => std::future::pending().await,
            }
        };

        tokio::select! {
            answer = self.next_answer() => {
                match &answer {
                    Ok(_) => self.close(AuthRequestOutcome::Answered),
                    Err(_) => self.close(AuthRequestOutcome::Cancelled),
                }
                answer
            }
            () = expiry => {
                self.close(AuthRequestOutcome::Expired);
                Err(WaitEnd::Expired)
            }
            _ = shutdown.changed() => {
                self.close(AuthRequestOutcome::Cancelled);
                Err(WaitEnd::Shutdown)
            }
        }
    }

    fn check(&self, message: &AnswerMessage) -> Result<(), AnswerError> {
        let Some(pending) = &self.pending else {
            return Err(AnswerError::NotPending(message.id));
        };
        if pending.request.id != message.id {
            return Err(AnswerError::NotPending(message.id));
        }
        if pending
            .deadline
            .is_some_and(|deadline| Instant::now() >= deadline)
        {
            return Err(AnswerError::NotPending(message.id));
        }

        let id = message.id;
        match (&pending.request.kind, &message.answer) {
            (AuthRequestKind::Credentials { .. }, AuthAnswer::Credentials { username, .. }) => {
                if username.is_empty() {
                    return Err(AnswerError::Empty(id));
                }
            }
            (
                AuthRequestKind::StaticChallenge { password_known, .. },
                AuthAnswer::StaticChallenge { password, .. },
            ) => {
                if !password_known && password.is_none() {
                    return Err(AnswerError::WrongKind {
                        id,
                        expected: "a password and a response",
                    });
                }
            }
            (
                AuthRequestKind::DynamicChallenge | AuthRequestKind::PendingChallenge,
                AuthAnswer::Response(response),
            ) => {
                if pending.request.response_required && response.is_empty() {
                    return Err(AnswerError::Empty(id));
                }
                if response.len() > MAX_RESPONSE_LEN {
                    return Err(AnswerError::TooLong {
                        id,
                        len: response.len(),
                        max: MAX_RESPONSE_LEN,
                    });
                }
            }
            (AuthRequestKind::WebAuth { .. }, AuthAnswer::Acknowledge) => {}
            (_, AuthAnswer::Acknowledge) if !pending.request.response_required => {}
            (kind, _) => {
                return Err(AnswerError::WrongKind {
                    id,
                    expected: match kind {
                        AuthRequestKind::Credentials { .. } => "a username and a password",
                        AuthRequestKind::StaticChallenge { .. } => "a password and a response",
                        AuthRequestKind::DynamicChallenge | AuthRequestKind::PendingChallenge => {
                            "a response"
                        }
                        AuthRequestKind::WebAuth { .. } => "no input",
                    },
                })
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zeroize::Zeroizing;

    fn broker() -> (
        AuthBroker,
        AnswerSender,
        mpsc::UnboundedReceiver<ProviderEvent>,
    ) {
        let (answers_tx, answers_rx) = answer_channel();
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        (
            AuthBroker::new("test".to_owned(), answers_rx, events_tx),
            answers_tx,
            events_rx,
        )
    }

    fn send(
        answers: &AnswerSender,
        id: AuthRequestId,
        answer: AuthAnswer,
    ) -> oneshot::Receiver<Result<(), AnswerError>> {
        let (reply, verdict) = oneshot::channel();
        answers.send(AnswerMessage { id, answer, reply }).unwrap();
        verdict
    }

    fn response(text: &str) -> AuthAnswer {
        AuthAnswer::Response(Zeroizing::new(text.to_owned()))
    }

    #[tokio::test]
    async fn answer_to_unknown_id_rejected() {
        let (mut broker, answers, _events) = broker();
        let id = broker.raise(
            AuthRequestKind::PendingChallenge,
            "Code".into(),
            false,
            true,
            None,
            AskReason::Initial,
        );
        let wrong = send(&answers, AuthRequestId(id.0 + 1000), response("123456"));
        let right = send(&answers, id, response("123456"));

        let answer = broker
            .next_answer()
            .await
            .expect("the right answer is taken");
        assert!(
            matches!(answer, AuthAnswer::Response(_)),
            "answer: {answer:?}"
        );
        assert_eq!(
            wrong.await.unwrap(),
            Err(AnswerError::NotPending(AuthRequestId(id.0 + 1000)))
        );
        assert_eq!(right.await.unwrap(), Ok(()));
    }

    #[tokio::test]
    async fn answer_after_expiry_rejected() {
        let (mut broker, answers, mut events) = broker();
        let id = broker.raise(
            AuthRequestKind::PendingChallenge,
            "Code".into(),
            false,
            true,
            Some(Duration::from_millis(1)),
            AskReason::Initial,
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(broker.expire_if_due(Instant::now()), "request not expired");

        let verdict = send(&answers, id, response("123456"));
        drop(answers);
        assert_eq!(broker.next_answer().await.unwrap_err(), WaitEnd::NoAnswerer);
        assert_eq!(verdict.await.unwrap(), Err(AnswerError::NotPending(id)));

        let _requested = events.recv().await;
        let closed = events.recv().await;
        assert!(
            matches!(
                closed,
                Some(ProviderEvent::AuthRequestClosed {
                    outcome: AuthRequestOutcome::Expired,
                    ..
                })
            ),
            "event: {closed:?}"
        );
    }

    #[tokio::test]
    async fn credentials_for_challenge_rejected() {
        let (mut broker, answers, _events) = broker();
        let id = broker.raise(
            AuthRequestKind::DynamicChallenge,
            "Code".into(),
            true,
            true,
            None,
            AskReason::Initial,
        );
        let verdict = send(
            &answers,
            id,
            AuthAnswer::Credentials {
                username: "alice".into(),
                password: Zeroizing::new("pw".into()),
            },
        );
        drop(answers);
        assert_eq!(broker.next_answer().await.unwrap_err(), WaitEnd::NoAnswerer);
        assert!(matches!(
            verdict.await.unwrap(),
            Err(AnswerError::WrongKind { .. })
        ));
    }

    #[tokio::test]
    async fn empty_required_response_rejected() {
        let (mut broker, answers, _events) = broker();
        let id = broker.raise(
            AuthRequestKind::PendingChallenge,
            "Code".into(),
            false,
            true,
            None,
            AskReason::Initial,
        );
        let verdict = send(&answers, id, response(""));
        drop(answers);
        assert_eq!(broker.next_answer().await.unwrap_err(), WaitEnd::NoAnswerer);
        assert_eq!(verdict.await.unwrap(), Err(AnswerError::Empty(id)));
    }

    #[tokio::test]
    async fn new_request_cancels_previous() {
        let (mut broker, _answers, mut events) = broker();
        let first = broker.raise(
            AuthRequestKind::DynamicChallenge,
            "One".into(),
            true,
            true,
            None,
            AskReason::Initial,
        );
        broker.raise(
            AuthRequestKind::DynamicChallenge,
            "Two".into(),
            true,
            true,
            None,
            AskReason::NextStep,
        );
        let _first_requested = events.recv().await;
        let closed = events.recv().await;
        assert!(
            matches!(closed, Some(ProviderEvent::AuthRequestClosed { id, outcome: AuthRequestOutcome::Cancelled }) if id == first),
            "event: {closed:?}"
        );
    }
}
