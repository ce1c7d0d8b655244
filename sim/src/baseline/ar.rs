//! The nodes' predictor form in `f64`: an AR(n) forecast with a bias,
//! `x̂(t) = Σ_{k=1..n} w[k−1] · x(t−k) + w[n]` (node-core's
//! `LinearNeuron` weight order), its one-step errors, and the normal
//! equations of its least-squares fit.
//!
//! Ordering contract: every sum runs over `t` in increasing order and over
//! the weights in index order, so results depend only on the inputs.

use super::solve::{self, NotPositiveDefinite};

/// Sum of squared one-step errors of `weights` (`n + 1` of them) on
/// `series`, over the `series.len() − n` values that have `n` predecessors.
pub fn one_step_sse(weights: &[f64], series: &[f64]) -> f64 {
    let n = weights.len() - 1;
    let mut sse = 0.0;
    for t in n..series.len() {
        let mut prediction = weights[n];
        for (k, w) in weights[..n].iter().enumerate() {
            prediction += w * series[t - 1 - k];
        }
        let error = series[t] - prediction;
        sse += error * error;
    }
    sse
}

/// Sum of squared errors of the persistence forecast `x̂(t) = x(t−1)` on
/// `series`, over the same values as [`one_step_sse`] with window `n`.
pub fn persistence_sse(series: &[f64], n: usize) -> f64 {
    (n.max(1)..series.len())
        .map(|t| series[t] - series[t - 1])
        .map(|e| e * e)
        .sum()
}

/// The regressors of the next prediction, `(x(t−1), …, x(t−n), 1)`, kept
/// up to date as samples stream by.
#[derive(Clone, Debug)]
pub struct LagWindow {
    regressors: Vec<f64>,
    seen: usize,
}

impl LagWindow {
    /// An empty window of `n` lags.
    pub fn new(n: usize) -> LagWindow {
        let mut regressors = vec![0.0; n + 1];
        regressors[n] = 1.0;
        LagWindow {
            regressors,
            seen: 0,
        }
    }

    /// Whether `n` samples have been seen (the regressors are all data).
    pub fn is_full(&self) -> bool {
        self.seen + 1 >= self.regressors.len()
    }

    /// The regressors, bias last.
    pub fn regressors(&self) -> &[f64] {
        &self.regressors
    }

    /// The latest sample, `x(t−1)` (0 before any).
    pub fn last(&self) -> f64 {
        self.regressors[0]
    }

    /// Pushes sample `x(t)`: it becomes lag 1.
    pub fn push(&mut self, sample: f64) {
        let n = self.regressors.len() - 1;
        if n > 0 {
            self.regressors.copy_within(0..n - 1, 1);
            self.regressors[0] = sample;
        }
        self.seen = self.seen.saturating_add(1);
    }
}

/// The sums behind a least-squares fit of the predictor: `Σ x̃x̃ᵀ` (upper
/// triangle), `Σ x̃·y`, `Σ y²` and the count, over regressor vectors `x̃`
/// and targets `y`.
#[derive(Clone, Debug, PartialEq)]
pub struct NormalEquations {
    dim: usize,
    gram: Vec<f64>,
    rhs: Vec<f64>,
    target_sq: f64,
    count: u64,
}

impl NormalEquations {
    /// Empty sums for `dim = n + 1` weights.
    pub fn new(dim: usize) -> NormalEquations {
        NormalEquations {
            dim,
            gram: vec![0.0; dim * dim],
            rhs: vec![0.0; dim],
            target_sq: 0.0,
            count: 0,
        }
    }

    /// Empties the sums, keeping their buffers.
    pub fn clear(&mut self) {
        self.gram.fill(0.0);
        self.rhs.fill(0.0);
        (self.target_sq, self.count) = (0.0, 0);
    }

    /// Adds one pair: regressors `x` (`dim` values) and target `y`.
    pub fn add(&mut self, x: &[f64], y: f64) {
        debug_assert_eq!(x.len(), self.dim);
        for (i, xi) in x.iter().enumerate() {
            let row = &mut self.gram[i * self.dim..(i + 1) * self.dim];
            for (g, xj) in row[i..].iter_mut().zip(&x[i..]) {
                *g += xi * xj;
            }
            self.rhs[i] += xi * y;
        }
        self.target_sq += y * y;
        self.count += 1;
    }

    /// Adds another set of sums (pooling).
    pub fn merge(&mut self, other: &NormalEquations) {
        for (a, b) in self.gram.iter_mut().zip(&other.gram) {
            *a += b;
        }
        for (a, b) in self.rhs.iter_mut().zip(&other.rhs) {
            *a += b;
        }
        self.target_sq += other.target_sq;
        self.count += other.count;
    }

