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

import json
import statistics
from pathlib import Path
from typing import Any, Dict, List, Optional

import torch
import torch.nn.functional as F
from torch_geometric.data import Data

from benchmarks import cli
from benchmarks.data import fast_adjacency, load_planetoid
from torch_geometric_ugt.search import graph_input
from benchmarks.models import build
from torch_geometric_ugt import (GlobalGradualSparsifier, score_parameters,
                                 supermask)

ADAM_EPS = 1e-8
FIELDS = ("zero", "median", "below_eps", "below_eps_10")


def first_step_gradients(data: Data, layers: int, hidden: int, seed: int,
                         sparsity: float,
                         weight_init: str) -> List[torch.Tensor]:
    """The ``|grad|`` of every masked weight's scores (flattened) at the
    search's first step."""
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
    grads = []
    for scores in score_parameters(model):
        assert scores.grad is not None  # every score is in the graph
        grads.append(scores.grad.detach().abs().flatten())
    return grads


def summary(grad: torch.Tensor) -> Dict[str, float]:
    """Share of exact zeros (no epsilon moves those), and of the non-zero
    gradients: the median and the shares below :data:`ADAM_EPS` and below
    a tenth of it (where Adam's step is under a tenth of ``lr``)."""
    moving = grad[grad > 0]
    if moving.numel() == 0:
        nan = float("nan")
        return {"zero": 1.0, "median": nan, "below_eps": nan,
                "below_eps_10": nan}
    return {"zero": float((grad == 0).float().mean()),
            "median": float(moving.median()),
            "below_eps": float((moving < ADAM_EPS).float().mean()),
            "below_eps_10": float((moving < ADAM_EPS / 10).float().mean())}


def depth_summary(runs: List[List[torch.Tensor]]) -> Dict[str, Dict]:
    """Mean over seeds of the summaries of all scores pooled, of the first
    layer's and of the middle layer's."""
    parts = {"all": lambda g: torch.cat(g), "first": lambda g: g[0],
             "middle": lambda g: g[len(g) // 2]}
    out: Dict[str, Dict] = {}
    for name, part in parts.items():
        rows = [summary(part(grads)) for grads in runs]
        out[name] = {k: statistics.fmean(r[k] for r in rows) for k in FIELDS}
    return out


def main(argv: Optional[List[str]] = None) -> None:
    p = cli.parser(__doc__)
    p.add_argument("--root", default=None,
                   help="data root (default: $UGT_DATA, else download)")
    p.add_argument("--layers", type=int, nargs="+", default=[2, 8, 16, 32])
    p.add_argument("--hidden", type=int, default=448)
    p.add_argument("--sparsity", type=float, default=0.04)
    p.add_argument("--weight-init", default="kaiming_uniform")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)

    data = load_planetoid("Cora", args.root, adjacency=fast_adjacency())
    record: Dict[str, Any] = {
        "config": {k: v for k, v in vars(args).items()
                   if k not in ("root", "json")},
        "adam_eps": ADAM_EPS, "depths": {}}
    print("Score gradients at the first step (mean over seeds; shares of "
          "the non-zero ones below eps = 1e-8 and below eps / 10):\n"
          "| layers | exact zeros | median non-zero | < eps | < eps/10 | "
          "< eps, first layer | < eps, middle layer |\n"
          "|---|---|---|---|---|---|---|")
    for layers in args.layers:
        runs = [first_step_gradients(data, layers, args.hidden, seed,
                                     args.sparsity, args.weight_init)
                for seed in args.seeds]
        result = depth_summary(runs)
        record["depths"][str(layers)] = result
        a = result["all"]
        print(f"| {layers} | {100 * a['zero']:.0f} % | {a['median']:.1e} | "
              f"{100 * a['below_eps']:.0f} % | "
              f"{100 * a['below_eps_10']:.0f} % | "
              f"{100 * result['first']['below_eps']:.0f} % | "
              f"{100 * result['middle']['below_eps']:.0f} % |", flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
