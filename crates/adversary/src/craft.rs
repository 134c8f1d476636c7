//! Deltas and bytes hostile miners make without training.

use crate::hostile::Xorshift;

/// A uniform random delta shaped like `like`, with about an honest window's RMS change to the
/// tiny model (2e-3).
pub fn noise(like: &[Vec<f32>], window: u64) -> Vec<Vec<f32>> {
    let mut rng = Xorshift::new(window);
    let rms = 2e-3f32;
    like.iter()
        .map(|t| {
            t.iter()
                .map(|_| ((rng.next() >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 3.46 * rms)
                .collect()
        })
        .collect()
}

/// 64 KiB of random bytes: not a delta at all.
pub fn garbage(window: u64) -> Vec<u8> {
    let mut rng = Xorshift::new(window);
    (0..64 * 1024).map(|_| rng.next() as u8).collect()
}

/// L2 norm over all tensors.
pub fn norm(delta: &[Vec<f32>]) -> f64 {
    delta
        .iter()
        .flatten()
        .map(|&x| (x as f64) * (x as f64))
        .sum::<f64>()
        .sqrt()
}

pub fn scale(delta: &mut [Vec<f32>], factor: f32) {
    delta.iter_mut().flatten().for_each(|x| *x *= factor);
}

/// `delta += other`, tensor by tensor.
pub fn add(delta: &mut [Vec<f32>], other: &[Vec<f32>]) {
    for (d, o) in delta.iter_mut().zip(other) {
        d.iter_mut().zip(o).for_each(|(x, y)| *x += y);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_is_deterministic_and_about_the_honest_size() {
        let like = vec![vec![0.0f32; 10_000]];
        let a = noise(&like, 3);
        assert_eq!(a, noise(&like, 3));
        assert_ne!(a, noise(&like, 4));
        let rms = (a[0].iter().map(|x| x * x).sum::<f32>() / 10_000.0).sqrt();
        assert!((rms - 2e-3).abs() < 2e-4, "{rms}");
        let mut d = vec![vec![1.0f32, 2.0]];
        scale(&mut d, 10.0);
        add(&mut d, &[vec![1.0, 1.0]]);
        assert_eq!(d, vec![vec![11.0, 21.0]]);
        assert_eq!(garbage(1).len(), 64 * 1024);
    }
}
