//! A receiver's radio random stream in 72 bytes instead of a generator's 304.
//!
//! `ChaCha8Rng` keeps its key, counters and a four-block (256-byte) output
//! buffer: 304 bytes, two per node (loss and jitter), 608 MB at 10^6 nodes.
//! A [`WordStream`] keeps only the position of the next word and the one
//! 16-word ChaCha8 block that holds it; the key is rebuilt from
//! `(seed, node, purpose)` (`node_core::rng::stream_key`, no hashing) when
//! the next block is computed, one block per 16 words. The words read are
//! those of `stream(seed, node, purpose)` in order — the same keystream,
//! word for word (a test checks it against `ChaCha8Rng` through
//! `node_core::rng`'s `chance` and `below`, which read 32-bit words only).

use std::convert::Infallible;

use node_core::rng::{Purpose, stream_key};
use rand_core::TryRng;

use crate::dataset::noise::chacha8_block;

/// Words per ChaCha block.
const BLOCK_WORDS: u64 = 16;

/// The read position in a `(seed, node, purpose)` ChaCha8 stream and the
/// block under it (valid once `position > 0`).
#[derive(Clone, Debug, Default)]
pub struct WordStream {
    /// Index of the next word in the stream.
    position: u64,
    block: [u32; 16],
}

impl WordStream {
    /// A stream at word 0.
    pub fn new() -> WordStream {
        WordStream::default()
    }

    /// A generator reading this stream as `stream(seed, node, purpose)`.
    pub fn reader(&mut self, seed: u64, node: u32, purpose: Purpose) -> Reader<'_> {
        Reader {
            stream: self,
            seed,
            node,
            purpose,
        }
    }
}

/// A [`WordStream`] borrowed with its key's inputs; implements `Rng`.
pub struct Reader<'a> {
    stream: &'a mut WordStream,
    seed: u64,
    node: u32,
    purpose: Purpose,
}

impl Reader<'_> {
    fn next_word(&mut self) -> u32 {
        let s = &mut *self.stream;
        let offset = s.position % BLOCK_WORDS;
        if offset == 0 {
            let key = stream_key(self.seed, self.node, self.purpose);
            s.block = chacha8_block(&key, s.position / BLOCK_WORDS);
        }
        s.position = s.position.wrapping_add(1);
        // offset < 16: the cast is lossless.
        s.block[offset as usize]
    }
}

impl TryRng for Reader<'_> {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(self.next_word())
    }

    /// Two consecutive words, the first in the low half (as `ChaCha8Rng`).
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let low = u64::from(self.next_word());
        Ok(low | (u64::from(self.next_word()) << 32))
    }

    /// Consecutive words in little-endian order (the radio never calls it).
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(4) {
            let word = self.next_word().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use node_core::rng::{below, chance, stream};
    use rand_core::Rng;

    #[test]
    fn reads_the_generators_words_in_order() {
        for (seed, node, purpose) in [
            (1_u64, 0_u32, Purpose::RadioLoss),
            (42, 7, Purpose::RadioJitter),
            (u64::MAX, u32::MAX, Purpose::RadioLoss),
        ] {
            let mut reference = stream(seed, node, purpose);
            let mut compact = WordStream::new();
            // Mixed calls, crossing many block (and four-block) boundaries.
            for i in 0..500_u32 {
                let mut r = compact.reader(seed, node, purpose);
                match i % 4 {
                    0 => assert_eq!(r.next_u32(), reference.next_u32()),
                    1 => assert_eq!(chance(&mut r, 1 << 31), chance(&mut reference, 1 << 31)),
                    2 => assert_eq!(below(&mut r, 1_001), below(&mut reference, 1_001)),
                    _ => assert_eq!(r.next_u64(), reference.next_u64()),
                }
            }
        }
        assert_eq!(core::mem::size_of::<WordStream>(), 72);
    }
}
