//! The fused LM head + cross-entropy on host memory, for the CPU backend: per chunk of rows,
//! one GEMM for the logits, one parallel pass for softmax, loss and `dlogits` in place, and two
//! GEMMs for the gradients. Nothing the size of `[tokens, vocab]` is ever allocated, and the
//! chunk buffer is reused.

use rayon::prelude::*;

use crate::host_gemm::{Mat, matmul};

/// Logit elements per chunk (32 MB of f32). On the tiny preset 4M gave 1870 tokens/s, 8M 2120,
/// 16M-32M ~2090: fewer chunks mean fewer read-modify-write passes over `dW`.
const CHUNK_ELEMENTS: usize = 8 << 20;

/// Shapes and data of one head evaluation: `hidden` is `[rows, d]`, `weight` is `[vocab, d]`.
pub(crate) struct HeadInput<'a> {
    pub hidden: Vec<f32>,
    pub weight: Vec<f32>,
    pub targets: &'a [u32],
    pub d: usize,
    pub vocab: usize,
}

pub(crate) struct HeadOutput {
    pub loss_sum: f64,
    /// `[rows, d]`
    pub d_hidden: Vec<f32>,
    /// `[vocab, d]`
    pub d_weight: Vec<f32>,
}

impl HeadInput<'_> {
    fn rows(&self) -> usize {
        self.targets.len()
    }

    fn chunk_rows(&self) -> usize {
        (CHUNK_ELEMENTS / self.vocab.max(1)).clamp(1, self.rows().max(1))
    }

    fn check(&self) {
        assert_eq!(self.hidden.len(), self.rows() * self.d);
        assert_eq!(self.weight.len(), self.vocab * self.d);
        assert!(
            self.targets.iter().all(|&t| (t as usize) < self.vocab),
            "targets are checked by Batch::check"
        );
    }

    /// Summed cross-entropy, without gradients.
    pub(crate) fn loss_sum(&self) -> f64 {
        self.run(None).loss_sum
    }

    /// Summed cross-entropy and the gradients of `scale * loss_sum`.
    pub(crate) fn loss_and_grads(&self, scale: f32) -> HeadOutput {
        self.run(Some(scale))
    }

    fn run(&self, grad_scale: Option<f32>) -> HeadOutput {
        self.check();
        let (rows, d, vocab) = (self.rows(), self.d, self.vocab);
        let step = self.chunk_rows();
        let weight = Mat::new(&self.weight, vocab, d);
        let mut logits = vec![0.0f32; step * vocab];
        let mut losses = vec![0.0f64; rows];
        let mut d_hidden = vec![0.0f32; if grad_scale.is_some() { rows * d } else { 0 }];
        let mut d_weight = vec![0.0f32; if grad_scale.is_some() { vocab * d } else { 0 }];
        for start in (0..rows).step_by(step) {
            let n = step.min(rows - start);
            let h = Mat::new(&self.hidden[start * d..(start + n) * d], n, d);
            let chunk = &mut logits[..n * vocab];
            matmul(chunk, h, weight.t(), false);
            let targets = &self.targets[start..start + n];
            chunk
                .par_chunks_mut(vocab)
                .zip(&mut losses[start..start + n])
                .zip(targets)
                .for_each(|((row, loss), &t)| *loss = softmax_row(row, t as usize, grad_scale));
            if grad_scale.is_some() {
                let p = Mat::new(chunk, n, vocab);
                matmul(&mut d_hidden[start * d..(start + n) * d], p, weight, false);
                matmul(&mut d_weight, p.t(), h, start > 0);
            }
        }
        HeadOutput {
            // Summed in a fixed order so the loss is the same on every run.
            loss_sum: losses.iter().sum(),
            d_hidden,
            d_weight,
        }
    }
}

/// Cross-entropy of `target` under the logits in `row`; with a scale, overwrites `row` with
/// `scale * (softmax(row) - onehot(target))`.
fn softmax_row(row: &mut [f32], target: usize, grad_scale: Option<f32>) -> f64 {
    let target_logit = row[target];
    let max = row_max(row);
    let sum = exp_shifted_sum(row, max);
    let loss = (sum as f64).ln() + max as f64 - target_logit as f64;
    if let Some(scale) = grad_scale {
        let k = scale / sum;
        row.iter_mut().for_each(|x| *x *= k);
        row[target] -= scale;
    }
    loss
}

/// Independent accumulators: a single running max or sum is a serial dependency the compiler
/// may not reorder, so it would not vectorise. The lane order is fixed, so results are too.
const LANES: usize = 16;

fn row_max(row: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let mut chunks = row.chunks_exact(LANES);
    for c in &mut chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a = if x > *a { x } else { *a };
        }
    }
    let tail = chunks.remainder().iter().copied();
    acc.into_iter()
        .chain(tail)
        .fold(f32::NEG_INFINITY, f32::max)
}

/// Replaces each `x` by `e^(x - max)` and returns their sum.
fn exp_shifted_sum(row: &mut [f32], max: f32) -> f32 {
    let mut acc = [0.0f32; LANES];
    let mut chunks = row.chunks_exact_mut(LANES);
    for c in &mut chunks {
        for (a, x) in acc.iter_mut().zip(c.iter_mut()) {
            *x = exp(*x - max);
            *a += *x;
        }
    }
    let mut tail = 0.0f32;
    for x in chunks.into_remainder() {
        *x = exp(*x - max);
        tail += *x;
    }
    acc.iter().sum::<f32>() + tail
}

/// `e^x` for `x <= 0` (here always `logit - max`), within 2 ulp of `expf`, written branch-free
/// so the compiler vectorises the loops above (libm's scalar `expf` was 18% of a step).
#[inline(always)]
fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding and subtracting 1.5 * 2^23 rounds to the nearest integer without a libm call.
    const ROUND: f32 = 12_582_912.0;
    let x = x.max(-87.0);
    let n = (x * LOG2E + ROUND) - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    // Cephes' minimax polynomial for e^r on [-ln2/2, ln2/2].
    let mut p = 1.987_569_2e-4f32;
    p = p * r + 1.398_2e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let er = p * r * r + r + 1.0;
    f32::from_bits(((n as i32 + 127) << 23) as u32) * er
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_two_ulp_of_libm() {
        let mut x = -87.0f32;
        while x <= 0.0 {
            let (got, want) = (exp(x), x.exp());
            let ulp = (got.to_bits() as i64 - want.to_bits() as i64).abs();
            assert!(ulp <= 2, "exp({x}) = {got}, libm {want} ({ulp} ulp)");
            x += 0.0137;
        }
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(-1000.0) >= 0.0 && exp(-1000.0) < 1e-37);
    }

    #[test]
    fn softmax_row_matches_the_definition() {
        let logits = [1.0f32, -2.0, 0.5, 3.0];
        let mut row = logits;
        let loss = softmax_row(&mut row, 2, Some(0.5));
        let z: f64 = logits.iter().map(|&x| (x as f64).exp()).sum();
        assert!((loss - (z.ln() - 0.5)).abs() < 1e-6);
        for (i, &x) in logits.iter().enumerate() {
            let p = (x as f64).exp() / z - if i == 2 { 1.0 } else { 0.0 };
            assert!((row[i] as f64 - 0.5 * p).abs() < 1e-6);
        }
    }
}
