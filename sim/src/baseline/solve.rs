//! Solving a symmetric positive-definite system by Cholesky decomposition.
//!
//! Ordering contract: the factorisation and both substitutions run in
//! index order with no pivoting choices, so the same system gives the same
//! bits on every run.

use std::fmt;

/// The matrix is not (numerically) positive definite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotPositiveDefinite {
    /// The column whose pivot was not positive.
    pub column: usize,
}

impl fmt::Display for NotPositiveDefinite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "matrix not positive definite (pivot {} ≤ 0)",
            self.column
        )
    }
}

impl std::error::Error for NotPositiveDefinite {}

/// Solves `A x = b` for a symmetric positive-definite `A` (`dim × dim`,
/// row-major): `a` is overwritten by its Cholesky factor `L` (lower
/// triangle) and `b` by `x`.
pub fn cholesky_solve(a: &mut [f64], dim: usize, b: &mut [f64]) -> Result<(), NotPositiveDefinite> {
    factor(a, dim)?;
    // L y = b
    for i in 0..dim {
        let mut v = b[i];
        for k in 0..i {
            v -= a[i * dim + k] * b[k];
        }
        b[i] = v / a[i * dim + i];
    }
    // Lᵀ x = y
    for i in (0..dim).rev() {
        let mut v = b[i];
        for k in i + 1..dim {
            v -= a[k * dim + i] * b[k];
        }
        b[i] = v / a[i * dim + i];
    }
    Ok(())
}

/// In-place `A = L Lᵀ` (Cholesky–Banachiewicz), lower triangle.
fn factor(a: &mut [f64], dim: usize) -> Result<(), NotPositiveDefinite> {
    for i in 0..dim {
        for j in 0..=i {
            let mut v = a[i * dim + j];
            for k in 0..j {
                v -= a[i * dim + k] * a[j * dim + k];
            }
            if i == j {
                if v.is_nan() || v <= 0.0 {
                    return Err(NotPositiveDefinite { column: i });
                }
                a[i * dim + i] = v.sqrt();
            } else {
                a[i * dim + j] = v / a[j * dim + j];
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_a_known_system() {
        // A = [[4, 2, 0], [2, 5, 1], [0, 1, 3]], x = [1, −2, 3].
        let mut a = [4.0, 2.0, 0.0, 2.0, 5.0, 1.0, 0.0, 1.0, 3.0];
        let mut b = [0.0, -5.0, 7.0];
        cholesky_solve(&mut a, 3, &mut b).unwrap();
        for (got, want) in b.iter().zip([1.0, -2.0, 3.0]) {
            assert!((got - want).abs() < 1e-12, "{b:?}");
        }
    }

    #[test]
    fn refuses_a_singular_or_indefinite_matrix() {
        let mut singular = [1.0, 1.0, 1.0, 1.0];
        let e = cholesky_solve(&mut singular, 2, &mut [1.0, 1.0]).unwrap_err();
        assert_eq!(e, NotPositiveDefinite { column: 1 });
        let mut nan = [f64::NAN];
        assert!(cholesky_solve(&mut nan, 1, &mut [1.0]).is_err());
        assert!(e.to_string().contains("pivot 1"));
    }
}
