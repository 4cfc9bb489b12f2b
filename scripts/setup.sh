#!/usr/bin/env bash
# Creates .venv (if missing) and installs the project with pinned CPU torch.
#   bash scripts/setup.sh            # library, benchmarks, dev tools
#   bash scripts/setup.sh --sparse   # + torch-scatter / torch-sparse
# torch-scatter and torch-sparse are compiled against the installed torch
# when no wheel exists (about 30 minutes on 2 cores, once: pip caches the
# built wheels).
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$python" -m venv .venv
pip=(.venv/bin/python -m pip --disable-pip-version-check)
"${pip[@]}" install -q --upgrade pip setuptools wheel
"${pip[@]}" install -q -c constraints/ci.txt torch torch-geometric
if [ "${1:-}" = "--sparse" ]; then
  MAX_JOBS="${MAX_JOBS:-2}" "${pip[@]}" install -q --no-build-isolation \
    -c constraints/ci.txt torch-scatter torch-sparse
fi
"${pip[@]}" install -q -c constraints/ci.txt -e ".[dev,bench]"
