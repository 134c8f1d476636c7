#![allow(dead_code)]

use gradient_model::{Device, ModelConfig, parse_device};

pub fn cpu() -> Device {
    parse_device("cpu").expect("cpu is always available")
}

/// A model small enough for finite differences and fast tests.
pub fn micro_config(tie: bool) -> ModelConfig {
    ModelConfig {
        vocab_size: 64,
        d_model: 16,
        n_layers: 2,
        n_heads: 4,
        n_kv_heads: 2,
        ffn_hidden: 32,
        context_length: 8,
        rope_theta: 10_000.0,
        tie_embeddings: tie,
        norm_eps: 1e-5,
    }
}
