#!/usr/bin/env bash
# End-to-end Hugging Face interop check: train a tiny model with `gradient`, export it with
# reference logits, and check that transformers' LlamaForCausalLM loads it and reproduces them.
#
#   interop/run.sh
#
# Uses CARGO_TARGET_DIR (default ~/.cache/gradient-target) and the venv at
# ~/.cache/gradient-torch-venv (created if missing). Exits non-zero if any step or the check fails.
set -euo pipefail

cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/gradient-target}
BIN=$CARGO_TARGET_DIR/release/gradient
VENV=$HOME/.cache/gradient-torch-venv
PY=$VENV/bin/python
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

echo "== building $BIN"
cargo build --release -p gradient-cli
if [ ! -x "$PY" ]; then
  echo "== creating $VENV"
  python3 -m venv "$VENV"
  "$PY" -m pip install --quiet torch transformers safetensors numpy
fi

echo "== training tiny for 20 steps into $TMP/ckpt"
"$BIN" train --preset tiny --steps 20 --log-format json --out "$TMP/ckpt" | grep -E '"event": ?"(eval|done)"'

echo "== exporting to $TMP/hf with reference logits"
"$BIN" export hf --checkpoint "$TMP/ckpt" --out "$TMP/hf" --reference-logits
ls -l "$TMP/hf"

echo "== checking with transformers"
"$PY" interop/check_hf.py "$TMP/hf"
