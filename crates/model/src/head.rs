//! The LM head fused with cross-entropy, in row chunks, so the `[tokens, vocab]` logits are
//! never materialised whole and never enter the autodiff graph.
//!
//! For a chunk of hidden rows `h` and head weight `W` (`[vocab, d]`):
//! `p = softmax(h W^T)`, loss `= lse - logit[target]`, `dlogits = (p - onehot) * scale`,
//! `dh = dlogits W` and `dW += dlogits^T h`. The caller feeds `dh` back into the trunk.
//!
//! The work runs on host memory in `head_host.rs` (one GEMM, one parallel pass, two GEMMs per
//! chunk). The same computation in burn tensor operations, which a GPU backend would use, is
//! kept in the tests below as the oracle the host kernel is checked against.

use burn::tensor::{Tensor, TensorData};

use crate::error::ModelError;
use crate::head_host::HeadInput;

/// What the fused head returns for one batch.
pub(crate) struct HeadGrads {
    /// Summed (unscaled) cross-entropy over all rows.
    pub loss_sum: f64,
    /// d(scale * loss_sum) / d hidden, `[rows, d]`.
    pub hidden: Tensor<2>,
    /// d(scale * loss_sum) / d weight, `[vocab, d]`.
    pub weight: Tensor<2>,
}

/// The kernel's input on host memory: `hidden` is `[rows, d]`, `weight` is `[vocab, d]`.
fn host_input<'a>(
    hidden: Tensor<2>,
    weight: &Tensor<2>,
    targets: &'a [u32],
) -> Result<HeadInput<'a>, ModelError> {
    let [_, d] = hidden.dims();
    let [vocab, _] = weight.dims();
    let host = |t: Tensor<2>| {
        t.try_into_vec_as::<f32>().map_err(|e| ModelError::Param {
            name: "lm head".to_string(),
            why: format!("reading from the device failed: {e:?}"),
        })
    };
    Ok(HeadInput {
        hidden: host(hidden)?,
        weight: host(weight.clone())?,
        targets,
        d,
        vocab,
    })
}

/// Summed cross-entropy of `targets` under the logits `hidden @ weight^T`.
pub(crate) fn loss_sum(
    hidden: Tensor<2>,
    weight: &Tensor<2>,
    targets: &[u32],
) -> Result<f64, ModelError> {
    Ok(host_input(hidden, weight, targets)?.loss_sum())
}

/// Loss and gradients of `scale * sum(cross_entropy)` with respect to the hidden states and the
/// head weight. Inputs must be plain (non-autodiff) tensors.
pub(crate) fn loss_and_grads(
    hidden: Tensor<2>,
    weight: &Tensor<2>,
    targets: &[u32],
    scale: f64,
) -> Result<HeadGrads, ModelError> {
    let [rows, d] = hidden.dims();
    let [vocab, _] = weight.dims();
    let device = hidden.device();
    let out = host_input(hidden, weight, targets)?.loss_and_grads(scale as f32);
    Ok(HeadGrads {
        loss_sum: out.loss_sum,
        hidden: Tensor::from_data(TensorData::new(out.d_hidden, [rows, d]), &device),
        weight: Tensor::from_data(TensorData::new(out.d_weight, [vocab, d]), &device),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, IndexingUpdateOp, Int};

    /// Logit elements per chunk of the oracle.
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

    fn tensor_loss_sum(hidden: Tensor<2>, weight: &Tensor<2>, targets: &[u32]) -> f64 {
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
        total.map_or(0.0, |t| t.into_scalar::<f32>() as f64)
    }

    fn tensor_loss_and_grads(
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

    fn tensor(values: Vec<f32>, shape: [usize; 2]) -> Tensor<2> {
        Tensor::from_data(TensorData::new(values, shape), &Device::flex())
    }

    fn values(t: Tensor<2>) -> Vec<f32> {
        t.try_into_vec_as::<f32>().unwrap()
    }

    /// The host kernel and the tensor formulation compute the same thing, in one chunk and (at a
    /// large vocabulary) in several.
    #[test]
    fn host_kernel_and_tensor_path_agree() {
        for (rows, d, vocab) in [(37, 8, 301), (70, 2, 300_000)] {
            agree(rows, d, vocab);
        }
    }

    fn agree(rows: usize, d: usize, vocab: usize) {
        let h: Vec<f32> = (0..rows * d).map(|i| (i as f32 * 0.731).sin()).collect();
        let w: Vec<f32> = (0..vocab * d).map(|i| (i as f32 * 0.177).cos()).collect();
        let targets: Vec<u32> = (0..rows as u32).map(|i| (i * 97) % vocab as u32).collect();
        let (hidden, weight) = (tensor(h, [rows, d]), tensor(w, [vocab, d]));

        let host = loss_and_grads(hidden.clone(), &weight, &targets, 0.25).unwrap();
        let dev = tensor_loss_and_grads(hidden.clone(), &weight, &targets, 0.25);
        let host_sum = loss_sum(hidden.clone(), &weight, &targets).unwrap();
        let dev_sum = tensor_loss_sum(hidden, &weight, &targets);
        assert!((host.loss_sum - dev.loss_sum).abs() < 1e-4 * dev.loss_sum.abs());
        assert!((host_sum - dev_sum).abs() < 1e-4 * dev_sum.abs());
        assert_eq!(host.loss_sum.to_bits(), host_sum.to_bits());
        for (a, b) in [(host.hidden, dev.hidden), (host.weight, dev.weight)] {
            let (a, b) = (values(a), values(b));
            let max = a
                .iter()
                .zip(&b)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f32::max);
            assert!(max < 1e-5, "gradients differ by {max}");
        }
    }
}
