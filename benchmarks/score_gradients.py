"""Score gradients of a ticket search at its first step, per depth.

    python -m benchmarks.score_gradients --root ../shared/datasets \\
        --json benchmarks/results/score-gradients.json

Adam divides a gradient ``g`` by ``sqrt(v) + eps``: when ``|g|`` is far
below ``eps`` the step shrinks from about ``lr`` to about
``lr * |g| / eps``. This measures, for GCNs of growing depth on Cora (the
reproduction suite's deep setting: width 448, Kaiming-uniform weights,
sparsity 0.04, first step of the ramp), the magnitude of the scores'
gradients and the share of them below Adam's default ``eps = 1e-8``.
"""
from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F

from benchmarks.data import graph_input, has_torch_sparse, load_planetoid
from benchmarks.models import build
from torch_geometric_ugt import (GlobalGradualSparsifier, score_parameters,
                                 supermask)

ADAM_EPS = 1e-8


def first_step_gradients(data, layers: int, hidden: int, seed: int,
                         sparsity: float, weight_init: str) -> List[Dict]:
    """Per masked weight, at the search's first step: the mean ``|grad|``
    of its scores, the share of exact zeros, and the median of the non-zero
    ``|grad|`` and their share below :data:`ADAM_EPS`."""
    torch.manual_seed(seed)
    model = build("GCN", data.num_features, hidden, layers,
                  data.num_classes, dense=False)
    supermask(model, seed=seed, weight_init=weight_init)
    optimizer = torch.optim.Adam(score_parameters(model))
    sparsifier = GlobalGradualSparsifier(model, optimizer,
                                         final_sparsity=sparsity,
                                         ramp_epochs=200)
    sparsifier.step(0)
    out = model(data.x, graph_input(data))
    F.cross_entropy(out[data.train_mask], data.y[data.train_mask]).backward()
    rows = []
    for scores in score_parameters(model):
        assert scores.grad is not None  # every score is in the graph
        g = scores.grad.abs().flatten()
        moving = g[g > 0]  # exact zeros (e.g. unused input features) stay
        rows.append({"mean": float(g.mean()),
                     "median": float(moving.median()),
                     "zero": float((g == 0).float().mean()),
                     "below_eps": float((moving < ADAM_EPS).float().mean())})
    return rows


def main(argv: Optional[List[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--root", default=None,
                   help="data root (default: $UGT_DATA, else download)")
    p.add_argument("--layers", type=int, nargs="+", default=[2, 8, 16, 32])
    p.add_argument("--hidden", type=int, default=448)
    p.add_argument("--sparsity", type=float, default=0.04)
    p.add_argument("--weight-init", default="kaiming_uniform")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)

    data = load_planetoid("Cora", args.root, sparse=has_torch_sparse())
    record: Dict = {"config": {k: v for k, v in vars(args).items()
                               if k not in ("root", "json")},
                    "adam_eps": ADAM_EPS, "depths": {}}
    print("Non-zero score gradients at the first step, mean over seeds:\n"
          "| layers | median | below 1e-8: first layer | middle layer | "
          "all layers |\n|---|---|---|---|---|")
    for layers in args.layers:
        runs = [first_step_gradients(data, layers, args.hidden, seed,
                                     args.sparsity, args.weight_init)
                for seed in args.seeds]
        # per layer, mean over seeds
        per_layer = [{k: statistics.fmean(run[i][k] for run in runs)
                      for k in ("mean", "median", "zero", "below_eps")}
                     for i in range(layers)]
        below = statistics.fmean(row["below_eps"] for row in per_layer)
        median = statistics.median(row["median"] for row in per_layer)
        record["depths"][str(layers)] = {"per_layer": per_layer,
                                         "below_eps": below,
                                         "median": median}
        print(f"| {layers} | {median:.1e} | "
              f"{100 * per_layer[0]['below_eps']:.0f} % | "
              f"{100 * per_layer[layers // 2]['below_eps']:.0f} % | "
              f"{100 * below:.0f} % |", flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
