#!/usr/bin/env python3
"""Checks a `gradient export hf --reference-logits` directory against Hugging Face transformers.

Loads DIR with AutoModelForCausalLM (float32, eager attention), checks that config.json and the
weights say what gradient means (LlamaForCausalLM, no biases, SiLU, tied embeddings as declared,
every tensor loaded as written), runs reference_tokens.json through it and compares the logits with
reference_logits.f32 (little-endian float32, [batch*seq, vocab]). Exits 0 when the max abs diff is
<= 1e-3 * max(1, max|logit|) and argmax agrees at every position, 1 otherwise.

    ~/.cache/gradient-torch-venv/bin/python interop/check_hf.py DIR
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
from safetensors.numpy import load_file
from transformers import AutoModelForCausalLM
from transformers.utils import logging as hf_logging


def fail(msg: str) -> None:
    print(f"FAIL: {msg}")
    sys.exit(1)


def check_config(raw: dict) -> None:
    expected = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu",
        "attention_bias": False, "mlp_bias": False, "rope_scaling": None,
    }
    for key, want in expected.items():
        if raw.get(key, want) != want:
            fail(f"config.json {key} is {raw.get(key)!r}, expected {want!r}")
    if not isinstance(raw.get("tie_word_embeddings"), bool):
        fail("config.json must state tie_word_embeddings as true or false")
    if raw["hidden_size"] % raw["num_attention_heads"] or raw["num_attention_heads"] % raw["num_key_value_heads"]:
        fail("config.json head counts do not divide hidden_size / num_attention_heads")


def check_weights(model, raw: dict, directory: str, info: dict) -> None:
    cfg = model.config
    for key in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                "num_key_value_heads", "intermediate_size", "rms_norm_eps", "tie_word_embeddings"):
        if getattr(cfg, key) != raw[key]:
            fail(f"loaded config {key} = {getattr(cfg, key)!r}, config.json says {raw[key]!r}")
    theta = (getattr(cfg, "rope_parameters", None) or {}).get("rope_theta", getattr(cfg, "rope_theta", None))
    if theta != raw["rope_theta"]:
        fail(f"loaded rope_theta {theta!r}, config.json says {raw['rope_theta']!r}")

    tensors = load_file(os.path.join(directory, "model.safetensors"))
    tied = raw["tie_word_embeddings"]
    if tied and "lm_head.weight" in tensors:
        fail("tie_word_embeddings is true but model.safetensors has lm_head.weight")
    if tied and model.lm_head.weight.data_ptr() != model.model.embed_tokens.weight.data_ptr():
        fail("tie_word_embeddings is true but transformers did not tie lm_head to embed_tokens")
    if not tied and "lm_head.weight" not in tensors:
        fail("tie_word_embeddings is false but model.safetensors has no lm_head.weight")
    missing = [k for k in info.get("missing_keys", []) if not (tied and k == "lm_head.weight")]
    if missing or info.get("unexpected_keys") or info.get("mismatched_keys"):
        fail(f"loading info: missing {missing}, unexpected {info.get('unexpected_keys')}, "
             f"mismatched {info.get('mismatched_keys')}")
    state = model.state_dict()
    for name, array in tensors.items():
        if name not in state:
            fail(f"model.safetensors tensor {name} is not a LlamaForCausalLM parameter")
        if array.dtype != np.float32 or not np.array_equal(state[name].numpy(), array):
            fail(f"{name}: the loaded parameter differs from model.safetensors ({array.dtype})")
    absent = sorted(set(state) - set(tensors) - ({"lm_head.weight"} if tied else set()))
    if absent:
        fail(f"parameters missing from model.safetensors: {absent}")
    print(f"config and weights ok: {len(tensors)} tensors, tie_word_embeddings={tied}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dir")
    directory = p.parse_args().dir
    hf_logging.disable_progress_bar()

    with open(os.path.join(directory, "config.json")) as f:
        raw = json.load(f)
    check_config(raw)
    with open(os.path.join(directory, "reference_tokens.json")) as f:
        ref = json.load(f)
    batch, seq, vocab = ref["batch"], ref["seq"], raw["vocab_size"]
    if len(ref["tokens"]) != batch * seq:
        fail(f"reference_tokens.json has {len(ref['tokens'])} tokens, expected {batch}*{seq}")
    expected = np.fromfile(os.path.join(directory, "reference_logits.f32"), dtype="<f4")
    if expected.size != batch * seq * vocab:
        fail(f"reference_logits.f32 has {expected.size} floats, expected {batch}*{seq}*{vocab}")
    expected = expected.reshape(batch * seq, vocab).astype(np.float64)

    model, info = AutoModelForCausalLM.from_pretrained(
        directory, dtype=torch.float32, attn_implementation="eager", output_loading_info=True)
    model.eval()
    check_weights(model, raw, directory, info)

    tokens = torch.tensor(ref["tokens"], dtype=torch.long).reshape(batch, seq)
    with torch.no_grad():
        logits = model(input_ids=tokens).logits.reshape(batch * seq, vocab).double().numpy()

    scale = float(np.abs(expected).max())
    max_abs = float(np.abs(logits - expected).max())
    agree = float((logits.argmax(-1) == expected.argmax(-1)).mean())
    tolerance = 1e-3 * max(1.0, scale)
    print(f"{batch}x{seq} tokens, vocab {vocab}")
    print(f"max |logit|          {scale:.4f}")
    print(f"max abs diff         {max_abs:.3e} (tolerance {tolerance:.3e})")
    print(f"max relative diff    {max_abs / max(scale, 1e-30):.3e} (vs max |logit|)")
    print(f"argmax agreement     {agree:.2%} of {batch * seq} positions")
    if not np.isfinite(logits).all() or not np.isfinite(expected).all():
        fail("non-finite logits")
    if max_abs > tolerance:
        fail(f"logits differ by {max_abs:.3e} > {tolerance:.3e}")
    if agree < 1.0:
        fail(f"argmax differs at {round((1 - agree) * batch * seq)} of {batch * seq} positions")
    print("OK: transformers reproduces gradient's logits")


if __name__ == "__main__":
    main()
