"""Per-epoch wall time of a UGTs ticket search vs training the same dense
GCN, measured side by side in one process (epochs interleaved).

    python -m benchmarks.epoch_time --root ../shared/datasets
    python -m benchmarks.epoch_time --root ../shared/datasets --compile

With ``--compile`` a second, identical search runs under
``torch.compile`` (the model compiled, the sparsifier as usual), its
epochs interleaved with the eager ones, and the compiled / eager ratio is
reported too (with an ``edge_index`` adjacency throughout, since
torch-sparse's operators cannot be compiled).
"""
from __future__ import annotations

import json
import statistics
import time
from typing import Any, Dict, List, Optional, Tuple

import torch
from torch_geometric.nn import GCN

from benchmarks import cli
from benchmarks.data import (ADJACENCY_NAMES, add_adjacency_option,
                             load_planetoid, resolve_adjacency)
from torch_geometric_ugt import (GlobalGradualSparsifier, SupermaskSparsifier,
                                 backend, score_parameters, supermask)
from torch_geometric_ugt.search import (evaluate, graph_input, ticket_epoch,
                                        train_step)


class MaskTimer:
    """Accumulates the wall time of every mask selection (thresholding)
    and counts them (a ramp epoch selects two mask sets: the epoch's
    sparsity for training, the final one for the evaluation)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.selections = 0
        self._select = SupermaskSparsifier._select

    def __enter__(self) -> "MaskTimer":
        timer = self

        def timed(sparsifier):
            start = time.perf_counter()
            timer._select(sparsifier)
            timer.seconds += time.perf_counter() - start
            timer.selections += 1

        SupermaskSparsifier._select = timed  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc) -> None:
        SupermaskSparsifier._select = self._select  # type: ignore


def _parser():
    p = cli.parser(__doc__)
    p.add_argument("--root", default=None)
    p.add_argument("--dataset", default="Cora")
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--epochs", type=int, default=400)
    p.add_argument("--ramp", type=int, default=200)
    p.add_argument("--sparsity", type=float, default=0.9)
    p.add_argument("--threads", type=int, default=2)
    add_adjacency_option(p)
    p.add_argument("--backend", default="auto",
                   choices=list(backend.BACKENDS))
    p.add_argument("--compile", action="store_true",
                   help="also time the search under torch.compile")
    p.add_argument("--json", default=None)
    return p


def _search(args, data) -> Tuple[Any, torch.optim.Optimizer, Any]:
    """A seeded UGTs search: the model, its optimizer and sparsifier."""
    torch.manual_seed(0)
    model = GCN(data.num_features, args.hidden, args.layers,
                data.num_classes, bias=False, cached=True)
    supermask(model, seed=0)
    opt = torch.optim.Adam(score_parameters(model), lr=0.01)
    return model, opt, GlobalGradualSparsifier(
        model, opt, final_sparsity=args.sparsity, ramp_epochs=args.ramp)


def _time_epochs(args, data, timer: MaskTimer) -> Dict[str, List[float]]:
    """Interleaved epochs of the search, the dense training (and the
    compiled search): the time of each, and the masks' share."""
    adj = graph_input(data)
    ticket, t_opt, sparsifier = _search(args, data)
    dense = GCN(data.num_features, args.hidden, args.layers,
                data.num_classes, dropout=0.5, cached=True)
    d_opt = torch.optim.Adam(dense.parameters(), lr=0.01, weight_decay=5e-4)
    twin: Optional[Tuple[Any, torch.optim.Optimizer, Any]] = None
    if args.compile:  # the same search, compiled
        model, c_opt, c_sparsifier = _search(args, data)
        twin = (torch.compile(model), c_opt, c_sparsifier)
    times: Dict[str, List[float]] = {
        "ugt": [], "dense": [], "compiled": [], "masking": [],
        "selections": []}
    for epoch in range(args.epochs):
        before, selected = timer.seconds, timer.selections
        start = time.perf_counter()
        with timer:
            ticket_epoch(ticket, data, adj, t_opt, sparsifier, epoch)
        middle = time.perf_counter()
        times["masking"].append(timer.seconds - before)
        times["selections"].append(timer.selections - selected)
        train_step(dense, data, adj, d_opt)
        evaluate(dense, data, adj)
        times["ugt"].append(middle - start)
        times["dense"].append(time.perf_counter() - middle)
        if twin is not None:
            start = time.perf_counter()
            ticket_epoch(twin[0], data, adj, twin[1], twin[2], epoch)
            times["compiled"].append(time.perf_counter() - start)
    return times


