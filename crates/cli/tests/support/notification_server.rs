//! A notification server for tests: serves `org.freedesktop.Notifications` on a bus,
//! records every `Notify` and `CloseNotification`, and emits `ActionInvoked` on request.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use zbus::object_server::SignalEmitter;
use zbus::zvariant::OwnedValue;

/// Bus name the specification fixes for notification servers.
const SERVICE: &str = "org.freedesktop.Notifications";

/// Object path the specification fixes for notification servers.
const PATH: &str = "/org/freedesktop/Notifications";

/// Reason code of `NotificationClosed` for a notification closed by `CloseNotification`.
const CLOSED_BY_CALL: u32 = 3;

/// One `Notify` call as the server received it.
#[derive(Clone, Debug)]
pub struct NotifyCall {
    /// Id the server returned.
    pub id: u32,
    /// The `app_name` argument.
    pub app_name: String,
    /// The `replaces_id` argument.
    pub replaces_id: u32,
    /// The `summary` argument.
    pub summary: String,
    /// The `body` argument.
    pub body: String,
    /// The `actions` argument: keys and labels, alternating.
    pub actions: Vec<String>,
    /// Names of the hints.
    pub hints: Vec<String>,
}

impl NotifyCall {
    /// Returns the label of action `key`, if the call has that action.
    pub fn action_label(&self, key: &str) -> Option<&str> {
        self.actions
            .chunks(2)
            .find(|pair| pair[0] == key)
            .and_then(|pair| pair.get(1))
            .map(String::as_str)
    }
}

/// A call the server received.
#[derive(Clone, Debug)]
pub enum ServerCall {
    /// `Notify`.
    Notify(NotifyCall),
    /// `CloseNotification` with this id.
    Close(u32),
}

/// The served object: records calls and numbers notifications from 1.
struct Notifications {
    /// Every call so far, oldest first.
    calls: Arc<Mutex<Vec<ServerCall>>>,
    /// Id of the most recent new notification.
    last_id: u32,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Notifications {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &mut self,
        app_name: String,
        replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        hints: HashMap<String, OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let id = if replaces_id != 0 {
            replaces_id
        } else {
            self.last_id += 1;
            self.last_id
        };
        let mut hint_names: Vec<String> = hints.into_keys().collect();
        hint_names.sort();
        lock(&self.calls).push(ServerCall::Notify(NotifyCall {
            id,
            app_name,
            replaces_id,
            summary,
            body,
            actions,
            hints: hint_names,
        }));
        id
    }

    async fn close_notification(
        &mut self,
        id: u32,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) -> zbus::fdo::Result<()> {
        lock(&self.calls).push(ServerCall::Close(id));
        Notifications::notification_closed(&emitter, id, CLOSED_BY_CALL).await?;
        Ok(())
    }

    fn get_capabilities(&self) -> Vec<String> {
        ["actions", "body", "persistence"]
            .map(str::to_owned)
            .to_vec()
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "ferrovpn-test".to_owned(),
            "ferrovpn".to_owned(),
            "1".to_owned(),
            "1.2".to_owned(),
        )
    }

    #[zbus(signal)]
    async fn action_invoked(
        emitter: &SignalEmitter<'_>,
        id: u32,
        action_key: &str,
    ) -> zbus::Result<()>;

    #[zbus(signal)]
    async fn notification_closed(
        emitter: &SignalEmitter<'_>,
        id: u32,
        reason: u32,
    ) -> zbus::Result<()>;
}

/// The running server, with its own async runtime. Dropping it leaves the bus.
pub struct NotificationServer {
    /// Calls received so far.
    calls: Arc<Mutex<Vec<ServerCall>>>,
    /// Connection that owns the service name.
    connection: Option<zbus::Connection>,
    /// Runtime of the connection's tasks.
    runtime: Option<tokio::runtime::Runtime>,
}

impl NotificationServer {
    /// Connects to the bus at `address` and takes the name `org.freedesktop.Notifications`.
    pub fn start(address: &str) -> NotificationServer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("build the notification server runtime");
        let calls = Arc::new(Mutex::new(Vec::new()));
        let served = Notifications {
            calls: calls.clone(),
            last_id: 0,
        };
        let connection = runtime
            .block_on(async {
                zbus::connection::Builder::address(address)?
                    .name(SERVICE)?
                    .serve_at(PATH, served)?
                    .build()
                    .await
            })
            .unwrap_or_else(|error| panic!("serve {SERVICE} on {address}: {error}"));
        NotificationServer {
            calls,
            connection: Some(connection),
            runtime: Some(runtime),
        }
    }

    /// Returns every call received so far.
    pub fn calls(&self) -> Vec<ServerCall> {
        lock(&self.calls).clone()
    }

    /// Returns every `Notify` call received so far.
    pub fn notifies(&self) -> Vec<NotifyCall> {
        self.calls()
            .into_iter()
            .filter_map(|call| match call {
                ServerCall::Notify(notify) => Some(notify),
                ServerCall::Close(_) => None,
            })
            .collect()
    }

    /// Waits up to `timeout` for a `Notify` call that matches `expected`.
    pub fn wait_notify(
        &self,
        timeout: Duration,
        expected: impl Fn(&NotifyCall) -> bool,
    ) -> Option<NotifyCall> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(found) = self.notifies().into_iter().find(|call| expected(call)) {
                return Some(found);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits up to `timeout` for `CloseNotification` of notification `id`.
    pub fn wait_close(&self, id: u32, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let closed = self
                .calls()
                .iter()
                .any(|call| matches!(call, ServerCall::Close(closed) if *closed == id));
            if closed {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Emits `ActionInvoked` for notification `id`, as if the user clicked action `key`.
    pub fn invoke_action(&self, id: u32, key: &str) {
        let connection = self.connection.as_ref().expect("server running");
        let runtime = self.runtime.as_ref().expect("server running");
        runtime
            .block_on(async {
                let emitter = SignalEmitter::new(connection, PATH)?;
                Notifications::action_invoked(&emitter, id, key).await
            })
            .unwrap_or_else(|error| panic!("emit ActionInvoked({id}, {key:?}): {error}"));
    }
}

impl Drop for NotificationServer {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            // The connection ends its tasks on drop, which needs the runtime's context.
            let context = runtime.enter();
            drop(self.connection.take());
            drop(context);
            runtime.shutdown_background();
        }
    }
}

/// Locks the call list, also after a panic of another thread.
fn lock(calls: &Mutex<Vec<ServerCall>>) -> MutexGuard<'_, Vec<ServerCall>> {
    calls
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
