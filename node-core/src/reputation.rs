//! Per-peer reputation scores (issue #4; being built).
