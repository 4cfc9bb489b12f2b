"""Mini-batch ticket search on OGB node-property datasets with PyG's
``NeighborLoader`` and OGB's ``Evaluator``.

    python -m benchmarks.ogb_node --dataset ogbn-arxiv --root <data root>
    python -m benchmarks.ogb_node --synthetic 100000   # offline stand-in

The library's search loop (the ticket of the best validation epoch); the
masks refresh after every optimizer step (every mini-batch); the
sparsity schedule advances once per epoch, or once per step with
``--schedule-per-step`` (then the ramp is ``--ramp`` epochs' worth of
steps). Model selection by validation accuracy at the final sparsity, as
in the paper's protocol; evaluation samples neighbours like training
(``--eval-fanout -1`` uses all neighbours).
"""
from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F
import torch_geometric.transforms as T
from torch_geometric.data import Data
from torch_geometric.loader import NeighborLoader
from torch_geometric.nn import GraphSAGE

from benchmarks import cli
from benchmarks.records import write_record
from benchmarks.data import load_ogbn
from torch_geometric_ugt import (GlobalGradualSparsifier, __version__,
                                 score_parameters, supermask)
from torch_geometric_ugt.search import search_ticket

RESULTS = Path(__file__).parent / "results" / "ogb-node"


@torch.no_grad()
def evaluate(model: torch.nn.Module, data: Data, nodes: torch.Tensor,
             fanout: List[int], batch_size: int) -> float:
    """Accuracy on ``nodes`` (OGB ``Evaluator`` of ogbn-arxiv: top-1
    accuracy on ``y_true`` / ``y_pred`` columns)."""
    from ogb.nodeproppred import Evaluator
    model.eval()
    loader = NeighborLoader(data, num_neighbors=fanout, input_nodes=nodes,
                            batch_size=batch_size, shuffle=False)
    preds = []
    for batch in loader:
        out = model(batch.x, batch.edge_index)[:batch.batch_size]
        preds.append(out.argmax(dim=-1))
    y_pred = torch.cat(preds).view(-1, 1)
    y_true = data.y[nodes].view(-1, 1)
    return float(Evaluator("ogbn-arxiv").eval(
        {"y_true": y_true, "y_pred": y_pred})["acc"])


def search(data: Data, split: Dict[str, torch.Tensor], *, hidden: int,
           layers: int, sparsity: float, epochs: int, ramp: int,
           batch_size: int, fanout: List[int], eval_fanout: List[int],
           lr: float, seed: int, schedule_per_step: bool = False,
           log: bool = True) -> Dict:
    """The library's search loop (:func:`search_ticket`) over mini-batches:
    the ticket of the epoch with the best validation accuracy."""
    torch.manual_seed(seed)
    model = GraphSAGE(data.num_features, hidden, layers, data.num_classes,
                      bias=False)
    supermask(model, seed=seed)
    optimizer = torch.optim.Adam(score_parameters(model), lr=lr)
    loader = NeighborLoader(data, num_neighbors=fanout,
                            input_nodes=split["train"],
                            batch_size=batch_size, shuffle=True)
    steps_per_epoch = len(loader)
    sparsifier = GlobalGradualSparsifier(
        model, optimizer, final_sparsity=sparsity,
        ramp_epochs=ramp * steps_per_epoch if schedule_per_step else ramp)
    num_weights = sparsifier.num_weights

    def train(epoch: int) -> float:
        model.train()
        total = 0.0
        for step, batch in enumerate(loader, epoch * steps_per_epoch):
            if schedule_per_step:
                sparsifier.step(step)
            optimizer.zero_grad()
            out = model(batch.x, batch.edge_index)[:batch.batch_size]
            loss = F.cross_entropy(out, batch.y[:batch.batch_size])
            loss.backward()
            optimizer.step()  # masks follow the new scores
            total += float(loss.detach())
        return total / steps_per_epoch

    def accuracy() -> List[float]:
        return [evaluate(model, data, split[name], eval_fanout, batch_size)
                for name in ("valid", "test")]
    result = search_ticket(model, data, optimizer, sparsifier, epochs,
                           log_every=1 if log else 0, train=train,
                           evaluate=accuracy,
                           advance_schedule=not schedule_per_step)
    return dict(val_acc=result.val_acc, test_acc=result.test_acc,
                epoch=result.best_epoch,
                realised_sparsity=result.realised_sparsity,
                layer_sparsities=result.layer_sparsities,
                num_weights=num_weights, steps_per_epoch=steps_per_epoch,
                epoch_time_s=result.epoch_time)


def _parser():
    p = cli.parser(__doc__)
    p.add_argument("--dataset", default="ogbn-arxiv")
    p.add_argument("--root", default=None,
                   help="data root (default: $UGT_DATA, else download)")
    p.add_argument("--synthetic", type=int, default=0, metavar="NODES",
                   help="write and use a synthetic ogbn dataset instead")
    p.add_argument("--synthetic-dir", type=Path, default=None)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--sparsity", type=float, default=0.5)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--ramp", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--fanout", type=int, nargs="+", default=[15, 10, 5])
    p.add_argument("--eval-fanout", type=int, nargs="+", default=None)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--schedule-per-step", action="store_true")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", type=Path, default=None,
                   help="JSON record path (default: under "
                        "benchmarks/results/ogb-node)")
    return p


def _data(args):
    """The graph and its split (a synthetic OGB dataset on request)."""
    if args.synthetic:
        from benchmarks.synthetic_ogb import write_synthetic_ogbn
        folder = args.synthetic_dir or Path(tempfile.mkdtemp())
        name = "ogbn-synthetic"
        meta = write_synthetic_ogbn(folder, name, num_nodes=args.synthetic,
                                    seed=args.seed)
        data, split = load_ogbn(name, meta_dict=meta)
    else:
        name = args.dataset
        data, split = load_ogbn(name, args.root)
    return T.ToUndirected()(data), split, name


def main(argv: Optional[List[str]] = None) -> Dict:
    args = _parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if len(args.fanout) != args.layers:
        args.fanout = (args.fanout * args.layers)[:args.layers]
    eval_fanout = args.eval_fanout or args.fanout
    data, split, name = _data(args)
    result = search(data, split, hidden=args.hidden, layers=args.layers,
                    sparsity=args.sparsity, epochs=args.epochs,
                    ramp=args.ramp, batch_size=args.batch_size,
                    fanout=args.fanout, eval_fanout=eval_fanout, lr=args.lr,
                    seed=args.seed,
                    schedule_per_step=args.schedule_per_step)
    expected = round(args.sparsity * result["num_weights"])
    zeros = round(result["realised_sparsity"] * result["num_weights"])
    if zeros != expected:
        raise RuntimeError(f"internal error: {zeros} weights are masked, "
                           f"{expected} were asked for")
    record = dict(result, dataset=name, num_nodes=int(data.num_nodes),
                  num_edges=int(data.num_edges), config=vars(args) | {
                      "out": None, "synthetic_dir": None},
                  library=__version__, torch=torch.__version__,
                  threads=torch.get_num_threads())
    out = args.out or RESULTS / (
        f"{name}-SAGE-L{args.layers}-W{args.hidden}-s{args.sparsity:g}-"
        f"seed{args.seed}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    write_record(out, record)
    print(f"{name}: test {100 * record['test_acc']:.2f} % at best val "
          f"{100 * record['val_acc']:.2f} % (epoch {record['epoch']}), "
          f"realised sparsity {record['realised_sparsity']:.4f}; "
          f"{math.ceil(record['epoch_time_s'] * 1000)} ms per epoch -> "
          f"{out}")
    return record


if __name__ == "__main__":
    main()
