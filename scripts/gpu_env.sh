# Sourced by the GPU scripts: puts the repository on PYTHONPATH and installs
# the packages of scripts/gpu_packages.txt that are missing from
# .gpu-wheels/ (scripts/gpu_wheels.sh) into .gpu-deps/, with no network.
# Returns 3 when some are still missing.
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
ugt_missing() {
    grep -v '^#' scripts/gpu_packages.txt | while read -r module dist; do
        python -c "import importlib.util, sys
sys.exit(importlib.util.find_spec('$module') is None)" || echo "$dist"
    done | tr '\n' ' '
}
missing=$(ugt_missing)
if [ -n "$missing" ] && [ -d .gpu-wheels ]; then
    echo "installing from .gpu-wheels: $missing"
    # shellcheck disable=SC2086
    python -m pip install -q --no-index --find-links .gpu-wheels \
        --no-deps --target .gpu-deps $missing
    export PYTHONPATH="$PWD/.gpu-deps:$PYTHONPATH"
    missing=$(ugt_missing)
fi
if [ -n "$missing" ]; then
    echo "missing Python packages: $missing (run scripts/gpu_wheels.sh" \
         "where a package index is reachable and carry .gpu-wheels)" >&2
    return 3
fi
