//! The LM head fused with cross-entropy, in row chunks, so the `[tokens, vocab]` logits are
//! never materialised whole and never enter the autodiff graph.
//!
//! For a chunk of hidden rows `h` and head weight `W` (`[vocab, d]`):
//! `p = softmax(h W^T)`, loss `= lse - logit[target]`, `dlogits = (p - onehot) * scale`,
//! `dh = dlogits W` and `dW += dlogits^T h`. The caller feeds `dh` back into the trunk.
//!
//! On the CPU the work runs on host memory in `head_host.rs` (one GEMM, one parallel pass, two
//! GEMMs per chunk). On any other device (a GPU) the same computation runs in burn tensor
//! operations (`head_device.rs`), so nothing but the loss leaves the device. The tests below
//! check that both compute the same thing.

use burn::tensor::{Tensor, TensorData};

use crate::device::on_host;
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
    if !on_host(&hidden.device()) {
        return Ok(crate::head_device::loss_sum(hidden, weight, targets));
    }
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
    if !on_host(&device) {
        return Ok(crate::head_device::loss_and_grads(
            hidden, weight, targets, scale,
        ));
    }
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
    use crate::head_device;
    use burn::tensor::Device;

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
        let dev = head_device::loss_and_grads(hidden.clone(), &weight, &targets, 0.25);
        let host_sum = loss_sum(hidden.clone(), &weight, &targets).unwrap();
        let dev_sum = head_device::loss_sum(hidden, &weight, &targets);
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
