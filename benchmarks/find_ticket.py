"""Find an untrained ticket on a Planetoid graph and report accuracy,
realised sparsity and time, beside the trained dense model.

    python -m benchmarks.find_ticket --root ../shared/datasets
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Dict, List

import torch
from torch_geometric.nn import GCN

from benchmarks import cli
from benchmarks.data import (ADJACENCY_NAMES, PLANETOID, add_adjacency_option,
                             load_planetoid, resolve_adjacency)
from benchmarks.train import train_dense
from torch_geometric_ugt.search import SearchResult, search_ticket
from torch_geometric_ugt import (EdgePopupSparsifier, GlobalGradualSparsifier,
                                 SupermaskSparsifier, score_parameters,
                                 supermask)


def parse_args(argv: List[str] | None = None) -> argparse.Namespace:
    p = cli.parser(__doc__)
    p.add_argument("--root", default=None,
                   help="data root holding planetoid/<name>/raw (default: "
                   "$UGT_DATA; without either, download)")
    p.add_argument("--dataset", default="Cora", choices=PLANETOID)
    p.add_argument("--method", default="ugt", choices=["ugt", "edge-popup"])
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--sparsity", type=float, default=0.9)
    p.add_argument("--epochs", type=int, default=400)
    p.add_argument("--ramp", type=int, default=200)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--weight-init", default="signed_constant",
                   choices=["signed_constant", "kaiming_uniform",
                            "kaiming_normal"],
                   help="init of the frozen weights (signed_constant gave "
                   "the higher validation accuracy, see docs/how-it-works)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--no-dense", action="store_true",
                   help="skip the trained dense GCN beside the ticket")
    p.add_argument("--dense-epochs", type=int, default=200)
    add_adjacency_option(p)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--json", default=None, help="write the results here")
    return p.parse_args(argv)


def ticket_model(args: argparse.Namespace, data, seed: int):
    torch.manual_seed(seed)
    model = GCN(data.num_features, args.hidden, args.layers,
                data.num_classes, bias=False, cached=True)
    supermask(model, seed=seed, weight_init=args.weight_init)
    optimizer = torch.optim.Adam(score_parameters(model), lr=args.lr)
    sparsifier: SupermaskSparsifier
    if args.method == "ugt":
        sparsifier = GlobalGradualSparsifier(model, optimizer,
                                             final_sparsity=args.sparsity,
                                             ramp_epochs=args.ramp)
    else:
        sparsifier = EdgePopupSparsifier(model, optimizer,
                                         sparsity=args.sparsity)
    return model, optimizer, sparsifier


def dense_model(args: argparse.Namespace, data, seed: int):
    torch.manual_seed(seed)
    model = GCN(data.num_features, args.hidden, args.layers,
                data.num_classes, dropout=0.5, cached=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01,
                                 weight_decay=5e-4)
    return model, optimizer


def summary(values: List[float]) -> str:
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * mean:.2f} ± {100 * std:.2f}"


def main(argv: List[str] | None = None) -> Dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    adjacency = resolve_adjacency(args.adjacency)
    data = load_planetoid(args.dataset, args.root, adjacency=adjacency)
    print(f"{args.dataset}: {data.num_nodes} nodes, adjacency "
          f"{ADJACENCY_NAMES[adjacency]}; GCN "
          f"{args.layers}x{args.hidden}; {args.method} at sparsity "
          f"{args.sparsity}, {args.epochs} epochs (ramp {args.ramp}), "
          f"Adam lr {args.lr}, {args.weight_init} weights")
    report: Dict = {"config": vars(args), "ticket": [], "dense": []}
    tickets: List[SearchResult] = []
    for seed in args.seeds:
        start = time.perf_counter()
        model, optimizer, sparsifier = ticket_model(args, data, seed)
        result = search_ticket(model, data, optimizer, sparsifier,
                               args.epochs)
        total = time.perf_counter() - start
        tickets.append(result)
        layers = ", ".join(f"{v:.3f}"
                           for v in result.layer_sparsities.values())
        print(f"  ticket seed {seed}: test {100 * result.test_acc:.2f} "
              f"(val {100 * result.val_acc:.2f}, epoch {result.best_epoch})"
              f", realised sparsity {result.realised_sparsity:.4f} "
              f"[{layers}], {1e3 * result.epoch_time:.1f} ms/epoch, "
              f"{total:.1f} s")
        report["ticket"].append({
            "seed": seed, "test_acc": result.test_acc,
            "val_acc": result.val_acc, "best_epoch": result.best_epoch,
            "realised_sparsity": result.realised_sparsity,
            "layer_sparsities": result.layer_sparsities,
            "epoch_time_s": result.epoch_time, "total_time_s": total,
        })
    print(f"ticket ({args.method}, sparsity {args.sparsity}): test accuracy "
          f"{summary([r.test_acc for r in tickets])} % over "
          f"{len(tickets)} seeds")
    if not args.no_dense:
        dense: List[SearchResult] = []
        for seed in args.seeds:
            model, optimizer = dense_model(args, data, seed)
            result = train_dense(model, data, optimizer, args.dense_epochs)
            dense.append(result)
            report["dense"].append({
                "seed": seed, "test_acc": result.test_acc,
                "val_acc": result.val_acc,
                "epoch_time_s": result.epoch_time
            })
        print(f"trained dense GCN (dropout 0.5, weight decay 5e-4, "
              f"{args.dense_epochs} epochs): test accuracy "
              f"{summary([r.test_acc for r in dense])} %")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    return report


if __name__ == "__main__":
    main()
