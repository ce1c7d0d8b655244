//! Synthetic and recorded sensor data (being built).

pub mod noise;
pub mod sine;
