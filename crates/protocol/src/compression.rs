//! Compression framing without compression.
//!
//! OpenVPN 2.6 servers with legacy configurations push `comp-lzo no` or
//! `compress`/`compress stub-v2`. Those add a framing byte to every data
//! channel payload, pings included, but never compress. ferrovpn accepts the
//! framing and, like a 2.6 client with `allow-compression no`, rejects real
//! compression.

/// The framing a server asked for, from `comp-lzo` or `compress` in a profile or `PUSH_REPLY`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compression {
    /// No framing byte at all, the default of a 2.6 server.
    #[default]
    None,
    /// `comp-lzo no`: a leading `0xFA` byte on every payload.
    LzoStub,
    /// `compress` or `compress stub`: the first byte moves to the end and `0xFB` leads.
    Stub,
    /// `compress stub-v2`: no byte added unless the payload starts with `0x50`.
    StubV2,
}
