"""Paper Table 3: GCN (width 448, depth 3) tickets on a heterophilous graph
(Texas) and on molecule property prediction (ogbg-molbace, ogbg-molhiv),
UGTs over the sparsity row beside the trained dense model.

    python -m benchmarks.table3 run texas --root ../shared/datasets
    python -m benchmarks.table3 run molbace --root ../shared/datasets
    python -m benchmarks.table3 majority --root ../shared/datasets  # Texas
    python -m benchmarks.reproduction_report   # Table 3 in docs/reproduction.md

Texas: the 10 WebKB splits (48 / 32 / 20 %); seed ``i`` uses split ``i``.
``--split K`` runs every seed on split ``K`` instead, as the authors' data
loader does for its first ten runs (run ``r`` takes split ``r // 10``);
those records have their own keys and section.
Molecules: OGB scaffold split, ``AtomEncoder`` embeddings (masked too: the
whole network stays untrained), 3 GCN layers, mean pooling, a linear head,
mini-batches of 32 graphs, ROC-AUC from OGB's ``Evaluator``. Protocol of
the tickets as in the node tasks (Adam lr 0.01, weight decay 0, ramp over
the first half of the epochs, selection by validation at the final
sparsity). The dense model trains with dropout 0.5: on Texas with Adam lr
0.01 and weight decay 5e-4, on the molecules with Adam lr 0.001.
The molecules use the GCN of OGB's molecule examples (:class:`BondGCNConv`:
bond features in every message, batch norm after every layer; ``--arch
ogb``, the default), chosen over PyG's plain ``GCN`` on the atom embeddings
(``--arch plain``) on validation ROC-AUC over molbace's row; the report
compares the two on the seeds both have. Resumable: a configuration whose
record exists is skipped.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.nn.functional as F
import torch_geometric.transforms as T
from torch_geometric.datasets import WebKB
from torch_geometric.nn import GCN

from benchmarks import cli
from benchmarks.data import allow_pyg_in_torch_load, writable_root
from benchmarks.records import (claim, device_name, write_record)
from benchmarks.cli import add_shard_option
from benchmarks.mol_models import HIDDEN, LAYERS, MolGCN
from benchmarks.table3_report import (ARCHS, DATASETS, MOLECULE_ARCH,
                                      RESULTS, SPARSITIES,
                                      table_arch)
from benchmarks.train import train_dense
from torch_geometric_ugt.search import search_ticket
from torch_geometric_ugt import (GlobalGradualSparsifier, __version__,
                                 score_parameters, supermask)


def texas(root: Optional[str], split: int):
    folder = writable_root("webkb", "texas", root)
    data = WebKB(str(folder), "Texas", transform=T.NormalizeFeatures())[0]
    for name in ("train_mask", "val_mask", "test_mask"):
        setattr(data, name, getattr(data, name)[:, split])
    data.num_classes = int(data.y.max()) + 1
    return data


def run_texas(method: str, sparsity: float, seed: int, epochs: int,
              root: Optional[str], device: torch.device,
              split: Optional[int] = None) -> Dict:
    """One Texas run on WebKB split ``split`` (default: ``seed % 10``)."""
    split = seed % 10 if split is None else split
    data = texas(root, split).to(device)
    torch.manual_seed(seed)
    dense = method == "dense"
    model = GCN(data.num_features, HIDDEN, LAYERS, data.num_classes,
                dropout=0.5 if dense else 0.0, bias=dense, cached=True)
    if dense:
        model.to(device)
        opt = torch.optim.Adam(model.parameters(), lr=0.01,
                               weight_decay=5e-4)
        result = train_dense(model, data, opt, epochs)
        extra: Dict = {}
    else:
        supermask(model, seed=seed)  # drawn on the CPU (seeded), then moved
        model.to(device)
        opt = torch.optim.Adam(score_parameters(model), lr=0.01)
        sp = GlobalGradualSparsifier(model, opt, final_sparsity=sparsity,
                                     ramp_epochs=max(1, epochs // 2))
        result = search_ticket(model, data, opt, sp, epochs)
        extra = {"realised_sparsity": result.realised_sparsity}
    return dict(extra, test=result.test_acc, val=result.val_acc,
                best_epoch=result.best_epoch, split=split)


def texas_majority(root: Optional[str], out: Path = RESULTS) -> None:
    """Writes, per WebKB split, the accuracy of always predicting the most
    frequent class of the split's training nodes: the floor a Texas model
    has to beat."""
    out.mkdir(parents=True, exist_ok=True)
    for split in range(10):
        data = texas(root, split)
        majority = int(torch.bincount(data.y[data.train_mask]).argmax())
        acc = {name: float((data.y[mask] == majority).float().mean())
               for name, mask in (("val", data.val_mask),
                                  ("test", data.test_mask))}
        write_record(out / f"texas-majority-split{split}.json", dict(
            acc, key=f"texas-majority-split{split}", dataset="texas",
            arch="plain", method="majority", sparsity=0.0, seed=split,
            split=split, majority_class=majority, library=__version__))


def _mol_data(name: str, seed: int, root: Optional[str]):
    """The OGB molecule dataset, its loaders (batches of 32) and
    evaluator."""
    from ogb.graphproppred import Evaluator, PygGraphPropPredDataset
    from torch_geometric.loader import DataLoader
    allow_pyg_in_torch_load()
    full = f"ogbg-{name}"
    folder = writable_root("ogb", full.replace("-", "_"), root)
    dataset = PygGraphPropPredDataset(full, root=str(folder))
    split = dataset.get_idx_split()
    loaders = {k: DataLoader(dataset[split[k]], batch_size=32,
                             shuffle=k == "train",
                             generator=torch.Generator().manual_seed(seed))
               for k in ("train", "valid", "test")}
    return dataset, loaders, Evaluator(full)


def _train_epoch(model: torch.nn.Module, loader, opt, device) -> float:
    model.train()
    total = 0.0
    for b in loader:
        b = b.to(device)
        opt.zero_grad()
        out = model(b)
        labelled = ~torch.isnan(b.y)
        loss = F.binary_cross_entropy_with_logits(
            out[labelled], b.y[labelled].float())
        loss.backward()
        opt.step()
        total += float(loss.detach())
    return total / max(1, len(loader))


@torch.no_grad()
def _rocauc(model: torch.nn.Module, loader, evaluator, device) -> float:
    model.eval()
    ys, preds = [], []
    for b in loader:
        preds.append(model(b.to(device)).cpu())
        ys.append(b.y.cpu())
    return float(evaluator.eval({"y_true": torch.cat(ys),
                                 "y_pred": torch.cat(preds)})["rocauc"])


def run_mol(name: str, method: str, sparsity: float, seed: int,
            epochs: int, root: Optional[str], arch: str = MOLECULE_ARCH,
            device: torch.device = torch.device("cpu")) -> Dict:
    """ROC-AUC at the best validation epoch: the library's search loop
    for UGTs (its ticket is the best epoch's), the same epochs trained
    for the dense model."""
    from tqdm import tqdm  # an ogb dependency
    dataset, loaders, evaluator = _mol_data(name, seed, root)
    torch.manual_seed(seed)
    dense = method == "dense"
    model = MolGCN(dataset.num_tasks, dense, arch)
    params = model.parameters() if dense else model.to_ticket(seed)
    model.to(device)
    opt = torch.optim.Adam(params, lr=0.001 if dense else 0.01)

    def train(epoch: int) -> float:
        return _train_epoch(model, loaders["train"], opt, device)

    def evaluate() -> List[float]:
        return [_rocauc(model, loaders[k], evaluator, device)
                for k in ("valid", "test")]
    label = "dense" if dense else f"UGTs s={sparsity:g}"
    bar = tqdm(total=epochs, desc=f"{name} {label} seed {seed}",
               unit="epoch", leave=False)
    if dense:
        result = train_dense(model, None, opt, epochs, train=train,
                             evaluate=evaluate,
                             on_epoch=lambda epoch, r: bar.update())
    else:
        sp = GlobalGradualSparsifier(model, opt, final_sparsity=sparsity,
                                     ramp_epochs=max(1, epochs // 2))
        result = search_ticket(model, None, opt, sp, epochs, train=train,
                               evaluate=evaluate,
                               on_epoch=lambda epoch, r: bar.update())
    bar.close()
    extra = ({} if dense else
             {"realised_sparsity": result.realised_sparsity})
    return dict(val=result.val_acc, test=result.test_acc,
                best_epoch=result.best_epoch, **extra,
                epoch_time_s=result.epoch_time)


def configs(name: str, seeds: List[int]) -> List[tuple]:
    out = [(name, "dense", 0.0, s) for s in seeds]
    out += [(name, "ugt", sp, s) for sp in SPARSITIES for s in seeds]
    return out


def key(name: str, method: str, sparsity: float, seed: int,
        epochs: int, arch: str = "plain", split: Optional[int] = None) -> str:
    level = "dense" if method == "dense" else f"s{sparsity:g}"
    model = "GCN" if arch == "plain" else f"GCN-{arch}"
    data = name if split is None else f"{name}-split{split}"
    return f"{data}-{model}-L{LAYERS}-W{HIDDEN}-{method}-{level}-" \
           f"e{epochs}-seed{seed}"


def run(name: str, seeds: List[int], epochs: int, root: Optional[str],
        out: Path, sparsities: Optional[List[float]] = None,
        arch: Optional[str] = None,
        device: Union[str, torch.device] = "cpu",
        shard: Tuple[int, int] = (0, 1),
        split: Optional[int] = None) -> None:
    """Runs the missing records of ``name``'s row with ``arch`` (default:
    :func:`table_arch`); ``shard=(i, n)`` takes every ``n``-th
    configuration from the ``i``-th, so ``n`` runners share the row;
    ``split`` (Texas only) runs every seed on that WebKB split."""
    arch = arch or table_arch(name)
    if split is not None and (name != "texas" or split not in range(10)):
        raise ValueError(f"split applies to Texas only and must be one of "
                         f"its WebKB splits 0-9; got {split} for {name}")
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {ARCHS}, got {arch!r}")
    if arch != "plain" and name == "texas":
        raise ValueError("--arch applies to the molecule datasets only; "
                         "Texas runs PyG's GCN")
    unknown = sorted(set(sparsities or ()) - set(SPARSITIES))
    if unknown:
        raise ValueError(f"sparsities must come from Table 3's row "
                         f"{SPARSITIES}; got {unknown}")
    device = torch.device(device)
    out.mkdir(parents=True, exist_ok=True)
    todo = [c for c in configs(name, seeds)
            if sparsities is None or c[1] == "dense" or c[2] in sparsities]
    index, count = shard
    todo = todo[index::count]
    for name_, method, sparsity, seed in todo:
        k = key(name_, method, sparsity, seed, epochs, arch, split)
        path = out / f"{k}.json"
        with claim(path) as mine:
            if not mine:  # done, or another runner is on it
                continue
            start = time.perf_counter()
            if name_ == "texas":
                result = run_texas(method, sparsity, seed, epochs, root,
                                   device, split)
            else:
                result = run_mol(name_, method, sparsity, seed, epochs, root,
                                 arch, device)
            record = dict(result, key=k, dataset=name_, arch=arch,
                          method=method, split_fixed=split is not None,
                          sparsity=sparsity, seed=seed, epochs=epochs,
                          library=__version__, torch=torch.__version__,
                          device=device_name(device),
                          threads=torch.get_num_threads(),
                          total_time_s=time.perf_counter() - start)
            write_record(path, record)
        print(f"{k}: test {100 * record['test']:.1f} (val "
              f"{100 * record['val']:.1f})", flush=True)


def main(argv: Optional[List[str]] = None) -> None:
    p = cli.parser(__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    m = sub.add_parser("majority", help="Texas: the majority-class floor "
                                        "of every WebKB split")
    for q in (r, m):
        q.add_argument("--root", default=None,
                       help="data root (default: $UGT_DATA, else download)")
        q.add_argument("--out", type=Path, default=RESULTS)
    r.add_argument("dataset", choices=DATASETS)
    r.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    r.add_argument("--epochs", type=int, default=None,
                   help="default: 400 for texas, 100 for the molecules")
    r.add_argument("--sparsities", type=float, nargs="+", default=None)
    r.add_argument("--threads", type=int, default=None)
    r.add_argument("--arch", choices=ARCHS, default=None,
                   help="molecules: 'ogb' (OGB examples' GCN: bond "
                        "features, batch norm; the table's model, default) "
                        "or 'plain' (PyG GCN on the atom embeddings)")
    r.add_argument("--split", type=int, default=None,
                   help="texas: run every seed on this WebKB split (0-9); "
                        "default: seed i uses split i")
    r.add_argument("--device", default="cpu",
                   help="e.g. cuda; records name the device")
    add_shard_option(r, "the row")
    args = p.parse_args(argv)
    if args.command == "majority":
        texas_majority(args.root, args.out)
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    epochs = args.epochs or (400 if args.dataset == "texas" else 100)
    run(args.dataset, args.seeds, epochs, args.root, args.out,
        args.sparsities, args.arch, args.device, args.shard, args.split)


if __name__ == "__main__":
    main()
