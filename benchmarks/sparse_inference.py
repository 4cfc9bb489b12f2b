"""Inference with a ticket: forward latency and peak memory of the model
squashed dense (``squash(model)``), squashed sparse (``squash(model,
sparse=True)``, the measured crossover choosing the layers) and with
torch's CSR product (``torch.sparse.mm``) in every linear layer, side by
side in one process (runs interleaved, medians).

    python -m benchmarks.sparse_inference --root ../shared/datasets
    python -m benchmarks.sparse_inference --crossover
    python -m benchmarks.sparse_inference --report

The first command times GCN, GIN and GAT (2 layers, the reproduction
suite's architectures) at sparsities 0.5, 0.9, 0.95 and 0.99, with each
layer pruned to that sparsity (Edge-Popup's uniform masks), on Cora and
PubMed (hidden 256 and 1024), a synthetic graph of 10^6 nodes (256
features, hidden 256, 2 edges per node) and a synthetic graph of 20,000
nodes with 2 edges per node (512 features, hidden and output 1024: GIN
only, where the weights dominate the cost; the suite's GIN with one linear
layer per GIN layer, and PyG's ``GIN``, "PyG-GIN", with a 2-layer MLP in
each). Every case runs in a fresh
process. Besides the whole forward pass it times the linear layers and the
message passing (``propagate``) of each model, whose share bounds what
sparse weights can gain. Record:
``benchmarks/results/sparse-inference-<device>.json``.

``--crossover`` times single layers (dense ``F.linear`` against the native
kernel and torch's CSR product) over a grid of weight densities, for
several layer shapes and node counts, and records where the sparse
product stops being faster (``sparse-crossover-<device>.json``); the
library's default crossover (``torch_geometric_ugt.sparse_linear.
NATIVE_MAX_DENSITY``) is the smallest of these, rounded down.

``--device cuda`` times on a GPU instead (torch's CSR product, cuSPARSE,
against dense; ``scripts/gpu_check.sh`` runs the crossover so) and writes
``-cuda`` records.

``--report`` writes docs/inference.md's tables, its plot and the
README's "Deploying a ticket" paragraph from the committed CPU records.
"""
from __future__ import annotations

import argparse
import copy
import functools
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, TypeVar

import torch
import torch.nn.functional as F
from torch_geometric.data import Data
from torch_geometric.nn import GIN
from torch_geometric.nn.conv import MessagePassing

from benchmarks import cli, memory
from benchmarks.data import load_planetoid
from benchmarks.markdown import replace_section
from benchmarks.models import MODELS, build
from benchmarks.records import device_name, write_record
from torch_geometric_ugt import (EdgePopupSparsifier, __version__, backend,
                                 squash, supermask)
from torch_geometric_ugt.sparse_linear import (MIN_ELEMENTS,
                                               NATIVE_MAX_DENSITY,
                                               TORCH_MAX_DENSITY,
                                               SparseLinear, sparse_linear,
                                               sparse_linear_reference)
from torch_geometric_ugt.supermask import LINEAR_TYPES

ROOT = Path(__file__).parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DOCS = ROOT / "docs"
SPARSITIES = (0.5, 0.9, 0.95, 0.99)
VARIANTS = ("dense", "sparse", "torch_csr")
SYNTHETIC = {  # nodes, features, edges per node, classes
    "synthetic-1M": (1_000_000, 256, 2, 16),
    "synthetic-20k": (20_000, 512, 2, 1024),
}
HEADLINE = {"graph": "synthetic-20k", "model": "PyG-GIN", "hidden": 1024}
T = TypeVar("T")
PYG_GIN = "PyG-GIN"  # torch_geometric.nn.GIN: a 2-layer MLP in every layer

# the layer shapes (in, out) and node counts of --crossover
LAYERS = ((256, 256), (512, 1024), (1024, 1024), (1433, 256), (500, 256),
          (256, 7), (64, 32))
LAYER_NODES = (2708, 20000)
DENSITIES = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7)


def cases() -> List[Dict[str, Any]]:
    """Every (graph, model, hidden) that the first command times."""
    out = [{"graph": g, "model": m, "hidden": h}
           for g in ("Cora", "PubMed") for m in MODELS for h in (256, 1024)]
    out += [{"graph": "synthetic-1M", "model": m, "hidden": 256}
            for m in MODELS]
    return out + [{"graph": "synthetic-20k", "model": "GIN", "hidden": 1024},
                  dict(HEADLINE)]


