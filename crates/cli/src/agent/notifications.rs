//! Desktop notifications through the freedesktop.org Desktop Notifications
//! Specification: the `org.freedesktop.Notifications` service on the session D-Bus.

use std::collections::HashMap;

use zbus::zvariant::Value;

/// Application name sent with every notification.
pub const APP_NAME: &str = "ferrovpn";

/// Action key that the notification server sends back when the body is clicked.
pub const DEFAULT_ACTION: &str = "default";

/// Action key of the "Answer" button: runs the answer command.
pub const ANSWER_ACTION: &str = "answer";

/// Action key of the "Open" button of a web authentication request: opens the sign-in page.
pub const OPEN_ACTION: &str = "open";

/// Client side of `org.freedesktop.Notifications`, as the specification's version 1.2 defines it.
#[zbus::proxy(
    interface = "org.freedesktop.Notifications",
    default_service = "org.freedesktop.Notifications",
    default_path = "/org/freedesktop/Notifications",
    gen_blocking = false
)]
pub trait Notifications {
    /// Shows a notification, or replaces the one with id `replaces_id` when not 0, and returns its id.
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        app_name: &str,
        replaces_id: u32,
        app_icon: &str,
        summary: &str,
        body: &str,
        actions: &[&str],
        hints: &HashMap<&str, Value<'_>>,
        expire_timeout: i32,
    ) -> zbus::Result<u32>;

    /// Returns the optional features the server has, such as `actions` and `body-markup`.
    fn get_capabilities(&self) -> zbus::Result<Vec<String>>;

    /// Removes a notification from the screen.
    fn close_notification(&self, id: u32) -> zbus::Result<()>;

    /// Sent when the user clicked an action of a notification.
    #[zbus(signal)]
    fn action_invoked(&self, id: u32, action_key: String) -> zbus::Result<()>;

    /// Sent when a notification left the screen: expired (1), dismissed (2),
    /// closed by `CloseNotification` (3) or for another reason (4).
    #[zbus(signal)]
    fn notification_closed(&self, id: u32, reason: u32) -> zbus::Result<()>;
}

/// Urgency hint of a notification (the `urgency` hint, a byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Urgency {
    /// Level 1: the server's usual handling.
    Normal,
    /// Level 2: most servers keep the notification until it is closed.
    Critical,
}

/// One notification as the agent wants it shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    /// One-line summary, such as "VPN work needs authentication".
    pub summary: String,
    /// Body text, already escaped for servers that render markup.
    pub body: String,
    /// Action keys with their labels, in the order they are shown.
    pub actions: Vec<(&'static str, &'static str)>,
    /// Urgency hint.
    pub urgency: Urgency,
    /// The `category` hint, such as `network.connected`.
    pub category: &'static str,
    /// The server keeps the notification after an action was invoked (the `resident` hint).
    pub resident: bool,
    /// Milliseconds until the server removes the notification: -1 for the server's
    /// default, 0 for never.
    pub expire_timeout_ms: i32,
}

/// Escapes `&`, `<` and `>` so that a server that renders the body markup shows the
/// text as it was received.
///
/// The specification allows a small subset of HTML in bodies (`<b>`, `<a href>`,
/// `<img>`), so a prompt from a VPN server could otherwise add links or images.
pub fn escape_markup(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// Notification display used by the agent: the desktop's server, or a fake in tests.
pub(crate) trait Notifier {
    /// Shows `notification`, replacing the notification `replaces` when it is some, and
    /// returns the id the server gave it.
    async fn notify(
        &self,
        notification: &Notification,
        replaces: Option<u32>,
    ) -> Result<u32, zbus::Error>;

    /// Removes the notification `id` from the screen.
    async fn close(&self, id: u32) -> Result<(), zbus::Error>;
}

/// The notification server of the desktop session.
pub struct DesktopNotifier {
    /// Proxy of `org.freedesktop.Notifications` on the session bus.
    proxy: NotificationsProxy<'static>,
}

impl DesktopNotifier {
    /// Wraps a proxy connected to the session bus.
    pub fn new(proxy: NotificationsProxy<'static>) -> DesktopNotifier {
        DesktopNotifier { proxy }
    }
}

impl Notifier for DesktopNotifier {
    async fn notify(
        &self,
        notification: &Notification,
        replaces: Option<u32>,
    ) -> Result<u32, zbus::Error> {
        let actions: Vec<&str> = notification
            .actions
            .iter()
            .flat_map(|(key, label)| [*key, *label])
            .collect();

        let urgency = match notification.urgency {
            Urgency::Normal => 1u8,
            Urgency::Critical => 2u8,
        };
        let mut hints = HashMap::new();
        hints.insert("urgency", Value::U8(urgency));
        hints.insert("category", Value::from(notification.category));
        if notification.resident {
            hints.insert("resident", Value::Bool(true));
        }

        self.proxy
            .notify(
                APP_NAME,
                replaces.unwrap_or(0),
                "network-vpn",
                &notification.summary,
                &notification.body,
                &actions,
                &hints,
                notification.expire_timeout_ms,
            )
            .await
    }

    async fn close(&self, id: u32) -> Result<(), zbus::Error> {
        self.proxy.close_notification(id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_markup_cases() {
        let cases = [
            ("Enter your code", "Enter your code"),
            ("a & b", "a &amp; b"),
            ("<b>bold</b>", "&lt;b&gt;bold&lt;/b&gt;"),
            (
                "<a href=\"https://198.18.0.1/\">x</a>",
                "&lt;a href=\"https://198.18.0.1/\"&gt;x&lt;/a&gt;",
            ),
            ("&amp;", "&amp;amp;"),
            ("<img src=x>", "&lt;img src=x&gt;"),
            ("Code für München", "Code für München"),
            ("", ""),
        ];

        for (text, expected) in cases {
            assert_eq!(escape_markup(text), expected, "escaped form of {text:?}");
        }
    }

    #[test]
    fn escape_markup_leaves_no_angle_bracket() {
        let escaped = escape_markup("<<script>>&&<>");

        assert!(
            !escaped.contains('<') && !escaped.contains('>'),
            "angle bracket left in {escaped:?}"
        );
    }
}
