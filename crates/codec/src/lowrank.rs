//! Low-rank approximation of a matrix by subspace iteration: `M ≈ P Qᵀ` with `P` (rows × rank)
//! orthonormal and `Q = Mᵀ P`. Deterministic (a fixed start, a fixed order of sums), so two
//! machines factor the same matrix to the same bits.
//!
//! Why it is here: early in a run a window's AdamW delta moves almost every coordinate by about
//! the same amount, so keeping the largest values keeps little of it; but much of it is shared
//! across rows (every token the window never saw has its logit pushed down the same way), which
//! a few rank-one terms carry.

use rayon::prelude::*;

/// `M ≈ left · rightᵀ`, both row-major: `left` is rows × rank, `right` is cols × rank.
#[derive(Clone, Debug, PartialEq)]
pub struct LowRank {
    pub rows: usize,
    pub cols: usize,
    pub rank: usize,
    pub left: Vec<f32>,
    pub right: Vec<f32>,
}

impl LowRank {
    /// Factors the row-major `rows × cols` matrix `m` with `iterations` rounds of subspace
    /// iteration (two are enough for a probe; each costs two passes over `m`).
    pub fn factor(m: &[f32], rows: usize, cols: usize, rank: usize, iterations: usize) -> Self {
        assert_eq!(m.len(), rows * cols, "matrix of {rows} x {cols}");
        let rank = rank.min(rows).min(cols);
        // A fixed, well-spread start: any start not orthogonal to the top subspace converges.
        let mut right: Vec<f32> = (0..cols * rank)
            .map(|i| {
                let x = (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                ((x >> 40) as f32 / (1u64 << 24) as f32) - 0.5
            })
            .collect();
        let mut left = vec![0.0f32; rows * rank];
        for _ in 0..iterations.max(1) {
            times(m, rows, cols, &right, rank, &mut left);
            orthonormalise(&mut left, rows, rank);
            transpose_times(m, rows, cols, &left, rank, &mut right);
        }
        LowRank {
            rows,
            cols,
            rank,
            left,
            right,
        }
    }

    /// The dense `rows × cols` approximation.
    pub fn expand(&self) -> Vec<f32> {
        let mut out = vec![0.0f32; self.rows * self.cols];
        out.par_chunks_mut(self.cols)
            .enumerate()
            .for_each(|(i, row)| {
                let p = &self.left[i * self.rank..(i + 1) * self.rank];
                for (j, o) in row.iter_mut().enumerate() {
                    let q = &self.right[j * self.rank..(j + 1) * self.rank];
                    *o = p.iter().zip(q).map(|(a, b)| a * b).sum();
                }
            });
        out
    }
}

/// `out (rows × rank) = m (rows × cols) · q (cols × rank)`.
fn times(m: &[f32], rows: usize, cols: usize, q: &[f32], rank: usize, out: &mut [f32]) {
    debug_assert_eq!(out.len(), rows * rank);
    out.par_chunks_mut(rank).enumerate().for_each(|(i, o)| {
        let row = &m[i * cols..(i + 1) * cols];
        for (k, o) in o.iter_mut().enumerate() {
            let mut sum = 0.0f64;
            for (j, x) in row.iter().enumerate() {
                sum += (*x as f64) * (q[j * rank + k] as f64);
            }
            *o = sum as f32;
        }
    });
}

/// `out (cols × rank) = mᵀ · p`, summed over rows in order so the result is the same on every
/// machine whatever its thread count. Threads take blocks of columns and walk the rows, so
/// every read of `m` is contiguous.
fn transpose_times(m: &[f32], rows: usize, cols: usize, p: &[f32], rank: usize, out: &mut [f32]) {
    debug_assert_eq!(out.len(), cols * rank);
    const BLOCK: usize = 16;
    out.par_chunks_mut(BLOCK * rank)
        .enumerate()
        .for_each(|(b, o)| {
            let j0 = b * BLOCK;
            let width = o.len() / rank;
            let mut sums = vec![0.0f64; width * rank];
            for i in 0..rows {
                let row = &m[i * cols + j0..i * cols + j0 + width];
                let pi = &p[i * rank..(i + 1) * rank];
                for (j, &x) in row.iter().enumerate() {
                    for (k, &y) in pi.iter().enumerate() {
                        sums[j * rank + k] += (x as f64) * (y as f64);
                    }
                }
            }
            for (o, s) in o.iter_mut().zip(sums) {
                *o = s as f32;
            }
        });
}

/// Modified Gram-Schmidt on the columns of the row-major `rows × rank` matrix `a`; a column
/// that vanishes is left zero (the matrix has lower rank than asked).
fn orthonormalise(a: &mut [f32], rows: usize, rank: usize) {
    for k in 0..rank {
        for prev in 0..k {
            let dot: f64 = (0..rows)
                .map(|i| a[i * rank + k] as f64 * a[i * rank + prev] as f64)
                .sum();
            for i in 0..rows {
                a[i * rank + k] -= (dot as f32) * a[i * rank + prev];
            }
        }
        let norm: f64 = (0..rows)
            .map(|i| (a[i * rank + k] as f64).powi(2))
            .sum::<f64>()
            .sqrt();
        let scale = if norm > 1e-30 { 1.0 / norm } else { 0.0 };
        for i in 0..rows {
            a[i * rank + k] = (a[i * rank + k] as f64 * scale) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rank_two_matrix_is_recovered() {
        let (rows, cols) = (300, 40);
        let m: Vec<f32> = (0..rows * cols)
            .map(|idx| {
                let (i, j) = ((idx / cols) as f32, (idx % cols) as f32);
                (i * 0.01).sin() * (j * 0.3).cos() + 0.5 * (i * 0.07).cos() * (j * 0.11 + 1.0)
            })
            .collect();
        let low = LowRank::factor(&m, rows, cols, 2, 3);
        let back = low.expand();
        let err: f32 = m
            .iter()
            .zip(&back)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(err < 1e-3, "max error {err}");
        // Rank one keeps the larger part only.
        let one = LowRank::factor(&m, rows, cols, 1, 3).expand();
        let err1: f32 = m
            .iter()
            .zip(&one)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(
            err1 > 1e-2,
            "rank one cannot hold a rank-two matrix: {err1}"
        );
    }
}
