"""Dataset loading for the benchmarks: real PyG / OGB loaders, offline-safe.

The data root comes from ``--root`` or the ``UGT_DATA`` environment variable.
It holds the raw files in the official loaders' layout (e.g.
``<root>/planetoid/Cora/raw``). Loaders write ``processed/`` folders, so the
raw files are copied into a writable cache first (``UGT_CACHE``, default
``~/.cache/torch_geometric_ugt``); the data root is never written to. With no
root at all, the loaders download into the cache (needs internet).
"""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Dict, Optional

import torch
import torch_geometric.transforms as T
from torch_geometric.data import Data
from torch_geometric.datasets import Planetoid

from benchmarks.models import first_aggregation
from torch_geometric_ugt.search import graph_input
from torch_geometric_ugt.transforms import EdgeRewire, FeatureNoise, OODSplit

if TYPE_CHECKING:
    from benchmarks.config import Config

PLANETOID = ("Cora", "CiteSeer", "PubMed")


def cache_dir() -> Path:
    default = Path.home() / ".cache" / "torch_geometric_ugt"
    return Path(os.environ.get("UGT_CACHE", default))


def data_root(root: Optional[str] = None) -> Optional[Path]:
    """The data root from the argument, else ``UGT_DATA``, else ``None``."""
    value = root or os.environ.get("UGT_DATA")
    return Path(value).expanduser().resolve() if value else None


def writable_root(family: str, name: str, root: Optional[str]) -> Path:
    """A writable loader root holding ``<name>/raw`` of ``family``.

    Copies ``<data root>/<family>/<name>`` into the cache (once); without a
    data root returns an empty cache folder the loader downloads into.
    """
    source = data_root(root)
    if source is None:
        target = cache_dir() / "download" / family
        target.mkdir(parents=True, exist_ok=True)
        return target
    tag = hashlib.sha1(str(source).encode()).hexdigest()[:10]
    target = cache_dir() / f"copy-{tag}" / family
    src = source / family / name
    if not src.is_dir():
        raise FileNotFoundError(
            f"No {family} data for {name!r} under {source}: expected "
            f"{src}/raw. Point --root (or UGT_DATA) at the folder that holds "
            f"'{family}/'.")
    dst = target / name
    if not (dst / "raw").is_dir():
        shutil.copytree(src, dst, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("processed"))
    return target


ADJACENCIES = ("edge_index", "sparse_tensor", "csr")
"""How a graph's adjacency is passed to the models: ``edge_index``,
torch-sparse's ``SparseTensor`` (``adj_t``) or a ``torch.sparse`` CSR
``adj_t`` (PyG's own sparse path, no torch-sparse needed)."""

ADJACENCY_NAMES = {"edge_index": "edge_index",
                   "sparse_tensor": "SparseTensor", "csr": "torch.sparse CSR"}


def has_torch_sparse() -> bool:
    try:
        import torch_sparse  # noqa: F401
    except ImportError:
        return False
    return True


def fast_adjacency() -> str:
    """The fastest adjacency here: ``SparseTensor`` with torch-sparse,
    else PyG's ``torch.sparse`` CSR."""
    return "sparse_tensor" if has_torch_sparse() else "csr"


def add_adjacency_option(parser) -> None:
    """``--adjacency auto|edge_index|sparse_tensor|csr`` (``sparse`` is
    ``sparse_tensor``); resolve it with :func:`resolve_adjacency`."""
    parser.add_argument(
        "--adjacency", default="auto",
        choices=("auto", "sparse") + ADJACENCIES,
        help="auto (default): SparseTensor with torch-sparse, else "
        "torch.sparse CSR; or edge_index, sparse_tensor (also 'sparse'), "
        "csr")


def resolve_adjacency(choice: str) -> str:
    """The adjacency an ``--adjacency`` choice asks for."""
    return {"auto": fast_adjacency(), "sparse": "sparse_tensor"}.get(
        choice, choice)


def load_planetoid(name: str, root: Optional[str] = None,
                   adjacency: str = "edge_index",
                   perturb: Optional[T.BaseTransform] = None) -> Data:
    """The public split of Cora / CiteSeer / PubMed with row-normalised
    features; the adjacency is one of :data:`ADJACENCIES` (a sparse one in
    ``data.adj_t``, with ``edge_index`` removed). ``perturb`` (e.g.
    :class:`torch_geometric_ugt.transforms.FeatureNoise`) is applied to
    the raw graph, before the normalisation."""
    if name not in PLANETOID:
        raise ValueError(f"Unknown Planetoid dataset {name!r}; choose one of "
                         f"{PLANETOID}.")
    if adjacency not in ADJACENCIES:
        raise ValueError(f"Unknown adjacency {adjacency!r}; choose one of "
                         f"{ADJACENCIES}.")
    folder = writable_root("planetoid", name, root)
    transform = [T.NormalizeFeatures()]
    if perturb is not None:
        transform.insert(0, perturb)
    dataset = Planetoid(str(folder), name, transform=T.Compose(transform))
    data = dataset[0]
    if adjacency == "sparse_tensor":
        data = T.ToSparseTensor()(data)
    elif adjacency == "csr":
        data = T.ToSparseTensor(layout=torch.sparse_csr)(data)
    data.num_classes = dataset.num_classes
    return data


