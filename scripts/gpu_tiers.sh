#!/usr/bin/env bash
# On a machine with a CUDA GPU: runs the reproduction tiers that are slow on
# a CPU (Table 6, Figures 6 and 7, the rest of Table 1; Table 3's molecule
# rows on request: TIERS="table3-molhiv"), as many as fit in BUDGET seconds
# (default 480), and copies the new records to $OUT/reproduction and
# $OUT/table3 when OUT is set. Resumable like `benchmarks.reproduce run`:
# existing records are skipped and a stopped run leaves no record.
#
#   UGT_DATA=data OUT=/tmp/out BUDGET=480 bash scripts/gpu_tiers.sh
#
# The machine needs torch with CUDA; PyG and the rest come from its own
# installation or from .gpu-wheels (scripts/gpu_wheels.sh, run beforehand
# where a package index is reachable). The data root (UGT_DATA) holds
# planetoid/{Cora,CiteSeer}/raw (and ogb/ogbg_mol*/ for Table 3), e.g. a
# copy in data/ (git-ignored).
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

# Table 3's molecule tiers: ogb (and six) from .gpu-wheels when missing;
# pandas and scikit-learn must come with the machine.
ogb_ready() {
    local check="import ogb.graphproppred, pandas, sklearn"
    timeout 120 python -c "$check" 2>/dev/null && return 0
    [ -d .gpu-wheels ] || return 1
    # shellcheck disable=SC2046
    python -m pip install -q --no-index --find-links .gpu-wheels --no-deps \
        --target .gpu-deps $(grep -v '^#' scripts/gpu_packages_ogb.txt |
        awk '{print $2}') || return 1
    case ":$PYTHONPATH:" in
        *":$PWD/.gpu-deps:"*) ;;
        *) export PYTHONPATH="$PWD/.gpu-deps:$PYTHONPATH" ;;
    esac
    timeout 120 python -c "$check" 2>/dev/null
}

start=$SECONDS
folders="reproduction table3"
before=$(mktemp -d)
trap 'rm -rf "$before"' EXIT
for folder in $folders; do
    mkdir -p "benchmarks/results/$folder"
    ls "benchmarks/results/$folder" > "$before/$folder"
done
for tier in $TIERS; do
    left=$((BUDGET - (SECONDS - start)))
    if [ "$left" -le 10 ]; then
        echo "budget spent; not started: $tier"
        continue
    fi
    echo "== $tier ($left s left)"
    case "$tier" in
        table3-*)
            if ! ogb_ready; then
                echo "skipped $tier: ogb, pandas or scikit-learn missing"
                continue
            fi
            cmd=(benchmarks.table3 run "${tier#table3-}") ;;
        *) cmd=(benchmarks.reproduce run "$tier") ;;
    esac
    timeout --signal=INT "$left" python -m "${cmd[@]}" \
        --root "$UGT_DATA" --device "$DEVICE" 2>&1 |
        grep -v -e Warning -e "return torch" || true
done
if [ -n "${OUT:-}" ]; then
    for folder in $folders; do
        mkdir -p "$OUT/$folder"
        ls "benchmarks/results/$folder" | grep '\.json$' |
            grep -v -x -F -f "$before/$folder" |
            while read -r name; do
                cp "benchmarks/results/$folder/$name" "$OUT/$folder/"
            done
        echo "new $folder records: $(ls "$OUT/$folder" | wc -l)"
    done
fi
