"""Single sparse layers against dense ones over a grid of densities
(``python -m benchmarks.sparse_inference --crossover``), and the
interleaved-rounds helpers of the sparse-inference timings."""
from __future__ import annotations

import functools
import statistics
import time
from typing import Any, Callable, Dict, List, Sequence, TypeVar

import torch
import torch.nn.functional as F

from benchmarks.sparse_inference_report import DENSITIES
from torch_geometric_ugt import backend
from torch_geometric_ugt.sparse_linear import (MIN_ELEMENTS, SparseLinear,
                                               sparse_linear,
                                               sparse_linear_reference)

T = TypeVar("T")
# the layer shapes (in, out) and node counts of --crossover
LAYERS = ((256, 256), (512, 1024), (1024, 1024), (1433, 256), (500, 256),
          (256, 7), (64, 32))
LAYER_NODES = (2708, 20000)


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def rotated(items: Sequence[T], round_: int) -> List[T]:
    """:obj:`items` in the order of interleaved round :obj:`round_`: each
    round starts with the next one, so that none always runs right after
    the same other (allocator and cache state)."""
    turn = round_ % len(items)
    return list(items[turn:]) + list(items[:turn])


def interleaved_medians(calls: Dict[str, Callable[[], Any]], repeats: int,
                        device: str) -> Dict[str, float]:
    """Median seconds of each call over :obj:`repeats` interleaved rounds
    (after one warm-up round), each round in :func:`rotated` order."""
    for call in calls.values():  # warm-up (and kernel builds)
        call()
    times: Dict[str, List[float]] = {name: [] for name in calls}
    for round_ in range(repeats):
        for name in rotated(list(calls), round_):
            sync(device)
            start = time.perf_counter()
            calls[name]()
            sync(device)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def time_layers(threads: int, repeats: int,
                device: str = "cpu") -> Dict[str, Any]:
    """--crossover: single layers over a grid of densities (the native
    kernel is a CPU one)."""
    torch.set_num_threads(threads)
    backend.set_backend("native")
    methods: Dict[str, Callable[..., torch.Tensor]] = {
        "torch_csr": sparse_linear_reference}
    if device == "cpu":
        methods["native"] = sparse_linear
    rows = []
    for nodes in LAYER_NODES:
        for in_features, out_features in LAYERS:
            gen = torch.Generator().manual_seed(0)
            x = torch.randn(nodes, in_features, generator=gen).to(device)
            for density in DENSITIES:
                weight = torch.randn(out_features, in_features, generator=gen)
                weight *= (torch.rand(out_features, in_features,
                                      generator=gen) < density)
                weight = weight.to(device)
                layer = SparseLinear.from_dense(weight)
                operands = (layer.indptr, layer.indices, layer.values)
                calls: Dict[str, Callable[[], torch.Tensor]] = {
                    "dense": functools.partial(F.linear, x, weight)}
                for name, fn in methods.items():
                    calls[name] = functools.partial(fn, x, *operands)
                with torch.inference_mode():
                    med = interleaved_medians(calls, repeats, device)
                rows.append({"nodes": nodes, "in": in_features,
                             "out": out_features, "density": density,
                             "nnz": layer.nnz, "median_s": med})
                print(f"n={nodes} {in_features}->{out_features} "
                      f"density {density}: " + ", ".join(
                          f"{k} {1e3 * v:.2f} ms" for k, v in med.items()),
                      flush=True)
    return {"rows": rows, "crossover": crossovers(rows)}


def crossovers(rows: List[Dict[str, Any]]) -> Dict[str, Any]:
    """For each layer shape, node count and sparse method, the largest
    grid density up to which the method is never slower than dense; and
    the smallest of them over the layers of :data:`MIN_ELEMENTS` entries
    or more."""
    methods = [m for m in ("native", "torch_csr")
               if all(m in r["median_s"] for r in rows)]
    groups: Dict[tuple, List[Dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["nodes"], r["in"], r["out"]), []).append(r)
    shapes: Dict[str, Dict[str, float]] = {}
    large: List[Dict[str, float]] = []
    for (nodes, fin, fout), group in groups.items():
        found = {}
        for method in methods:
            found[method] = 0.0
            for r in sorted(group, key=lambda r: r["density"]):
                if r["median_s"][method] > r["median_s"]["dense"]:
                    break
                found[method] = r["density"]
        shapes[f"{nodes}:{fin}x{fout}"] = found
        if fin * fout >= MIN_ELEMENTS:
            large.append(found)
    return {"by_layer": shapes,
            "smallest": {m: min(v[m] for v in large) for m in methods}}


if __name__ == "__main__":
    from benchmarks import cli
    cli.library(__doc__, "benchmarks.sparse_crossover")
