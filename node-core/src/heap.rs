//! Heap bytes a value owns, computed from capacities.
//!
//! [`crate::node::Node::state_bytes`] adds these up: `size_of` of the node
//! plus every allocation it owns, as an allocator would count them
//! (`capacity × size_of::<T>()` per `Vec`, `size_of::<T>()` per `Box`).
//! Deterministic (no allocator involved), so a simulator can report it per
//! run; `node-core/tests/node_memory.rs` checks it against a counting
//! allocator.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::mem::size_of;

/// Bytes of `vec`'s buffer (0 when it has not allocated).
pub fn of_vec<T>(vec: &Vec<T>) -> usize {
    vec.capacity() * size_of::<T>()
}

/// Bytes of a boxed slice's buffer (pass `&boxed[..]`).
pub fn of_slice<T>(slice: &[T]) -> usize {
    core::mem::size_of_val::<[T]>(slice)
}

/// Bytes of an optional box's own allocation (not what it owns in turn).
pub fn of_box<T>(boxed: &Option<Box<T>>) -> usize {
    boxed.as_ref().map_or(0, |_| size_of::<T>())
}
