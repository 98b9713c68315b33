//! Bookkeeping of the notifications that show auth requests and session states, kept
//! in step with daemon events and notification actions.

use std::collections::HashMap;

use ferrovpn_ipc::{Event, SessionState, WireAuthOutcome, WireAuthRequest, WireAuthRequestKind};

use super::notifications::{
    escape_markup, Notification, Notifier, Urgency, ANSWER_ACTION, DEFAULT_ACTION, OPEN_ACTION,
};

/// Program start that the agent performs after the user clicked a notification action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Run the answer command for auth request `id` of `session`.
    Answer {
        /// Id of the auth request.
        id: u64,
        /// Session the request belongs to.
        session: String,
    },
    /// Open the sign-in page of a web authentication request.
    Open {
        /// Id of the auth request.
        id: u64,
        /// The sign-in page.
        url: String,
    },
}

/// An auth request the agent posted a notification for.
#[derive(Debug)]
struct TrackedRequest {
    /// The request as the daemon sent it.
    request: WireAuthRequest,
    /// Id of its notification, or `None` once the notification left the screen.
    notification: Option<u32>,
}

/// Notifications of auth requests and session states, kept in step with daemon events.
///
/// Each auth request id gets exactly one notification, also when the daemon replays
/// pending requests after the agent subscribed again.
pub(crate) struct NotificationTracker<N> {
    /// Display that shows the notifications.
    notifier: N,
    /// The notification server shows action buttons (the `actions` capability).
    actions_supported: bool,
    /// Auth requests with a notification, by request id.
    requests: HashMap<u64, TrackedRequest>,
    /// Id of the "connected" or "failed" notification on screen, by session name.
    status: HashMap<String, u32>,
}

impl<N: Notifier> NotificationTracker<N> {
    /// Creates a tracker that shows notifications through `notifier`.
    pub fn new(notifier: N, actions_supported: bool) -> NotificationTracker<N> {
        NotificationTracker {
            notifier,
            actions_supported,
            requests: HashMap::new(),
            status: HashMap::new(),
        }
    }

    /// Updates the notifications for one daemon event.
    pub async fn handle_event(&mut self, event: Event) {
        match event {
            Event::AuthRequestAdded(request) => self.request_added(request).await,
            Event::AuthRequestClosed {
                id,
                session,
                outcome,
            } => self.request_closed(id, &session, outcome).await,
            Event::SessionState {
                session,
                state,
                detail,
            } => self.state_changed(&session, state, detail).await,
        }
    }

    /// Drops every tracked request that is not in `pending`, the daemon's current list.
    ///
    /// Used after subscribing again: requests that closed while the agent was away get
    /// no event, and a restarted daemon numbers its requests from 1 again, so an id
    /// alone does not tell an old request from a new one.
    pub async fn keep_only(&mut self, pending: &[WireAuthRequest]) {
        let stale: Vec<u64> = self
            .requests
            .iter()
            .filter(|(_, tracked)| !pending.contains(&tracked.request))
            .map(|(id, _)| *id)
            .collect();
        for id in stale {
            tracing::info!(request = id, "auth request is no longer pending");
            self.forget_request(id).await;
        }
    }

    /// Returns what to do for action `key` of notification `notification`, or `None`
    /// when the notification is not one of ours or has no such action.
    pub fn action(&self, notification: u32, key: &str) -> Option<Action> {
        let request = &self
            .requests
            .values()
            .find(|tracked| tracked.notification == Some(notification))?
            .request;

        let open = || {
            request.url.clone().map(|url| Action::Open {
                id: request.id,
                url,
            })
        };
        let answer = || Action::Answer {
            id: request.id,
            session: request.session.clone(),
        };
        match key {
            ANSWER_ACTION if request.response_required => Some(answer()),
            OPEN_ACTION => open(),
            DEFAULT_ACTION if request.response_required => Some(answer()),
            DEFAULT_ACTION => open(),
            _ => None,
        }
    }

    /// Forgets notification `id` after the server reported that it left the screen.
    ///
    /// Its request stays tracked, so a replay of the same request posts nothing new.
    pub fn notification_closed(&mut self, id: u32) {
        for tracked in self.requests.values_mut() {
            if tracked.notification == Some(id) {
                tracked.notification = None;
            }
        }
        self.status.retain(|_, shown| *shown != id);
    }

