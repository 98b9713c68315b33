//! ferrovpn tunnel provider: OpenVPN sessions on tokio.
//!
//! The provider owns the sockets, the TUN device and the network settings. It
//! drives the sans-IO [`ferrovpn_protocol::Session`], reconnects with backoff
//! through the profile's remotes, keeps the auth-token in memory, and reports
//! progress as [`ProviderEvent`]s. It shows no user interface.

pub mod attempt;
pub mod auth_broker;
pub mod auth_state;
pub mod client_config;
pub mod events;
pub mod netlink;
pub mod network_settings;
pub mod pushed_settings;
pub mod session_manager;
pub mod supervisor;
pub mod transport;
pub mod tun;
pub mod tunnel_device;

pub use auth_broker::{answer_channel, AnswerMessage, AnswerReceiver, AnswerSender};
pub use events::ProviderEvent;
pub use session_manager::{ManagedState, ManagerEvent, SessionManager, SessionSnapshot};
pub use supervisor::{run_session, SessionError, SessionOptions};