def build_model(name: str, in_channels: int, hidden: int,
                out_channels: int) -> torch.nn.Module:
    """The reproduction suite's 2-layer model (no bias), or PyG's own GIN
    (a 2-layer MLP with biases in each of its 2 layers)."""
    if name == PYG_GIN:
        return GIN(in_channels, hidden, 2, out_channels)
    return build(name, in_channels, hidden, 2, out_channels, dense=False)


def synthetic_graph(name: str, seed: int = 0) -> Data:
    """Random features and edges (no self loops needed): only the sizes
    matter for timing."""
    nodes, features, degree, classes = SYNTHETIC[name]
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(nodes, features, generator=gen)
    edge_index = torch.randint(0, nodes, (2, nodes * degree), generator=gen)
    data = Data(x=x, edge_index=edge_index)
    data.num_classes = classes
    return data


def load_graph(name: str, root: Optional[str]) -> Data:
    if name in SYNTHETIC:
        return synthetic_graph(name)
    return load_planetoid(name, root)


class Stopwatch:
    """Wall time spent inside the linear layers and inside message passing
    (``propagate``) of a model, through forward hooks."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.linear = 0.0
        self.propagate = 0.0
        self._start: Dict[int, float] = {}
        for module in model.modules():
            if isinstance(module, LINEAR_TYPES + (SparseLinear, )):
                module.register_forward_pre_hook(self._enter)
                module.register_forward_hook(self._leave_linear)
            if isinstance(module, MessagePassing):
                module.register_propagate_forward_pre_hook(self._enter)
                module.register_propagate_forward_hook(self._leave_propagate)

    def reset(self) -> None:
        self.linear = self.propagate = 0.0

    def _enter(self, module: torch.nn.Module, *args: Any) -> None:
        self._start[id(module)] = time.perf_counter()

    def _leave_linear(self, module: torch.nn.Module, *args: Any) -> None:
        self.linear += time.perf_counter() - self._start[id(module)]

    def _leave_propagate(self, module: torch.nn.Module, *args: Any) -> None:
        self.propagate += time.perf_counter() - self._start[id(module)]


def layer_choices(model: torch.nn.Module) -> List[Dict[str, Any]]:
    """The masked linear layers of a sparse squashed model: sparse or not,
    and their density."""
    out = []
    for name, module in model.named_modules():
        if isinstance(module, SparseLinear):
            out.append({"name": name, "sparse": True,
                        "density": module.density})
        elif isinstance(module, LINEAR_TYPES):
            weight = module.weight
            assert isinstance(weight, torch.Tensor)
            out.append({"name": name, "sparse": False,
                        "density": int(torch.count_nonzero(weight)) /
                        weight.numel()})
    return out


def model_bytes(model: torch.nn.Module) -> int:
    tensors = list(model.parameters()) + list(model.buffers())
    return sum(t.numel() * t.element_size() for t in tensors)


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def rotated(items: Sequence[T], round_: int) -> List[T]:
    """:obj:`items` in the order of interleaved round :obj:`round_`: each
    round starts with the next one, so that none always runs right after
    the same other (allocator and cache state)."""
    turn = round_ % len(items)
    return list(items[turn:]) + list(items[:turn])


def run_case(case: Dict[str, Any], root: Optional[str], threads: int,
             repeats: int, device: str = "cpu") -> Dict[str, Any]:
    """Times one (graph, model, hidden) at every sparsity; then measures
    the peak memory of one forward pass of each variant."""
    torch.set_num_threads(threads)
    backend.set_backend("native")
    data = load_graph(case["graph"], root).to(device)
    x, edge_index = data.x, data.edge_index
    out_channels = data.num_classes
    results = []
    built = []
    for sparsity in SPARSITIES:
        ticket = supermask(build_model(case["model"], data.num_features,
                                       case["hidden"], out_channels),
                           seed=0).to(device)
        EdgePopupSparsifier(ticket, sparsity=sparsity)
        models = {"dense": squash(copy.deepcopy(ticket)).eval(),
                  "sparse": squash(copy.deepcopy(ticket), sparse=True).eval(),
                  "torch_csr": squash(ticket, sparse=True,
                                      max_density=1.0).eval()}
        paths = {"dense": "native", "sparse": "native", "torch_csr": "torch"}
        watches = {k: Stopwatch(m) for k, m in models.items()}
        total: Dict[str, List[float]] = {k: [] for k in VARIANTS}
        linear: Dict[str, List[float]] = {k: [] for k in VARIANTS}
        propagate: Dict[str, List[float]] = {k: [] for k in VARIANTS}
        outputs = {}
        with torch.inference_mode():
            for round_ in range(repeats + 1):  # round 0 warms up
                for name in rotated(VARIANTS, round_):
                    backend.set_backend(paths[name])
                    watch = watches[name]
                    watch.reset()
                    sync(device)
                    start = time.perf_counter()
                    out = models[name](x, edge_index)
                    sync(device)
                    elapsed = time.perf_counter() - start
                    if round_ == 0:
                        outputs[name] = out
                        continue
                    total[name].append(elapsed)
                    linear[name].append(watch.linear)
                    propagate[name].append(watch.propagate)
                    del out
        backend.set_backend("native")
        want = outputs["dense"]
        agree = {k: float((outputs[k].argmax(-1) == want.argmax(-1))
                          .float().mean()) for k in ("sparse", "torch_csr")}
        error = {k: float((outputs[k] - want).abs().max() /
                          want.abs().max().clamp_min(1e-30))
                 for k in ("sparse", "torch_csr")}
        del outputs, want
        med = {k: statistics.median(total[k]) for k in VARIANTS}
        med_linear = {k: statistics.median(linear[k]) for k in VARIANTS}
        med_propagate = {k: statistics.median(propagate[k])
                         for k in VARIANTS}
        results.append({
            "sparsity": sparsity,
            "median_s": med, "linear_s": med_linear,
            "propagate_s": med_propagate,
            "speedup": {k: med["dense"] / med[k] for k in VARIANTS},
            "linear_speedup": {k: med_linear["dense"] / med_linear[k]
                               for k in VARIANTS},
            "linear_share_dense": med_linear["dense"] / med["dense"],
            "propagate_share_dense": med_propagate["dense"] / med["dense"],
            "prediction_agreement": agree,
            "max_relative_error": error,
            "model_bytes": {k: model_bytes(m) for k, m in models.items()},
            "layers": layer_choices(models["sparse"]),
        })
        built.append(models)
    # peak memory, after every timing (it changes how memory is reused)
    released = memory.release_freed_memory()
    with torch.inference_mode():
        for result, models in zip(results, built):
            peaks = {}
            for name in VARIANTS:
                backend.set_backend(
                    "torch" if name == "torch_csr" else "native")
                peaks[name] = memory.peak_extra_bytes(
                    lambda: models[name](x, edge_index), device)
            result["peak_extra_bytes"] = peaks
    backend.set_backend("native")
    return {**case, "nodes": data.num_nodes,
            "edges": data.edge_index.size(1),
            "features": data.num_features, "out_channels": out_channels,
            "repeats": repeats, "memory_exact": released,
            "sparsities": results}


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
                times: Dict[str, List[float]] = {k: [] for k in calls}
                with torch.inference_mode():
                    for round_ in range(repeats + 1):
                        for name, call in rotated(list(calls.items()),
                                                  round_):
                            sync(device)
                            start = time.perf_counter()
                            call()
                            sync(device)
                            if round_:
                                times[name].append(time.perf_counter() -
                                                   start)
                med = {k: statistics.median(v) for k, v in times.items()}
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


def _child(case: Dict[str, Any], args: Any) -> Dict[str, Any]:
    # each case in a fresh process: a fresh heap for the memory peaks
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "case.json"
        command = [sys.executable, "-m", "benchmarks.sparse_inference",
                   "--case", json.dumps(case), "--out", str(out),
                   "--threads", str(args.threads), "--device", args.device,
                   "--repeats", str(repeats_for(case, args.repeats))]
        if args.root:
            command += ["--root", args.root]
        subprocess.run(command, check=True)
        return json.loads(out.read_text())


def repeats_for(case: Dict[str, Any], repeats: int) -> int:
    return max(3, repeats // 3) if case["graph"] == "synthetic-1M" \
        else repeats


def _ms(seconds: float) -> str:
    return f"{1e3 * seconds:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"


def _mb(value: Optional[int], digits: int = 0) -> str:
    return "—" if value is None else f"{value / 2**20:.{digits}f}"


def headline(record: Dict[str, Any]) -> Dict[str, Any]:
    """The GIN case of the README: 0.99 and 0.9."""
    case = next(c for c in record["cases"]
                if all(c[k] == v for k, v in HEADLINE.items()))
    by = {r["sparsity"]: r for r in case["sparsities"]}
    return {"case": case, "0.99": by[0.99], "0.9": by[0.9]}


def _span(values: List[float], digits: int = 1, unit: str = "x") -> str:
    low, high = f"{min(values):.{digits}f}", f"{max(values):.{digits}f}"
    return f"{low}{unit}" if low == high else f"{low}–{high}{unit}"


def in_short(inference: Dict[str, Any]) -> List[str]:
    """The summary bullets of docs/inference.md: the headline case, and per
    graph the ranges over its models at sparsities 0.99 and 0.9."""
    top = headline(inference)
    by = {r["sparsity"]: r for r in top["case"]["sparsities"]}
    lines = [
        f"- PyG's `GIN` ({top['case']['features']} → {top['case']['hidden']}"
        f" → {top['case']['out_channels']}, {top['case']['nodes']:,} nodes, "
        f"{top['case']['edges']:,} edges), where the weights dominate: the "
        f"forward pass is {by[0.99]['speedup']['sparse']:.2f}x faster than "
        f"the dense squash at sparsity 0.99 (linear layers "
        f"{by[0.99]['linear_speedup']['sparse']:.2f}x), "
        f"{by[0.95]['speedup']['sparse']:.2f}x at 0.95 and "
        f"{by[0.9]['speedup']['sparse']:.2f}x at 0.9."]
    graphs = dict.fromkeys(c["graph"] for c in inference["cases"])
    for graph in graphs:
        chosen = [c for c in inference["cases"]
                  if c["graph"] == graph and c is not top["case"]]
        if not chosen:
            continue
        at = {s: [r for c in chosen for r in c["sparsities"]
                  if r["sparsity"] == s] for s in (0.99, 0.9)}
        models = ", ".join(dict.fromkeys(c["model"] for c in chosen))
        shares = [100 * r["propagate_share_dense"] for r in at[0.99]]
        lines.append(
            f"- {graph} ({models}): "
            f"{_span([r['speedup']['sparse'] for r in at[0.99]], 2)} at 0.99 "
            f"(linear layers "
            f"{_span([r['linear_speedup']['sparse'] for r in at[0.99]])}), "
            f"{_span([r['speedup']['sparse'] for r in at[0.9]], 2)} at 0.9; "
            f"message passing takes "
            f"{_span(shares, 0, ' %')} of the dense time.")
    every = [r for c in inference["cases"] for r in c["sparsities"]]
    agree = min(r["prediction_agreement"]["sparse"] for r in every)
    equal = sum(r["prediction_agreement"]["sparse"] == 1.0 for r in every)
    smaller = [r["model_bytes"]["dense"] / r["model_bytes"]["sparse"]
               for r in every if r["sparsity"] == 0.99]
    lines += [
        f"- torch's CSR product in every linear layer: "
        f"{_span([r['speedup']['torch_csr'] for r in every], 2)} over all "
        f"cases.",
        f"- The stored model is {_span(smaller, 0)} smaller at 0.99; the "
        f"activations, and with them the peak memory of a forward pass, do "
        f"not change.",
        f"- Predictions equal the dense squash's on every node in {equal} "
        f"of {len(every)} runs"
        + ("" if agree == 1.0 else f", and on {100 * agree:.4f} % or more "
           f"of the nodes in the other {len(every) - equal} (near-ties: the "
           f"outputs agree to float rounding)")
        + "."]
    return lines


def report(inference: Dict[str, Any], crossover: Dict[str, Any],
           images: Path = DOCS / "images") -> Dict[str, str]:
    """The generated sections: docs/inference.md's and the README's (the
    plot goes to :obj:`images`)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    env = (f"{inference['device']}, {inference['threads']} threads, torch "
           f"{inference['torch']}")
    lines = [f"Generated by `python -m benchmarks.sparse_inference "
             f"--report` from `benchmarks/results/sparse-inference-*.json` "
             f"and `sparse-crossover-*.json`; {env}. Medians of interleaved "
             f"runs in one process per case.", "",
             "### In short", "", *in_short(inference), "",
             "### End to end", "",
             "Forward pass of the squashed ticket, each layer pruned to the "
             "sparsity. *Sparse* is `squash(model, sparse=True)` with the "
             "default crossover; *torch CSR* runs `torch.sparse.mm` in every "
             "linear layer. Speedups are against the dense squash; "
             "*linear* is the share of the dense model's time spent in its "
             "linear layers, *message passing* the share spent in "
             "`propagate` (the rest is activations and bookkeeping). At "
             "sparsity 0.5 no layer is below the crossover, so *sparse* is "
             "the dense model again: its ratio there is this machine's "
             "measurement noise. *Model MB* is the stored parameters and "
             "buffers; *peak extra MB* what one forward pass allocates on "
             "top (the activations, which sparse weights do not shrink), "
             "read from the resident set's high-water mark: it cannot see a "
             "peak that fits in memory the process already holds, hence the "
             "0 of some small Cora models.",
             "",
             "| graph | model | hidden | sparsity | dense | sparse | "
             "torch CSR | linear layers: sparse | linear share | "
             "message passing share | sparse layers | predictions equal | "
             "model MB dense / sparse | peak extra MB dense / sparse / CSR |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | "
             "--- | --- | --- | --- |"]
    for case in inference["cases"]:
        for r in case["sparsities"]:
            sparse_layers = sum(layer["sparse"] for layer in r["layers"])
            peaks = r["peak_extra_bytes"]
            lines.append(
                f"| {case['graph']} | {case['model']} | {case['hidden']} | "
                f"{r['sparsity']} | {_ms(r['median_s']['dense'])} | "
                f"{r['speedup']['sparse']:.2f}x | "
                f"{r['speedup']['torch_csr']:.2f}x | "
                f"{r['linear_speedup']['sparse']:.2f}x | "
                f"{100 * r['linear_share_dense']:.0f} % | "
                f"{100 * r['propagate_share_dense']:.0f} % | "
                f"{sparse_layers}/{len(r['layers'])} | "
                f"{100 * r['prediction_agreement']['sparse']:.2f} % | "
                f"{_mb(r['model_bytes']['dense'], 1)} / "
                f"{_mb(r['model_bytes']['sparse'], 1)} | "
                f"{_mb(peaks['dense'])} / {_mb(peaks['sparse'])} / "
                f"{_mb(peaks['torch_csr'])} |")
    cross = crossover["crossover"]
    lines += ["", "### Crossover", "",
              "The densest weight (share of nonzeros) up to which a single "
              "layer's sparse product is never slower than dense `F.linear` "
              "on the density grid " + ", ".join(map(str, DENSITIES)) +
              " (0 where it is slower at every density):", "",
              "| nodes | layer | native kernel | torch CSR |",
              "| --- | --- | --- | --- |"]
    for key, value in cross["by_layer"].items():
        nodes, shape = key.split(":")
        lines.append(f"| {nodes} | {shape.replace('x', ' → ')} | "
                     f"{value['native']} | {value['torch_csr']} |")
    lines += ["", f"Smallest over the layers of {MIN_ELEMENTS} weights or "
              f"more: native {cross['smallest']['native']}, torch CSR "
              f"{cross['smallest']['torch_csr']}. The library's defaults: "
              f"`NATIVE_MAX_DENSITY = {NATIVE_MAX_DENSITY}`, "
              f"`TORCH_MAX_DENSITY = {TORCH_MAX_DENSITY}`, "
              f"`MIN_ELEMENTS = {MIN_ELEMENTS}`."]

    graphs = [g for g in dict.fromkeys(c["graph"] for c in inference["cases"])]
    fig, axes = plt.subplots(1, len(graphs), figsize=(4 * len(graphs), 3.6),
                             sharey=True)
    for ax, graph in zip(axes, graphs):
        for case in [c for c in inference["cases"] if c["graph"] == graph]:
            xs = [r["sparsity"] for r in case["sparsities"]]
            ax.plot(xs, [r["speedup"]["sparse"] for r in case["sparsities"]],
                    "o-", label=f"{case['model']} {case['hidden']}")
        ax.axhline(1.0, color="grey", lw=0.8)
        ax.set_title(graph)
        ax.set_xlabel("sparsity")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("speedup of sparse=True over dense")
    fig.suptitle(f"squash(model, sparse=True), {env}", fontsize=9)
    fig.tight_layout()
    image = images / f"sparse-inference-{inference['device_kind']}.png"
    image.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(image, dpi=100)
    lines += ["", f"![speedups]({'images/' + image.name})"]

    top = headline(inference)
    case, high, low = top["case"], top["0.99"], top["0.9"]
    readme = (
        f"**Deploying a ticket.** `squash(model, sparse=True)` stores the "
        f"linear weights sparse where that is faster (a measured density "
        f"crossover) and runs them with a native CPU kernel; the model "
        f"gives the dense squash's predictions and runs inference only. "
        f"Built from a ticket file: `squash(load_ticket(model, path), "
        f"sparse=True)`. For PyG's 2-layer `GIN` ({case['features']} → "
        f"{case['hidden']} → {case['out_channels']}) on a "
        f"{case['nodes']:,}-node graph with {case['edges']:,} edges, "
        f"{env}: at sparsity 0.99 the forward pass is "
        f"{high['speedup']['sparse']:.1f}x faster than the dense squash "
        f"({_ms(high['median_s']['sparse'])} against "
        f"{_ms(high['median_s']['dense'])}) and its linear layers "
        f"{high['linear_speedup']['sparse']:.1f}x; at 0.9, "
        f"{low['speedup']['sparse']:.2f}x (torch's CSR product: "
        f"{high['speedup']['torch_csr']:.2f}x and "
        f"{low['speedup']['torch_csr']:.2f}x). All cases and the crossover: "
        f"[docs/inference.md](docs/inference.md) (generated by `python -m "
        f"benchmarks.sparse_inference --report`).")
    return {"inference": "\n".join(lines) + "\n", "readme": readme}


