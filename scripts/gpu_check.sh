#!/usr/bin/env bash
# On a machine with a CUDA GPU (torch with CUDA, nvcc and ninja installed):
# builds the CUDA threshold kernel, checks it bit for bit against the
# reference, and times it against the PyTorch paths; times sparse
# inference (cuSPARSE) against dense layers. Copies the records to
# $OUT when set.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/gpu_env.sh || exit 3  # PYTHONPATH; packages from .gpu-wheels
python - <<'PY'
import torch
print("torch", torch.__version__, "cuda", torch.version.cuda,
      torch.cuda.get_device_name())
PY
python -m pytest -q -p no:cacheprovider tests/csrc tests/test_threshold.py
python -m benchmarks.kernel --device cuda --threads "$(nproc)"
python -m benchmarks.sparse_inference --crossover --device cuda --repeats 5
if [ -n "${OUT:-}" ]; then
  cp benchmarks/results/kernel-cuda.json \
     benchmarks/results/sparse-crossover-cuda.json "$OUT/"
fi
