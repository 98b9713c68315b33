//! Compression framing without compression.
//!
//! OpenVPN 2.6 servers with legacy configurations push `comp-lzo no` or
//! `compress`/`compress stub-v2`. Those add a framing byte to every data
//! channel payload, pings included, but never compress. ferrovpn accepts the
//! framing and, like a 2.6 client with `allow-compression no`, rejects real
//! compression.

use thiserror::Error;

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

/// Framing byte of `comp-lzo no`: the payload that follows is not compressed.
const NO_COMPRESS_BYTE: u8 = 0xFA;

/// Framing byte of `compress stub`: not compressed, and the payload's first byte sits at the end.
const NO_COMPRESS_BYTE_SWAP: u8 = 0xFB;

/// Framing byte of an LZO-compressed payload under `comp-lzo`.
const LZO_COMPRESS_BYTE: u8 = 0x66;

/// Framing byte of an LZ4-compressed payload under `compress lz4`.
const LZ4_COMPRESS_BYTE: u8 = 0x69;

/// First byte of a `compress stub-v2` header; the second byte names the algorithm.
const V2_INDICATOR_BYTE: u8 = 0x50;

/// Second byte of a `compress stub-v2` header for an uncompressed payload.
const V2_UNCOMPRESSED_BYTE: u8 = 0x00;

/// Second byte of a `compress stub-v2` header for an LZ4-compressed payload.
const V2_LZ4_BYTE: u8 = 0x01;

/// Second byte of a `compress stub-v2` header for an LZO-compressed payload.
const V2_LZO_BYTE: u8 = 0x02;

/// Second byte of a `compress stub-v2` header for a Snappy-compressed payload.
const V2_SNAPPY_BYTE: u8 = 0x03;

/// Error from removing the compression framing of a received payload.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CompressionError {
    /// The peer compressed the payload, and ferrovpn cannot decompress it.
    #[error(
        "compressed packet but compression is not supported: byte {byte:#04x} marks {algorithm} \
         under `{}`; configure the server with `compress stub-v2` or without compression",
        .compression.option_text()
    )]
    Compressed {
        /// Framing in use when the packet arrived.
        compression: Compression,
        /// Framing byte that marks the compression algorithm.
        byte: u8,
        /// Name of the compression algorithm, such as `LZO`.
        algorithm: &'static str,
    },
    /// The framing byte is not one that the framing in use sends.
    #[error(
        "invalid compression framing byte {byte:#04x} under `{}`; \
         the server's compression setting differs from this one",
        .compression.option_text()
    )]
    InvalidFramingByte {
        /// Framing in use when the packet arrived.
        compression: Compression,
        /// The unexpected framing byte.
        byte: u8,
    },
}

impl Compression {
    /// Maximum number of bytes the framing adds to a payload.
    pub fn max_overhead(self) -> usize {
        match self {
            Compression::None => 0,
            Compression::LzoStub | Compression::Stub => 1,
            Compression::StubV2 => 2,
        }
    }

    /// Appends `payload` to `out` with this framing.
    ///
    /// An empty payload gets no framing byte, as in OpenVPN 2.6 `compstub.c`.
    /// `out` grows only when its capacity is too small.
    pub fn frame(self, payload: &[u8], out: &mut Vec<u8>) {
        let Some((&first, rest)) = payload.split_first() else {
            return;
        };

        match self {
            Compression::None => out.extend_from_slice(payload),
            Compression::LzoStub => {
                out.push(NO_COMPRESS_BYTE);
                out.extend_from_slice(payload);
            }
            Compression::Stub => {
                // The framing byte takes the place of the first byte, which moves
                // to the end, so the rest of the payload keeps its alignment.
                out.push(NO_COMPRESS_BYTE_SWAP);
                out.extend_from_slice(rest);
                out.push(first);
            }
            Compression::StubV2 => {
                // Only a payload that starts like a stub-v2 header needs escaping.
                if first == V2_INDICATOR_BYTE {
                    out.extend_from_slice(&[V2_INDICATOR_BYTE, V2_UNCOMPRESSED_BYTE]);
                }
                out.extend_from_slice(payload);
            }
        }
    }