def main(argv: Optional[List[str]] = None) -> None:
    p = cli.parser(__doc__)
    p.add_argument("--root", default=None,
                   help="data root (default: $UGT_DATA, else download)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                   help="where to time (records are per device; --report "
                   "reads the CPU ones)")
    p.add_argument("--repeats", type=int, default=9)
    p.add_argument("--graphs", nargs="+", default=None,
                   help="time only these graphs (e.g. synthetic-20k)")
    p.add_argument("--crossover", action="store_true",
                   help="time single layers over densities instead")
    p.add_argument("--report", action="store_true",
                   help="write docs/inference.md and README from records")
    p.add_argument("--case", default=None, help=argparse.SUPPRESS)
    p.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    device = args.device
    if args.case:
        result = run_case(json.loads(args.case), args.root, args.threads,
                          args.repeats, device)
        Path(args.out).write_text(json.dumps(result))
        return
    meta = {"device": device_name(torch.device(device)),
            "device_kind": device, "threads": args.threads,
            "torch": torch.__version__, "version": __version__}
    if args.report:
        inference = json.loads(
            (RESULTS / "sparse-inference-cpu.json").read_text())
        crossover = json.loads(
            (RESULTS / "sparse-crossover-cpu.json").read_text())
        text = report(inference, crossover)
        replace_section(DOCS / "inference.md", "inference-results",
                        text["inference"])
        replace_section(ROOT / "README.md", "deploying", text["readme"])
        print(text["readme"])
        return
    RESULTS.mkdir(exist_ok=True)
    if args.crossover:
        record = {**meta, "repeats": args.repeats,
                  **time_layers(args.threads, args.repeats, device)}
        write_record(RESULTS / f"sparse-crossover-{device}.json", record)
        print(json.dumps(record["crossover"], indent=1))
        return
    chosen = [c for c in cases()
              if args.graphs is None or c["graph"] in args.graphs]
    done = []
    for case in chosen:
        result = _child(case, args)
        done.append(result)
        for r in result["sparsities"]:
            print(f"{case['graph']} {case['model']} {case['hidden']} "
                  f"s={r['sparsity']}: dense "
                  f"{_ms(r['median_s']['dense'])}, sparse "
                  f"{r['speedup']['sparse']:.2f}x (linear "
                  f"{r['linear_speedup']['sparse']:.2f}x), torch CSR "
                  f"{r['speedup']['torch_csr']:.2f}x", flush=True)
    path = RESULTS / f"sparse-inference-{device}.json"
    if args.graphs is not None and path.exists():  # update those graphs
        old = json.loads(path.read_text())["cases"]
        keep = [c for c in old if c["graph"] not in args.graphs]
        done = keep + done
        order = [(c["graph"], c["model"], c["hidden"]) for c in cases()]
        done.sort(key=lambda c: order.index((c["graph"], c["model"],
                                             c["hidden"])))
    write_record(path, {**meta, "repeats": args.repeats, "cases": done})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
