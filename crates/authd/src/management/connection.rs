//! A connection to an OpenVPN management interface: connect, log in, read lines and
//! send commands.

use std::io;
use std::time::Duration;

use thiserror::Error;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};
use tokio::time::{timeout_at, Instant};
use zeroize::Zeroizing;

use super::address::ManagementAddress;
use super::line_buffer::{Chunk, LineBuffer, PASSWORD_PROMPT};

/// Time the server gets to greet (and to check a password) after the connection opens.
pub const GREETING_TIMEOUT: Duration = Duration::from_secs(10);

/// Size of one read from the socket.
const READ_SIZE: usize = 8192;

/// A byte stream to the management interface.
pub trait Transport: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Transport for T {}

/// A failure to open a usable management connection.
#[derive(Debug, Error)]
pub enum ConnectError {
    /// Nothing accepts connections at the address.
    #[error(
        "management interface {address} is unreachable: {error}; check that openvpn runs \
         with `management {address}{hint}` and `management-client-auth`"
    )]
    Unreachable {
        /// The address.
        address: ManagementAddress,
        /// Hint for the directive's tail: " unix" for a socket.
        hint: &'static str,
        /// The operating system's error, part of the message.
        error: io::Error,
    },
    /// The server requests a password and none was given.
    #[error(
        "management interface {address} asks for a password; pass its password file with \
         --management-password-file"
    )]
    PasswordRequired {
        /// The address.
        address: ManagementAddress,
    },
    /// The server rejected the password.
    #[error(
        "management interface {address} rejected the password; the first line of \
         --management-password-file must equal the server's management password"
    )]
    WrongPassword {
        /// The address.
        address: ManagementAddress,
    },
    /// The server accepted the connection but never greeted.
    #[error(
        "management interface {address} sent no greeting within {} s; OpenVPN serves one \
         management client at a time, so another client may be connected",
        timeout.as_secs()
    )]
    NoGreeting {
        /// The address.
        address: ManagementAddress,
        /// Time waited.
        timeout: Duration,
    },
    /// The connection broke during the greeting.
    #[error("management interface {address} failed during the greeting: {error}")]
    Io {
        /// The address.
        address: ManagementAddress,
        /// The error, part of the message.
        error: io::Error,
    },
}

impl ConnectError {
    /// Returns whether trying again later can succeed, as it can after a server restart,
    /// but not with a wrong or missing password.
    pub fn is_transient(&self) -> bool {
        !matches!(
            self,
            ConnectError::PasswordRequired { .. } | ConnectError::WrongPassword { .. }
        )
    }
}

/// An open, logged-in management connection.
pub struct ManagementConnection {
    /// The byte stream.
    transport: Box<dyn Transport>,
    /// Bytes read and not yet returned as lines.
    buffer: LineBuffer,
}

impl ManagementConnection {
    /// Connects to `address`, sends `password` if the server requests one and waits for
    /// the `>INFO:` greeting, all within [`GREETING_TIMEOUT`].
    pub async fn connect(
        address: &ManagementAddress,
        password: Option<&Zeroizing<String>>,
    ) -> Result<ManagementConnection, ConnectError> {
        let transport: Box<dyn Transport> = match address {
            ManagementAddress::Unix(path) => match UnixStream::connect(path).await {
                Ok(stream) => Box::new(stream),
                Err(error) => {
                    return Err(ConnectError::Unreachable {
                        address: address.clone(),
                        hint: " unix",
                        error,
                    })
                }
            },
            ManagementAddress::Tcp(socket_address) => {
                match TcpStream::connect(socket_address).await {
                    Ok(stream) => Box::new(stream),
                    Err(error) => {
                        return Err(ConnectError::Unreachable {
                            address: address.clone(),
                            hint: "",
                            error,
                        })
                    }
                }
            }
        };
        let mut connection = ManagementConnection::from_transport(transport);
        connection.log_in(address, password).await?;
        Ok(connection)
    }

    /// Wraps an open byte stream without a greeting exchange.
    pub fn from_transport(transport: Box<dyn Transport>) -> ManagementConnection {
        ManagementConnection {
            transport,
            buffer: LineBuffer::default(),
        }
    }

    /// Reads the next line. Returns `None` when the server closes the connection.
    pub async fn read_line(&mut self) -> io::Result<Option<String>> {
        match self.read_chunk().await? {
            Some(Chunk::Line(line)) => Ok(Some(line)),
            Some(Chunk::PasswordPrompt) => Ok(Some(PASSWORD_PROMPT.to_owned())),
            None => Ok(None),
        }
    }

    /// Sends one command line.
    pub async fn send_line(&mut self, line: &str) -> io::Result<()> {
        let mut bytes = Zeroizing::new(Vec::with_capacity(line.len() + 1));
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        self.transport.write_all(&bytes).await?;
        self.transport.flush().await
    }