def _med(xs: List[float]) -> float:
    return statistics.median(xs) * 1e3


def _summary(args, times: Dict[str, List[float]],
             timer: MaskTimer) -> Dict[str, Any]:
    ugt, ref, masking = times["ugt"], times["dense"], times["masking"]
    ramp, rest = slice(0, args.ramp), slice(args.ramp, args.epochs)
    after = args.epochs > args.ramp
    report: Dict[str, Any] = {
        "threshold_share": timer.seconds / sum(ugt),
        # During the ramp the protocol selects two mask sets per epoch (new
        # sparsity on the forward pass, final sparsity for the evaluation);
        # after it, one.
        "selections_per_epoch_ramp": statistics.median(
            times["selections"][ramp]),
        "selections_per_epoch_after_ramp": (
            statistics.median(times["selections"][rest]) if after else None),
        "threshold_share_ramp": sum(masking[ramp]) / sum(ugt[ramp]),
        "threshold_share_after_ramp": (sum(masking[rest]) / sum(ugt[rest])
                                       if after else None),
        "threshold_calls": timer.selections,
        "ugt_ms": _med(ugt), "dense_ms": _med(ref),
        "ratio": statistics.fmean(ugt) / statistics.fmean(ref),
        "ratio_of_medians": _med(ugt) / _med(ref),
        "ramp_ratio": _med(ugt[ramp]) / _med(ref[ramp]),
        "after_ramp_ratio": (_med(ugt[rest]) / _med(ref[rest])
                             if after else None),
    }
    compiled = times["compiled"]
    if compiled:
        # the first epochs compile; the median is of the steady state
        report.update(compiled_ms=_med(compiled),
                      compiled_vs_eager=_med(compiled) / _med(ugt),
                      compile_first_epoch_s=compiled[0])
    return report


def _print(args, report: Dict[str, Any]) -> None:
    print(f"{args.dataset} GCN {args.layers}x{args.hidden}, "
          f"{report['adjacency']}, {args.threads} threads, {args.epochs} "
          f"interleaved epochs (train + eval each):")
    print(f"  median epoch: UGTs {report['ugt_ms']:.2f} ms, dense "
          f"{report['dense_ms']:.2f} ms; ratio of medians "
          f"{report['ratio_of_medians']:.3f}, ratio of total time "
          f"{report['ratio']:.3f} (during ramp {report['ramp_ratio']:.3f}"
          + (f", after {report['after_ramp_ratio']:.3f})"
             if report["after_ramp_ratio"] is not None else ")"))
    print(f"  thresholding ({report['threshold_backend']} backend, "
          f"{report['threshold_calls']} mask sets selected): "
          f"{100 * report['threshold_share']:.2f} % of the UGTs epoch time "
          f"({100 * report['threshold_share_ramp']:.2f} % during the ramp, "
          f"{100 * (report['threshold_share_after_ramp'] or 0):.2f} % "
          f"after)")
    if "compiled_ms" in report:
        print(f"  torch.compile: median epoch {report['compiled_ms']:.2f} ms "
              f"vs eager {report['ugt_ms']:.2f} ms (compiled / eager "
              f"{report['compiled_vs_eager']:.3f}; first epoch "
              f"{report['compile_first_epoch_s']:.1f} s)")


def main(argv: List[str] | None = None) -> Dict:
    args = _parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    backend.set_backend(args.backend)
    backend.active_backend("cpu")  # build / load the kernel before timing
    # torch-sparse's operators have no fake kernels, so a SparseTensor
    # adjacency cannot be compiled: --compile times edge_index throughout
    adjacency = ("edge_index" if args.compile else
                 resolve_adjacency(args.adjacency))
    data = load_planetoid(args.dataset, args.root, adjacency=adjacency)
    timer = MaskTimer()
    times = _time_epochs(args, data, timer)
    report: Dict[str, Any] = {
        "config": vars(args),
        "adjacency": ADJACENCY_NAMES[adjacency],
        "threshold_backend": backend.active_backend("cpu"),
        **_summary(args, times, timer)}
    _print(args, report)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    return report


if __name__ == "__main__":
    main()
