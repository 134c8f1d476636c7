#!/usr/bin/env bash
# A devnet run as the README's first command makes it, measured: each miner's compute
# utilisation (seconds in training steps / seconds since it first trained, goal >= 95%), bytes
# per submission against the dense f32 delta, and the validator's judging time per window.
#
#   bench/network.sh [WINDOWS] [MINERS]       # defaults: 5 windows, 3 miners (of 44 blocks)
#
# The validator's cost per submission against one evaluation forward pass is measured in
# isolation by `cargo bench -p gradient-node --bench judge`.
set -euo pipefail
windows="${1:-5}"
miners="${2:-3}"
root="$(cd "$(dirname "$0")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gradient-target}"
cargo build --release -p gradient-cli --manifest-path "$root/Cargo.toml" >&2
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
start=$(date +%s)
"$CARGO_TARGET_DIR/release/gradient" devnet --dir "$dir/devnet" --windows "$windows" --miners "$miners" >&2
end=$(date +%s)
python3 - "$dir/devnet/report.json" "$((end - start))" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
print(f"devnet: {len(report['master_loss'])} windows in {sys.argv[2]} s; master loss",
      " -> ".join(f"{l:.3f}" for l in report["master_loss"]))
for n in report["neurons"]:
    if n["name"].startswith("miner"):
        print(f"{n['name']}: utilisation {100 * (n['utilisation'] or 0):.1f}%, {n['steps']} steps, "
              f"{n['bytes_uploaded']} bytes uploaded, incentive {n['incentive']:.3f}")
subs = [m for w in report["windows"] for m in w["miners"] if m["bytes"]]
per = sum(m["bytes"] for m in subs) / max(1, len(subs))
print(f"bytes per submission: {per:.0f}")
judge = [w["judge_seconds"] for w in report["windows"]]
print("validator judging seconds per window:", ", ".join(f"{j:.1f}" for j in judge))
PY