    /// Runs the greeting exchange of OpenVPN 2.6 `manage.c`: with a password file the
    /// server writes `ENTER PASSWORD:`, then `SUCCESS: password is correct` or
    /// `ERROR: bad password` and a new prompt; the `>INFO:` greeting follows a correct
    /// password or starts a connection without one.
    async fn log_in(
        &mut self,
        address: &ManagementAddress,
        password: Option<&Zeroizing<String>>,
    ) -> Result<(), ConnectError> {
        let deadline = Instant::now() + GREETING_TIMEOUT;
        let mut password_sent = false;
        let io_error = |error| ConnectError::Io {
            address: address.clone(),
            error,
        };

        loop {
            let chunk = match timeout_at(deadline, self.read_chunk()).await {
                Ok(chunk) => chunk.map_err(io_error)?,
                Err(_) => {
                    return Err(ConnectError::NoGreeting {
                        address: address.clone(),
                        timeout: GREETING_TIMEOUT,
                    })
                }
            };

            match chunk {
                Some(Chunk::PasswordPrompt) if password_sent => {
                    return Err(ConnectError::WrongPassword {
                        address: address.clone(),
                    })
                }
                Some(Chunk::PasswordPrompt) => {
                    let password = password.ok_or_else(|| ConnectError::PasswordRequired {
                        address: address.clone(),
                    })?;
                    self.send_line(password).await.map_err(io_error)?;
                    password_sent = true;
                }
                Some(Chunk::Line(line)) if line.starts_with("ERROR:") && password_sent => {
                    return Err(ConnectError::WrongPassword {
                        address: address.clone(),
                    })
                }
                Some(Chunk::Line(line)) if line.starts_with(">INFO:") => {
                    tracing::debug!(greeting = %line, "management interface greeted");
                    return Ok(());
                }
                Some(Chunk::Line(line)) => {
                    tracing::debug!(%line, "management line before the greeting");
                }
                None if password_sent => {
                    return Err(ConnectError::WrongPassword {
                        address: address.clone(),
                    })
                }
                None => {
                    return Err(io_error(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the server closed the connection",
                    )))
                }
            }
        }
    }

    /// Reads until the buffer contains a chunk. Returns `None` at the end of the stream.
    async fn read_chunk(&mut self) -> io::Result<Option<Chunk>> {
        let mut data = [0u8; READ_SIZE];
        loop {
            if let Some(chunk) = self.buffer.next_chunk()? {
                return Ok(Some(chunk));
            }
            let read = self.transport.read(&mut data).await?;
            if read == 0 {
                if self.buffer.has_partial_line() {
                    tracing::debug!("management connection closed inside a line");
                }
                return Ok(None);
            }
            self.buffer.extend(&data[..read]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{duplex, AsyncBufReadExt, BufReader};

    /// Runs `log_in` against a scripted server that writes `greeting` first, then responds
    /// to each received line with the next entry of `responses`.
    async fn log_in_against(
        greeting: &'static str,
        responses: &'static [&'static str],
        password: Option<&str>,
    ) -> Result<(), ConnectError> {
        let (client, server) = duplex(4096);
        let server_task = tokio::spawn(async move {
            let (read, mut write) = tokio::io::split(server);
            write
                .write_all(greeting.as_bytes())
                .await
                .expect("greeting written");
            let mut lines = BufReader::new(read).lines();
            for response in responses {
                if lines.next_line().await.ok().flatten().is_none() {
                    return;
                }
                write
                    .write_all(response.as_bytes())
                    .await
                    .expect("response written");
            }
            // Keep the stream open until the client is done.
            let _ = lines.next_line().await;
        });

        let address = ManagementAddress::Unix("test.sock".into());
        let password = password.map(|text| Zeroizing::new(text.to_owned()));
        let mut connection = ManagementConnection::from_transport(Box::new(client));
        let result = connection.log_in(&address, password.as_ref()).await;
        drop(connection);
        server_task.await.expect("server task finished");
        result
    }

    #[tokio::test]
    async fn log_in_without_password() {
        let result = log_in_against(">INFO:OpenVPN Management Interface\r\n", &[], None).await;
        assert!(result.is_ok(), "got {result:?}");
    }

    #[tokio::test]
    async fn log_in_correct_password() {
        let responses = &["SUCCESS: password is correct\r\n>INFO:OpenVPN Management Interface\r\n"];
        let result = log_in_against("ENTER PASSWORD:", responses, Some("secret")).await;
        assert!(result.is_ok(), "got {result:?}");
    }

    #[tokio::test]
    async fn log_in_wrong_password() {
        let responses = &["ERROR: bad password\r\nENTER PASSWORD:"];
        let result = log_in_against("ENTER PASSWORD:", responses, Some("wrong")).await;
        assert!(
            matches!(result, Err(ConnectError::WrongPassword { .. })),
            "got {result:?}"
        );
    }

    #[tokio::test]
    async fn log_in_missing_password() {
        let result = log_in_against("ENTER PASSWORD:", &[], None).await;
        assert!(
            matches!(result, Err(ConnectError::PasswordRequired { .. })),
            "got {result:?}"
        );
    }

    #[tokio::test]
    async fn connect_missing_socket_unreachable() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let address = ManagementAddress::Unix(dir.path().join("absent.sock"));
        let result = ManagementConnection::connect(&address, None).await;
        let error = result.err().expect("connect must fail");
        assert!(
            matches!(error, ConnectError::Unreachable { .. }),
            "{error:?}"
        );
        assert!(
            error
                .to_string()
                .contains("unix` and `management-client-auth`"),
            "message must name the server directives: {error}"
        );
    }
}
