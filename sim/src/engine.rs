//! Simulated time and the event queue.
//!
//! ## Ordering contract
//!
//! Time is an integer count of microseconds (`u64`). Every event is pushed
//! with the instant it fires at; the queue pops events in increasing
//! `(time_us, sequence)` order, where `sequence` is a counter incremented on
//! every push. Two events at the same instant therefore fire in the order
//! they were scheduled — the same order on every run, every machine and
//! every thread count — and no ordering ever depends on a hash, an address
//! or a wall clock.
//!
//! Events are never scheduled in the past: [`EventQueue::push`] asserts
//! `time_us ≥ now`, so simulated time never runs backwards.
//!
//! The queue bounds the work of a run: after `max_events` pops,
//! [`EventQueue::pop`] returns [`EngineError::EventBudgetExceeded`] instead
//! of an event, so no scenario can spin forever.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fmt;

/// Why the dispatch loop stopped early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineError {
    /// The run dispatched its configured maximum number of events.
    EventBudgetExceeded {
        /// The configured bound (`run.max_events`).
        max_events: u64,
        /// Simulated time reached, µs.
        now_us: u64,
    },
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineError::EventBudgetExceeded { max_events, now_us } => write!(
                f,
                "the run hit its event budget ({max_events} events, `run.max_events`) at \
                 simulated time {:.6} s; raise the budget or shorten the run",
                *now_us as f64 / 1e6
            ),
        }
    }
}

impl std::error::Error for EngineError {}

struct Entry<E> {
    time_us: u64,
    sequence: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.time_us == other.time_us && self.sequence == other.sequence
    }
}

impl<E> Eq for Entry<E> {}

impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<E> Ord for Entry<E> {
    /// Reversed, so that the max-heap pops the earliest `(time, sequence)`.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time_us, other.sequence).cmp(&(self.time_us, self.sequence))
    }
}

/// A priority queue of events ordered by `(time_us, insertion sequence)`.
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    next_sequence: u64,
    now_us: u64,
    dispatched: u64,
    max_events: u64,
}

impl<E> EventQueue<E> {
    /// An empty queue at time 0 that will dispatch at most `max_events`.
    pub fn new(max_events: u64) -> EventQueue<E> {
        EventQueue {
            heap: BinaryHeap::new(),
            next_sequence: 0,
            now_us: 0,
            dispatched: 0,
            max_events,
        }
    }

    /// Reserves room for `additional` pending events (avoids regrowth
    /// during the run).
    pub fn reserve(&mut self, additional: usize) {
        self.heap.reserve(additional);
    }

    /// Schedules `event` at `time_us`. Precondition: `time_us ≥ now`.
    pub fn push(&mut self, time_us: u64, event: E) {
        assert!(
            time_us >= self.now_us,
            "event scheduled in the past: {time_us} < now {}",
            self.now_us
        );
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        self.heap.push(Entry {
            time_us,
            sequence,
            event,
        });
    }

    /// The next event and its time, advancing `now`; `Ok(None)` when the
    /// queue is empty; an error once `max_events` have been dispatched.
    pub fn pop(&mut self) -> Result<Option<(u64, E)>, EngineError> {
        if self.heap.is_empty() {
            return Ok(None);
        }
        if self.dispatched >= self.max_events {
            return Err(EngineError::EventBudgetExceeded {
                max_events: self.max_events,
                now_us: self.now_us,
            });
        }
        let entry = self.heap.pop().expect("non-empty heap");
        debug_assert!(entry.time_us >= self.now_us, "time ran backwards");
        self.now_us = entry.time_us;
        self.dispatched += 1;
        Ok(Some((entry.time_us, entry.event)))
    }

    /// The time of the earliest pending event.
    pub fn peek_time_us(&self) -> Option<u64> {
        self.heap.peek().map(|e| e.time_us)
    }

    /// Current simulated time (the time of the last popped event), µs.
    pub fn now_us(&self) -> u64 {
        self.now_us
    }

    /// Events dispatched so far.
    pub fn dispatched(&self) -> u64 {
        self.dispatched
    }

    /// Events pending.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether no event is pending.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_time_then_insertion_order() {
        let mut q = EventQueue::new(100);
        q.push(5, 'c');
        q.push(1, 'a');
        q.push(5, 'd');
        q.push(3, 'b');
        q.push(5, 'e');
        let mut order = Vec::new();
        while let Some((t, e)) = q.pop().unwrap() {
            order.push((t, e));
        }
        assert_eq!(order, [(1, 'a'), (3, 'b'), (5, 'c'), (5, 'd'), (5, 'e')]);
        assert_eq!(q.now_us(), 5);
        assert_eq!(q.dispatched(), 5);
    }

    #[test]
    fn budget_is_enforced() {
        let mut q = EventQueue::new(2);
        for t in 0..5 {
            q.push(t, ());
        }
        assert!(q.pop().unwrap().is_some());
        assert!(q.pop().unwrap().is_some());
        let err = q.pop().unwrap_err();
        assert_eq!(
            err,
            EngineError::EventBudgetExceeded {
                max_events: 2,
                now_us: 1
            }
        );
        assert!(err.to_string().contains("run.max_events"));
    }

    #[test]
    #[should_panic(expected = "in the past")]
    fn refuses_the_past() {
        let mut q = EventQueue::new(10);
        q.push(10, ());
        q.pop().unwrap();
        q.push(9, ());
    }
}
