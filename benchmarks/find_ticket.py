"""Find an untrained ticket on a Planetoid graph and report accuracy,
realised sparsity and time, beside the trained dense model.

    python -m benchmarks.find_ticket --root ../shared/datasets

``--recipe best`` (the default) searches with the settings chosen on
validation accuracy for the model (benchmarks/recipes.py: weight scales,
coats, restarts); ``--recipe paper`` with the paper's protocol.
"""
from __future__ import annotations

import argparse
import json
import time
from typing import Any, Dict, List, Tuple

import torch
from torch_geometric.nn import GCN

from benchmarks import cli
from benchmarks.config import coats_for, default_weight_init
from benchmarks.data import (ADJACENCY_NAMES, PLANETOID, add_adjacency_option,
                             load_planetoid, resolve_adjacency)
from benchmarks.markdown import percent_pm
from benchmarks.recipes import PAPER, RECIPES, label, settings
from benchmarks.train import train_dense
from torch_geometric_ugt import (BestTicket, EdgePopupSparsifier,
                                 GlobalGradualSparsifier, SupermaskSparsifier,
                                 Temperature, restart_seed, score_parameters,
                                 supermask)
from torch_geometric_ugt.search import (SearchResult, full_batch,
                                        search_ticket)


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
    p.add_argument("--weight-init", default="",
                   choices=["", "signed_constant", "kaiming_uniform",
                            "kaiming_normal"],
                   help="init of the frozen weights (default: the "
                   "recipe's, else signed_constant for 2-15 layers, which "
                   "gave the higher validation accuracy, see "
                   "docs/how-it-works)")
    p.add_argument("--recipe", default="best", choices=RECIPES,
                   help="best (default): the settings chosen on validation "
                   "(benchmarks/recipes.py); paper: the paper's protocol")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--no-dense", action="store_true",
                   help="skip the trained dense GCN beside the ticket")
    p.add_argument("--dense-epochs", type=int, default=200)
    add_adjacency_option(p)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--json", default=None, help="write the results here")
    args = p.parse_args(argv)
    args.weight_init = (args.weight_init
                        or settings(args.recipe, "GCN",
                                    args.layers)["weight_init"]
                        or default_weight_init("GCN", args.layers))
    return args


RUNNER_ONLY = ("input_dropout", "iterand", "late_lr", "select_on",
               "dense_attention", "freeze_temperature",
               "attention_dropout", "signs", "edge_dropout",
               "select_by", "score_noise", "coat_ratio")
"""Recipe settings that only :mod:`benchmarks.reproduce` runs: a recipe
using one is refused here rather than silently run without it."""


def plain_gcn(args: argparse.Namespace, data,
              chosen: Dict) -> torch.nn.Module:
    model = GCN(data.num_features, args.hidden, args.layers,
                data.num_classes, bias=False, cached=True,
                dropout=chosen["dropout"])
    return Temperature(model) if chosen["head"] == "temp" else model


def ticket_model(args: argparse.Namespace, data, seed: int,
                 chosen: Dict):
    torch.manual_seed(seed)
    model = supermask(plain_gcn(args, data, chosen), seed=seed,
                      weight_init=args.weight_init,
                      learn_scale=chosen["learn_scale"])
    optimizer = torch.optim.Adam(score_parameters(model), lr=args.lr,
                                 eps=chosen["adam_eps"],
                                 weight_decay=chosen["score_decay"])
    coats = coats_for(chosen["coats"], chosen["coat_width"], args.sparsity)
    extra: Dict[str, Any] = dict(rescale=chosen["rescale"] or None,
                                 coats=coats)
    sparsifier: SupermaskSparsifier
    if args.method == "ugt":
        sparsifier = GlobalGradualSparsifier(model, optimizer,
                                             final_sparsity=args.sparsity,
                                             ramp_epochs=args.ramp, **extra)
    else:
        sparsifier = EdgePopupSparsifier(model, optimizer,
                                         sparsity=args.sparsity, **extra)
    return model, optimizer, sparsifier


