#!/usr/bin/env bash
# How much of the miners' work reaches the master (issue "the network must train"): the devnet
# run's protocol with a fixed number of inner steps per window (no dependence on the machine's
# load), in one process, against one machine training the same model on the same tokens
# (batch = miners x miner batch, `gradient train`'s schedule), both evaluated on the same 16
# held-out pages. Prints the headline row with both losses and their ratio, then one row per
# ablation (network loss only; the baseline is the headline's, measured in the same run).
#
#   bench/quality.sh            # headline + every ablation row (about two hours on 2 cores)
#   bench/quality.sh headline   # only the headline row (about 16 minutes on 2 cores)
#
# Each window's table shows the loss of master w, of master w plus the miners' mean
# uncompressed delta (and of its embedding / other tensors alone), plus what they sent after
# compression and error feedback, and of the next master the protocol made: where work is lost.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gradient-target}"
cargo build --release -p gradient-cli --manifest-path "$root/Cargo.toml" >&2
bin="$CARGO_TARGET_DIR/release/gradient"
# 28 steps x 4 rows = 112 sequences = 14 pages of 8: every page seen once per window.
common=(--miners 3 --windows 6 --steps-per-window 28 --pages-per-window 14 --report-pages 16)
echo "== headline: the run's defaults"
"$bin" bench quality "${common[@]}"
[ "${1:-}" = headline ] && exit 0
row() {
    local name="$1"; shift
    printf '%-44s ' "$name"
    "$bin" bench quality "${common[@]}" --no-baseline "$@" 2>/dev/null | sed 's/  one machine NaN  ratio NaN//'
}
echo "== ablation rows (network loss after 6 windows)"
row "dense f32 deltas (no compression)" --dense
row "dense, no staleness (train from master w)" --dense --stale false
row "dense, stale, no eager start" --dense --eager false
row "top 32 of 4096, 2-bit (the old codec)" --rank 0
row "the run's codec, no staleness" --stale false
row "rank-4 factors everywhere (before stop 33)" --rank 4 --factor none
row "rank-8 factors everywhere" --rank 8 --factor none
row "embedding rows at 8 bits, 1.2% (stop 33-36)" --factor model.embed_tokens.weight=2:12
row "embedding rows at 3 bits, 2.9% (same bytes)" --factor model.embed_tokens.weight=2:29:3
row "embedding rows at 3 bits, 3.2% (101x)" --factor model.embed_tokens.weight=2:32:3
row "embedding rows at 2 bits, 4.6% (100x)" --factor model.embed_tokens.weight=2:46:2
row "embedding rank 1 + 1.6% of rows" --factor model.embed_tokens.weight=1:16
row "embedding rank 3 + 1% of rows" --factor model.embed_tokens.weight=3:10
row "eager start from the sent delta" --eager-sent
row "no eager start" --eager false
row "moving onto master w after 10 of 28 steps" --rebase-after 10
row "error feedback beta 0.5 (before stop 24)" --beta 0.5
row "outer lr 1 in window 0, 1.25 after (stop 34's run)" --outer-lr 1.25 --first-outer-lr 1
row "outer lr 1.25 in window 0 too" --outer-lr 1.25
row "outer lr 1.5 after window 0" --outer-lr 1.5 --first-outer-lr 1
row "miners' inner lr 2e-3 (one machine keeps 3e-3)" --miner-lr 2e-3
row "miners' inner lr 2.5e-3 (one machine keeps 3e-3)" --miner-lr 2.5e-3
row "miners' inner lr 5e-3 (one machine keeps 3e-3)" --miner-lr 5e-3
row "Nesterov lr 0.7, momentum 0.6 (the old outer step)" --outer-lr 0.7 --outer-momentum 0.6
row "only positive scores aggregated" --include positive
row "deltas measured at full weight" --delta-weight 1
row "fresh inner AdamW moments every window" --keep-optimizer false
row "2 pages a window, repeated (old devnet)" --pages-per-window 2
