//! `LazyVec`: a scratch buffer that costs one pointer until first written.
//!
//! Most of [`super::Scratch`]'s buffers serve rules a node may never run
//! (Krum's distance table, the reputation-weighted rules' weights). A plain
//! `Vec` costs 24 bytes per buffer per node even when empty; a `LazyVec`
//! costs 8 (an `Option<Box<Vec<T>>>`), reads as an empty `Vec` while
//! unallocated, and allocates its `Vec` on the first mutable use, which
//! happens on a node's first aggregation by such a rule (the buffers grow
//! there anyway), never per event afterwards.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ops::{Deref, DerefMut};

/// A `Vec<T>` boxed on first mutable use; see the module docs.
// The box is the point: 8 bytes while unused instead of a Vec's 24.
#[allow(clippy::box_collection)]
#[derive(Clone, Debug)]
pub(crate) struct LazyVec<T>(Option<Box<Vec<T>>>);

impl<T> Default for LazyVec<T> {
    fn default() -> LazyVec<T> {
        LazyVec(None)
    }
}

impl<T> LazyVec<T> {
    /// Heap bytes: the boxed `Vec` header and its buffer, once allocated.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.0.as_ref().map_or(0, |vec| {
            core::mem::size_of::<Vec<T>>() + crate::heap::of_vec(vec)
        })
    }

    /// Allocated now, with room for `capacity` elements.
    pub(crate) fn with_capacity(capacity: usize) -> LazyVec<T> {
        LazyVec(Some(Box::new(Vec::with_capacity(capacity))))
    }
}

impl<T> Deref for LazyVec<T> {
    type Target = Vec<T>;

    fn deref(&self) -> &Vec<T> {
        match &self.0 {
            Some(vec) => vec,
            None => const { &Vec::new() },
        }
    }
}

impl<T> DerefMut for LazyVec<T> {
    fn deref_mut(&mut self) -> &mut Vec<T> {
        self.0.get_or_insert_with(|| Box::new(Vec::new()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_empty_until_written_then_behaves_as_a_vec() {
        let mut lazy: LazyVec<u32> = LazyVec::default();
        assert!(lazy.is_empty());
        assert!(lazy.0.is_none());
        lazy.push(3);
        lazy.extend([4, 5]);
        assert_eq!(lazy.as_slice(), &[3, 4, 5]);
        let copy = lazy.clone();
        assert_eq!(copy.as_slice(), &[3, 4, 5]);
        assert!(LazyVec::<u8>::with_capacity(4).capacity() >= 4);
        assert_eq!(core::mem::size_of::<LazyVec<u128>>(), 8);
    }
}
