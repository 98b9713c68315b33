//! Assembly of `>CLIENT:` lines into complete notifications: an event and its variables.

use std::fmt;

use thiserror::Error;

use super::line::{ClientEvent, ClientLine};

/// Variables whose values are credentials and stay out of debug output.
const SECRET_VARIABLES: [&str; 1] = ["password"];

/// A complete `>CLIENT:` notification.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientNotification {
    /// The event line.
    pub event: ClientEvent,
    /// Variables of the block in the order received; empty for `ADDRESS`.
    pub env: Vec<(String, String)>,
}

impl ClientNotification {
    /// Value of the variable `name`, if the block has it.
    pub fn env(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(candidate, _)| candidate == name)
            .map(|(_, value)| value.as_str())
    }
}

impl fmt::Debug for ClientNotification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(name, value)| {
                let shown = if SECRET_VARIABLES.contains(&name.as_str()) {
                    "<hidden>"
                } else {
                    value.as_str()
                };
                (name.as_str(), shown)
            })
            .collect();
        f.debug_struct("ClientNotification")
            .field("event", &self.event)
            .field("env", &env)
            .finish()
    }
}

/// A sequence of `>CLIENT:` lines that OpenVPN 2.6 does not write.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AssemblyError {
    /// A new event arrived before `ENV,END` of the previous one, which was dropped.
    #[error("the server started a new >CLIENT: notification before ENV,END of {dropped:?}")]
    Interrupted {
        /// The incomplete notification's event.
        dropped: ClientEvent,
    },
    /// A variable or `ENV,END` arrived with no event before it.
    #[error("the server sent >CLIENT:ENV outside a notification")]
    EnvOutsideNotification,
}

/// Collects `>CLIENT:` lines into notifications.
#[derive(Debug, Default)]
pub struct NotificationAssembler {
    /// Notification whose variable block is still being read.
    open: Option<ClientNotification>,
    /// Whether variables are being skipped up to `ENV,END`, after an event line that
    /// did not parse.
    discarding: bool,
}

impl NotificationAssembler {
    /// Feeds one line and returns the notification it completes, if any.
    ///
    /// OpenVPN writes a notification and its variables without interruption, so a new
    /// event before `ENV,END` means lost lines. The open notification is then dropped and
    /// returned in the error, so that the caller can deny it, and the new one is started.
    pub fn push(&mut self, line: ClientLine) -> Result<Option<ClientNotification>, AssemblyError> {
        if self.discarding {
            match line {
                ClientLine::Env { .. } => return Ok(None),
                ClientLine::EnvEnd => {
                    self.discarding = false;
                    return Ok(None);
                }
                ClientLine::Event(_) => self.discarding = false,
            }
        }

        match line {
            ClientLine::Event(event) => {
                let notification = ClientNotification {
                    event,
                    env: Vec::new(),
                };
                if !notification.event.has_env_block() {
                    return Ok(Some(notification));
                }
                match self.open.replace(notification) {
                    Some(dropped) => Err(AssemblyError::Interrupted {
                        dropped: dropped.event,
                    }),
                    None => Ok(None),
                }
            }
            ClientLine::Env { name, value } => {
                let open = self
                    .open
                    .as_mut()
                    .ok_or(AssemblyError::EnvOutsideNotification)?;
                open.env.push((name, value));
                Ok(None)
            }
            ClientLine::EnvEnd => self
                .open
                .take()
                .map(Some)
                .ok_or(AssemblyError::EnvOutsideNotification),
        }
    }

