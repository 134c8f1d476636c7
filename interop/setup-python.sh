#!/usr/bin/env bash
# Creates (once) the virtual environment the wallet interop test uses: bittensor-wallet 4.x from
# PyPI. Prints the environment's python on stdout.
set -euo pipefail
venv="${GRADIENT_BTWALLET_VENV:-$HOME/.cache/gradient-btwallet-venv}"
if ! "$venv/bin/python" -c 'import bittensor_wallet' 2>/dev/null; then
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet 'bittensor-wallet>=4,<5' >&2
fi
echo "$venv/bin/python"