    /// Pairs added.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The ridge least-squares weights: the solution of
    /// `(Σx̃x̃ᵀ/m + λI) w = Σx̃y/m` over the `m` pairs, by Cholesky.
    pub fn solve(&self, lambda: f64) -> Result<Vec<f64>, NotPositiveDefinite> {
        let m = self.count.max(1) as f64;
        let d = self.dim;
        let mut a = vec![0.0; d * d];
        for i in 0..d {
            for j in i..d {
                let v = self.gram[i * d + j] / m;
                a[i * d + j] = v;
                a[j * d + i] = v;
            }
            a[i * d + i] += lambda;
        }
        let mut w: Vec<f64> = self.rhs.iter().map(|b| b / m).collect();
        solve::cholesky_solve(&mut a, d, &mut w)?;
        Ok(w)
    }

    /// Mean squared one-step error of `w` on the pairs added:
    /// `(Σy² − 2wᵀΣx̃y + wᵀΣx̃x̃ᵀw) / m`, at least 0 (NaN with no pairs).
    pub fn mse(&self, w: &[f64]) -> f64 {
        if self.count == 0 {
            return f64::NAN;
        }
        let d = self.dim;
        let mut quadratic = 0.0;
        for i in 0..d {
            quadratic += self.gram[i * d + i] * w[i] * w[i];
            for j in i + 1..d {
                quadratic += 2.0 * self.gram[i * d + j] * w[i] * w[j];
            }
        }
        let linear: f64 = self.rhs.iter().zip(w).map(|(b, x)| b * x).sum();
        ((self.target_sq - 2.0 * linear + quadratic) / self.count as f64).max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_step_error_follows_the_weight_order() {
        // x̂(t) = 2·x(t−1) − 1·x(t−2) + 0.5
        let w = [2.0, -1.0, 0.5];
        let series = [1.0, 2.0, 3.5, 0.0];
        // t = 2: 2·2 − 1 + 0.5 = 3.5 (error 0); t = 3: 7 − 2 + 0.5 = 5.5.
        assert_eq!(one_step_sse(&w, &series), 5.5 * 5.5);
        assert_eq!(persistence_sse(&series, 2), 1.5 * 1.5 + 3.5 * 3.5);
    }

    #[test]
    fn lag_window_shifts_and_holds_the_bias() {
        let mut lags = LagWindow::new(3);
        for x in [1.0, 2.0] {
            lags.push(x);
        }
        assert!(!lags.is_full());
        lags.push(3.0);
        assert!(lags.is_full());
        assert_eq!(lags.regressors(), [3.0, 2.0, 1.0, 1.0]);
        assert_eq!(lags.last(), 3.0);
    }

    #[test]
    fn least_squares_recovers_an_exact_ar2_with_bias() {
        // x(t) = 1.6·x(t−1) − 0.8·x(t−2) + 0.3, from two starting points.
        let truth = [1.6, -0.8, 0.3];
        let mut ne = NormalEquations::new(3);
        for start in [[1.0, 0.0], [-0.5, 2.0]] {
            let mut lags = LagWindow::new(2);
            let mut series = start.to_vec();
            for _ in 0..40 {
                let t = series.len();
                series.push(1.6 * series[t - 1] - 0.8 * series[t - 2] + 0.3);
            }
            for &x in &series {
                if lags.is_full() {
                    ne.add(lags.regressors(), x);
                }
                lags.push(x);
            }
        }
        let w = ne.solve(1e-12).unwrap();
        for (got, want) in w.iter().zip(truth) {
            assert!((got - want).abs() < 1e-6, "{w:?}");
        }
        assert!(ne.mse(&w) < 1e-12);
        assert!(ne.mse(&[0.0, 0.0, 0.0]) > 0.1);
    }

    #[test]
    fn pooled_sums_are_the_sums_of_the_parts() {
        let mut a = NormalEquations::new(2);
        let mut b = NormalEquations::new(2);
        let mut all = NormalEquations::new(2);
        for (i, (x, y)) in [(1.0, 2.0), (3.0, -1.0), (0.5, 0.25)].iter().enumerate() {
            let part = if i == 0 { &mut a } else { &mut b };
            part.add(&[*x, 1.0], *y);
            all.add(&[*x, 1.0], *y);
        }
        a.merge(&b);
        assert_eq!(a, all);
        assert_eq!(a.count(), 3);
    }
}
