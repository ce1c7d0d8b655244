//! Topologies, loss, latency, MTU, airtime and byte accounting (being built).

pub mod topology;
