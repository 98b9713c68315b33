//! The socket under a session: a connected UDP socket or a TCP stream with length framing.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use ferrovpn_protocol::stream::{self, StreamDecoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// Largest UDP datagram or framed TCP packet accepted, in bytes.
pub const MAX_PACKET: usize = 65_535;

/// A connected transport to one server address.
pub enum Transport {
    /// A UDP socket connected to the server.
    Udp(UdpSocket),
    /// A TCP stream and the decoder that cuts it into packets.
    Tcp {
        /// The connected stream.
        stream: TcpStream,
        /// Reassembles length-prefixed packets.
        decoder: StreamDecoder,
        /// Scratch buffer for framing outgoing packets.
        framed: Vec<u8>,
    },
}

impl Transport {
    /// Connects to `server`: binds an ephemeral UDP port, or opens a TCP connection within `timeout`.
    pub async fn connect(
        server: SocketAddr,
        tcp: bool,
        timeout: Duration,
    ) -> io::Result<Transport> {
        if tcp {
            let stream = tokio::time::timeout(timeout, TcpStream::connect(server))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TCP connect timed out"))??;
            stream.set_nodelay(true)?;
            return Ok(Transport::Tcp {
                stream,
                decoder: StreamDecoder::new(),
                framed: Vec::with_capacity(2048),
            });
        }

        let bind: SocketAddr = if server.is_ipv4() {
            "0.0.0.0:0".parse().expect("valid IPv4 wildcard address")
        } else {
            "[::]:0".parse().expect("valid IPv6 wildcard address")
        };
        let socket = UdpSocket::bind(bind).await?;
        socket.connect(server).await?;
        Ok(Transport::Udp(socket))
    }

    /// Sends one OpenVPN packet.
    pub async fn send(&mut self, packet: &[u8]) -> io::Result<()> {
        match self {
            Transport::Udp(socket) => {
                socket.send(packet).await?;
                Ok(())
            }
            Transport::Tcp { stream, framed, .. } => {
                framed.clear();
                stream::frame(packet, framed).map_err(|error| {
                    io::Error::new(io::ErrorKind::InvalidInput, error.to_string())
                })?;
                stream.write_all(framed).await
            }
        }
    }

    /// Receives one OpenVPN packet into `buffer` and returns its length.
    ///
    /// Cancel safe for UDP. For TCP, bytes read before a cancellation stay in the decoder.
    pub async fn recv(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Udp(socket) => socket.recv(buffer).await,
            Transport::Tcp {
                stream, decoder, ..
            } => loop {
                match decoder.next_packet() {
                    Ok(Some(packet)) => {
                        let len = packet.len().min(buffer.len());
                        buffer[..len].copy_from_slice(&packet[..len]);
                        return Ok(len);
                    }
                    Ok(None) => {}
                    Err(error) => {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            error.to_string(),
                        ))
                    }
                }
                let mut chunk = [0u8; 16 * 1024];
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::ConnectionReset,
                        "the server closed the TCP connection",
                    ));
                }
                decoder.push(&chunk[..n]);
            },
        }
    }
}
