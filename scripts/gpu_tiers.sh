#!/usr/bin/env bash
# On a machine with a CUDA GPU: runs the reproduction tiers that are slow on
# a CPU (Table 6, Figures 6 and 7, the rest of Table 1), as many as fit in
# BUDGET seconds (default 480), and copies the new records to $OUT/reproduction
# when OUT is set. Resumable like `benchmarks.reproduce run`: existing
# records are skipped and a stopped run leaves no record.
#
#   UGT_DATA=data OUT=/tmp/out BUDGET=480 bash scripts/gpu_tiers.sh
#
# The machine needs torch with CUDA; PyG and the rest come from its own
# installation or from .gpu-wheels (scripts/gpu_wheels.sh, run beforehand
# where a package index is reachable). The data root (UGT_DATA) holds
# planetoid/{Cora,CiteSeer}/raw, e.g. a copy in data/ (git-ignored).
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/gpu_env.sh || exit 3  # PYTHONPATH; packages from .gpu-wheels
: "${UGT_DATA:?set UGT_DATA to the data root (planetoid/Cora/raw ...)}"
BUDGET="${BUDGET:-480}"
TIERS="${TIERS:-table6 fig6 fig7 table1}"
DEVICE="${DEVICE:-cuda}"

python -c 'import torch; print("torch", torch.__version__, "cuda",
    torch.version.cuda, torch.cuda.get_device_name()
    if torch.cuda.is_available() else "-")' || exit 3

start=$SECONDS
before=$(mktemp)
ls benchmarks/results/reproduction > "$before"
for tier in $TIERS; do
    left=$((BUDGET - (SECONDS - start)))
    if [ "$left" -le 10 ]; then
        echo "budget spent; not started: $tier"
        continue
    fi
    echo "== $tier ($left s left)"
    timeout --signal=INT "$left" python -m benchmarks.reproduce run "$tier" \
        --root "$UGT_DATA" --device "$DEVICE" 2>&1 |
        grep -v -e Warning -e "return torch" || true
done
if [ -n "${OUT:-}" ]; then
    mkdir -p "$OUT/reproduction"
    ls benchmarks/results/reproduction | grep '\.json$' |
        grep -v -x -F -f "$before" |
        while read -r name; do
            cp "benchmarks/results/reproduction/$name" "$OUT/reproduction/"
        done
    echo "new records: $(ls "$OUT/reproduction" | wc -l)"
fi
