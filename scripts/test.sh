#!/usr/bin/env bash
# Sets up (with the SparseTensor extra) and runs lint, type checks and tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --sparse
if [ -z "${UGT_DATA:-}" ] && [ -d ../shared/datasets ]; then
  export UGT_DATA="$(cd ../shared/datasets && pwd)"
fi
export UGT_CACHE="${UGT_CACHE:-$PWD/.cache}"
.venv/bin/ruff check torch_geometric_ugt tests benchmarks
.venv/bin/mypy
.venv/bin/python -m pytest -q "$@"