    /// Closes the notifications of every tracked auth request, for example when the agent stops.
    pub async fn close_all(&mut self) {
        let ids: Vec<u64> = self.requests.keys().copied().collect();
        for id in ids {
            self.forget_request(id).await;
        }
    }

    async fn request_added(&mut self, request: WireAuthRequest) {
        let id = request.id;
        match self.requests.get(&id) {
            Some(tracked) if tracked.request == request => {
                tracing::debug!(request = id, "auth request already has a notification");
                return;
            }
            Some(_) => {
                tracing::info!(
                    request = id,
                    "auth request id reused; replacing its notification"
                );
                self.forget_request(id).await;
            }
            None => {}
        }

        let notification = request_notification(&request, self.actions_supported);
        match self.notifier.notify(&notification, None).await {
            Ok(shown) => {
                tracing::info!(request = id, session = %request.session, kind = ?request.kind, notification = shown, "posted auth request notification");
                self.requests.insert(
                    id,
                    TrackedRequest {
                        request,
                        notification: Some(shown),
                    },
                );
            }
            Err(error) => {
                tracing::warn!(request = id, session = %request.session, %error, "posting the auth request notification failed");
            }
        }
    }

    async fn request_closed(&mut self, id: u64, session: &str, outcome: WireAuthOutcome) {
        tracing::info!(request = id, session, ?outcome, "auth request closed");
        self.forget_request(id).await;
    }

    async fn state_changed(&mut self, session: &str, state: SessionState, detail: Option<String>) {
        tracing::debug!(session, %state, "session state changed");
        let status = match state {
            SessionState::Connected => Some(connected_notification(session, detail.as_deref())),
            SessionState::Failed => Some(failed_notification(session, detail.as_deref())),
            SessionState::Disconnected => None,
            SessionState::Connecting
            | SessionState::WaitingForAuthentication
            | SessionState::Reconnecting => return,
        };

        // Once the tunnel is up or the session ended, its earlier requests are settled:
        // the status notification takes the place of the first one still on screen.
        let on_screen: Vec<u32> = self
            .requests
            .values_mut()
            .filter(|tracked| tracked.request.session == session)
            .filter_map(|tracked| tracked.notification.take())
            .collect();
        if state != SessionState::Connected {
            // The daemon clears the pending list of an ended session without events.
            self.requests
                .retain(|_, tracked| tracked.request.session != session);
        }
        let mut replaceable = on_screen.into_iter();
        let replaces = match &status {
            Some(_) => replaceable
                .next()
                .or_else(|| self.status.get(session).copied()),
            None => None,
        };
        for id in replaceable {
            self.close(id).await;
        }

        let Some(notification) = status else {
            if let Some(id) = self.status.remove(session) {
                self.close(id).await;
            }
            return;
        };
        match self.notifier.notify(&notification, replaces).await {
            Ok(shown) => {
                tracing::info!(session, %state, notification = shown, "posted session notification");
                if let Some(previous) = self.status.insert(session.to_owned(), shown) {
                    if previous != shown && Some(previous) != replaces {
                        self.close(previous).await;
                    }
                }
            }
            Err(error) => {
                tracing::warn!(session, %state, %error, "posting the session notification failed");
            }
        }
    }

    /// Stops tracking request `id` and closes its notification if it is on screen.
    async fn forget_request(&mut self, id: u64) {
        if let Some(notification) = self
            .requests
            .remove(&id)
            .and_then(|tracked| tracked.notification)
        {
            self.close(notification).await;
        }
    }

    async fn close(&self, notification: u32) {
        match self.notifier.close(notification).await {
            Ok(()) => tracing::debug!(notification, "closed notification"),
            Err(error) => tracing::warn!(notification, %error, "closing a notification failed"),
        }
    }
}