def allow_pyg_in_torch_load() -> None:
    """ogb 1.3.6 calls ``torch.load`` without ``weights_only``, which torch
    >= 2.6 refuses for PyG data objects (and the numpy scalars OGB leaves
    in them): allow exactly those classes."""
    import numpy as np
    from torch_geometric.data.data import DataEdgeAttr, DataTensorAttr
    from torch_geometric.data.storage import GlobalStorage
    core = getattr(np, "_core", None) or np.core
    numpy_types = [core.multiarray.scalar, np.dtype]
    numpy_types += [getattr(np.dtypes, n) for n in ("Int64DType",
                                                    "Float32DType",
                                                    "Float64DType")
                    if hasattr(np, "dtypes")]
    torch.serialization.add_safe_globals(
        [DataEdgeAttr, DataTensorAttr, GlobalStorage] + numpy_types)


def load_ogbn(name: str, root: Optional[str] = None,
              meta_dict: Optional[dict] = None):
    """An OGB node-property dataset with the real loader
    (``PygNodePropPredDataset``): ``(data, split)`` with ``data.y`` flat
    and ``split`` the index dict (``train`` / ``valid`` / ``test``).

    With ``meta_dict`` (datasets written by ``ogb.io.DatasetSaver``, e.g.
    :func:`benchmarks.synthetic_ogb.write_synthetic_ogbn`) the files are
    read from its ``dir_path``; otherwise from ``<root>/ogb/<name>``
    (copied to the cache), or downloaded when there is no root.
    """
    from ogb.nodeproppred import PygNodePropPredDataset
    allow_pyg_in_torch_load()
    if meta_dict is not None:
        dataset = PygNodePropPredDataset(name, meta_dict=meta_dict)
    else:
        folder = writable_root("ogb", name.replace("-", "_"), root)
        dataset = PygNodePropPredDataset(name, root=str(folder))
    data = dataset[0]
    data.y = data.y.view(-1)
    data.num_classes = dataset.num_classes
    return data, dataset.get_idx_split()


_GRAPHS: Dict[tuple, Data] = {}
# models whose first operation is a linear map take Planetoid's
# bag-of-words features as a sparse CSR tensor (same results, faster)
SPARSE_FEATURE_MODELS = ("GCN", "GAT")


def perturbation(variant: str, seed: int):
    """The transform of a ``feat<R>`` / ``edge<R>`` variant, else None."""
    for prefix, transform in (("feat", FeatureNoise), ("edge", EdgeRewire)):
        if variant.startswith(prefix):
            return transform(float(variant[len(prefix):]), seed=seed)
    if variant not in ("", "ood"):
        raise ValueError(f"Unknown variant {variant!r}: use '', 'ood', "
                         f"'feat<R>' or 'edge<R>'.")
    return None


def config_graph(cfg: Config, root: Optional[str]) -> Data:
    """The graph of :obj:`cfg` (cached per dataset and variant). GCN and
    GAT take the features as a sparse CSR tensor; a GIN search takes its
    first aggregation, constant during the search (no dropout), so."""
    perturb = perturbation(cfg.variant, cfg.seed)
    gin_search = cfg.model == "GIN" and cfg.method != "dense"
    key = (cfg.dataset, cfg.variant, cfg.seed if cfg.variant else None,
           cfg.model in SPARSE_FEATURE_MODELS, gin_search)
    if key not in _GRAPHS:
        data = load_planetoid(cfg.dataset, root, adjacency=fast_adjacency(),
                              perturb=perturb)
        if cfg.variant == "ood":
            data = OODSplit(0.4, seed=cfg.seed)(data)
        if gin_search:
            data.x = first_aggregation(data.x, graph_input(data))
        if cfg.model in SPARSE_FEATURE_MODELS or gin_search:
            data.x = data.x.to_sparse_csr()
        _GRAPHS[key] = data
    return _GRAPHS[key]


if __name__ == "__main__":
    from benchmarks import cli
    cli.library(__doc__, "benchmarks.data")
