//! Aggregation: the best submissions, each clipped to the median norm, averaged, then an outer
//! Nesterov step makes the next master. Plain loops in a fixed order, so every node that
//! recomputes a master gets the same bits.

use crate::error::ProtocolError;

/// Indices of the `k` best positive scores, best first; equal scores go to the smaller key.
pub fn top_k(scores: &[f64], keys: &[[u8; 32]], k: usize) -> Vec<usize> {
    let eligible: Vec<bool> = scores.iter().map(|&s| s > 0.0).collect();
    top_k_of(scores, &eligible, keys, k)
}

/// Indices of the `k` best scores among the `eligible`, best first; equal scores go to the
/// smaller key.
pub fn top_k_of(scores: &[f64], eligible: &[bool], keys: &[[u8; 32]], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).filter(|&i| eligible[i]).collect();
    order.sort_by(|&a, &b| {
        scores[b]
            .partial_cmp(&scores[a])
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(keys[a].cmp(&keys[b]))
    });
    order.truncate(k);
    order
}

/// L2 norm, accumulated in f64.
pub fn norm(delta: &[f32]) -> f64 {
    delta
        .iter()
        .map(|&x| (x as f64) * (x as f64))
        .sum::<f64>()
        .sqrt()
}

/// The weight of each selected delta in the average: `1/n`, scaled down for a delta whose norm
/// is above the median so that none dominates.
pub fn clipped_weights(norms: &[f64]) -> Vec<f32> {
    if norms.is_empty() {
        return Vec::new();
    }
    let mut sorted = norms.to_vec();
    sorted.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let median = sorted[(sorted.len() - 1) / 2];
    let n = norms.len() as f64;
    norms
        .iter()
        .map(|&x| {
            let clip = if x > median && x > 0.0 {
                median / x
            } else {
                1.0
            };
            (clip / n) as f32
        })
        .collect()
}

/// `sum_i weights[i] * deltas[i]`, element by element in submission order.
pub fn weighted_sum(deltas: &[&[f32]], weights: &[f32]) -> Result<Vec<f32>, ProtocolError> {
    let len = deltas.first().map_or(0, |d| d.len());
    let mut out = vec![0.0f32; len];
    for (delta, &w) in deltas.iter().zip(weights) {
        if delta.len() != len {
            return Err(ProtocolError::Shape(len, delta.len()));
        }
        for (o, &x) in out.iter_mut().zip(*delta) {
            *o += w * x;
        }
    }
    Ok(out)
}

/// Divides each coordinate of `sum` by how many of `deltas` are non-zero there (coordinates no
/// delta sent stay as they are: zero).
pub fn divide_by_support(sum: &mut [f32], deltas: &[&[f32]]) -> Result<(), ProtocolError> {
    for delta in deltas {
        if delta.len() != sum.len() {
            return Err(ProtocolError::Shape(sum.len(), delta.len()));
        }
    }
    for (j, s) in sum.iter_mut().enumerate() {
        let count = deltas.iter().filter(|d| d[j] != 0.0).count();
        if count > 1 {
            *s /= count as f32;
        }
    }
    Ok(())
}

/// The outer Nesterov step on the averaged delta (a step in the direction the miners moved):
/// `m = mu*m + u`, `master += lr * (u + mu*m)`.
pub fn outer_step(
    master: &mut [f32],
    momentum: &mut [f32],
    update: &[f32],
    lr: f32,
    mu: f32,
) -> Result<(), ProtocolError> {
    if master.len() != update.len() || momentum.len() != update.len() {
        return Err(ProtocolError::Shape(master.len(), update.len()));
    }
    for ((p, m), &u) in master.iter_mut().zip(momentum.iter_mut()).zip(update) {
        *m = mu * *m + u;
        *p += lr * (u + mu * *m);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_is_deterministic_and_skips_zero_scores() {
        let keys = [[3u8; 32], [1u8; 32], [2u8; 32], [0u8; 32]];
        assert_eq!(top_k(&[0.5, 0.5, 0.9, 0.0], &keys, 2), vec![2, 1]);
        assert_eq!(top_k(&[0.0, 0.0, 0.0, 0.0], &keys, 2), Vec::<usize>::new());
        // Accepted submissions with no score still rank, by key, after the scored ones.
        let accepted = [true, false, true, true];
        assert_eq!(
            top_k_of(&[0.0, 0.9, 0.0, 0.2], &accepted, &keys, 3),
            vec![3, 2, 0]
        );
    }

    #[test]
    fn outliers_are_clipped_to_the_median_norm() {
        let w = clipped_weights(&[1.0, 2.0, 100.0]);
        assert_eq!(w[0], 1.0 / 3.0);
        assert_eq!(w[1], 1.0 / 3.0);
        assert!((w[2] - 0.02 / 3.0).abs() < 1e-9);
        let a = [1.0f32, 0.0];
        let b = [0.0f32, 100.0];
        let sum = weighted_sum(&[&a, &b], &clipped_weights(&[norm(&a), norm(&b)])).unwrap();
        assert_eq!(sum, vec![0.5, 0.5]);
        assert!(weighted_sum(&[&a, &[1.0]], &[1.0, 1.0]).is_err());
    }

    #[test]
    fn support_average_divides_by_the_deltas_that_sent_a_coordinate() {
        let a = [1.0f32, 0.0, 2.0, 0.0];
        let b = [3.0f32, 4.0, 0.0, 0.0];
        let mut sum = weighted_sum(&[&a, &b], &[1.0, 1.0]).unwrap();
        divide_by_support(&mut sum, &[&a, &b]).unwrap();
        // Both sent the first coordinate: their mean; one sent the second and third: its
        // value, not half of it; nobody sent the last.
        assert_eq!(sum, vec![2.0, 4.0, 2.0, 0.0]);
        assert!(divide_by_support(&mut sum, &[&a, &[1.0]]).is_err());
    }

    #[test]
    fn nesterov_outer_step() {
        let mut master = vec![1.0f32, 1.0];
        let mut momentum = vec![0.0f32, 0.0];
        outer_step(&mut master, &mut momentum, &[0.1, -0.1], 0.5, 0.9).unwrap();
        // m = u; p += lr * (u + mu*u) = 0.5 * 0.19
        assert_eq!(momentum, vec![0.1, -0.1]);
        assert!((master[0] - 1.095).abs() < 1e-6 && (master[1] - 0.905).abs() < 1e-6);
        // The same inputs give the same bits.
        let mut again = vec![1.0f32, 1.0];
        let mut m2 = vec![0.0f32, 0.0];
        outer_step(&mut again, &mut m2, &[0.1, -0.1], 0.5, 0.9).unwrap();
        assert_eq!(
            again.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            master.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
    }
}
