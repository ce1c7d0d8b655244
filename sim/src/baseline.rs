//! The references every learning figure stands beside: the per-node and
//! pooled (central) least-squares optima of the nodes' predictor on the
//! run's own data, computed in `f64`.
//!
//! Ordering contract: every sum runs in a fixed order (see each module), so
//! the same inputs give the same bits.

pub mod ar;
pub mod solve;
