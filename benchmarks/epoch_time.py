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


def main(argv: List[str] | None = None) -> Dict:
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
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    backend.set_backend(args.backend)
    backend.active_backend("cpu")  # build / load the kernel before timing
    # torch-sparse's operators have no fake kernels, so a SparseTensor
    # adjacency cannot be compiled: --compile times edge_index throughout
    adjacency = ("edge_index" if args.compile else
                 resolve_adjacency(args.adjacency))
    data = load_planetoid(args.dataset, args.root, adjacency=adjacency)
    adj = graph_input(data)

    torch.manual_seed(0)
    ticket = GCN(data.num_features, args.hidden, args.layers,
                 data.num_classes, bias=False, cached=True)
    supermask(ticket, seed=0)
    t_opt = torch.optim.Adam(score_parameters(ticket), lr=0.01)
    sparsifier = GlobalGradualSparsifier(ticket, t_opt,
                                         final_sparsity=args.sparsity,
                                         ramp_epochs=args.ramp)
    dense = GCN(data.num_features, args.hidden, args.layers,
                data.num_classes, dropout=0.5, cached=True)
    d_opt = torch.optim.Adam(dense.parameters(), lr=0.01, weight_decay=5e-4)

    twin: Optional[Tuple[Any, torch.optim.Optimizer, Any]] = None
    if args.compile:  # the same search, compiled
        torch.manual_seed(0)
        model = GCN(data.num_features, args.hidden, args.layers,
                    data.num_classes, bias=False, cached=True)
        supermask(model, seed=0)
        c_opt = torch.optim.Adam(score_parameters(model), lr=0.01)
        twin = (torch.compile(model), c_opt,
                GlobalGradualSparsifier(model, c_opt,
                                        final_sparsity=args.sparsity,
                                        ramp_epochs=args.ramp))

    ugt: List[float] = []
    ref: List[float] = []
    compiled: List[float] = []
    masking: List[float] = []
    selections: List[int] = []
    timer = MaskTimer()
    ramp = slice(0, args.ramp)
    rest = slice(args.ramp, args.epochs)
    for epoch in range(args.epochs):
        before, selected = timer.seconds, timer.selections
        start = time.perf_counter()
        with timer:
            ticket_epoch(ticket, data, adj, t_opt, sparsifier, epoch)
        middle = time.perf_counter()
        masking.append(timer.seconds - before)
        selections.append(timer.selections - selected)
        train_step(dense, data, adj, d_opt)
        evaluate(dense, data, adj)
        ugt.append(middle - start)
        ref.append(time.perf_counter() - middle)
        if twin is not None:
            start = time.perf_counter()
            ticket_epoch(twin[0], data, adj, twin[1], twin[2], epoch)
            compiled.append(time.perf_counter() - start)

    def med(xs: List[float]) -> float:
        return statistics.median(xs) * 1e3

    report: Dict[str, Any] = {
        "config": vars(args),
        "adjacency": ADJACENCY_NAMES[adjacency],
        "threshold_backend": backend.active_backend("cpu"),
        "threshold_share": timer.seconds / sum(ugt),
        # During the ramp the protocol selects two mask sets per epoch (new
        # sparsity on the forward pass, final sparsity for the evaluation);
        # after it, one.
        "selections_per_epoch_ramp": statistics.median(selections[ramp]),
        "selections_per_epoch_after_ramp": (
            statistics.median(selections[rest])
            if args.epochs > args.ramp else None),
        "threshold_share_ramp": sum(masking[ramp]) / sum(ugt[ramp]),
        "threshold_share_after_ramp": (sum(masking[rest]) / sum(ugt[rest])
                                       if args.epochs > args.ramp else None),
        "threshold_calls": timer.selections,
        "ugt_ms": med(ugt), "dense_ms": med(ref),
        "ratio": statistics.fmean(ugt) / statistics.fmean(ref),
        "ratio_of_medians": med(ugt) / med(ref),
        "ramp_ratio": med(ugt[ramp]) / med(ref[ramp]),
        "after_ramp_ratio": (med(ugt[rest]) / med(ref[rest])
                             if args.epochs > args.ramp else None),
    }
    if twin is not None:
        # the first epochs compile; the median is of the steady state
        report.update(compiled_ms=med(compiled),
                      compiled_vs_eager=med(compiled) / med(ugt),
                      compile_first_epoch_s=compiled[0])
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
          f"{timer.selections} mask sets selected): "
          f"{100 * report['threshold_share']:.2f} % of the UGTs epoch time "
          f"({100 * report['threshold_share_ramp']:.2f} % during the ramp, "
          f"{100 * (report['threshold_share_after_ramp'] or 0):.2f} % "
          f"after)")
    if twin is not None:
        print(f"  torch.compile: median epoch {report['compiled_ms']:.2f} ms "
              f"vs eager {report['ugt_ms']:.2f} ms (compiled / eager "
              f"{report['compiled_vs_eager']:.3f}; first epoch "
              f"{report['compile_first_epoch_s']:.1f} s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    return report


if __name__ == "__main__":
    main()