/// Builds the notification of an auth request: the session in the summary, the prompt
/// as escaped plain text in the body.
pub fn request_notification(request: &WireAuthRequest, actions_supported: bool) -> Notification {
    let mut body = if request.prompt.trim().is_empty() {
        fallback_prompt(request.kind).to_owned()
    } else {
        escape_markup(&request.prompt)
    };

    let mut actions = Vec::new();
    if request.response_required {
        actions.push((DEFAULT_ACTION, "Answer"));
        actions.push((ANSWER_ACTION, "Answer"));
    }
    if request.kind == WireAuthRequestKind::WebAuth && request.url.is_some() {
        if !request.response_required {
            actions.push((DEFAULT_ACTION, "Open"));
        }
        actions.push((OPEN_ACTION, "Open"));
    }
    if !actions_supported && request.response_required {
        body.push_str(&format!(
            "\nAnswer with: ferrovpn auth {}",
            escape_markup(&request.session)
        ));
    }

    Notification {
        summary: format!("VPN {} needs authentication", request.session),
        body,
        actions,
        urgency: Urgency::Critical,
        category: "network",
        resident: true,
        expire_timeout_ms: expire_timeout(request.expires_at_unix),
    }
}

/// Text shown when the server sent an empty prompt.
fn fallback_prompt(kind: WireAuthRequestKind) -> &'static str {
    match kind {
        WireAuthRequestKind::Credentials => "Enter your username and password",
        WireAuthRequestKind::StaticChallenge => "Enter your password and the response",
        WireAuthRequestKind::DynamicChallenge | WireAuthRequestKind::PendingChallenge => {
            "Enter the response the server asks for"
        }
        WireAuthRequestKind::WebAuth => "Sign in on the web page",
    }
}

/// Milliseconds until `expires_at_unix`, at least one second, or 0 (never) without an expiry.
fn expire_timeout(expires_at_unix: Option<u64>) -> i32 {
    let Some(expires) = expires_at_unix else {
        return 0;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|since| since.as_secs())
        .unwrap_or(0);
    let seconds = expires.saturating_sub(now).max(1);
    i32::try_from(seconds.saturating_mul(1000)).unwrap_or(i32::MAX)
}

fn connected_notification(session: &str, addresses: Option<&str>) -> Notification {
    let body = match addresses {
        Some(addresses) if !addresses.is_empty() => {
            format!("Tunnel addresses: {}", escape_markup(addresses))
        }
        _ => "The tunnel is up".to_owned(),
    };
    Notification {
        summary: format!("VPN {session} connected"),
        body,
        actions: Vec::new(),
        urgency: Urgency::Normal,
        category: "network.connected",
        resident: false,
        expire_timeout_ms: -1,
    }
}

