//! Keepalive pings and OCC messages: data channel payloads that never reach the tunnel.
//!
//! After decryption and compression unframing, a payload is an IP packet for
//! the tunnel, the fixed 16-byte ping of OpenVPN 2.6 `ping.c`, or an OCC
//! (OpenVPN Configuration Control) message from `occ.c`. An OCC message is a
//! 16-byte magic, an opcode byte and an opcode-specific body. A client drops pings and
//! OCC messages, and treats `OCC_EXIT` as the server leaving. Without
//! `cc-exit`, a UDP client sends [`exit_payload`] to announce its own exit.

/// Payload of a keepalive ping, sent when nothing else was sent for `ping` seconds.
pub const PING_PAYLOAD: [u8; 16] = [
    0x2a, 0x18, 0x7b, 0xf3, 0x64, 0x1e, 0xb4, 0xcb, 0x07, 0xed, 0x2d, 0x0a, 0x98, 0x1f, 0xc7, 0x48,
];

/// First 16 bytes of every OCC message.
pub const OCC_MAGIC: [u8; 16] = [
    0x28, 0x7f, 0x34, 0x6b, 0xd4, 0xef, 0x7a, 0x81, 0x2d, 0x56, 0xb8, 0xd3, 0xaf, 0xc5, 0x45, 0x9c,
];

/// OCC opcode asking the peer for its options string.
const OCC_REQUEST: u8 = 0;

/// OCC opcode carrying the sender's NUL-terminated options string.
const OCC_REPLY: u8 = 1;

/// OCC opcode asking the peer to send a large packet, used by `--mtu-test`.
const OCC_MTU_LOAD_REQUEST: u8 = 2;

/// OCC opcode of the large packet of `--mtu-test`.
const OCC_MTU_LOAD: u8 = 3;

/// OCC opcode asking the peer for the largest packet sizes it saw, used by `--mtu-test`.
const OCC_MTU_REQUEST: u8 = 4;

/// OCC opcode carrying the largest packet sizes the sender saw, used by `--mtu-test`.
const OCC_MTU_REPLY: u8 = 5;

/// OCC opcode announcing that the sender is exiting.
const OCC_EXIT: u8 = 6;

/// Returns true when `payload` is exactly the keepalive ping.
pub fn is_ping(payload: &[u8]) -> bool {
    payload == PING_PAYLOAD
}

/// Builds the `OCC_EXIT` payload: the OCC magic followed by opcode 6.
pub fn exit_payload() -> [u8; 17] {
    let mut payload = [0u8; 17];
    payload[..OCC_MAGIC.len()].copy_from_slice(&OCC_MAGIC);
    payload[OCC_MAGIC.len()] = OCC_EXIT;
    payload
}

/// A data channel payload that starts with the OCC magic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OccMessage<'a> {
    /// `OCC_REQUEST` (0): a request for our options string. OpenVPN 2.6 sends
    /// it only without TLS, so a client ignores it.
    Request,
    /// `OCC_REPLY` (1): the peer's options string.
    Reply {
        /// Options string bytes up to the terminating NUL, or to the end when it is missing.
        options: &'a [u8],
    },
    /// `OCC_MTU_LOAD_REQUEST` (2) of `--mtu-test`.
    MtuLoadRequest,
    /// `OCC_MTU_LOAD` (3) of `--mtu-test`.
    MtuLoad,
    /// `OCC_MTU_REQUEST` (4) of `--mtu-test`.
    MtuRequest,
    /// `OCC_MTU_REPLY` (5) of `--mtu-test`.
    MtuReply,
    /// `OCC_EXIT` (6): the peer is exiting and will send nothing more.
    Exit,
    /// An opcode OpenVPN 2.6 does not define.
    Unknown {
        /// The opcode byte, or `None` when the payload ends right after the magic.
        opcode: Option<u8>,
    },
}

