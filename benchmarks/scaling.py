"""How a UGTs search scales, side by side with training the dense model:
step time and peak memory as the graph grows (mini-batch with
``NeighborLoader`` and full-batch) and as the model grows (width, depth).

    python -m benchmarks.scaling run       # benchmarks/results/scaling.json
    python -m benchmarks.scaling report    # docs/scaling.md table + plot

Every configuration runs in its own process (so the peak resident memory
is its own), UGTs and dense one after the other on the same synthetic
graph. Run it alone on the machine: the step times are medians, and the
ratios are only meaningful when nothing else runs.
"""
from __future__ import annotations

import json
import math
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import torch
import torch.nn.functional as F

from benchmarks import cli
from benchmarks.markdown import replace_section
from benchmarks.plotting import pyplot, save
from benchmarks.records import write_record

RESULTS = Path(__file__).parent / "results" / "scaling.json"
DOC = Path(__file__).parent.parent / "docs" / "scaling.md"
PLOT = Path(__file__).parent.parent / "docs" / "images" / "scaling.png"

# (mode, nodes, hidden, layers)
GRAPH_SWEEP = ([("minibatch", n, 128, 2)
                for n in (10_000, 100_000, 1_000_000, 2_000_000)]
               + [("fullbatch", n, 128, 2)
                  for n in (10_000, 100_000, 1_000_000, 2_000_000,
                            4_000_000)])
# The memory of the machine the records come from (for the extrapolation).
MEMORY_MIB = 24 * 1024
# Steps are fewer for the largest full-batch graphs (seconds per step).
FEW_STEPS_FROM = 2_000_000
MODEL_SWEEP = ([("fullbatch", 10_000, w, 2) for w in (64, 256, 1024)]
               + [("fullbatch", 10_000, 256, d) for d in (8, 32)])
FEATURES, CLASSES, DEGREE = 64, 8, 10
BATCH, FANOUT = 1024, 10


def rss_mib() -> float:
    """Peak resident memory of this process so far (Linux: KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _setup(mode: str, nodes: int, hidden: int, layers: int, method: str,
           steps: int):
    """The synthetic graph, the model (masked for UGTs), its optimizer and
    sparsifier, the parameter count and the memory the data took."""
    from torch_geometric.data import Data
    from torch_geometric.nn import GCN, GraphSAGE

    from benchmarks.synthetic_ogb import synthetic_graph
    from torch_geometric_ugt import (GlobalGradualSparsifier,
                                     score_parameters, supermask)
    g = synthetic_graph(nodes, FEATURES, CLASSES, DEGREE, seed=0)
    data = Data(x=torch.from_numpy(g["x"]),
                edge_index=torch.from_numpy(g["edge_index"]),
                y=torch.from_numpy(g["y"]))
    if mode == "fullbatch":
        import torch_geometric.transforms as T
        data = T.ToSparseTensor()(data)
        model = GCN(FEATURES, hidden, layers, CLASSES, bias=False,
                    cached=True)
    else:
        model = GraphSAGE(FEATURES, hidden, layers, CLASSES, bias=False)
    base_mib = rss_mib()
    torch.manual_seed(0)
    params = sum(p.numel() for p in model.parameters())
    sparsifier = None
    if method == "ugt":
        supermask(model, seed=0)
        optimizer = torch.optim.Adam(score_parameters(model), lr=0.01)
        sparsifier = GlobalGradualSparsifier(model, optimizer,
                                             final_sparsity=0.9,
                                             ramp_epochs=steps)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    return data, model, optimizer, sparsifier, params, base_mib


def _batches(mode: str, data, nodes: int, layers: int) -> Iterator[Tuple]:
    """(x, adjacency, y, seed nodes) per step, endlessly: the whole graph
    (full batch) or NeighborLoader's mini-batches."""
    if mode == "fullbatch":
        while True:
            yield data.x, data.adj_t, data.y, nodes
    from torch_geometric.loader import NeighborLoader
    loader = NeighborLoader(data, num_neighbors=[FANOUT] * layers,
                            batch_size=BATCH, shuffle=True)
    while True:
        for b in loader:
            yield b.x, b.edge_index, b.y, b.batch_size


