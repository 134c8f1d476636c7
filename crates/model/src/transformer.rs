//! The transformer, top to bottom: token embedding, `n_layers` pre-norm blocks of grouped-query
//! attention with rotary positions and a SwiGLU MLP, and a final RMSNorm. The LM head and the
//! loss live in `head.rs` so the logits are never materialised whole.
//!
//! The residual stream is kept as `[batch * time, d_model]` so every projection is one GEMM.
//! Weights are in Hugging Face layout (`[out, in]`); `x @ w^T` reads them through a strided view.

use burn::tensor::activation::{silu, softmax};
use burn::tensor::module::embedding;
use burn::tensor::{Device, FloatDType, Int, Tensor, TensorData};

use crate::config::ModelConfig;
use crate::optim::Precision;

/// Additive mask value for future positions: large and finite (`-inf` gave NaN on flex).
const MASKED: f32 = -1e9;

/// Parameter tensors in `ModelConfig::param_specs` order, viewed by role.
pub(crate) struct Params<'a> {
    tensors: &'a [Tensor<2>],
    config: &'a ModelConfig,
    matmul: Precision,
}

/// One block's parameters.
struct Block<'a> {
    matmul: Precision,
    attn_norm: &'a Tensor<2>,
    q: &'a Tensor<2>,
    k: &'a Tensor<2>,
    v: &'a Tensor<2>,
    o: &'a Tensor<2>,
    mlp_norm: &'a Tensor<2>,
    gate: &'a Tensor<2>,
    up: &'a Tensor<2>,
    down: &'a Tensor<2>,
}

const PER_BLOCK: usize = 9;

impl<'a> Params<'a> {
    pub(crate) fn new(config: &'a ModelConfig, tensors: &'a [Tensor<2>]) -> Self {
        debug_assert_eq!(tensors.len(), config.param_specs().len());
        Self {
            tensors,
            config,
            matmul: Precision::F32,
        }
    }

    /// The same parameters with the trunk's matrix products in `matmul`.
    pub(crate) fn with_matmul(self, matmul: Precision) -> Self {
        Self { matmul, ..self }
    }

    fn embed(&self) -> &'a Tensor<2> {
        &self.tensors[0]
    }

    fn block(&self, i: usize) -> Block<'a> {
        let t = &self.tensors[1 + i * PER_BLOCK..1 + (i + 1) * PER_BLOCK];
        Block {
            matmul: self.matmul,
            attn_norm: &t[0],
            q: &t[1],
            k: &t[2],
            v: &t[3],
            o: &t[4],
            mlp_norm: &t[5],
            gate: &t[6],
            up: &t[7],
            down: &t[8],
        }
    }

    fn final_norm(&self) -> &'a Tensor<2> {
        &self.tensors[1 + self.config.n_layers * PER_BLOCK]
    }

    /// Index of the LM head's `[vocab, d_model]` weight: the embedding when tied.
    pub(crate) fn head_index(config: &ModelConfig) -> usize {
        if config.tie_embeddings {
            0
        } else {
            2 + config.n_layers * PER_BLOCK
        }
    }
}

/// Final hidden states `[batch * time, d_model]` for `tokens` of shape `[batch, time]`.
pub(crate) fn hidden_states(params: &Params, tokens: Tensor<2, Int>) -> Tensor<2> {
    let cfg = params.config;
    let [batch, time] = tokens.dims();
    let device = tokens.device();
    let rope = Rope::new(cfg, time, &device);
    let mask = causal_mask(time, &device);

    let mut x = embedding(params.embed().clone(), tokens).reshape([batch * time, cfg.d_model]);
    for i in 0..cfg.n_layers {
        let b = params.block(i);
        let h = rms_norm(x.clone(), b.attn_norm, cfg.norm_eps);
        x = x + attention(cfg, &b, h, batch, time, &rope, &mask);
        let h = rms_norm(x.clone(), b.mlp_norm, cfg.norm_eps);
        x = x + mlp(&b, h);
    }
    rms_norm(x, params.final_norm(), cfg.norm_eps)
}

/// `x @ w^T` for a Hugging Face `[out, in]` weight, in the block's matmul precision; the
/// result is f32 either way, so everything around the products stays f32.
fn linear(b: &Block, x: Tensor<2>, w: &Tensor<2>) -> Tensor<2> {
    match b.matmul {
        Precision::F32 => x.matmul(w.clone().transpose()),
        Precision::Bf16 => bf16(x)
            .matmul(bf16(w.clone()).transpose())
            .cast(FloatDType::F32),
    }
}