    /// Removes this framing from a received payload in place and returns the payload.
    ///
    /// Rejects a payload that the peer compressed, or whose framing byte this
    /// framing never sends. An empty payload passes unchanged.
    pub fn unframe(self, framed: &mut [u8]) -> Result<&mut [u8], CompressionError> {
        let Some(&first) = framed.first() else {
            return Ok(framed);
        };

        match self {
            Compression::None => Ok(framed),
            Compression::LzoStub => match first {
                NO_COMPRESS_BYTE => Ok(&mut framed[1..]),
                byte => Err(self.v1_framing_error(byte)),
            },
            Compression::Stub => match first {
                NO_COMPRESS_BYTE_SWAP => {
                    let last = framed.len() - 1;
                    framed[0] = framed[last];
                    Ok(&mut framed[..last])
                }
                byte => Err(self.v1_framing_error(byte)),
            },
            Compression::StubV2 => self.unframe_v2(framed),
        }
    }

    /// Removes a `compress stub-v2` header, present only when the payload starts with `0x50`.
    fn unframe_v2(self, framed: &mut [u8]) -> Result<&mut [u8], CompressionError> {
        if framed.first() != Some(&V2_INDICATOR_BYTE) {
            return Ok(framed);
        }

        // OpenVPN 2.6 turns a lone indicator byte into an empty payload.
        let Some(&algorithm_byte) = framed.get(1) else {
            return Ok(&mut framed[1..]);
        };

        let algorithm = match algorithm_byte {
            V2_UNCOMPRESSED_BYTE => return Ok(&mut framed[2..]),
            V2_LZ4_BYTE => "LZ4",
            V2_LZO_BYTE => "LZO",
            V2_SNAPPY_BYTE => "Snappy",
            byte => {
                return Err(CompressionError::InvalidFramingByte {
                    compression: self,
                    byte,
                })
            }
        };
        Err(CompressionError::Compressed {
            compression: self,
            byte: algorithm_byte,
            algorithm,
        })
    }

    /// Classifies an unexpected first byte under `comp-lzo no` or `compress stub`.
    ///
    /// Both compressed markers are recognised under either framing, so a peer
    /// configured with real compression gets the clearer error.
    fn v1_framing_error(self, byte: u8) -> CompressionError {
        let algorithm = match byte {
            LZO_COMPRESS_BYTE => "LZO",
            LZ4_COMPRESS_BYTE => "LZ4",
            _ => {
                return CompressionError::InvalidFramingByte {
                    compression: self,
                    byte,
                }
            }
        };
        CompressionError::Compressed {
            compression: self,
            byte,
            algorithm,
        }
    }

