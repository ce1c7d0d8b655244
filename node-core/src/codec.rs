//! Little-endian byte cursors: a [`Writer`] that never panics on a short
//! buffer (it counts the bytes it would have needed) and a [`Reader`] whose
//! every read is fallible. The components of a node encode and decode their
//! persistent state with these (`encode_state` / `decode_state` next to each
//! type, docs/persistence.md), and the emulated-node link
//! ([`crate::remote`]) its messages, through thin wrappers that turn
//! [`Invalid`] into the link's own errors.

use crate::q::Q;

/// The bytes are not a valid encoding (short, out of range or
/// inconsistent). Deliberately carries no detail: a snapshot is valid or not,
/// and the link says which of its fields failed in its own error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Invalid;

/// Appends little-endian values to a buffer; past its end it only counts.
#[derive(Debug)]
pub struct Writer<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> Writer<'a> {
    /// A writer at the start of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Writer<'a> {
        Writer { buf, len: 0 }
    }

    /// Bytes written, or needed when [`Writer::overflowed`].
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the buffer was too small for what was written.
    pub fn overflowed(&self) -> bool {
        self.len > self.buf.len()
    }

    /// The bytes written so far (all of them unless overflowed).
    pub fn written(&self) -> &[u8] {
        &self.buf[..self.len.min(self.buf.len())]
    }

    /// Appends `bytes`.
    pub fn bytes(&mut self, bytes: &[u8]) {
        let end = self.len.saturating_add(bytes.len());
        if let Some(target) = self.buf.get_mut(self.len..end) {
            target.copy_from_slice(bytes);
        }
        self.len = end;
    }

    /// Appends a byte.
    pub fn u8(&mut self, value: u8) {
        self.bytes(&[value]);
    }

    /// Appends a `u16`.
    pub fn u16(&mut self, value: u16) {
        self.bytes(&value.to_le_bytes());
    }

    /// Appends an `i16`.
    pub fn i16(&mut self, value: i16) {
        self.bytes(&value.to_le_bytes());
    }

    /// Appends a `u32`.
    pub fn u32(&mut self, value: u32) {
        self.bytes(&value.to_le_bytes());
    }

    /// Appends a `u64`.
    pub fn u64(&mut self, value: u64) {
        self.bytes(&value.to_le_bytes());
    }

    /// Appends a Q16.16 word (its raw bits).
    pub fn q(&mut self, value: Q) {
        self.bytes(&value.to_bits().to_le_bytes());
    }

    /// Appends a flag as one byte, 0 or 1.
    pub fn bool(&mut self, value: bool) {
        self.u8(u8::from(value));
    }

    /// Overwrites bytes already written, from offset `at` (a length field
    /// filled in once its body is written). Precondition: they were
    /// written (`at + bytes.len() <= len()`); past the buffer's end nothing
    /// is written, as for [`Writer::bytes`].
    pub fn overwrite(&mut self, at: usize, bytes: &[u8]) {
        let end = at.saturating_add(bytes.len());
        assert!(end <= self.len, "overwrite past what was written");
        if let Some(target) = self.buf.get_mut(at..end) {
            target.copy_from_slice(bytes);
        }
    }
}

/// Reads little-endian values from a byte slice; every read is fallible.
#[derive(Debug)]
pub struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `bytes`.
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes }
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.bytes.len()
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], Invalid> {
        if n > self.bytes.len() {
            return Err(Invalid);
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Invalid> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// Reads a byte.
    pub fn u8(&mut self) -> Result<u8, Invalid> {
        Ok(self.array::<1>()?[0])
    }

    /// Reads a `u16`.
    pub fn u16(&mut self) -> Result<u16, Invalid> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    /// Reads an `i16`.
    pub fn i16(&mut self) -> Result<i16, Invalid> {
        Ok(i16::from_le_bytes(self.array()?))
    }

    /// Reads a `u32`.
    pub fn u32(&mut self) -> Result<u32, Invalid> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// Reads a `u64`.
    pub fn u64(&mut self) -> Result<u64, Invalid> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// Reads a Q16.16 word.
    pub fn q(&mut self) -> Result<Q, Invalid> {
        Ok(Q::from_bits(i32::from_le_bytes(self.array()?)))
    }

    /// Reads a Q16.16 word that must lie in `[low, high]`.
    pub fn q_in(&mut self, low: Q, high: Q) -> Result<Q, Invalid> {
        let value = self.q()?;
        if value < low || value > high {
            return Err(Invalid);
        }
        Ok(value)
    }

    /// Reads a flag byte, which must be 0 or 1.
    pub fn bool(&mut self) -> Result<bool, Invalid> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(Invalid),
        }
    }

    /// Everything not yet read.
    pub fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.bytes)
    }

    /// Reads a byte that must be `<= max`.
    pub fn u8_at_most(&mut self, max: u8) -> Result<u8, Invalid> {
        let value = self.u8()?;
        if value > max {
            return Err(Invalid);
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::q;

    #[test]
    fn round_trip_and_overflow() {
        let mut buf = [0u8; 32];
        let mut w = Writer::new(&mut buf);
        w.u8(7);
        w.u16(0x1234);
        w.i16(-2);
        w.u32(0xDEAD_BEEF);
        w.u64(u64::MAX - 1);
        w.q(q::ratio(-3, 4));
        w.bool(true);
        assert!(!w.overflowed());
        let len = w.len();
        assert_eq!(len, 1 + 2 + 2 + 4 + 8 + 4 + 1);
        let mut r = Reader::new(&buf[..len]);
        assert_eq!(r.u8(), Ok(7));
        assert_eq!(r.u16(), Ok(0x1234));
        assert_eq!(r.i16(), Ok(-2));
        assert_eq!(r.u32(), Ok(0xDEAD_BEEF));
        assert_eq!(r.u64(), Ok(u64::MAX - 1));
        assert_eq!(r.q_in(-q::ONE, q::ZERO), Ok(q::ratio(-3, 4)));
        assert_eq!(r.bool(), Ok(true));
        assert_eq!(r.remaining(), 0);
        assert_eq!(r.u8(), Err(Invalid));
        let mut r = Reader::new(&buf[..len]);
        assert_eq!(r.take(1), Ok(&[7_u8][..]));
        assert_eq!(r.rest(), &buf[1..len]);
        assert_eq!(r.remaining(), 0);

        let mut w = Writer::new(&mut buf);
        w.u16(0);
        w.u8(9);
        w.overwrite(0, &0xBEEF_u16.to_le_bytes());
        assert_eq!(w.written(), &[0xEF, 0xBE, 9]);

        let mut small = [0u8; 3];
        let mut w = Writer::new(&mut small);
        w.u32(1);
        w.u8(2);
        assert!(w.overflowed());
        assert_eq!(w.len(), 5);
        assert_eq!(Reader::new(&[2]).bool(), Err(Invalid));
        assert_eq!(Reader::new(&[9]).u8_at_most(8), Err(Invalid));
        assert_eq!(
            Reader::new(&q::ONE.to_bits().to_le_bytes()).q_in(q::ZERO, q::ratio(1, 2)),
            Err(Invalid)
        );
    }
}
