#!/usr/bin/env bash
# Run here, before using a GPU machine that cannot reach a package index:
# downloads the wheels of scripts/gpu_packages.txt (PyG and its import-time
# dependencies, the test tools) into .gpu-wheels/ (about 10 MB, for CPython
# 3.10-3.13). scripts/gpu_env.sh installs the missing ones from there on the
# GPU machine. Carry .gpu-wheels (and a data root) to it.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .gpu-wheels
mapfile -t dists < <(grep -h -v '^#' scripts/gpu_packages.txt \
    scripts/gpu_packages_ogb.txt | awk '{print $2}')
for version in 3.10 3.11 3.12 3.13; do
    pip download -q --no-deps -d .gpu-wheels --only-binary=:all: \
        --platform any --platform manylinux2014_x86_64 \
        --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
        --python-version "$version" "${dists[@]}"
done
du -sh .gpu-wheels
