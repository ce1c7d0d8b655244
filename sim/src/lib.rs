//! # sim: the RaaS discrete-event simulator
//!
//! Drives thousands of [`node_core::runtime::Runtime`] instances through
//! radio, energy and data models from a TOML scenario, deterministically:
//! the same scenario and seed give byte-identical outputs.
//!
//! Data flows one way: `scenario` → `world` (nodes, `radio`, `energy`,
//! `dataset`, driven by the `engine`) → `metrics` → `summary` → `output`;
//! `baseline` adds the references each run stands beside (the same swarm
//! isolated, persistence, least-squares optima on the same data);
//! `consensus` runs node-core's node on the paper's synthetic consensus
//! task instead of the dataset; `faults` injects power loss, crashes,
//! partitions, corruption and clock drift (`[faults]`).
#![deny(missing_docs)]

pub mod adversary;
pub mod aggregation_config;
pub mod alloc_count;
pub mod baseline;
pub mod bench;
pub mod cli;
pub mod consensus;
pub mod dataset;
pub mod emulated;
pub mod energy;
pub mod engine;
pub mod faults;
pub mod fixed;
pub mod inflight;
pub mod memory;
pub mod metrics;
pub mod node_config;
pub mod output;
pub mod plot;
pub mod radio;
pub mod reproduce;
pub mod runner;
pub mod scenario;
pub mod summary;
pub mod swarm_node;
pub mod sweep;
pub mod validate;
pub mod world;