impl<'a> OccMessage<'a> {
    /// Parses a decrypted payload, returning `None` when it does not start with the OCC magic.
    pub fn parse(payload: &'a [u8]) -> Option<OccMessage<'a>> {
        let body = payload.strip_prefix(OCC_MAGIC.as_slice())?;
        let Some((&opcode, rest)) = body.split_first() else {
            return Some(OccMessage::Unknown { opcode: None });
        };

        let message = match opcode {
            OCC_REQUEST => OccMessage::Request,
            OCC_REPLY => {
                let end = rest
                    .iter()
                    .position(|&byte| byte == 0)
                    .unwrap_or(rest.len());
                OccMessage::Reply {
                    options: &rest[..end],
                }
            }
            OCC_MTU_LOAD_REQUEST => OccMessage::MtuLoadRequest,
            OCC_MTU_LOAD => OccMessage::MtuLoad,
            OCC_MTU_REQUEST => OccMessage::MtuRequest,
            OCC_MTU_REPLY => OccMessage::MtuReply,
            OCC_EXIT => OccMessage::Exit,
            other => OccMessage::Unknown {
                opcode: Some(other),
            },
        };
        Some(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn occ_payload(body: &[u8]) -> Vec<u8> {
        let mut payload = OCC_MAGIC.to_vec();
        payload.extend_from_slice(body);
        payload
    }

    #[test]
    fn is_ping_exact_payload() {
        assert!(
            is_ping(&PING_PAYLOAD),
            "the ping payload was not recognised"
        );
    }

    #[test]
    fn is_ping_rejects_longer() {
        let mut longer = PING_PAYLOAD.to_vec();
        longer.push(0);

        assert!(!is_ping(&longer), "a 17-byte payload was taken for a ping");
    }

    #[test]
    fn is_ping_rejects_shorter() {
        assert!(
            !is_ping(&PING_PAYLOAD[..15]),
            "a 15-byte payload was taken for a ping"
        );
    }

    #[test]
    fn exit_payload_layout() {
        let payload = exit_payload();

        assert_eq!(
            payload[..16],
            OCC_MAGIC,
            "exit payload does not start with the magic"
        );
        assert_eq!(payload[16], 6, "exit payload opcode is not OCC_EXIT");
    }

    #[test]
    fn parse_exit_payload() {
        assert_eq!(
            OccMessage::parse(&exit_payload()),
            Some(OccMessage::Exit),
            "exit payload did not parse as Exit"
        );
    }

    #[test]
    fn parse_opcode_table() {
        let cases: &[(&[u8], OccMessage)] = &[
            (&[0], OccMessage::Request),
            (
                b"\x01V4,dev-type tun\0",
                OccMessage::Reply {
                    options: b"V4,dev-type tun",
                },
            ),
            (b"\x01V4", OccMessage::Reply { options: b"V4" }),
            (&[2, 0x05, 0xdc], OccMessage::MtuLoadRequest),
            (&[3, 0xaa, 0xbb], OccMessage::MtuLoad),
            (&[4], OccMessage::MtuRequest),
            (&[5, 0x05, 0xdc, 0x05, 0xdc], OccMessage::MtuReply),
            (&[6], OccMessage::Exit),
            (&[7], OccMessage::Unknown { opcode: Some(7) }),
            (&[], OccMessage::Unknown { opcode: None }),
        ];

        for (body, expected) in cases {
            let payload = occ_payload(body);
            assert_eq!(
                OccMessage::parse(&payload),
                Some(*expected),
                "OCC body {body:02x?}"
            );
        }
    }

    #[test]
    fn parse_rejects_non_occ() {
        let cases: &[&[u8]] = &[&[], &PING_PAYLOAD, &[0x45, 0, 0, 20], &OCC_MAGIC[..15]];

        for payload in cases {
            assert_eq!(
                OccMessage::parse(payload),
                None,
                "payload {payload:02x?} was taken for OCC"
            );
        }
    }
}