def search(args: argparse.Namespace, data, seed: int,
           chosen: Dict) -> Tuple[SearchResult, int]:
    """The recipe's search for one seed: the best of its restarts by
    validation accuracy, and every epoch spent."""
    best = BestTicket()
    for restart in range(chosen["restarts"]):
        model, optimizer, sparsifier = ticket_model(
            args, data, restart_seed(seed, restart), chosen)
        train, evaluate = full_batch(model, data, optimizer,
                                     label_smoothing=chosen["smoothing"])
        result = search_ticket(model, data, optimizer, sparsifier,
                               args.epochs, train=train, evaluate=evaluate,
                               average=chosen["average"])
        best.consider(model, result.val_acc, epochs=result.epochs,
                      result=result)
    return best.info["result"], best.epochs


def dense_model(args: argparse.Namespace, data, seed: int):
    torch.manual_seed(seed)
    model = GCN(data.num_features, args.hidden, args.layers,
                data.num_classes, dropout=0.5, cached=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01,
                                 weight_decay=5e-4)
    return model, optimizer


def _tickets(args, data, chosen: Dict) -> List[Dict]:
    """A ticket per seed, printed as it comes; their records."""
    records = []
    for seed in args.seeds:
        start = time.perf_counter()
        result, spent = search(args, data, seed, chosen)
        total = time.perf_counter() - start
        layers = ", ".join(f"{v:.3f}"
                           for v in result.layer_sparsities.values())
        print(f"  ticket seed {seed}: test {100 * result.test_acc:.2f} "
              f"(val {100 * result.val_acc:.2f}, epoch {result.best_epoch})"
              f", realised sparsity {result.realised_sparsity:.4f} "
              f"[{layers}], {1e3 * result.epoch_time:.1f} ms/epoch, "
              f"{spent} epochs, {total:.1f} s")
        records.append({
            "seed": seed, "test_acc": result.test_acc,
            "val_acc": result.val_acc, "best_epoch": result.best_epoch,
            "realised_sparsity": result.realised_sparsity,
            "layer_sparsities": result.layer_sparsities,
            "epoch_time_s": result.epoch_time, "total_time_s": total,
            "search_epochs": spent,
        })
    print(f"ticket ({args.method}, recipe {args.recipe}, sparsity "
          f"{args.sparsity}): test accuracy "
          f"{percent_pm([r['test_acc'] for r in records])} % over "
          f"{len(records)} seeds")
    return records


def _dense(args, data) -> List[Dict]:
    """The trained dense GCN per seed; their records."""
    records = []
    for seed in args.seeds:
        model, optimizer = dense_model(args, data, seed)
        result = train_dense(model, data, optimizer, args.dense_epochs)
        records.append({"seed": seed, "test_acc": result.test_acc,
                        "val_acc": result.val_acc,
                        "epoch_time_s": result.epoch_time})
    print(f"trained dense GCN (dropout 0.5, weight decay 5e-4, "
          f"{args.dense_epochs} epochs): test accuracy "
          f"{percent_pm([r['test_acc'] for r in records])} %")
    return records


def main(argv: List[str] | None = None) -> Dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    chosen = settings(args.recipe, "GCN", args.layers)
    runner_only = [name for name in RUNNER_ONLY if chosen[name] != PAPER[name]]
    if chosen["head"] not in ("", "temp") or runner_only:
        raise ValueError(f"recipe {args.recipe!r} uses settings of the "
                         f"reproduction runner (head {chosen['head']!r}, "
                         f"{', '.join(runner_only) or 'nothing else'}); "
                         f"run it with python -m benchmarks.reproduce.")
    adjacency = resolve_adjacency(args.adjacency)
    data = load_planetoid(args.dataset, args.root, adjacency=adjacency)
    print(f"{args.dataset}: {data.num_nodes} nodes, adjacency "
          f"{ADJACENCY_NAMES[adjacency]}; GCN "
          f"{args.layers}x{args.hidden}; {args.method} at sparsity "
          f"{args.sparsity}, {args.epochs} epochs (ramp {args.ramp}), "
          f"Adam lr {args.lr}, {args.weight_init} weights; recipe "
          f"{args.recipe} ({label(chosen)})")
    report: Dict = {"config": vars(args),
                    "ticket": _tickets(args, data, chosen),
                    "dense": [] if args.no_dense else _dense(args, data)}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    return report


if __name__ == "__main__":
    main()
