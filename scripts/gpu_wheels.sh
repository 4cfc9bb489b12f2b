#!/usr/bin/env bash
# Run here, before using a GPU machine that cannot reach a package index:
# downloads the wheels that the GPU scripts need besides torch (PyG and its
# import-time dependencies, the test tools) into .gpu-wheels/ (about 5 MB,
# for CPython 3.10-3.13). scripts/gpu_env.sh installs the missing ones from
# there on the GPU machine. Carry .gpu-wheels (and a data root) to it.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .gpu-wheels
pip download -q --no-deps -d .gpu-wheels --only-binary=:all: \
    --platform any --python-version 3.11 \
    torch-geometric==2.8.1 hypothesis attrs sortedcontainers tqdm requests \
    urllib3 idna certifi charset-normalizer fsspec jinja2
for version in 3.10 3.11 3.12 3.13; do
    pip download -q --no-deps -d .gpu-wheels --only-binary=:all: \
        --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux_2_28_x86_64 --python-version "$version" \
        xxhash psutil MarkupSafe
done
du -sh .gpu-wheels
