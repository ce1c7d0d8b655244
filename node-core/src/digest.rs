//! The canonical determinism digest.
