//! The references every learning figure stands beside: the same runtime
//! isolated (radio off, [`isolated`]), the persistence forecast, and the
//! per-node and pooled (central) least-squares optima of the nodes'
//! predictor on the run's own data ([`mod@reference`]); and how a run compares
//! with them ([`comparison`]).
//!
//! Ordering contract: references are computed in `f64` over fixed blocks
//! of node ids, each summed in node-id order and the blocks then combined
//! in block order, so they are the same bits whatever the thread count.

pub mod ar;
pub mod comparison;
pub mod fedavg;
pub mod isolated;
pub mod reference;
pub mod solve;
