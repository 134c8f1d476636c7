//! Hugging Face export: `config.json` for `LlamaForCausalLM` and `model.safetensors`.
//!
//! Checkpoints already use Hugging Face names, layout and rotary convention, so the weights are
//! copied as they are once their hash checks out; tied embeddings are expressed by
//! `tie_word_embeddings` and the absence of `lm_head.weight`.

use std::path::Path;

use serde_json::json;

use crate::checkpoint::{self, MODEL_FILE, write_atomic};
use crate::config::ModelConfig;
use crate::error::ModelError;

/// GPT-2's `<|endoftext|>`, used as BOS and EOS.
const END_OF_TEXT: u32 = 50256;

/// `config.json` for `transformers`' `LlamaForCausalLM`.
pub fn llama_config(config: &ModelConfig) -> serde_json::Value {
    let special = (END_OF_TEXT as usize) < config.vocab_size;
    json!({
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": config.vocab_size,
        "hidden_size": config.d_model,
        "intermediate_size": config.ffn_hidden,
        "num_hidden_layers": config.n_layers,
        "num_attention_heads": config.n_heads,
        "num_key_value_heads": config.n_kv_heads,
        "head_dim": config.head_dim(),
        "max_position_embeddings": config.context_length,
        "rope_theta": config.rope_theta,
        "rope_scaling": null,
        "rms_norm_eps": config.norm_eps,
        "tie_word_embeddings": config.tie_embeddings,
        "hidden_act": "silu",
        "attention_bias": false,
        "attention_dropout": 0.0,
        "mlp_bias": false,
        "initializer_range": 0.02,
        "pretraining_tp": 1,
        "use_cache": true,
        "bos_token_id": if special { Some(END_OF_TEXT) } else { None },
        "eos_token_id": if special { Some(END_OF_TEXT) } else { None },
        "torch_dtype": "float32",
    })
}

/// Writes `config.json` and `model.safetensors` for the checkpoint at `checkpoint` into `out`.
pub fn export(checkpoint: &Path, out: &Path) -> Result<(), ModelError> {
    let manifest = checkpoint::read_manifest(checkpoint)?;
    let weights = checkpoint::read_verified(checkpoint, &manifest, MODEL_FILE)?;
    checkpoint::check_model_bytes(&checkpoint.join(MODEL_FILE), &weights, &manifest.config)?;
    std::fs::create_dir_all(out).map_err(|e| ModelError::io(out, e))?;
    let config = serde_json::to_vec_pretty(&llama_config(&manifest.config))
        .map_err(|e| ModelError::checkpoint(out, e.to_string()))?;
    write_atomic(&out.join(MODEL_FILE), &weights)?;
    write_atomic(&out.join("config.json"), &config)?;
    Ok(())
}
