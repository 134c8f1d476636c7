#!/usr/bin/env bash
# A real subtensor runtime for the tests: chopsticks (npm, pinned by tools/chopsticks's
# lockfile) running subtensor's spec-218 chain spec from ../shared/subtensor.
#
#   scripts/chopsticks.sh install            installs chopsticks once; prints the binary's path
#   scripts/chopsticks.sh run SHARED PORT    a chain in the foreground on ws://127.0.0.1:PORT,
#                                            //Alice as sudo and dev accounts funded
#   scripts/chopsticks.sh run SHARED PORT S  the same, building a block every S seconds
#                                            stamped with the wall clock (for a devnet)
#
# The tests start a private chain each (`GRADIENT_SUBTENSOR_SHARED`, see
# crates/subtensor/tests/support): they sudo from //Alice, and two tests sharing one chain
# would race each other's nonces; `run` is for a chain by hand (README).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
pkg="$here/tools/chopsticks"

install() {
    if [ ! -x "$pkg/node_modules/.bin/chopsticks" ]; then
        (cd "$pkg" && npm ci --no-audit --no-fund --loglevel=error >&2)
    fi
    echo "$pkg/node_modules/.bin/chopsticks"
}

run() {
    local shared="$1" port="$2" every="${3:-}" bin
    bin="$(install)"
    for f in raonet.json dev-accounts.yml; do
        [ -f "$shared/$f" ] || { echo "no $shared/$f: point SHARED at the folder with the chain spec" >&2; exit 2; }
    done
    # Aura's slots are 12 s here; a start off that grid made the first blocks fail.
    local now_ms=$(( $(date +%s) * 1000 ))
    local mode=Instant
    if [ -n "$every" ]; then
        # Blocks come only from the driver, as on a real chain, and transactions wait in the
        # pool for the next one (a block built for a transaction between two of the driver's
        # raced its timestamp). The driver exits when chopsticks does.
        mode=Manual
        node "$pkg/blocks.mjs" "ws://127.0.0.1:$port" "$every" &
    fi
    exec "$bin" --genesis "$shared/raonet.json" --port "$port" --build-block-mode "$mode" \
        --timestamp $(( now_ms / 12000 * 12000 )) --import-storage "$shared/dev-accounts.yml"
}

case "${1:-}" in
    install) install ;;
    run) run "$2" "$3" "${4:-}" ;;
    *) echo "usage: $0 install | run SHARED PORT [BLOCK_SECONDS]" >&2; exit 2 ;;
esac
