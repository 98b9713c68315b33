//! Deterministic pseudo-random byte stream for transfer checks.

/// Seed shared by both ends of a transfer check, any nonzero value works.
const SEED: u64 = 0x9e37_79b9_7f4a_7c15;

/// xorshift64* generator: fast, reproducible, and without runs of equal bytes that could
/// hide a shifted or repeated block.
#[derive(Debug, Clone)]
pub(crate) struct PatternStream {
    /// Generator state, never zero.
    state: u64,
    /// Bytes of the last generated word not yet handed out, lowest first.
    leftover: [u8; 8],
    /// Number of valid bytes at the end of `leftover`.
    leftover_len: usize,
}

impl PatternStream {
    /// Starts the stream at its first byte.
    pub(crate) fn new() -> PatternStream {
        PatternStream {
            state: SEED,
            leftover: [0; 8],
            leftover_len: 0,
        }
    }

    /// Fills `buf` with the next `buf.len()` bytes of the stream.
    pub(crate) fn fill(&mut self, buf: &mut [u8]) {
        let mut written = 0;

        while written < buf.len() && self.leftover_len > 0 {
            buf[written] = self.leftover[8 - self.leftover_len];
            self.leftover_len -= 1;
            written += 1;
        }

        let mut words = buf[written..].chunks_exact_mut(8);
        for word in &mut words {
            word.copy_from_slice(&self.next_word().to_le_bytes());
        }

        let tail = words.into_remainder();
        if !tail.is_empty() {
            self.leftover = self.next_word().to_le_bytes();
            tail.copy_from_slice(&self.leftover[..tail.len()]);
            self.leftover_len = 8 - tail.len();
        }
    }

    /// Advances the generator and returns its next 64-bit output.
    fn next_word(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generate(chunk_sizes: &[usize]) -> Vec<u8> {
        let mut stream = PatternStream::new();
        let mut out = Vec::new();
        for &size in chunk_sizes {
            let mut chunk = vec![0; size];
            stream.fill(&mut chunk);
            out.extend_from_slice(&chunk);
        }
        out
    }

    #[test]
    fn pattern_independent_of_chunking() {
        let whole = generate(&[100]);
        let chunkings: [&[usize]; 4] = [&[1; 100], &[3, 5, 92], &[8, 8, 84], &[7, 1, 9, 83]];
        for chunks in chunkings {
            assert_eq!(
                generate(chunks),
                whole,
                "chunking {chunks:?} changed the stream"
            );
        }
    }

    #[test]
    fn pattern_is_not_constant() {
        let bytes = generate(&[64]);
        let distinct = bytes.iter().collect::<std::collections::HashSet<_>>().len();
        assert!(distinct > 32, "only {distinct} distinct bytes in 64");
    }
}
