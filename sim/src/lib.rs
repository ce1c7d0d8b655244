//! RaaS simulator library.
