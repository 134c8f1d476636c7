//! The fused LM head in burn tensor operations, for devices whose memory is not the host's (a
//! GPU): the same chunked computation as `head_host.rs`, so the `[tokens, vocab]` logits are
//! never whole, without copying the hidden states and the head weight to the host every step.
//! On the CPU the host kernel is faster (one GEMM and one parallel pass per chunk); the tests
//! in `head.rs` check that both compute the same thing.

use burn::tensor::{Device, IndexingUpdateOp, Int, Tensor, TensorData};

use crate::head::HeadGrads;

/// Logit elements per chunk: 32 MiB of f32 logits at a time whatever the vocabulary.
const CHUNK_ELEMENTS: usize = 8 << 20;

/// `(start, len)` of each row chunk.
fn chunks(rows: usize, vocab: usize) -> impl Iterator<Item = (usize, usize)> {
    let step = (CHUNK_ELEMENTS / vocab.max(1)).clamp(1, rows.max(1));
    (0..rows)
        .step_by(step)
        .map(move |start| (start, step.min(rows - start)))
}

fn targets_tensor(targets: &[u32], device: &Device) -> Tensor<1, Int> {
    let ids: Vec<i32> = targets.iter().map(|&t| t as i32).collect();
    Tensor::from_data(TensorData::new(ids, [targets.len()]), device)
}

/// Row-wise `log(sum(exp(x)))` as `[rows, 1]`, stable for any finite logits.
fn log_sum_exp(logits: Tensor<2>) -> Tensor<2> {
    let max = logits.clone().max_dim(1);
    (logits - max.clone()).exp().sum_dim(1).log() + max
}

/// Summed cross-entropy of `targets` under `hidden @ weight^T`.
pub(crate) fn loss_sum(hidden: Tensor<2>, weight: &Tensor<2>, targets: &[u32]) -> f64 {
    let [vocab, _] = weight.dims();
    let targets = targets_tensor(targets, &hidden.device());
    let mut total: Option<Tensor<1>> = None;
    for (start, n) in chunks(targets.dims()[0], vocab) {
        let logits = hidden
            .clone()
            .narrow(0, start, n)
            .matmul(weight.clone().transpose());
        let t = targets.clone().narrow(0, start, n).reshape([n, 1]);
        let chunk = (log_sum_exp(logits.clone()) - logits.gather(1, t)).sum();
        total = Some(total.map_or(chunk.clone(), |acc| acc + chunk));
    }
    // One read back per batch: the loss is the only value the host needs.
    total.map_or(0.0, |t| t.into_scalar::<f32>() as f64)
}

/// Loss and gradients of `scale * sum(cross_entropy)`; the gradients stay on the device.
pub(crate) fn loss_and_grads(
    hidden: Tensor<2>,
    weight: &Tensor<2>,
    targets: &[u32],
    scale: f64,
) -> HeadGrads {
    let [rows, d] = hidden.dims();
    let [vocab, _] = weight.dims();
    let device = hidden.device();
    let targets = targets_tensor(targets, &device);
    let mut loss_sum = Tensor::<1>::zeros([1], &device);
    let mut d_weight = Tensor::<2>::zeros([vocab, d], &device);
    let mut d_hidden = Vec::new();
    for (start, n) in chunks(rows, vocab) {
        let h = hidden.clone().narrow(0, start, n);
        let logits = h.clone().matmul(weight.clone().transpose());
        let t = targets.clone().narrow(0, start, n).reshape([n, 1]);
        let lse = log_sum_exp(logits.clone());
        loss_sum = loss_sum + (lse.clone() - logits.clone().gather(1, t.clone())).sum();
        let minus_scale = Tensor::<2>::full([n, 1], -scale, &device);
        // softmax * scale, less scale at the target: d(scale * CE) / d logits.
        let d_logits = (logits - lse).exp().mul_scalar(scale).scatter(
            1,
            t,
            minus_scale,
            IndexingUpdateOp::Add,
        );
        d_hidden.push(d_logits.clone().matmul(weight.clone()));
        d_weight = d_weight + d_logits.transpose().matmul(h);
    }
    HeadGrads {
        loss_sum: loss_sum.into_scalar::<f32>() as f64,
        hidden: Tensor::cat(d_hidden, 0),
        weight: d_weight,
    }
}