fn bf16<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    x.cast(FloatDType::BF16)
}

/// `a @ b` for the attention's batched products, in the block's matmul precision.
fn product(b: &Block, x: Tensor<4>, y: Tensor<4>) -> Tensor<4> {
    match b.matmul {
        Precision::F32 => x.matmul(y),
        Precision::Bf16 => bf16(x).matmul(bf16(y)).cast(FloatDType::F32),
    }
}

fn rms_norm(x: Tensor<2>, gain: &Tensor<2>, eps: f64) -> Tensor<2> {
    let inv_rms = x
        .clone()
        .square()
        .mean_dim(1)
        .add_scalar(eps)
        .sqrt()
        .recip();
    x * inv_rms * gain.clone()
}

fn mlp(b: &Block, h: Tensor<2>) -> Tensor<2> {
    let gate = silu(linear(b, h.clone(), b.gate));
    let up = linear(b, h, b.up);
    linear(b, gate * up, b.down)
}

/// Causal grouped-query attention. The `group` query heads that share a KV head are stacked
/// along the time axis, so keys and values are never copied per query head.
fn attention(
    cfg: &ModelConfig,
    b: &Block,
    h: Tensor<2>,
    batch: usize,
    time: usize,
    rope: &Rope,
    mask: &Tensor<2>,
) -> Tensor<2> {
    let (hd, kv_heads) = (cfg.head_dim(), cfg.n_kv_heads);
    let group = cfg.n_heads / kv_heads;
    let heads = |x: Tensor<2>, n: usize| x.reshape([batch, time, n, hd]).swap_dims(1, 2);

    let q = rope.apply(heads(linear(b, h.clone(), b.q), cfg.n_heads));
    let k = rope.apply(heads(linear(b, h.clone(), b.k), kv_heads));
    let v = heads(linear(b, h, b.v), kv_heads);

    let q = q.reshape([batch, kv_heads, group * time, hd]);
    let scores = product(b, q, k.swap_dims(2, 3)).mul_scalar((hd as f64).powf(-0.5));
    let scores = scores.reshape([batch, kv_heads, group, time, time])
        + mask.clone().reshape([1, 1, 1, time, time]);
    let probs = softmax(scores, 4).reshape([batch, kv_heads, group * time, time]);
    let out = product(b, probs, v)
        .reshape([batch, cfg.n_heads, time, hd])
        .swap_dims(1, 2)
        .reshape([batch * time, cfg.n_heads * hd]);
    linear(b, out, b.o)
}

fn causal_mask(time: usize, device: &Device) -> Tensor<2> {
    let values = (0..time * time)
        .map(|i| if i % time > i / time { MASKED } else { 0.0 })
        .collect::<Vec<_>>();
    Tensor::from_data(TensorData::new(values, [time, time]), device)
}

/// Rotary position tables in the Hugging Face convention (`rotate_half`, frequencies repeated
/// over both halves of the head).
struct Rope {
    cos: Tensor<4>,
    sin: Tensor<4>,
    half: usize,
}

impl Rope {
    fn new(cfg: &ModelConfig, time: usize, device: &Device) -> Self {
        let hd = cfg.head_dim();
        let half = hd / 2;
        let (mut cos, mut sin) = (Vec::with_capacity(time * hd), Vec::with_capacity(time * hd));
        for t in 0..time {
            for j in 0..hd {
                let inv_freq = cfg.rope_theta.powf(-((2 * (j % half)) as f64) / hd as f64);
                let angle = t as f64 * inv_freq;
                cos.push(angle.cos() as f32);
                sin.push(angle.sin() as f32);
            }
        }
        let table = |v| Tensor::<2>::from_data(TensorData::new(v, [time, hd]), device);
        Self {
            cos: table(cos).reshape([1, 1, time, hd]),
            sin: table(sin).reshape([1, 1, time, hd]),
            half,
        }
    }

    /// `x * cos + rotate_half(x) * sin` for `x` of shape `[batch, heads, time, head_dim]`.
    fn apply(&self, x: Tensor<4>) -> Tensor<4> {
        let first = x.clone().narrow(3, 0, self.half);
        let second = x.clone().narrow(3, self.half, self.half);
        let rotated = Tensor::cat(vec![second.neg(), first], 3);
        x * self.cos.clone() + rotated * self.sin.clone()
    }
}
