//! Synthetic and recorded sensor data (being built).