    /// Returns the profile option that selects this framing, for error messages.
    fn option_text(self) -> &'static str {
        match self {
            Compression::None => "no compression",
            Compression::LzoStub => "comp-lzo no",
            Compression::Stub => "compress stub",
            Compression::StubV2 => "compress stub-v2",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(compression: Compression, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        compression.frame(payload, &mut out);
        out
    }

    #[test]
    fn frame_table() {
        let cases: &[(Compression, &[u8], &[u8])] = &[
            (Compression::None, &[0x45, 1, 2], &[0x45, 1, 2]),
            (Compression::LzoStub, &[0x45, 1, 2], &[0xFA, 0x45, 1, 2]),
            (Compression::Stub, &[0x45, 1, 2], &[0xFB, 1, 2, 0x45]),
            (Compression::Stub, &[0x45], &[0xFB, 0x45]),
            (Compression::StubV2, &[0x45, 1, 2], &[0x45, 1, 2]),
            (
                Compression::StubV2,
                &[0x50, 1, 2],
                &[0x50, 0x00, 0x50, 1, 2],
            ),
            (Compression::None, &[], &[]),
            (Compression::LzoStub, &[], &[]),
            (Compression::Stub, &[], &[]),
            (Compression::StubV2, &[], &[]),
        ];

        for (compression, payload, expected) in cases {
            assert_eq!(
                framed(*compression, payload).as_slice(),
                *expected,
                "{compression:?} framing of {payload:02x?}"
            );
        }
    }

    #[test]
    fn frame_appends_to_buffer() {
        let mut out = vec![0xAA];
        Compression::LzoStub.frame(&[1], &mut out);

        assert_eq!(
            out,
            [0xAA, 0xFA, 1],
            "frame replaced the buffer instead of appending"
        );
    }

    #[test]
    fn unframe_table() {
        let cases: &[(Compression, &[u8], &[u8])] = &[
            (Compression::None, &[0xFA, 1], &[0xFA, 1]),
            (Compression::LzoStub, &[0xFA, 0x45, 1], &[0x45, 1]),
            (Compression::LzoStub, &[0xFA], &[]),
            (Compression::Stub, &[0xFB, 1, 2, 0x45], &[0x45, 1, 2]),
            (Compression::Stub, &[0xFB, 0x45], &[0x45]),
            (Compression::Stub, &[0xFB], &[]),
            (Compression::StubV2, &[0x45, 1], &[0x45, 1]),
            (Compression::StubV2, &[0x50, 0x00, 0x50, 1], &[0x50, 1]),
            (Compression::StubV2, &[0x50, 0x00], &[]),
            (Compression::StubV2, &[0x50], &[]),
            (Compression::LzoStub, &[], &[]),
            (Compression::Stub, &[], &[]),
            (Compression::StubV2, &[], &[]),
        ];

        for (compression, input, expected) in cases {
            let mut buffer = input.to_vec();
            let result = compression.unframe(&mut buffer);
            assert_eq!(
                result.as_deref(),
                Ok(*expected),
                "{compression:?} unframing of {input:02x?}"
            );
        }
    }

    #[test]
    fn unframe_rejects_compressed() {
        let cases: &[(Compression, &[u8], u8, &str)] = &[
            (Compression::LzoStub, &[0x66, 1], 0x66, "LZO"),
            (Compression::LzoStub, &[0x69, 1], 0x69, "LZ4"),
            (Compression::Stub, &[0x69, 1], 0x69, "LZ4"),
            (Compression::Stub, &[0x66, 1], 0x66, "LZO"),
            (Compression::StubV2, &[0x50, 0x01, 1], 0x01, "LZ4"),
            (Compression::StubV2, &[0x50, 0x02, 1], 0x02, "LZO"),
            (Compression::StubV2, &[0x50, 0x03, 1], 0x03, "Snappy"),
        ];

        for (compression, input, byte, algorithm) in cases {
            let mut buffer = input.to_vec();
            let expected = CompressionError::Compressed {
                compression: *compression,
                byte: *byte,
                algorithm,
            };
            assert_eq!(
                compression.unframe(&mut buffer),
                Err(expected),
                "{compression:?} unframing of {input:02x?}"
            );
        }
    }

    #[test]
    fn unframe_rejects_invalid_byte() {
        let cases: &[(Compression, &[u8], u8)] = &[
            (Compression::LzoStub, &[0xFB, 1], 0xFB),
            (Compression::LzoStub, &[0x45, 1], 0x45),
            (Compression::Stub, &[0xFA, 1], 0xFA),
            (Compression::StubV2, &[0x50, 0x07, 1], 0x07),
        ];

        for (compression, input, byte) in cases {
            let mut buffer = input.to_vec();
            let expected = CompressionError::InvalidFramingByte {
                compression: *compression,
                byte: *byte,
            };
            assert_eq!(
                compression.unframe(&mut buffer),
                Err(expected),
                "{compression:?} unframing of {input:02x?}"
            );
        }
    }

    #[test]
    fn round_trip_every_framing() {
        let payloads: &[&[u8]] = &[
            &[],
            &[0x50],
            &[0x50, 0x00],
            &[0x45, 0, 0, 20],
            &[0xFA, 0xFB],
        ];

        for compression in [
            Compression::None,
            Compression::LzoStub,
            Compression::Stub,
            Compression::StubV2,
        ] {
            for payload in payloads {
                let mut buffer = framed(compression, payload);
                assert_eq!(
                    compression.unframe(&mut buffer).as_deref(),
                    Ok(*payload),
                    "{compression:?} round trip of {payload:02x?}"
                );
            }
        }
    }

    #[test]
    fn compressed_error_message() {
        let mut buffer = vec![0x66, 1];
        let error = Compression::LzoStub.unframe(&mut buffer).unwrap_err();

        assert_eq!(
            error.to_string(),
            "compressed packet but compression is not supported: byte 0x66 marks LZO under \
             `comp-lzo no`; configure the server with `compress stub-v2` or without compression",
            "message differs"
        );
    }
}
