#!/usr/bin/env bash
# Install checkov into its own virtual environment, .venv/tools/checkov, from the
# hash-locked deploy/tools/checkov.lock. Called by scripts/setup.sh; safe to run again.
#
# Why not in .venv: checkov pins packaging<24, and the project's pytest needs
# packaging>=24; pip would break one or the other. An isolated venv keeps both intact.
#
# To move to a newer checkov: edit deploy/tools/checkov.in, then
#   .venv/bin/pip-compile --generate-hashes --strip-extras --allow-unsafe \
#       --no-emit-index-url --no-emit-find-links -o deploy/tools/checkov.lock deploy/tools/checkov.in
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
PYTHON=${PYTHON:-.venv/bin/python}  # any Python >= 3.12; the project venv's by default
VENV=.venv/tools/checkov
LOCK=deploy/tools/checkov.lock
stamp=$VENV/.mamoru-installed
inputs=$(sha256sum "$LOCK" | cut -d' ' -f1)

if [[ -f $stamp && "$(cat "$stamp")" == "$inputs" ]] && [[ -x $VENV/bin/checkov ]]; then
    exit 0
fi
echo "setup: installing checkov into $VENV (isolated: its pins conflict with pytest's)"
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes -r "$LOCK"
echo "$inputs" >"$stamp"