fn failed_notification(session: &str, error: Option<&str>) -> Notification {
    Notification {
        summary: format!("VPN {session} failed"),
        body: escape_markup(error.unwrap_or("The session ended on an error")),
        actions: Vec::new(),
        urgency: Urgency::Critical,
        category: "network.error",
        resident: false,
        expire_timeout_ms: -1,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use ferrovpn_ipc::WireAskReason;

    use super::*;

    /// A call the fake notifier received.
    #[derive(Clone, Debug, PartialEq, Eq)]
    enum Call {
        Notify {
            summary: String,
            body: String,
            replaces: Option<u32>,
        },
        Close(u32),
    }

    /// Records calls and numbers notifications from 1 like a real server.
    #[derive(Clone, Default)]
    struct FakeNotifier {
        calls: Arc<Mutex<Vec<Call>>>,
    }

    impl FakeNotifier {
        fn calls(&self) -> Vec<Call> {
            self.calls.lock().unwrap().clone()
        }

        fn notify_count(&self) -> usize {
            self.calls()
                .iter()
                .filter(|call| matches!(call, Call::Notify { .. }))
                .count()
        }
    }

    impl Notifier for FakeNotifier {
        async fn notify(
            &self,
            notification: &Notification,
            replaces: Option<u32>,
        ) -> Result<u32, zbus::Error> {
            let mut calls = self.calls.lock().unwrap();
            calls.push(Call::Notify {
                summary: notification.summary.clone(),
                body: notification.body.clone(),
                replaces,
            });
            let posted = calls
                .iter()
                .filter(|call| matches!(call, Call::Notify { replaces: None, .. }))
                .count();
            Ok(replaces.unwrap_or(posted as u32))
        }

        async fn close(&self, id: u32) -> Result<(), zbus::Error> {
            self.calls.lock().unwrap().push(Call::Close(id));
            Ok(())
        }
    }

    fn request(id: u64, session: &str) -> WireAuthRequest {
        WireAuthRequest {
            id,
            session: session.to_owned(),
            kind: WireAuthRequestKind::PendingChallenge,
            prompt: "Enter your <b>code</b>".to_owned(),
            echo: true,
            response_required: true,
            expires_at_unix: None,
            reason: "first request".to_owned(),
            reason_kind: WireAskReason::Initial,
            url: None,
            username: None,
            password_known: None,
        }
    }

    fn web_request(id: u64) -> WireAuthRequest {
        WireAuthRequest {
            kind: WireAuthRequestKind::WebAuth,
            response_required: false,
            url: Some("https://198.18.0.1/sso".to_owned()),
            ..request(id, "work")
        }
    }

    fn state(session: &str, state: SessionState, detail: Option<&str>) -> Event {
        Event::SessionState {
            session: session.to_owned(),
            state,
            detail: detail.map(str::to_owned),
        }
    }

    fn tracker() -> (NotificationTracker<FakeNotifier>, FakeNotifier) {
        let notifier = FakeNotifier::default();
        (NotificationTracker::new(notifier.clone(), true), notifier)
    }

    #[tokio::test]
    async fn replayed_request_posts_once() {
        let (mut tracker, notifier) = tracker();

        tracker
            .handle_event(Event::AuthRequestAdded(request(1, "work")))
            .await;
        tracker
            .handle_event(Event::AuthRequestAdded(request(1, "work")))
            .await;

        assert_eq!(notifier.notify_count(), 1, "calls: {:?}", notifier.calls());
    }

    #[tokio::test]
    async fn request_notification_escapes_prompt() {
        let (mut tracker, notifier) = tracker();

        tracker
            .handle_event(Event::AuthRequestAdded(request(1, "work")))
            .await;

        assert_eq!(
            notifier.calls()[0],
            Call::Notify {
                summary: "VPN work needs authentication".to_owned(),
                body: "Enter your &lt;b&gt;code&lt;/b&gt;".to_owned(),
                replaces: None,
            }
        );
    }

    #[tokio::test]
    async fn closed_request_closes_notification() {
        let (mut tracker, notifier) = tracker();
        tracker
            .handle_event(Event::AuthRequestAdded(request(1, "work")))
            .await;

        tracker
            .handle_event(Event::AuthRequestClosed {
                id: 1,
                session: "work".to_owned(),
                outcome: WireAuthOutcome::Expired,
            })
            .await;

        assert_eq!(notifier.calls().last(), Some(&Call::Close(1)));
    }

    #[tokio::test]
    async fn connected_replaces_open_request_notification() {
        let (mut tracker, notifier) = tracker();
        tracker
            .handle_event(Event::AuthRequestAdded(request(1, "work")))
            .await;

        tracker
            .handle_event(state(
                "work",
                SessionState::Connected,
                Some("198.18.10.2/24"),
            ))
            .await;

        assert_eq!(
            notifier.calls().last(),
            Some(&Call::Notify {
                summary: "VPN work connected".to_owned(),
                body: "Tunnel addresses: 198.18.10.2/24".to_owned(),
                replaces: Some(1),
            })
        );
    }

    #[tokio::test]
    async fn connected_after_close_posts_new() {
        let (mut tracker, notifier) = tracker();
        tracker
            .handle_event(Event::AuthRequestAdded(request(1, "work")))
            .await;
        tracker
            .handle_event(Event::AuthRequestClosed {
                id: 1,
                session: "work".to_owned(),
                outcome: WireAuthOutcome::Answered,
            })
            .await;

        tracker
            .handle_event(state("work", SessionState::Connected, None))
            .await;

        assert!(
            matches!(
                notifier.calls().last(),
                Some(Call::Notify { replaces: None, .. })
            ),
            "calls: {:?}",
            notifier.calls()
        );
    }

    #[tokio::test]
    async fn failed_notification_names_error() {
        let (mut tracker, notifier) = tracker();

        tracker
            .handle_event(state(
                "work",
                SessionState::Failed,
                Some("AUTH_FAILED & <gone>"),
            ))
            .await;

        assert_eq!(
            notifier.calls().last(),
            Some(&Call::Notify {
                summary: "VPN work failed".to_owned(),
                body: "AUTH_FAILED &amp; &lt;gone&gt;".to_owned(),
                replaces: None,
            })
        );
    }

    #[tokio::test]
    async fn disconnected_closes_request_notifications() {
        let (mut tracker, notifier) = tracker();
        tracker
            .handle_event(Event::AuthRequestAdded(request(1, "work")))
            .await;

        tracker
            .handle_event(state("work", SessionState::Disconnected, None))
            .await;

        assert_eq!(notifier.calls().last(), Some(&Call::Close(1)));
    }

    #[tokio::test]
    async fn other_session_state_keeps_notification() {
        let (mut tracker, notifier) = tracker();
        tracker
            .handle_event(Event::AuthRequestAdded(request(1, "work")))
            .await;

        tracker
            .handle_event(state("home", SessionState::Disconnected, None))
            .await;

        assert_eq!(notifier.calls().len(), 1, "calls: {:?}", notifier.calls());
    }

    #[tokio::test]
    async fn keep_only_closes_vanished_request() {
        let (mut tracker, notifier) = tracker();
        tracker
            .handle_event(Event::AuthRequestAdded(request(1, "work")))
            .await;
        tracker
            .handle_event(Event::AuthRequestAdded(request(2, "work")))
            .await;

        tracker.keep_only(&[request(2, "work")]).await;

        assert_eq!(notifier.calls().last(), Some(&Call::Close(1)));
    }

    #[tokio::test]
    async fn reused_id_after_restart_posts_again() {
        let (mut tracker, notifier) = tracker();
        tracker
            .handle_event(Event::AuthRequestAdded(request(1, "work")))
            .await;
        let restarted = WireAuthRequest {
            expires_at_unix: Some(4_000_000_000),
            ..request(1, "work")
        };

        tracker.keep_only(std::slice::from_ref(&restarted)).await;
        tracker
            .handle_event(Event::AuthRequestAdded(restarted))
            .await;

        assert_eq!(notifier.notify_count(), 2, "calls: {:?}", notifier.calls());
    }

    #[tokio::test]
    async fn dismissed_request_not_posted_again() {
        let (mut tracker, notifier) = tracker();
        tracker
            .handle_event(Event::AuthRequestAdded(request(1, "work")))
            .await;

        tracker.notification_closed(1);
        tracker
            .handle_event(Event::AuthRequestAdded(request(1, "work")))
            .await;

        assert_eq!(notifier.notify_count(), 1, "calls: {:?}", notifier.calls());
    }

    #[tokio::test]
    async fn answer_action_names_request() {
        let (mut tracker, _notifier) = tracker();
        tracker
            .handle_event(Event::AuthRequestAdded(request(5, "work")))
            .await;

        let action = tracker.action(1, ANSWER_ACTION);

        assert_eq!(
            action,
            Some(Action::Answer {
                id: 5,
                session: "work".to_owned()
            })
        );
    }

    #[tokio::test]
    async fn open_action_of_web_request() {
        let (mut tracker, _notifier) = tracker();
        tracker
            .handle_event(Event::AuthRequestAdded(web_request(6)))
            .await;

        let action = tracker.action(1, DEFAULT_ACTION);

        assert_eq!(
            action,
            Some(Action::Open {
                id: 6,
                url: "https://198.18.0.1/sso".to_owned()
            })
        );
    }

    #[tokio::test]
    async fn action_of_unknown_notification_ignored() {
        let (mut tracker, _notifier) = tracker();
        tracker
            .handle_event(Event::AuthRequestAdded(request(5, "work")))
            .await;

        assert_eq!(tracker.action(99, ANSWER_ACTION), None);
    }

    #[test]
    fn request_actions_by_kind() {
        let keys = |request: &WireAuthRequest| -> Vec<&str> {
            request_notification(request, true)
                .actions
                .iter()
                .map(|(key, _)| *key)
                .collect()
        };

        assert_eq!(
            keys(&request(1, "work")),
            [DEFAULT_ACTION, ANSWER_ACTION],
            "challenge actions"
        );
        assert_eq!(
            keys(&web_request(2)),
            [DEFAULT_ACTION, OPEN_ACTION],
            "web auth actions"
        );
    }

    #[test]
    fn request_body_without_actions_names_command() {
        let notification = request_notification(&request(1, "work"), false);

        assert!(
            notification
                .body
                .ends_with("Answer with: ferrovpn auth work"),
            "body: {}",
            notification.body
        );
    }
}