def measure(mode: str, nodes: int, hidden: int, layers: int, method: str,
            steps: int, threads: int) -> Dict:
    """The median time of an optimizer step (mask selection included) and
    the peak memory."""
    torch.set_num_threads(threads)
    data, model, optimizer, sparsifier, params, base_mib = _setup(
        mode, nodes, hidden, layers, method, steps)
    times: List[float] = []
    stream = _batches(mode, data, nodes, layers)
    for step in range(steps + 2):  # two warm-up steps
        x, adj, y, n = next(stream)
        start = time.perf_counter()
        if sparsifier is not None:
            sparsifier.step(step)
        optimizer.zero_grad()
        out = model(x, adj)[:n]
        F.cross_entropy(out, y[:n]).backward()
        optimizer.step()
        if sparsifier is not None:
            sparsifier.refresh()  # time the selection inside the step
        if step >= 2:
            times.append(time.perf_counter() - start)
    step_s = statistics.median(times)
    seeds = nodes if mode == "fullbatch" else BATCH
    return {"mode": mode, "nodes": nodes, "hidden": hidden,
            "layers": layers, "method": method, "params": params,
            "step_s": step_s, "seed_nodes_per_step": seeds,
            "us_per_seed_node": 1e6 * step_s / seeds,
            "peak_rss_mib": rss_mib(), "data_rss_mib": base_mib,
            "threads": threads, "torch": torch.__version__}


def run(steps: int, threads: int, out: Path,
        only: Optional[List[int]] = None) -> None:
    old = (json.loads(out.read_text())["records"] if out.exists() and only
           else [])
    records = [r for r in old if r["nodes"] not in (only or [])]
    for mode, nodes, hidden, layers in GRAPH_SWEEP + MODEL_SWEEP:
        if only and nodes not in only:
            continue
        n_steps = 3 if mode == "fullbatch" and nodes >= FEW_STEPS_FROM \
            else steps
        for method in ("ugt", "dense"):
            cmd = [sys.executable, "-m", "benchmarks.scaling", "one",
                   "--mode", mode, "--nodes", str(nodes), "--hidden",
                   str(hidden), "--layers", str(layers), "--method", method,
                   "--steps", str(n_steps), "--threads", str(threads)]
            line = subprocess.run(cmd, check=True, capture_output=True,
                                  text=True).stdout.strip().splitlines()[-1]
            record = json.loads(line)
            record["steps"] = n_steps
            records.append(record)
            print(f"{mode} N={nodes} {layers}x{hidden} {method}: step "
                  f"{1e3 * record['step_s']:.1f} ms, peak "
                  f"{record['peak_rss_mib']:.0f} MiB", flush=True)
    write_record(out, {"records": records, "steps": steps})


def _slope(xs: List[float], ys: List[float]) -> float:
    """Least-squares slope of ys on xs (with an intercept)."""
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return (sum((a - mx) * (b - my) for a, b in zip(xs, ys))
            / sum((a - mx) ** 2 for a in xs))


def _exponent(xs: List[float], ys: List[float]) -> float:
    """The exponent b of ys ∝ xs^b, by least squares on log-log."""
    return _slope([math.log(x) for x in xs], [math.log(y) for y in ys])


def _growth(pairs: Dict[tuple, Dict[str, Dict]]) -> List[str]:
    """Fitted growth with the number of nodes: step time per mode and
    method, and the full-batch search's memory per node."""
    growth: List[str] = []
    for mode in ("minibatch", "fullbatch"):
        rows = sorted((k[1], v) for k, v in pairs.items()
                      if k[0] == mode and k[2] == 128 and k[3] == 2)
        if len(rows) >= 2:
            for method in ("ugt", "dense"):
                exponent = _exponent([n for n, _ in rows],
                                     [v[method]["step_s"] for _, v in rows])
                growth.append(f"{mode} {method}: step time ∝ N^{exponent:.2f}")
            if mode == "fullbatch":
                per_node = _slope([n for n, _ in rows],
                                  [v["ugt"]["peak_rss_mib"] for _, v in rows])
                last, top = rows[-1]
                fits = last + (MEMORY_MIB - top["ugt"]["peak_rss_mib"]) \
                    / per_node
                growth.append(f"fullbatch ugt: peak memory grows by "
                              f"{per_node * 1024:.1f} KiB per node (so "
                              f"{MEMORY_MIB / 1024:.0f} GiB holds about "
                              f"{fits / 1e6:.1f} million nodes)")
    return growth


