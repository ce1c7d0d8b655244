//! Per-node energy pools, harvesting and brownouts (being built).
