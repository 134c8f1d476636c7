#!/usr/bin/env bash
# Builds `gradient` with burn's CUDA backend (`--features cuda`) and checks what can be checked
# without a GPU. Run by hand, not in CI: the LLVM that cubecl links makes the build long and every
# binary large. It uses its own target directory so the default build's cache stays small.
#
#   scripts/check-cuda-build.sh              # LLVM shim (offline), build, checks, bundle
#   ONLINE=1 scripts/check-cuda-build.sh     # a machine with internet: let the bundler download
#
# Checks: the build succeeds; on a machine without a GPU `--device cuda:0` is refused in words
# (no panic) and `--device auto` trains on the CPU. Then it leaves in target-cuda/ (ignored by
# git) what a GPU machine needs: the stripped binary and the shared libraries it links that a
# bare machine may lack, for scripts/device-check.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${GRADIENT_CUDA_TARGET:-$HOME/.cache/gradient-cuda-target}"

[ "${ONLINE:-0}" = 1 ] || scripts/setup-offline-llvm.sh
start=$(date +%s)
cargo build --release -p gradient-cli --features cuda
echo "cuda build: $(( $(date +%s) - start )) s" >&2
bin="$CARGO_TARGET_DIR/release/gradient"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
    set +e
    "$bin" train --preset tiny --steps 1 --device cuda:0 --out "$tmp/gpu" >"$tmp/gpu.log" 2>&1
    rc=$?
    set -e
    if [ "$rc" = 0 ] || grep -q panicked "$tmp/gpu.log" || ! grep -q "NVIDIA driver" "$tmp/gpu.log"; then
        echo "--device cuda:0 without a GPU was not a clear error (exit $rc):" >&2
        cat "$tmp/gpu.log" >&2
        exit 1
    fi
    echo "no GPU: --device cuda:0 refused in words: $(tail -1 "$tmp/gpu.log")"
    "$bin" train --preset tiny --steps 2 --batch-size 2 --eval-every 0 --device auto \
        --out "$tmp/auto" >/dev/null
    echo "no GPU: --device auto trained on the CPU"
fi

stage="$tmp/bundle"
mkdir -p "$stage/lib" target-cuda
strip -o "$stage/gradient" "$bin"
# Libraries from LLVM's system libraries a bare GPU image may not have (z3, xml2, ...); the C
# runtime's own stay behind.
ldd "$bin" | awk '/=> \// {print $3}' | while read -r lib; do
    case "$(basename "$lib")" in
        libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|libgcc_s.so*|ld-linux*) ;;
        *) cp -L "$lib" "$stage/lib/" ;;
    esac
done
# The device tool carries at most 64 MiB: compressed, the bundle fits.
tar -C "$stage" -cf - gradient lib | zstd -q -19 -T0 -f -o target-cuda/bundle.tar.zst
ls -l target-cuda/bundle.tar.zst
echo "bundle: target-cuda/bundle.tar.zst; on the GPU machine: scripts/device-check.sh (carry target-cuda)"
