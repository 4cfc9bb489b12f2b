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
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional, TypeVar

import torch
from torch_geometric.data import Data
from torch_geometric.nn import GIN

from benchmarks import cli, memory
from benchmarks.data import load_planetoid
from benchmarks.markdown import replace_section
from benchmarks.models import MODELS, build
from benchmarks.records import device_name, write_record
from torch_geometric_ugt import (EdgePopupSparsifier, __version__, backend,
                                 supermask)

from benchmarks.sparse_crossover import time_layers
from benchmarks.sparse_inference_report import (DOCS, HEADLINE,
                                                ms, report)
from benchmarks.sparse_timing import (peaks, summarise,
                                      time_variants, variants)

ROOT = Path(__file__).parent.parent
RESULTS = ROOT / "benchmarks" / "results"
SPARSITIES = (0.5, 0.9, 0.95, 0.99)
SYNTHETIC = {  # nodes, features, edges per node, classes
    "synthetic-1M": (1_000_000, 256, 2, 16),
    "synthetic-20k": (20_000, 512, 2, 1024),
}
T = TypeVar("T")
PYG_GIN = "PyG-GIN"  # torch_geometric.nn.GIN: a 2-layer MLP in every layer


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


def run_case(case: Dict[str, Any], root: Optional[str], threads: int,
             repeats: int, device: str = "cpu") -> Dict[str, Any]:
    """Times one (graph, model, hidden) at every sparsity; then measures
    the peak memory of one forward pass of each variant."""
    torch.set_num_threads(threads)
    backend.set_backend("native")
    data = load_graph(case["graph"], root).to(device)
    inputs = (data.x, data.edge_index)
    results, built = [], []
    for sparsity in SPARSITIES:
        ticket = supermask(build_model(case["model"], data.num_features,
                                       case["hidden"], data.num_classes),
                           seed=0).to(device)
        EdgePopupSparsifier(ticket, sparsity=sparsity)
        models = variants(ticket)
        medians, outputs = time_variants(models, inputs, repeats, device)
        results.append(summarise(sparsity, models, medians, outputs))
        del outputs
        built.append(models)
    # peak memory, after every timing (it changes how memory is reused)
    released = memory.release_freed_memory()
    for result, models in zip(results, built):
        result["peak_extra_bytes"] = peaks(models, inputs, device)
    return {**case, "nodes": data.num_nodes,
            "edges": data.edge_index.size(1),
            "features": data.num_features, "out_channels": data.num_classes,
            "repeats": repeats, "memory_exact": released,
            "sparsities": results}


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


def _parser():
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
    return p


def _write_report() -> None:
    inference = json.loads(
        (RESULTS / "sparse-inference-cpu.json").read_text())
    crossover = json.loads(
        (RESULTS / "sparse-crossover-cpu.json").read_text())
    text = report(inference, crossover)
    replace_section(DOCS / "inference.md", "inference-results",
                    text["inference"])
    replace_section(ROOT / "README.md", "deploying", text["readme"])
    print(text["readme"])


def _time_cases(args, meta: Dict[str, Any]) -> None:
    """Times every case (of :obj:`args.graphs`), each in a child process,
    and writes the record (replacing only those graphs' cases)."""
    chosen = [c for c in cases()
              if args.graphs is None or c["graph"] in args.graphs]
    done = []
    for case in chosen:
        result = _child(case, args)
        done.append(result)
        for r in result["sparsities"]:
            print(f"{case['graph']} {case['model']} {case['hidden']} "
                  f"s={r['sparsity']}: dense "
                  f"{ms(r['median_s']['dense'])}, sparse "
                  f"{r['speedup']['sparse']:.2f}x (linear "
                  f"{r['linear_speedup']['sparse']:.2f}x), torch CSR "
                  f"{r['speedup']['torch_csr']:.2f}x", flush=True)
    path = RESULTS / f"sparse-inference-{args.device}.json"
    if args.graphs is not None and path.exists():  # update those graphs
        old = json.loads(path.read_text())["cases"]
        keep = [c for c in old if c["graph"] not in args.graphs]
        done = keep + done
        order = [(c["graph"], c["model"], c["hidden"]) for c in cases()]
        done.sort(key=lambda c: order.index((c["graph"], c["model"],
                                             c["hidden"])))
    write_record(path, {**meta, "repeats": args.repeats, "cases": done})
    print(f"wrote {path}")


def main(argv: Optional[List[str]] = None) -> None:
    args = _parser().parse_args(argv)
    device = args.device
    if args.case:
        result = run_case(json.loads(args.case), args.root, args.threads,
                          args.repeats, device)
        Path(args.out).write_text(json.dumps(result))
        return
    if args.report:
        _write_report()
        return
    meta = {"device": device_name(torch.device(device)),
            "device_kind": device, "threads": args.threads,
            "torch": torch.__version__, "version": __version__}
    RESULTS.mkdir(exist_ok=True)
    if args.crossover:
        record = {**meta, "repeats": args.repeats,
                  **time_layers(args.threads, args.repeats, device)}
        write_record(RESULTS / f"sparse-crossover-{device}.json", record)
        print(json.dumps(record["crossover"], indent=1))
        return
    _time_cases(args, meta)


if __name__ == "__main__":
    main()
