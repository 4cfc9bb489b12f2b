#!/usr/bin/env bash
# Sets up and finds an untrained ticket on Cora with a 2-layer GCN.
# Extra arguments go to benchmarks/find_ticket.py (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -z "${UGT_DATA:-}" ] && [ -d ../shared/datasets ]; then
  export UGT_DATA="$(cd ../shared/datasets && pwd)"
fi
exec .venv/bin/python -m benchmarks.find_ticket "$@"
