//! The OpenVPN management interface as a `management-client-auth` client sees it: the
//! address, the connection and its greeting, the lines the server writes and the
//! commands that decide on clients.

mod address;
mod command;
mod connection;
mod line;
mod line_buffer;
mod notification;

pub use address::{AddressError, ManagementAddress};
pub use command::ClientCommand;
pub use connection::{ConnectError, ManagementConnection, Transport, GREETING_TIMEOUT};
pub use line::{parse_server_line, ClientEvent, ClientLine, LineError, ServerLine};
pub use line_buffer::{Chunk, LineBuffer, MAX_LINE_LEN, PASSWORD_PROMPT};
pub use notification::{AssemblyError, ClientNotification, NotificationAssembler};
