#!/usr/bin/env bash
# Lets `cargo build --features cuda` build without internet.
#
# burn's `cuda` backend pulls cubecl-cuda, which always compiles cubecl-llvm, whose build
# dependency tracel-llvm-bundler downloads an LLVM 23 bundle from GitHub in its build script.
# On a machine with internet, do nothing: let the bundler download what it means to. On a
# machine that reaches only the package registries (ours), Debian's LLVM 22 has every function
# cubecl-llvm uses, and the bundler skips its download when its marker file exists. This script
# installs LLVM 22 (apt, when run as root) and puts, where the bundler looks:
#   - the marker `.tracel-llvm-installed`;
#   - `bin/llvm-config`, which forwards to LLVM 22's and writes absolute library paths (Debian's
#     `--system-libs` names /usr/lib/.../libz3.so) as `-lNAME`, the form the bundler parses.
#
#   scripts/setup-offline-llvm.sh          # then: cargo build --release -p gradient-cli --features cuda
#   scripts/setup-offline-llvm.sh --remove # take the marker and the shim away again
set -euo pipefail

version=23.1.0-4
prefix="${XDG_DATA_HOME:-$HOME/.local/share}/tracel/tracel-llvm-$version"
llvm=/usr/lib/llvm-22/bin/llvm-config

if [ "${1:-}" = --remove ]; then
    rm -f "$prefix/.tracel-llvm-installed" "$prefix/bin/llvm-config"
    echo "removed the offline LLVM shim from $prefix"
    exit 0
fi

if [ -e "$prefix/.tracel-llvm-installed" ] && ! [ -e "$prefix/.gradient-offline-shim" ]; then
    echo "$prefix already holds an LLVM bundle the bundler installed itself; leaving it" >&2
    exit 0
fi

if ! [ -x "$llvm" ]; then
    packages=(llvm-22-dev libpolly-22-dev libzstd-dev libz3-dev libxml2-dev)
    if [ "$(id -u)" -ne 0 ]; then
        echo "LLVM 22 is not installed; as root: apt-get install -y ${packages[*]}" >&2
        exit 1
    fi
    echo "installing ${packages[*]} (Debian)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
fi
major="$("$llvm" --version | cut -d. -f1)"
if [ "$major" -lt 22 ]; then
    echo "$llvm is LLVM $major; cubecl-llvm needs 22 or later (19 lacks functions it calls)" >&2
    exit 1
fi

mkdir -p "$prefix/bin"
cat >"$prefix/bin/llvm-config" <<EOF
#!/bin/sh
# Written by gradient's scripts/setup-offline-llvm.sh: LLVM 22 in place of tracel's bundle.
out="\$($llvm "\$@")" || exit \$?
printf '%s\n' "\$out" | sed -E 's#(^| )/[^ ]*/lib([^/ ]+)\\.(so|a)[.0-9]*#\\1-l\\2#g'
EOF
chmod +x "$prefix/bin/llvm-config"
touch "$prefix/.gradient-offline-shim" "$prefix/.tracel-llvm-installed"

# The shim must give the bundler bare names it can link.
if "$prefix/bin/llvm-config" --link-static --system-libs | grep -q '/'; then
    echo "the shim still writes a path: $("$prefix/bin/llvm-config" --link-static --system-libs)" >&2
    exit 1
fi
echo "offline LLVM ready: $prefix (LLVM $("$llvm" --version))"
