//! Packet framing on TCP: a big-endian `u16` length in front of every OpenVPN packet.
//!
//! The length counts the packet only, not its two length bytes. OpenVPN 2.6
//! (`socket.c`, stream buffers) treats a zero length as a broken stream and
//! resets the connection, so [`StreamDecoder`] reports it as an error that
//! stays until the decoder is dropped.

use thiserror::Error;

/// Length of the prefix in front of each packet.
const LENGTH_PREFIX_LEN: usize = 2;

/// Maximum packet length a `u16` prefix can express.
pub const MAX_PACKET_LEN: usize = u16::MAX as usize;

/// Error framing or deframing packets on a TCP stream.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum StreamError {
    /// A packet to send does not fit the `u16` length prefix.
    #[error("packet of {len} bytes is too long for TCP framing; the maximum is {MAX_PACKET_LEN}")]
    PacketTooLong {
        /// Length of the rejected packet.
        len: usize,
    },
    /// The peer sent a length prefix of 0.
    #[error(
        "received a packet length of 0 on the TCP stream; the stream is out of sync, reconnect"
    )]
    ZeroLength,
}

/// Appends `packet` with its length prefix to `out`.
pub fn frame(packet: &[u8], out: &mut Vec<u8>) -> Result<(), StreamError> {
    let len = u16::try_from(packet.len())
        .map_err(|_| StreamError::PacketTooLong { len: packet.len() })?;
    out.reserve(LENGTH_PREFIX_LEN + packet.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(packet);
    Ok(())
}

/// Reassembles whole packets from TCP bytes that arrive in chunks of any size.
#[derive(Debug, Default)]
pub struct StreamDecoder {
    /// Received bytes; those before `start` are already consumed.
    buffer: Vec<u8>,
    /// Offset of the first unconsumed byte in `buffer`.
    start: usize,
    /// Set once a zero length was read; the stream cannot be resynchronised.
    failed: bool,
}

impl StreamDecoder {
    /// Creates a decoder with nothing buffered.
    pub fn new() -> StreamDecoder {
        StreamDecoder::default()
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 {
            self.buffer.drain(..self.start);
            self.start = 0;
        }
        self.buffer.extend_from_slice(bytes);
    }

    /// Returns the next whole packet, or `Ok(None)` until more bytes arrive.
    ///
    /// After [`StreamError::ZeroLength`] every further call returns the same
    /// error, because the packet boundaries are lost.
    pub fn next_packet(&mut self) -> Result<Option<Vec<u8>>, StreamError> {
        Ok(self.next_packet_ref()?.map(<[u8]>::to_vec))
    }

    /// Returns the next whole packet borrowed from the decoder's buffer.
    ///
    /// Behaves like [`next_packet`](Self::next_packet) without copying.
    pub fn next_packet_ref(&mut self) -> Result<Option<&[u8]>, StreamError> {
        if self.failed {
            return Err(StreamError::ZeroLength);
        }

        let unread = &self.buffer[self.start..];
        let Some((prefix, rest)) = unread.split_first_chunk::<LENGTH_PREFIX_LEN>() else {
            return Ok(None);
        };
        let len = usize::from(u16::from_be_bytes(*prefix));
        if len == 0 {
            self.failed = true;
            return Err(StreamError::ZeroLength);
        }
        if rest.len() < len {
            return Ok(None);
        }

        let packet_start = self.start + LENGTH_PREFIX_LEN;
        self.start = packet_start + len;
        Ok(Some(&self.buffer[packet_start..self.start]))
    }

    /// Returns the number of buffered bytes that do not form a whole packet yet.
    pub fn buffered_len(&self) -> usize {
        self.buffer.len() - self.start
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn framed(packets: &[&[u8]]) -> Vec<u8> {
        let mut stream = Vec::new();
        for packet in packets {
            frame(packet, &mut stream).unwrap();
        }
        stream
    }

    fn drain(decoder: &mut StreamDecoder) -> Vec<Vec<u8>> {
        let mut packets = Vec::new();
        while let Some(packet) = decoder.next_packet().unwrap() {
            packets.push(packet);
        }
        packets
    }

    #[test]
    fn frame_prefixes_length() {
        let mut out = Vec::new();
        frame(&[0x38, 1, 2], &mut out).unwrap();
        assert_eq!(out, [0, 3, 0x38, 1, 2]);
    }

    #[test]
    fn frame_rejects_oversized_packet() {
        let mut out = Vec::new();
        let result = frame(&vec![0; MAX_PACKET_LEN + 1], &mut out);
        assert_eq!(
            result,
            Err(StreamError::PacketTooLong { len: 65536 }),
            "result"
        );
        assert!(out.is_empty(), "bytes written for a rejected packet");
    }

    #[test]
    fn frame_accepts_maximum_packet() {
        let mut out = Vec::new();
        frame(&vec![7; MAX_PACKET_LEN], &mut out).unwrap();
        assert_eq!(&out[..2], [0xff, 0xff], "length prefix");
    }

    #[test]
    fn merged_chunk_yields_all_packets() {
        let mut decoder = StreamDecoder::new();
        decoder.push(&framed(&[b"first", b"second", b"third"]));
        let expected = vec![b"first".to_vec(), b"second".to_vec(), b"third".to_vec()];
        assert_eq!(drain(&mut decoder), expected);
    }

    #[test]
    fn byte_by_byte_chunks() {
        let stream = framed(&[b"first", b"second"]);
        let mut decoder = StreamDecoder::new();
        let mut packets = Vec::new();
        for byte in &stream {
            decoder.push(&[*byte]);
            packets.extend(drain(&mut decoder));
        }
        assert_eq!(
            packets,
            vec![b"first".to_vec(), b"second".to_vec()],
            "packets"
        );
        assert_eq!(decoder.buffered_len(), 0, "leftover bytes");
    }

    #[test]
    fn split_length_prefix_waits() {
        let mut decoder = StreamDecoder::new();
        decoder.push(&[0]);
        assert_eq!(decoder.next_packet(), Ok(None), "after one prefix byte");
        decoder.push(&[2, 0xaa]);
        assert_eq!(decoder.next_packet(), Ok(None), "after half the packet");
        decoder.push(&[0xbb, 0, 1]);
        assert_eq!(
            decoder.next_packet(),
            Ok(Some(vec![0xaa, 0xbb])),
            "whole packet"
        );
        assert_eq!(decoder.buffered_len(), 2, "start of the next prefix");
    }

    #[test]
    fn zero_length_is_fatal() {
        let mut decoder = StreamDecoder::new();
        decoder.push(&[0, 0, 0, 1, 9]);
        assert_eq!(
            decoder.next_packet(),
            Err(StreamError::ZeroLength),
            "first call"
        );
        assert_eq!(
            decoder.next_packet(),
            Err(StreamError::ZeroLength),
            "second call"
        );
    }

    #[test]
    fn zero_length_after_packet() {
        let mut decoder = StreamDecoder::new();
        decoder.push(&[0, 1, 9, 0, 0]);
        assert_eq!(decoder.next_packet(), Ok(Some(vec![9])), "packet before");
        assert_eq!(
            decoder.next_packet(),
            Err(StreamError::ZeroLength),
            "zero length"
        );
    }

    #[test]
    fn borrowed_packet_matches() {
        let mut decoder = StreamDecoder::new();
        decoder.push(&framed(&[b"abc"]));
        assert_eq!(decoder.next_packet_ref(), Ok(Some(&b"abc"[..])));
    }

    proptest! {
        #[test]
        fn any_split_round_trips(
            packets in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..300), 0..8),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..10),
        ) {
            let slices: Vec<&[u8]> = packets.iter().map(Vec::as_slice).collect();
            let stream = framed(&slices);

            let mut offsets: Vec<usize> = cuts.iter().map(|cut| cut.index(stream.len() + 1)).collect();
            offsets.push(0);
            offsets.push(stream.len());
            offsets.sort_unstable();

            let mut decoder = StreamDecoder::new();
            let mut received = Vec::new();
            for window in offsets.windows(2) {
                decoder.push(&stream[window[0]..window[1]]);
                received.extend(drain(&mut decoder));
            }
            prop_assert_eq!(received, packets);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let mut decoder = StreamDecoder::new();
            decoder.push(&bytes);
            while let Ok(Some(_)) = decoder.next_packet() {}
        }
    }
}
