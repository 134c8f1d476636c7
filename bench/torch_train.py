#!/usr/bin/env python3
"""PyTorch baseline for `gradient train`: same architecture, same optimizer, same schedule.

Builds a Hugging Face LlamaForCausalLM for one of gradient's presets and trains it on random
tokens, printing one JSON line per step and a final {"event":"done","tokens_per_s":...} with the
median tokens/s of the steps after the first two (warm-up excluded).

    ~/.cache/gradient-torch-venv/bin/python bench/torch_train.py --preset tiny --steps 12 --threads 2

On a GPU (`--device cuda`, used by scripts/device-check.sh) it times each step between two
synchronisations and can run eager bf16 autocast (`--bf16`, f32 master weights and optimizer state,
as the usual mixed-precision recipe); the "done" line then carries the peak GPU memory.

Used by bench/train_vs_torch.sh and scripts/device-check.sh.
"""
import argparse
import json
import math
import os
import statistics
import time

import torch
import torch.nn.functional as F
from transformers import LlamaConfig, LlamaForCausalLM

VOCAB = 50257
# name: (hidden, layers, heads, kv_heads, intermediate, context, rope_theta)
PRESETS = {
    "tiny": (128, 4, 4, 2, 384, 128, 10000.0),
    "small": (384, 4, 6, 2, 1024, 256, 10000.0),
    "150m": (768, 12, 12, 12, 3072, 1024, 10000.0),
    "1b": (2048, 16, 32, 8, 8192, 2048, 500000.0),
}
MIN_LR_RATIO = 0.1  # matches gradient's TrainConfig::default()


def llama_config(preset: str) -> LlamaConfig:
    hidden, layers, heads, kv_heads, inter, ctx, theta = PRESETS[preset]
    return LlamaConfig(
        vocab_size=VOCAB, hidden_size=hidden, num_hidden_layers=layers,
        num_attention_heads=heads, num_key_value_heads=kv_heads, intermediate_size=inter,
        max_position_embeddings=ctx, rope_theta=theta, rms_norm_eps=1e-5,
        hidden_act="silu", attention_bias=False, mlp_bias=False, tie_word_embeddings=True,
        attn_implementation="sdpa", torch_dtype=torch.float32,
    )


def lr_factor(step: int, warmup: int, total: int) -> float:
    """Linear warm-up then cosine decay to MIN_LR_RATIO, as gradient's `lr_at` (0-based step)."""
    if step < warmup:
        return (step + 1) / warmup
    total = max(total, warmup + 1)
    progress = (min(step, total) - warmup) / (total - warmup)
    return MIN_LR_RATIO + 0.5 * (1 - MIN_LR_RATIO) * (1 + math.cos(math.pi * progress))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="tiny", choices=sorted(PRESETS))
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--seq-len", type=int, default=None, help="default: the preset's context")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast (GPU)")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    config = llama_config(args.preset)
    seq = args.seq_len or config.max_position_embeddings
    device = torch.device(args.device)
    model = LlamaForCausalLM(config).to(torch.float32).to(device).train()
    gpu = device.type == "cuda"
    sync = torch.cuda.synchronize if gpu else (lambda: None)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.bf16)

    params = [q for q in model.parameters() if q.requires_grad]
    groups = [
        {"params": [q for q in params if q.dim() >= 2], "weight_decay": 0.1},
        {"params": [q for q in params if q.dim() < 2], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, args.warmup, args.steps))

    rates = []
    for step in range(1, args.steps + 1):
        tokens = torch.randint(0, VOCAB, (args.batch_size, seq + 1)).to(device)
        inputs, labels = tokens[:, :-1], tokens[:, 1:]
        sync()
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        with autocast:
            logits = model(input_ids=inputs).logits
        loss = F.cross_entropy(logits.float().view(-1, logits.size(-1)), labels.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        sync()
        dt = time.perf_counter() - t0
        rates.append(args.batch_size * seq / dt)
        print(json.dumps({"event": "step", "step": step, "loss": loss.item(), "tokens_per_s": rates[-1]}), flush=True)

    steady = rates[2:] or rates
    done = {"event": "done", "preset": args.preset, "threads": args.threads,
            "device": args.device, "bf16": args.bf16, "tokens_per_s": statistics.median(steady)}
    if gpu:
        done["peak_memory_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
    print(json.dumps(done), flush=True)


if __name__ == "__main__":
    main()
