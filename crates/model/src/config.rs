//! The model's shape: a serde config, the named presets, and the list of parameters it implies.

use serde::{Deserialize, Serialize};

use crate::error::ModelError;

/// Shape of a Llama-style decoder. Serialised into checkpoints and run configs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub vocab_size: usize,
    pub d_model: usize,
    pub n_layers: usize,
    pub n_heads: usize,
    pub n_kv_heads: usize,
    pub ffn_hidden: usize,
    pub context_length: usize,
    pub rope_theta: f64,
    pub tie_embeddings: bool,
    #[serde(default = "default_norm_eps")]
    pub norm_eps: f64,
}

fn default_norm_eps() -> f64 {
    1e-5
}

/// GPT-2's BPE vocabulary (r50k_base), the tokenizer every preset is sized for.
pub const GPT2_VOCAB: usize = 50257;

/// The named presets, smallest first.
pub const PRESETS: [&str; 4] = ["tiny", "small", "150m", "1b"];

impl ModelConfig {
    /// A named preset: `tiny` learns visibly on two CPU cores in minutes, `small` is ~25M
    /// parameters, `150m` and `1b` are GPU sizes.
    pub fn preset(name: &str) -> Result<Self, ModelError> {
        let base = |d_model, n_layers, n_heads, n_kv_heads, ffn_hidden, context_length| Self {
            vocab_size: GPT2_VOCAB,
            d_model,
            n_layers,
            n_heads,
            n_kv_heads,
            ffn_hidden,
            context_length,
            rope_theta: 10_000.0,
            tie_embeddings: true,
            norm_eps: default_norm_eps(),
        };
        Ok(match name {
            "tiny" => base(128, 4, 4, 2, 384, 128),
            "small" => base(384, 4, 6, 2, 1024, 256),
            "150m" => base(768, 12, 12, 12, 3072, 1024),
            "1b" => Self {
                rope_theta: 500_000.0,
                ..base(2048, 16, 32, 8, 8192, 2048)
            },
            other => {
                return Err(ModelError::UnknownPreset {
                    name: other.to_string(),
                });
            }
        })
    }

    pub fn head_dim(&self) -> usize {
        self.d_model / self.n_heads
    }

    /// Checks the shape is one the model can run; every constructor calls it.
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |why: String| Err(ModelError::InvalidConfig { why });
        let positive = [
            ("vocab_size", self.vocab_size),
            ("d_model", self.d_model),
            ("n_layers", self.n_layers),
            ("n_heads", self.n_heads),
            ("n_kv_heads", self.n_kv_heads),
            ("ffn_hidden", self.ffn_hidden),
            ("context_length", self.context_length),
        ];
        for (name, value) in positive {
            if value == 0 {
                return bad(format!("{name} must be positive"));
            }
        }
        if !self.d_model.is_multiple_of(self.n_heads) {
            return bad(format!(
                "d_model {} is not divisible by n_heads {}",
                self.d_model, self.n_heads
            ));
        }
        if !self.head_dim().is_multiple_of(2) {
            return bad(format!(
                "head_dim {} must be even for rotary embeddings",
                self.head_dim()
            ));
        }
        if !self.n_heads.is_multiple_of(self.n_kv_heads) {
            return bad(format!(
                "n_heads {} is not a multiple of n_kv_heads {}",
                self.n_heads, self.n_kv_heads
            ));
        }
        if !(self.rope_theta.is_finite() && self.rope_theta > 1.0) {
            return bad(format!(
                "rope_theta {} must be finite and > 1",
                self.rope_theta
            ));
        }
        if !(self.norm_eps.is_finite() && self.norm_eps > 0.0) {
            return bad(format!("norm_eps {} must be finite and > 0", self.norm_eps));
        }
        // Keeps every tensor's element count comfortably inside usize and u32 token ids.
        if self.vocab_size > u32::MAX as usize || self.num_params() > (1usize << 40) {
            return bad("model is too large".to_string());
        }
        Ok(())
    }

    /// Every parameter, in the canonical order used by checkpoints, deltas and the optimizer.
    pub fn param_specs(&self) -> Vec<ParamSpec> {
        let (d, f, v) = (self.d_model, self.ffn_hidden, self.vocab_size);
        let q = self.n_heads * self.head_dim();
        let kv = self.n_kv_heads * self.head_dim();
        let mut specs = vec![ParamSpec::matrix(
            "model.embed_tokens.weight",
            v,
            d,
            Init::Normal,
        )];
        for i in 0..self.n_layers {
            let p = |s: &str| format!("model.layers.{i}.{s}");
            specs.extend([
                ParamSpec::norm(p("input_layernorm.weight"), d),
                ParamSpec::matrix(p("self_attn.q_proj.weight"), q, d, Init::Normal),
                ParamSpec::matrix(p("self_attn.k_proj.weight"), kv, d, Init::Normal),
                ParamSpec::matrix(p("self_attn.v_proj.weight"), kv, d, Init::Normal),
                ParamSpec::matrix(p("self_attn.o_proj.weight"), d, q, Init::Residual),
                ParamSpec::norm(p("post_attention_layernorm.weight"), d),
                ParamSpec::matrix(p("mlp.gate_proj.weight"), f, d, Init::Normal),
                ParamSpec::matrix(p("mlp.up_proj.weight"), f, d, Init::Normal),
                ParamSpec::matrix(p("mlp.down_proj.weight"), d, f, Init::Residual),
            ]);
        }
        specs.push(ParamSpec::norm("model.norm.weight".to_string(), d));
        if !self.tie_embeddings {
            specs.push(ParamSpec::matrix("lm_head.weight", v, d, Init::Normal));
        }
        specs
    }

    pub fn num_params(&self) -> usize {
        self.param_specs().iter().map(ParamSpec::numel).sum()
    }
}

/// How a parameter starts: see `init.rs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Init {
    /// N(0, 0.02).
    Normal,
    /// N(0, 0.02 / sqrt(2 * n_layers)): projections that write into the residual stream.
    Residual,
    /// All ones (RMSNorm gains).
    Ones,
}

/// One named parameter in Hugging Face Llama naming and layout (`[out, in]` for linear layers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamSpec {
    pub name: String,
    /// The shape as Hugging Face stores it: `[rows, cols]` for matrices, `[n]` for norm gains.
    pub shape: Vec<usize>,
    pub init: Init,
}

impl ParamSpec {
    fn matrix(name: impl Into<String>, rows: usize, cols: usize, init: Init) -> Self {
        Self {
            name: name.into(),
            shape: vec![rows, cols],
            init,
        }
    }

    fn norm(name: String, n: usize) -> Self {
        Self {
            name,
            shape: vec![n],
            init: Init::Ones,
        }
    }

    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// Norm gains are not decayed by AdamW; matrices are.
    pub fn decays(&self) -> bool {
        self.shape.len() == 2
    }

    /// The rank-2 shape the tensor has inside the model (norm gains are `[1, n]`).
    pub fn shape2(&self) -> [usize; 2] {
        match self.shape[..] {
            [r, c] => [r, c],
            [n] => [1, n],
            _ => unreachable!("param_specs only builds rank 1 and 2 shapes"),
        }
    }
}
