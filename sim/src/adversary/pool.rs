//! The cartel's shared state: what its members heard, pooled per round.
//!
//! Class-C colluders (docs/adversary.md) coordinate out of band: every
//! member adds each honest update it receives to the pool under the
//! sender's round; at its own boundary of round `k` a member reads the
//! pooled per-word mean `μ` and standard deviation `σ` of round `k − 1`
//! (complete by then: every delivery of round `k − 1` precedes the
//! boundary of round `k`) and every member sends the same `μ + m·σ`. An
//! update heard by several members counts once per member that heard it.
//!
//! One pool per simulated world (a baseline world has its own), shared by
//! `Arc<Mutex<_>>` because worlds run on rayon's threads; inside one world
//! members touch it in the world's event order, so the figures are
//! deterministic. Allocated once (two accumulators of `dim` words).

use std::sync::{Arc, Mutex};

/// Sums of one round's pooled updates.
#[derive(Clone, Debug)]
struct Accumulator {
    round: Option<u32>,
    count: u64,
    sum: Vec<f64>,
    sum_sq: Vec<f64>,
}

impl Accumulator {
    fn new(dim: usize) -> Accumulator {
        Accumulator {
            round: None,
            count: 0,
            sum: vec![0.0; dim],
            sum_sq: vec![0.0; dim],
        }
    }

    fn reset(&mut self, round: u32) {
        self.round = Some(round);
        self.count = 0;
        self.sum.fill(0.0);
        self.sum_sq.fill(0.0);
    }
}

/// The pooled observations of one cartel.
#[derive(Clone, Debug)]
pub struct CartelPool {
    current: Accumulator,
    previous: Accumulator,
}

/// A pool shared by the members of one world.
pub type SharedPool = Arc<Mutex<CartelPool>>;

impl CartelPool {
    /// An empty pool for models of `dim` words.
    pub fn new(dim: usize) -> CartelPool {
        CartelPool {
            current: Accumulator::new(dim),
            previous: Accumulator::new(dim),
        }
    }

    /// A new shared pool.
    pub fn shared(dim: usize) -> SharedPool {
        Arc::new(Mutex::new(CartelPool::new(dim)))
    }

    /// Adds `model`, sent in `round`. Updates of a round older than the
    /// two kept are ignored.
    pub fn add(&mut self, round: u32, model: &[f64]) {
        let target = match self.current.round {
            Some(r) if r == round => &mut self.current,
            Some(r) if round > r => {
                std::mem::swap(&mut self.current, &mut self.previous);
                if r + 1 != round {
                    self.previous.reset(round - 1);
                }
                self.current.reset(round);
                &mut self.current
            }
            None => {
                self.current.reset(round);
                &mut self.current
            }
            Some(_) if self.previous.round == Some(round) => &mut self.previous,
            Some(_) => return,
        };
        assert_eq!(model.len(), target.sum.len());
        target.count += 1;
        for ((s, q), x) in target.sum.iter_mut().zip(&mut target.sum_sq).zip(model) {
            *s += x;
            *q += x * x;
        }
    }

    /// Writes the pooled mean and (population) standard deviation of
    /// `round` into `mean` and `std`; `false` when nothing of that round
    /// was pooled.
    pub fn stats(&self, round: u32, mean: &mut [f64], std: &mut [f64]) -> bool {
        let acc = [&self.current, &self.previous]
            .into_iter()
            .find(|a| a.round == Some(round) && a.count > 0);
        let Some(acc) = acc else {
            return false;
        };
        let n = acc.count as f64;
        for (((m, s), sum), sq) in mean
            .iter_mut()
            .zip(std.iter_mut())
            .zip(&acc.sum)
            .zip(&acc.sum_sq)
        {
            *m = sum / n;
            *s = (sq / n - *m * *m).max(0.0).sqrt();
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_roll_over_and_stats_are_exact() {
        let mut pool = CartelPool::new(1);
        pool.add(3, &[1.0]);
        pool.add(3, &[3.0]);
        pool.add(4, &[10.0]);
        let (mut m, mut s) = ([0.0], [0.0]);
        assert!(pool.stats(3, &mut m, &mut s));
        assert_eq!((m[0], s[0]), (2.0, 1.0));
        assert!(pool.stats(4, &mut m, &mut s));
        assert_eq!((m[0], s[0]), (10.0, 0.0));
        pool.add(6, &[0.0]);
        assert!(!pool.stats(3, &mut m, &mut s));
        assert!(!pool.stats(5, &mut m, &mut s));
    }
}
