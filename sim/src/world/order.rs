//! One node's order of events inside a window.
//!
//! A node's events of a window come from two places: the ones popped from
//! the engine's queue (already in `(time, sequence)` order) and the
//! follow-ups the node schedules while it handles them (its next sample, a
//! wake-up, a resume) whose time falls inside the window. [`NodeOrder`]
//! merges the two exactly as the engine would have ordered them:
//!
//! * by time first;
//! * at equal time, a popped event before a follow-up (the popped one was
//!   pushed earlier, so its sequence number is lower);
//! * follow-ups at equal time in the order they were scheduled.
//!
//! The test checks this against the engine itself for random schedules
//! with many ties.

/// What comes next for the node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next<T> {
    /// The next popped event (the caller keeps the index).
    Window,
    /// A follow-up at this time.
    Local(u64, T),
}

/// The pending follow-ups of the node being handled, sorted by `(time,
/// scheduling order)`. Reused from node to node (no allocation at steady
/// state; a node has a handful of follow-ups per window at most).
#[derive(Clone, Debug)]
pub struct NodeOrder<T> {
    local: Vec<(u64, T)>,
    head: usize,
}

impl<T> Default for NodeOrder<T> {
    fn default() -> NodeOrder<T> {
        NodeOrder {
            local: Vec::new(),
            head: 0,
        }
    }
}

impl<T: Copy> NodeOrder<T> {
    /// Forgets the previous node's follow-ups.
    pub fn clear(&mut self) {
        self.local.clear();
        self.head = 0;
    }

    /// Whether no follow-up is pending.
    pub fn is_empty(&self) -> bool {
        self.head == self.local.len()
    }

    /// Schedules a follow-up at `at_us` (after the pending ones of the same
    /// time).
    pub fn insert(&mut self, at_us: u64, event: T) {
        if self.head == self.local.len() {
            self.clear();
        }
        let pending = &self.local[self.head..];
        let at = self.head + pending.partition_point(|l| l.0 <= at_us);
        self.local.insert(at, (at_us, event));
    }

    /// The next event, given the time of the next popped event if any;
    /// `None` when both are exhausted.
    pub fn next(&mut self, window_time_us: Option<u64>) -> Option<Next<T>> {
        let local = self.local.get(self.head).copied();
        match (window_time_us, local) {
            (None, None) => None,
            (Some(w), Some((l, _))) if w <= l => Some(Next::Window),
            (Some(_), None) => Some(Next::Window),
            (_, Some((l, event))) => {
                self.head += 1;
                Some(Next::Local(l, event))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::EventQueue;
    use rand_chacha::ChaCha8Rng;
    use rand_core::{Rng, SeedableRng};

    /// A follow-up rule that depends only on the event handled: event `e`
    /// at `t` schedules 0, 1 or 2 follow-ups at `t + {0, 1, 3}`.
    fn follow_ups(e: u64, t: u64, next_id: &mut u64, out: &mut Vec<(u64, u64)>) {
        out.clear();
        for k in 0..(e % 3) {
            let at = t + [0, 1, 3][((e / 3 + k) % 3) as usize];
            out.push((at, *next_id));
            *next_id += 1;
        }
    }

    /// For random schedules with many ties, a window handled with
    /// [`NodeOrder`] sees the same events in the same order as the engine
    /// popping everything (initial events and follow-ups) in `(time,
    /// sequence)` order, up to the window's end.
    #[test]
    fn matches_the_engine_order() {
        for seed in 0..200_u64 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let (start, end) = (100_u64, 100 + 1 + u64::from(rng.next_u32() % 12));
            let count = rng.next_u32() % 12;
            let mut initial: Vec<(u64, u64)> = (0..u64::from(count))
                .map(|id| (start + u64::from(rng.next_u32()) % (end - start), id))
                .collect();
            initial.sort_by_key(|&(t, _)| t); // stable: ties keep push order
            let mut scratch = Vec::new();

            // The engine: push the initial events, pop until the end.
            let mut q = EventQueue::new(u64::MAX);
            for &(t, id) in &initial {
                q.push(t, id);
            }
            let mut next_id = 1_000;
            let mut expected = Vec::new();
            while let Some((t, e)) = q.pop_before(end).unwrap() {
                expected.push((t, e));
                follow_ups(e, t, &mut next_id, &mut scratch);
                for &(at, id) in &scratch {
                    q.push(at, id);
                }
            }

            // The window: popped events plus follow-ups before the end.
            let mut order = NodeOrder::default();
            let mut next_id = 1_000;
            let mut got = Vec::new();
            let mut i = 0;
            while let Some(next) = order.next(initial.get(i).map(|e| e.0)) {
                let (t, e) = match next {
                    Next::Window => {
                        i += 1;
                        initial[i - 1]
                    }
                    Next::Local(t, e) => (t, e),
                };
                got.push((t, e));
                follow_ups(e, t, &mut next_id, &mut scratch);
                for &(at, id) in scratch.iter().filter(|f| f.0 < end) {
                    order.insert(at, id);
                }
            }
            assert_eq!(got, expected, "seed {seed}");
        }
    }
}
