//! The orthonormal DCT-II on a tile, `Y = D_r X D_c^T`, and its exact inverse `X = D_r^T Y D_c`.
//! Smooth structure in a delta gathers into few coefficients, so top-k keeps more of it.

/// `D[k][i] = s_k cos(pi (i + 1/2) k / n)` with `s_0 = sqrt(1/n)`, `s_k = sqrt(2/n)`, row-major,
/// computed in f64 so every node gets the same f32 matrix.
pub(crate) fn matrix(n: usize) -> Vec<f32> {
    let mut d = Vec::with_capacity(n * n);
    for k in 0..n {
        let s = if k == 0 {
            (1.0 / n as f64).sqrt()
        } else {
            (2.0 / n as f64).sqrt()
        };
        for i in 0..n {
            d.push(
                (s * (std::f64::consts::PI * (i as f64 + 0.5) * k as f64 / n as f64).cos()) as f32,
            );
        }
    }
    d
}

/// `Y = D_r X D_c^T` for `X` of `r x c`, row-major.
pub(crate) fn forward(x: &[f32], r: usize, c: usize, dr: &[f32], dc: &[f32]) -> Vec<f32> {
    // T = X D_c^T: T[i][k] = sum_j X[i][j] D_c[k][j]
    let mut t = vec![0.0f32; r * c];
    for i in 0..r {
        for k in 0..c {
            t[i * c + k] = (0..c).map(|j| x[i * c + j] * dc[k * c + j]).sum();
        }
    }
    // Y = D_r T: Y[k][j] = sum_i D_r[k][i] T[i][j]
    let mut y = vec![0.0f32; r * c];
    for k in 0..r {
        for i in 0..r {
            let w = dr[k * r + i];
            for j in 0..c {
                y[k * c + j] += w * t[i * c + j];
            }
        }
    }
    y
}

/// `X = D_r^T Y D_c` for `Y` of `r x c`, row-major.
pub(crate) fn inverse(y: &[f32], r: usize, c: usize, dr: &[f32], dc: &[f32]) -> Vec<f32> {
    // T = D_r^T Y: T[i][j] = sum_k D_r[k][i] Y[k][j]
    let mut t = vec![0.0f32; r * c];
    for k in 0..r {
        for i in 0..r {
            let w = dr[k * r + i];
            for j in 0..c {
                t[i * c + j] += w * y[k * c + j];
            }
        }
    }
    // X = T D_c: X[i][j] = sum_k T[i][k] D_c[k][j]
    let mut x = vec![0.0f32; r * c];
    for i in 0..r {
        for k in 0..c {
            let w = t[i * c + k];
            for j in 0..c {
                x[i * c + j] += w * dc[k * c + j];
            }
        }
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_undoes_forward_and_preserves_energy() {
        for (r, c) in [(64, 64), (5, 64), (64, 3), (1, 7)] {
            let (dr, dc) = (matrix(r), matrix(c));
            let x: Vec<f32> = (0..r * c)
                .map(|i| ((i * 31 % 17) as f32 - 8.0) * 0.1)
                .collect();
            let y = forward(&x, r, c, &dr, &dc);
            let energy = |v: &[f32]| v.iter().map(|a| (*a as f64).powi(2)).sum::<f64>();
            assert!((energy(&x) - energy(&y)).abs() < 1e-4 * energy(&x));
            let back = inverse(&y, r, c, &dr, &dc);
            let err = x
                .iter()
                .zip(&back)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(err < 1e-5, "{r}x{c}: {err}");
        }
    }

    #[test]
    fn a_constant_tile_is_one_coefficient() {
        let (dr, dc) = (matrix(8), matrix(8));
        let y = forward(&[2.0; 64], 8, 8, &dr, &dc);
        assert!((y[0] - 16.0).abs() < 1e-5);
        assert!(y[1..].iter().all(|v| v.abs() < 1e-5));
    }
}
