//! Frames on the air: one stored copy per transmission, shared by its
//! deliveries.
//!
//! A broadcast to k neighbours stores its bytes once; each pending delivery
//! holds a [`FrameRef`] and the slot is recycled when the last delivery has
//! been handled. Slots keep their buffers when freed, so at steady state a
//! transmission allocates nothing.

use node_core::runtime::FrameKind;

/// Handle of a stored frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameRef(u32);

struct Slot {
    bytes: Vec<u8>,
    kind: FrameKind,
    pending: u32,
}

/// Reference-counted storage of in-flight frames.
#[derive(Default)]
pub struct InFlight {
    slots: Vec<Slot>,
    free: Vec<u32>,
}

impl InFlight {
    /// Empty storage.
    pub fn new() -> InFlight {
        InFlight::default()
    }

    /// Stores a copy of `bytes` (a frame of `kind`) with no pending
    /// delivery yet.
    pub fn store(&mut self, bytes: &[u8], kind: FrameKind) -> FrameRef {
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                let index =
                    u32::try_from(self.slots.len()).expect("fewer than 2^32 frames in flight");
                self.slots.push(Slot {
                    bytes: Vec::new(),
                    kind,
                    pending: 0,
                });
                index
            }
        };
        let slot = &mut self.slots[index as usize];
        debug_assert_eq!(slot.pending, 0);
        slot.bytes.clear();
        slot.bytes.extend_from_slice(bytes);
        slot.kind = kind;
        FrameRef(index)
    }

    /// Adds one pending delivery to `frame`.
    pub fn retain(&mut self, frame: FrameRef) {
        self.slots[frame.0 as usize].pending += 1;
    }

    /// Frees `frame` if it has no pending delivery (a transmission that
    /// reached nobody).
    pub fn release_if_unused(&mut self, frame: FrameRef) {
        if self.slots[frame.0 as usize].pending == 0 {
            self.free.push(frame.0);
        }
    }

    /// The bytes of `frame`.
    pub fn bytes(&self, frame: FrameRef) -> &[u8] {
        let slot = &self.slots[frame.0 as usize];
        debug_assert!(slot.pending > 0, "reading a frame with no pending delivery");
        &slot.bytes
    }

    /// The kind of `frame`, as the sender declared it.
    pub fn kind(&self, frame: FrameRef) -> FrameKind {
        self.slots[frame.0 as usize].kind
    }

    /// Marks one delivery of `frame` as handled, recycling the slot after
    /// the last one.
    pub fn delivered(&mut self, frame: FrameRef) {
        let slot = &mut self.slots[frame.0 as usize];
        assert!(slot.pending > 0, "frame delivered more often than retained");
        slot.pending -= 1;
        if slot.pending == 0 {
            self.free.push(frame.0);
        }
    }

    /// Frames currently stored (for tests and leak checks).
    pub fn live(&self) -> usize {
        self.slots.len() - self.free.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_shared_then_recycled() {
        let mut f = InFlight::new();
        let a = f.store(b"abc", FrameKind::ModelUpdate);
        f.retain(a);
        f.retain(a);
        assert_eq!(f.bytes(a), b"abc");
        assert_eq!(f.kind(a), FrameKind::ModelUpdate);
        f.delivered(a);
        assert_eq!(f.live(), 1);
        f.delivered(a);
        assert_eq!(f.live(), 0);
        let b = f.store(b"de", FrameKind::Heartbeat);
        assert_eq!(b, a, "slot reused");
        f.release_if_unused(b);
        assert_eq!(f.live(), 0);
    }
}
