//! The LM head fused with cross-entropy, in row chunks, so the `[tokens, vocab]` logits are
//! never materialised whole and never enter the autodiff graph.
//!
//! For a chunk of hidden rows `h` and head weight `W` (`[vocab, d]`):
//! `p = softmax(h W^T)`, loss `= lse - logit[target]`, `dlogits = (p - onehot) * scale`,
//! `dh = dlogits W` and `dW += dlogits^T h`. The caller feeds `dh` back into the trunk.

use burn::tensor::IndexingUpdateOp;
use burn::tensor::{Int, Tensor};

/// Logit elements per chunk (~32 MB of f32): big enough for efficient GEMMs, small enough to
/// stay near cache and to bound memory at any vocabulary size.
const CHUNK_ELEMENTS: usize = 8 << 20;

fn chunk_rows(rows: usize, vocab: usize) -> usize {
    (CHUNK_ELEMENTS / vocab.max(1)).clamp(1, rows.max(1))
}

/// Summed cross-entropy of `targets` (`[rows]`) under the logits `hidden @ weight^T`.
pub(crate) fn loss_sum(hidden: &Tensor<2>, weight: &Tensor<2>, targets: &Tensor<1, Int>) -> f64 {
    let [rows, _] = hidden.dims();
    let [vocab, _] = weight.dims();
    let step = chunk_rows(rows, vocab);
    let mut total: Option<Tensor<1>> = None;
    for start in (0..rows).step_by(step) {
        let n = step.min(rows - start);
        let logits = hidden
            .clone()
            .narrow(0, start, n)
            .matmul(weight.clone().transpose());
        let t = targets.clone().narrow(0, start, n).reshape([n, 1]);
        let lse = log_sum_exp(logits.clone());
        let chunk = (lse - logits.gather(1, t)).sum();
        total = Some(match total {
            None => chunk,
            Some(acc) => acc + chunk,
        });
    }
    total.map_or(0.0, |t| t.into_scalar::<f32>() as f64)
}

/// What the fused head returns for one batch.
pub(crate) struct HeadGrads {
    /// Summed (unscaled) cross-entropy over all rows, still on the device.
    pub loss_sum: Tensor<1>,
    /// d(scale * loss_sum) / d hidden, `[rows, d]`.
    pub hidden: Tensor<2>,
    /// d(scale * loss_sum) / d weight, `[vocab, d]`.
    pub weight: Tensor<2>,
}

/// Loss and gradients of `scale * sum(cross_entropy)` with respect to the hidden states and the
/// head weight. Inputs must be plain (non-autodiff) tensors.
pub(crate) fn loss_and_grads(
    hidden: &Tensor<2>,
    weight: &Tensor<2>,
    targets: &Tensor<1, Int>,
    scale: f64,
) -> HeadGrads {
    let [rows, d] = hidden.dims();
    let [vocab, _] = weight.dims();
    let step = chunk_rows(rows, vocab);
    let device = hidden.device();
    let mut loss_sum = Tensor::<1>::zeros([1], &device);
    let mut d_weight = Tensor::<2>::zeros([vocab, d], &device);
    let mut d_hidden = Vec::with_capacity(rows.div_ceil(step));
    for start in (0..rows).step_by(step) {
        let n = step.min(rows - start);
        let h = hidden.clone().narrow(0, start, n);
        let logits = h.clone().matmul(weight.clone().transpose());
        let t = targets.clone().narrow(0, start, n).reshape([n, 1]);
        let lse = log_sum_exp(logits.clone());
        loss_sum = loss_sum + (lse.clone() - logits.clone().gather(1, t.clone())).sum();
        let minus_one = Tensor::<2>::full([n, 1], -scale, &device);
        let d_logits =
            (logits - lse)
                .exp()
                .mul_scalar(scale)
                .scatter(1, t, minus_one, IndexingUpdateOp::Add);
        d_hidden.push(d_logits.clone().matmul(weight.clone()));
        d_weight = d_weight + d_logits.transpose().matmul(h);
    }
    HeadGrads {
        loss_sum,
        hidden: Tensor::cat(d_hidden, 0),
        weight: d_weight,
    }
}

/// Row-wise `log(sum(exp(x)))` as `[rows, 1]`, stable for any finite logits.
fn log_sum_exp(logits: Tensor<2>) -> Tensor<2> {
    let max = logits.clone().max_dim(1);
    (logits - max.clone()).exp().sum_dim(1).log() + max
}
