//! Predictors: the `Predictor` trait and the NLMS linear neuron.
