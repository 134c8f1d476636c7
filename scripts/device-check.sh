#!/usr/bin/env bash
# The GPU check, on a machine with an NVIDIA GPU, in about 8 minutes. Run it in the repository
# root with target-cuda/bundle.tar.zst from scripts/check-cuda-build.sh beside it (through the
# device tool: carry target-cuda). It prints, each as one line:
#   - the GPU, its driver and memory;
#   - `small` trained N steps on cuda:0 and on the CPU from the same seed and data: the losses
#     of both, step by step, and the largest difference (must stay under LOSS_TOL);
#   - tokens/s of `gradient train` on cuda:0 for `150m` with f32 and with bf16 matmuls, and of
#     PyTorch's LlamaForCausalLM of the same shape, batch and optimizer on the same GPU
#     (bench/torch_train.py), eager f32 and eager bf16 autocast; the ratios; the peak memory;
#   - `1b` trains 2 steps.
#
#   scripts/device-check.sh                 # STEPS=8 BATCH=8 LOSS_TOL=0.02 THROUGHPUT_STEPS=12
#   DEVICE=cpu CHECK=tiny SPEED=tiny BIG=tiny scripts/device-check.sh   # the plumbing, anywhere
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICE=${DEVICE:-cuda:0}
CHECK=${CHECK:-small}
SPEED=${SPEED:-150m}
BIG=${BIG:-1b}
TORCH_PY=${TORCH_PY:-python3}   # a Python with torch and transformers
STEPS=${STEPS:-8}
BATCH=${BATCH:-8}
LOSS_TOL=${LOSS_TOL:-0.02}
THROUGHPUT_STEPS=${THROUGHPUT_STEPS:-12}
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
if [ -f target-cuda/bundle.tar.zst ]; then
    zstd -q -d -c target-cuda/bundle.tar.zst | tar -C "$work" -xf -
    bin="$work/gradient"
    export LD_LIBRARY_PATH="$work/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
else
    bin="${GRADIENT_BIN:?no target-cuda/bundle.tar.zst: run scripts/check-cuda-build.sh, or set GRADIENT_BIN}"
fi
# Kernels that use exp and log (softmax, SiLU) are linked against CUDA's libdevice.
if [ -z "${CUDA_PATH:-}" ]; then
    libdevice="$(ls /usr/local/cuda*/nvvm/libdevice/libdevice.10.bc \
        "$(python3 -c 'import site; print(site.getsitepackages()[0])' 2>/dev/null)"/nvidia/cuda_nvcc/nvvm/libdevice/libdevice.10.bc \
        2>/dev/null | head -1 || true)"
    [ -n "$libdevice" ] && export CUDA_PATH="${libdevice%/nvvm/libdevice/*}"
fi
echo "CUDA_PATH=${CUDA_PATH:-unset}"

train() { # preset device steps out [flags]
    "$bin" train --preset "$1" --device "$2" --steps "$3" --batch-size "$BATCH" --warmup 2 \
        --log-format json --eval-every 0 --save-every 0 --out "$work/$4" "${@:5}" >"$work/$4.jsonl"
}
# Runs `train` in the background and prints the peak GPU memory nvidia-smi saw meanwhile.
train_watched() {
    train "$@" &
    local pid=$! peak=0 used
    while kill -0 "$pid" 2>/dev/null; do
        used="$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1)"
        [ "$used" -gt "$peak" ] && peak="$used"
        sleep 1
    done
    wait "$pid"
    echo "$peak"
}
field() { # file event key: the values of key on lines of that event, one per line
    python3 -c '
import json, sys
for line in open(sys.argv[1]):
    if line.startswith("{"):
        ev = json.loads(line)
        if ev.get("event") == sys.argv[2] and sys.argv[3] in ev:
            print(ev[sys.argv[3]])' "$@"
}
median() { python3 -c 'import statistics, sys; v = [float(x) for x in sys.stdin if x.strip()]; print(f"{statistics.median(v[2:] or v):.1f}")'; }

echo "== $CHECK, $STEPS steps of batch $BATCH: $DEVICE against the CPU"
train "$CHECK" "$DEVICE" "$STEPS" check-gpu
RAYON_NUM_THREADS="$(nproc)" train "$CHECK" cpu "$STEPS" check-cpu
paste <(field "$work/check-gpu.jsonl" step loss) <(field "$work/check-cpu.jsonl" step loss) |
    python3 -c '
import sys
tol = float(sys.argv[1]); worst = 0.0
for i, line in enumerate(sys.stdin):
    g, c = map(float, line.split())
    worst = max(worst, abs(g - c))
    print(f"step {i + 1}: cuda {g:.5f} cpu {c:.5f} diff {g - c:+.2e}")
print(f"largest loss difference {worst:.2e} (tolerance {tol})")
sys.exit(0 if worst <= tol else 1)' "$LOSS_TOL" || losses_differ=1

echo "== $SPEED, $THROUGHPUT_STEPS steps of batch $BATCH on $DEVICE: gradient against PyTorch"
for mode in f32 bf16; do
    peak="$(train_watched "$SPEED" "$DEVICE" "$THROUGHPUT_STEPS" "speed-$mode" --matmul "$mode")"
    ours="$(field "$work/speed-$mode.jsonl" step tokens_per_s | median)"
    echo "gradient $SPEED matmul $mode: $ours tokens/s, peak GPU memory ${peak} MiB (nvidia-smi)"
    eval "ours_$mode=$ours"
done
for mode in f32 bf16; do
    flag=(); [ "$mode" = bf16 ] && flag=(--bf16)
    "$TORCH_PY" bench/torch_train.py --preset "$SPEED" --device "${DEVICE%%:*}" --steps "$THROUGHPUT_STEPS" \
        --batch-size "$BATCH" "${flag[@]}" >"$work/torch-$mode.jsonl"
    theirs="$(field "$work/torch-$mode.jsonl" done tokens_per_s)"
    mem="$(field "$work/torch-$mode.jsonl" done peak_memory_gib)"
    ours_var="ours_$mode"
    python3 -c 'import sys; o, t = map(float, sys.argv[1:3]); print(f"pytorch eager {sys.argv[3]}: {t:.1f} tokens/s, peak {float(sys.argv[4]):.2f} GiB; gradient/pytorch ({sys.argv[3]} against {sys.argv[3]}) {o / t:.3f}")' \
        "${!ours_var}" "$theirs" "$mode" "$mem"
done

echo "== $BIG, 2 steps of batch 2 on $DEVICE"
BATCH=2 train "$BIG" "$DEVICE" 2 big
field "$work/big.jsonl" step loss | sed "s/^/$BIG loss /"
if [ -n "${losses_differ:-}" ]; then
    echo "FAILED: $DEVICE and the CPU disagree by more than $LOSS_TOL (above)" >&2
    exit 1
fi
echo "device check passed"
