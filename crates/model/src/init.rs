//! Deterministic initialisation: parameter values are a pure function of (seed, name).
//!
//! Values are drawn on the host from ChaCha8 keyed per parameter, so they are identical on every
//! machine and backend, and any one parameter can be regenerated without the others.

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

use crate::config::{Init, ModelConfig, ParamSpec};

const STD: f64 = 0.02;

/// The initial values of one parameter, flat in Hugging Face layout.
pub fn init_param(config: &ModelConfig, spec: &ParamSpec, seed: u64) -> Vec<f32> {
    let std = match spec.init {
        Init::Ones => return vec![1.0; spec.numel()],
        Init::Normal => STD,
        Init::Residual => STD / (2.0 * config.n_layers as f64).sqrt(),
    };
    let mut key = blake3::Hasher::new_derive_key("gradient model init v1");
    key.update(&seed.to_le_bytes());
    key.update(spec.name.as_bytes());
    let mut rng = ChaCha8Rng::from_seed(*key.finalize().as_bytes());
    normals(&mut rng, spec.numel(), std)
}

/// Box-Muller in f64, rounded once to f32: no platform-dependent libm shortcuts in f32.
fn normals(rng: &mut ChaCha8Rng, n: usize, std: f64) -> Vec<f32> {
    let mut out = Vec::with_capacity(n + 1);
    while out.len() < n {
        // 53 random bits in (0, 1]: never zero, so ln is finite.
        let u1 = ((rng.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64;
        let u2 = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let r = (-2.0 * u1.ln()).sqrt() * std;
        let theta = std::f64::consts::TAU * u2;
        out.push((r * theta.cos()) as f32);
        out.push((r * theta.sin()) as f32);
    }
    out.truncate(n);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normals_have_the_requested_spread() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let xs = normals(&mut rng, 100_001, 0.02);
        assert_eq!(xs.len(), 100_001);
        let mean = xs.iter().map(|&x| x as f64).sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / xs.len() as f64;
        assert!(mean.abs() < 3e-4, "mean {mean}");
        assert!((var.sqrt() - 0.02).abs() < 3e-4, "std {}", var.sqrt());
    }
}
