#!/usr/bin/env bash
# Training throughput of `gradient train` against the PyTorch baseline (bench/torch_train.py),
# same preset, batch, sequence length and thread count, on the CPU.
#
#   bench/train_vs_torch.sh [presets...]        # default: tiny small
#   STEPS=12 BATCH=8 ROUNDS=2 THREADS=$(nproc) bench/train_vs_torch.sh tiny
#   GRADIENT_BIN=path/to/gradient bench/train_vs_torch.sh   # use that binary, skip the build
#
# Each round runs the Rust trainer and then the torch script, so both see the same machine state.
# Rust tok/s is the median over step lines with step > 2; torch tok/s is its "done" line (same
# rule). Builds the release binary and creates ~/.cache/gradient-torch-venv if missing.
set -euo pipefail

cd "$(dirname "$0")/.."
STEPS=${STEPS:-12}
BATCH=${BATCH:-8}
ROUNDS=${ROUNDS:-2}
THREADS=${THREADS:-$(nproc)}
PRESETS=("$@")
[ ${#PRESETS[@]} -gt 0 ] || PRESETS=(tiny small)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/gradient-target}
BIN=${GRADIENT_BIN:-$CARGO_TARGET_DIR/release/gradient}
VENV=$HOME/.cache/gradient-torch-venv
PY=$VENV/bin/python

if [ -z "${GRADIENT_BIN:-}" ]; then
  echo "building $BIN" >&2
  cargo build --release -p gradient-cli >&2
fi
if [ ! -x "$PY" ]; then
  echo "creating $VENV" >&2
  python3 -m venv "$VENV"
  "$PY" -m pip install --quiet torch transformers safetensors numpy
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# Median tokens_per_s over JSON lines on stdin: "step" lines with step > 2, or the "done" line.
median_rate() {
  python3 -c '
import json, statistics, sys
want = sys.argv[1]
rates = []
for line in sys.stdin:
    line = line.strip()
    if not line.startswith("{"):
        continue
    ev = json.loads(line)
    if ev.get("event") == want and (want != "step" or ev["step"] > 2):
        rates.append(float(ev["tokens_per_s"]))
if not rates:
    sys.exit(f"no {want} lines with tokens_per_s")
print(f"{statistics.median(rates):.1f}")
' "$1"
}

echo "steps $STEPS, batch $BATCH, threads $THREADS, rounds $ROUNDS"
printf '%-8s %5s %12s %12s %8s\n' preset round rust_tok/s torch_tok/s ratio
summary=()
for preset in "${PRESETS[@]}"; do
  ratios=()
  for round in $(seq 1 "$ROUNDS"); do
    rm -rf "$TMP/ckpt"
    RAYON_NUM_THREADS=$THREADS "$BIN" train --preset "$preset" --steps "$STEPS" --batch-size "$BATCH" \
      --log-format json --eval-every 0 --save-every 0 --out "$TMP/ckpt" > "$TMP/rust.jsonl"
    OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS "$PY" bench/torch_train.py --preset "$preset" \
      --steps "$STEPS" --batch-size "$BATCH" --threads "$THREADS" > "$TMP/torch.jsonl"
    rust=$(median_rate step < "$TMP/rust.jsonl")
    torch=$(median_rate done < "$TMP/torch.jsonl")
    ratio=$(python3 -c 'import sys; print(f"{float(sys.argv[1]) / float(sys.argv[2]):.3f}")' "$rust" "$torch")
    ratios+=("$ratio")
    printf '%-8s %5s %12s %12s %8s\n' "$preset" "$round" "$rust" "$torch" "$ratio"
  done
  med=$(python3 -c 'import statistics, sys; print(f"{statistics.median(map(float, sys.argv[1:])):.3f}")' "${ratios[@]}")
  summary+=("$(printf '%-8s median rust/torch ratio %s over %s rounds' "$preset" "$med" "$ROUNDS")")
done
printf '%s\n' "${summary[@]}"
