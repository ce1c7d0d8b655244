//! Robust aggregation of peer models (issue #4; being built).
