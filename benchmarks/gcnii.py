"""A ticket in a deep GCNII (GCN2Conv, its intended use): a 16-layer GCNII
on Cora, searched at a sparsity, beside the same architecture trained.
Writes ``--out`` (default benchmarks/results/gcnii.json; one entry per
seed and method) and prints mean ± std of test accuracy at the best
validation epoch. The committed records (``--report`` writes their table
into docs/api.md):

    python -m benchmarks.gcnii --root ../shared/datasets --methods ugt \
        --temperature --rescale global --hidden 256 --lr 0.05 --epochs 200
    python -m benchmarks.gcnii --root ../shared/datasets --methods dense \
        --out benchmarks/results/gcnii-dense.json
    python -m benchmarks.gcnii --root ../shared/datasets --methods dense \
        --hidden 256 --out benchmarks/results/gcnii-dense-h256.json

and the search-setting probes on seed 0, chosen on validation accuracy
(``--seeds 0 --epochs 200 --out benchmarks/results/gcnii-probes/<name>``).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List

import torch
import torch.nn.functional as F
from torch_geometric.nn import GCN2Conv

from benchmarks import cli
from benchmarks.records import write_record
from benchmarks.data import load_planetoid
from benchmarks.markdown import percent_pm, replace_section
from benchmarks.train import train_dense
from torch_geometric_ugt import (GlobalGradualSparsifier, Temperature,
                                 score_parameters, supermask)
from torch_geometric_ugt.search import search_ticket

RESULTS = Path(__file__).parent / "results" / "gcnii.json"
PROBES = RESULTS.parent / "gcnii-probes"
DOC = Path(__file__).parent.parent / "docs" / "api.md"


class GCNII(torch.nn.Module):
    """PyG's GCNII example: a linear map in, ``layers`` GCN2Conv layers
    with initial residual (alpha) and identity mapping (theta), a linear
    map out, dropout between."""

    def __init__(self, in_channels: int, hidden: int, out_channels: int,
                 layers: int, alpha: float = 0.1, theta: float = 0.5,
                 dropout: float = 0.6) -> None:
        super().__init__()
        self.lin_in = torch.nn.Linear(in_channels, hidden)
        self.convs = torch.nn.ModuleList(
            GCN2Conv(hidden, alpha, theta, layer + 1, cached=True)
            for layer in range(layers))
        self.lin_out = torch.nn.Linear(hidden, out_channels)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        x = F.dropout(x, self.dropout, training=self.training)
        x = x_0 = self.lin_in(x).relu()
        for conv in self.convs:
            x = F.dropout(x, self.dropout, training=self.training)
            x = conv(x, x_0, adj).relu()
        x = F.dropout(x, self.dropout, training=self.training)
        return self.lin_out(x)


def run(data, method: str, seed: int, args) -> Dict[str, float]:
    torch.manual_seed(seed)
    dropout = 0.6 if method == "dense" else args.search_dropout
    model: torch.nn.Module = GCNII(data.num_features, args.hidden,
                                   data.num_classes, args.layers,
                                   dropout=dropout)
    if method == "dense":
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr,
                                     weight_decay=5e-4)
        result = train_dense(model, data, optimizer, args.epochs)
    else:
        if args.temperature:
            model = Temperature(model)
        supermask(model, seed=seed, weight_init="signed_constant")
        optimizer = torch.optim.Adam(score_parameters(model), lr=args.lr)
        sparsifier = GlobalGradualSparsifier(
            model, optimizer, final_sparsity=args.sparsity,
            ramp_epochs=args.epochs // 2, rescale=args.rescale)
        result = search_ticket(model, data, optimizer, sparsifier,
                               args.epochs)
    return {"method": method, "seed": seed, "val_acc": result.val_acc,
            "test_acc": result.test_acc, "layers": args.layers,
            "hidden": args.hidden, "epochs": args.epochs, "lr": args.lr,
            "sparsity": args.sparsity if method == "ugt" else 0.0,
            "search": {"dropout": args.search_dropout,
                       "temperature": args.temperature,
                       "rescale": args.rescale}}


def _setting(row: Dict) -> str:
    search = row.get("search", {})
    parts = [f"hidden {row['hidden']}", f"{row['epochs']} epochs",
             f"lr {row['lr']:g}" if "lr" in row else "lr not recorded"]
    if row["method"] == "ugt":
        parts += [f"sparsity {row['sparsity']:g}"]
        if "search" not in row:  # the first records: see the file name
            parts += ["search settings not recorded"]
        parts += ["learned temperature"] if search.get("temperature") else []
        parts += ([f"rescale {search['rescale']}"] if search.get("rescale")
                  else [])
        parts += ([f"dropout {search['dropout']:g}"] if search.get("dropout")
                  else [])
    return ", ".join(parts)


def report(doc: Path = DOC, folder: Path = RESULTS.parent) -> str:
    """The records' table (the tickets and trained models over their seeds,
    then every probe) into :obj:`doc`'s ``gcnii`` section."""
    lines = ["| records | method | setting | seeds | val acc | test acc |",
             "| --- | --- | --- | --- | --- | --- |"]
    files = sorted(folder.glob("gcnii*.json"))
    files += sorted((folder / PROBES.name).glob("*.json"))
    for path in files:
        rows = json.loads(path.read_text())
        for method in dict.fromkeys(r["method"] for r in rows):
            mine = [r for r in rows if r["method"] == method]
            name = path.relative_to(folder.parent).as_posix()
            lines.append(
                f"| `{name}` | {method} | {_setting(mine[0])} | "
                f"{len(mine)} | {percent_pm([r['val_acc'] for r in mine])} "
                f"| {percent_pm([r['test_acc'] for r in mine])} |")
    text = ("Generated by `python -m benchmarks.gcnii --report` "
            "(accuracy in %, mean ± std over the seeds; the probes ran seed "
            "0 only and chose the ticket's setting on validation accuracy)."
            "\n\n" + "\n".join(lines))
    replace_section(doc, "gcnii", text)
    return text


def main(argv: List[str] | None = None) -> None:
    p = cli.parser(__doc__)
    p.add_argument("--root", default=None)
    p.add_argument("--dataset", default="Cora")
    p.add_argument("--layers", type=int, default=16)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--epochs", type=int, default=400)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--sparsity", type=float, default=0.5)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--search-dropout", type=float, default=0.0,
                   help="dropout of the ticket search (the trained model "
                   "keeps GCNII's 0.6)")
    p.add_argument("--temperature", action="store_true",
                   help="search with a learned output temperature")
    p.add_argument("--rescale", choices=["global", "layer"], default=None)
    p.add_argument("--methods", nargs="+", default=["ugt", "dense"],
                   choices=["ugt", "dense"])
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--report", action="store_true",
                   help="write the records' table into docs/api.md")
    args = p.parse_args(argv)
    if args.report:
        print(report())
        return
    data = load_planetoid(args.dataset, args.root, adjacency="sparse_tensor")
    rows = [run(data, method, seed, args)
            for method in args.methods for seed in args.seeds]
    write_record(args.out, rows)
    for method in args.methods:
        acc = [r["test_acc"] for r in rows if r["method"] == method]
        val = [r["val_acc"] for r in rows if r["method"] == method]
        print(f"{method}: test {percent_pm(acc)} (val {percent_pm(val)})")


if __name__ == "__main__":
    main()
