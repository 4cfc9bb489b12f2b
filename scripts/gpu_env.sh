# Sourced by the GPU scripts: puts the repository on PYTHONPATH and, when
# packages are missing and .gpu-wheels/ exists (scripts/gpu_wheels.sh),
# installs them from there into .gpu-deps/ (no network needed).
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
missing=$(python - <<'PY'
import importlib.util
dists = {"torch_geometric": "torch-geometric", "hypothesis": "hypothesis",
         "attr": "attrs", "sortedcontainers": "sortedcontainers",
         "tqdm": "tqdm", "requests": "requests", "urllib3": "urllib3",
         "idna": "idna", "certifi": "certifi",
         "charset_normalizer": "charset-normalizer", "fsspec": "fsspec",
         "jinja2": "jinja2", "markupsafe": "MarkupSafe", "xxhash": "xxhash",
         "psutil": "psutil"}
print(" ".join(d for m, d in dists.items()
               if importlib.util.find_spec(m) is None))
PY
)
if [ -n "$missing" ]; then
    if [ -d .gpu-wheels ]; then
        echo "installing from .gpu-wheels: $missing"
        # shellcheck disable=SC2086
        python -m pip install -q --no-index --find-links .gpu-wheels \
            --no-deps --target .gpu-deps $missing
        export PYTHONPATH="$PWD/.gpu-deps:$PYTHONPATH"
    else
        echo "missing Python packages: $missing (run scripts/gpu_wheels.sh" \
             "here and carry .gpu-wheels)" >&2
    fi
fi