    /// Skips the variables up to the next `ENV,END`, after an event line that did not
    /// parse, and returns the event of a notification that this interrupts.
    pub fn discard_block(&mut self) -> Option<ClientEvent> {
        self.discarding = true;
        self.open.take().map(|open| open.event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::management::line::{parse_server_line, ServerLine};

    fn push_text(
        assembler: &mut NotificationAssembler,
        line: &str,
    ) -> Result<Option<ClientNotification>, AssemblyError> {
        match parse_server_line(line) {
            Ok(ServerLine::Client(client)) => assembler.push(client),
            other => panic!("{line:?} is no >CLIENT: line: {other:?}"),
        }
    }

    #[test]
    fn assembler_connect_with_env() {
        let mut assembler = NotificationAssembler::default();
        for line in [
            ">CLIENT:CONNECT,5,2",
            ">CLIENT:ENV,username=alice",
            ">CLIENT:ENV,password=secret",
            ">CLIENT:ENV,IV_SSO=crtext",
        ] {
            let result = push_text(&mut assembler, line);
            assert_eq!(result, Ok(None), "{line:?} completes nothing");
        }
        let notification = push_text(&mut assembler, ">CLIENT:ENV,END")
            .expect("ENV,END is valid")
            .expect("ENV,END completes the notification");
        assert_eq!(notification.event, ClientEvent::Connect { cid: 5, kid: 2 });
        assert_eq!(notification.env("username"), Some("alice"));
        assert_eq!(notification.env("IV_SSO"), Some("crtext"));
        assert_eq!(notification.env("session_state"), None);
    }

    #[test]
    fn assembler_address_completes_at_once() {
        let mut assembler = NotificationAssembler::default();
        let notification = push_text(&mut assembler, ">CLIENT:ADDRESS,5,198.19.0.2,1")
            .expect("ADDRESS is valid")
            .expect("ADDRESS has no variable block");
        assert!(notification.env.is_empty(), "ADDRESS carries no variables");
    }

    #[test]
    fn assembler_interrupted_returns_dropped() {
        let mut assembler = NotificationAssembler::default();
        assert_eq!(push_text(&mut assembler, ">CLIENT:CONNECT,1,0"), Ok(None));
        let interrupted = push_text(&mut assembler, ">CLIENT:CONNECT,2,0");
        assert_eq!(
            interrupted,
            Err(AssemblyError::Interrupted {
                dropped: ClientEvent::Connect { cid: 1, kid: 0 }
            })
        );
        let notification = push_text(&mut assembler, ">CLIENT:ENV,END")
            .expect("ENV,END is valid")
            .expect("the second notification completes");
        assert_eq!(notification.event, ClientEvent::Connect { cid: 2, kid: 0 });
    }

    #[test]
    fn assembler_env_outside_notification() {
        let mut assembler = NotificationAssembler::default();
        let env = push_text(&mut assembler, ">CLIENT:ENV,username=alice");
        assert_eq!(env, Err(AssemblyError::EnvOutsideNotification), "variable");
        let end = push_text(&mut assembler, ">CLIENT:ENV,END");
        assert_eq!(end, Err(AssemblyError::EnvOutsideNotification), "ENV,END");
    }

    #[test]
    fn assembler_discard_block_skips_variables() {
        let mut assembler = NotificationAssembler::default();
        assert_eq!(assembler.discard_block(), None, "nothing was open");
        let env = push_text(&mut assembler, ">CLIENT:ENV,username=alice");
        assert_eq!(env, Ok(None), "variable of the discarded block");
        let end = push_text(&mut assembler, ">CLIENT:ENV,END");
        assert_eq!(end, Ok(None), "end of the discarded block");
        let next = push_text(&mut assembler, ">CLIENT:ENV,END");
        assert_eq!(
            next,
            Err(AssemblyError::EnvOutsideNotification),
            "after the block"
        );
    }

    #[test]
    fn notification_debug_hides_password() {
        let notification = ClientNotification {
            event: ClientEvent::Connect { cid: 0, kid: 1 },
            env: vec![
                ("username".to_owned(), "alice".to_owned()),
                ("password".to_owned(), "hunter2".to_owned()),
            ],
        };
        let debug = format!("{notification:?}");
        assert!(!debug.contains("hunter2"), "password leaked: {debug}");
        assert!(debug.contains("alice"), "username missing: {debug}");
    }
}