def report(path: Path = RESULTS, doc: Path = DOC, plot: Path = PLOT) -> str:
    """Table, fitted growth laws and plot of the records, into docs."""
    records = json.loads(path.read_text())["records"]
    pairs: Dict[tuple, Dict[str, Dict]] = {}
    for r in records:
        key = (r["mode"], r["nodes"], r["hidden"], r["layers"])
        pairs.setdefault(key, {})[r["method"]] = r
    lines = [
        "| mode | nodes | layers x width | parameters | UGTs step | dense "
        "step | UGTs / dense | UGTs µs per seed node | UGTs peak RSS "
        "| dense peak RSS | UGTs − dense peak RSS |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- "
        "| --- |",
    ]
    for (mode, nodes, hidden, layers), pair in sorted(
            pairs.items(), key=lambda kv: (kv[0][0] != "minibatch",
                                           kv[0][2], kv[0][3], kv[0][1])):
        u, d = pair["ugt"], pair["dense"]
        lines.append(
            f"| {mode} | {nodes:,} | {layers}x{hidden} | {u['params']:,} | "
            f"{1e3 * u['step_s']:.1f} ms | {1e3 * d['step_s']:.1f} ms | "
            f"{u['step_s'] / d['step_s']:.2f}x | "
            f"{u['us_per_seed_node']:.2f} | {u['peak_rss_mib']:.0f} MiB | "
            f"{d['peak_rss_mib']:.0f} MiB | "
            f"{u['peak_rss_mib'] - d['peak_rss_mib']:+.0f} MiB |")
    growth = _growth(pairs)
    text = "\n".join(lines) + "\n\nFitted growth with the number of nodes " \
        "N (least squares; exponents on log-log): " + "; ".join(growth) + "."
    smallest = min(nodes for _, nodes, _, _ in pairs)
    models = [(v["ugt"]["params"],
               v["ugt"]["peak_rss_mib"] - v["dense"]["peak_rss_mib"])
              for k, v in pairs.items()
              if k[0] == "fullbatch" and k[1] == smallest]
    if len(models) >= 2:
        per_param = _slope([p for p, _ in models], [m for _, m in models])
        text += (f" Over the model sizes ({len(models)} rows at the "
                 f"smallest graph), the UGTs search needs "
                 f"{per_param * 2 ** 20:.0f} bytes more than dense training "
                 f"per masked weight (least-squares slope of the peak RSS "
                 f"difference on the parameter count).")
    _plot(pairs, plot)
    replace_section(doc, "scaling", text)
    print(text)
    return text


def _plot(pairs: Dict[tuple, Dict[str, Dict]], path: Path) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for mode, style in (("minibatch", "-o"), ("fullbatch", "--s")):
        rows = sorted((k[1], v) for k, v in pairs.items()
                      if k[0] == mode and k[2] == 128 and k[3] == 2)
        for method in ("ugt", "dense"):
            xs = [n for n, _ in rows]
            axes[0].loglog(xs, [1e3 * v[method]["step_s"] for _, v in rows],
                           style, label=f"{mode} {method}")
            axes[1].loglog(xs, [v[method]["peak_rss_mib"] for _, v in rows],
                           style, label=f"{mode} {method}")
    axes[0].set(xlabel="nodes", ylabel="step time (ms)",
                title="step time (2x128, 2 threads)")
    axes[1].set(xlabel="nodes", ylabel="peak RSS (MiB)",
                title="peak resident memory")
    for ax in axes:
        ax.legend(fontsize=7)
    save(fig, path, dpi=110)


def main(argv: Optional[List[str]] = None) -> None:
    p = cli.parser(__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("--steps", type=int, default=10)
    r.add_argument("--threads", type=int, default=2)
    r.add_argument("--out", type=Path, default=RESULTS)
    r.add_argument("--only-nodes", type=int, nargs="+", default=None,
                   help="(re)measure only these graph sizes, keep the rest "
                        "of the record")
    one = sub.add_parser("one")
    one.add_argument("--mode", choices=["minibatch", "fullbatch"],
                     required=True)
    one.add_argument("--nodes", type=int, required=True)
    one.add_argument("--hidden", type=int, default=128)
    one.add_argument("--layers", type=int, default=2)
    one.add_argument("--method", choices=["ugt", "dense"], required=True)
    one.add_argument("--steps", type=int, default=10)
    one.add_argument("--threads", type=int, default=2)
    rep = sub.add_parser("report")
    rep.add_argument("--json", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    if args.command == "run":
        run(args.steps, args.threads, args.out, args.only_nodes)
    elif args.command == "one":
        print(json.dumps(measure(args.mode, args.nodes, args.hidden,
                                 args.layers, args.method, args.steps,
                                 args.threads)))
    else:
        report(args.json)


if __name__ == "__main__":
    main()
