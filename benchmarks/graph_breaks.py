"""Graph breaks of torch.compile (``torch._dynamo.explain``) for plain PyG
models beside the same models supermasked, with the masks up to date and
stale (the forward pass then selects them, inside the graph), and, for
inference, beside their sparse squashed tickets; each on both paths
(``native`` kernels, and their pure-PyTorch twins ``torch``: CUDA without
nvcc, other devices), with the package's operators traced into the graphs.

    python -m benchmarks.graph_breaks \\
        --json benchmarks/results/graph-breaks.json
"""
from __future__ import annotations

import json
from typing import Callable, Dict, List, Optional, Tuple

import torch
import torch._dynamo as dynamo
from torch_geometric.data import Data
from torch_geometric.nn import GAT, GCN, GIN, GraphSAGE

from benchmarks import cli
from torch_geometric_ugt import (GlobalGradualSparsifier, backend,
                                 score_parameters, squash, supermask)
from torch_geometric_ugt.ops import OPS
from torch_geometric_ugt.sparse_linear import SparseLinear

MODELS: Dict[str, Callable[..., torch.nn.Module]] = {
    "GCN": lambda width=8: GCN(width, 2 * width, 2, 3),
    "GAT": lambda width=8: GAT(width, 2 * width, 2, 3, heads=2),
    "GIN": lambda width=8: GIN(width, 2 * width, 2, 3),
    "GraphSAGE": lambda width=8: GraphSAGE(width, 2 * width, 2, 3),
}
r"""The models, by name: :obj:`width` input features, :obj:`2 * width`
hidden channels, two layers, three classes."""

SPARSE_WIDTH = 64
r"""The width of the sparse squashed models: their first layer's weight
(64 x 128) has more than :data:`MIN_ELEMENTS` entries, so it goes
sparse."""

PATHS = ("native", "torch")
r"""The backends measured: the native kernels and their pure-PyTorch
twins."""


def graph(width: int = 8) -> Data:
    r"""A random graph of 12 nodes, 40 edges, :obj:`width` features."""
    gen = torch.Generator().manual_seed(0)
    return Data(x=torch.randn(12, width, generator=gen),
                edge_index=torch.randint(0, 12, (2, 40), generator=gen))


def explain(model: torch.nn.Module, data: Data) -> Tuple[int, List[str]]:
    r"""The graph breaks of :obj:`model` on :obj:`data`, and this package's
    operators in its compiled graphs, in call order (a frame that dynamo
    skips runs eagerly without counting as a break, so only the second
    tells that an operator was traced).
    """
    dynamo.reset()
    explained = dynamo.explain(model)(data.x, data.edge_index)
    operators = [str(node.target) for g in explained.graphs
                 for node in g.graph.nodes
                 if str(node.target).startswith(f"{OPS}.")]
    return explained.graph_break_count, operators


def breaks(model: torch.nn.Module, data: Data) -> int:
    r"""The graph breaks of :obj:`model` on :obj:`data`."""
    return explain(model, data)[0]


def sparse_squashed(name: str) -> torch.nn.Module:
    r"""A ticket of :obj:`MODELS[name]` at :obj:`SPARSE_WIDTH` and sparsity
    0.8, squashed with :obj:`sparse=True` for every layer of at least
    :data:`MIN_ELEMENTS` weights (:obj:`max_density=1`), in eval mode.
    """
    model = supermask(MODELS[name](SPARSE_WIDTH), seed=0)
    GlobalGradualSparsifier(model, final_sparsity=0.8, ramp_epochs=1,
                            initial_sparsity=0.8)
    sparse = squash(model, sparse=True, max_density=1.0).eval()
    assert any(isinstance(m, SparseLinear) for m in sparse.modules())
    return sparse


def search_breaks(name: str, path: str) -> Dict[str, object]:
    r"""Graph breaks of the supermasked :obj:`MODELS[name]` on the
    :obj:`path` backend with its masks up to date and stale, and the
    operators traced in each case (a selection only for stale masks).
    """
    data = graph()
    with backend.use(path):
        model = supermask(MODELS[name](), seed=0)
        opt = torch.optim.Adam(score_parameters(model), lr=0.05)
        sparsifier = GlobalGradualSparsifier(model, opt, final_sparsity=0.6,
                                             ramp_epochs=3)
        fresh, fresh_operators = explain(model, data)
        sparsifier.step(1)  # stale masks
        stale, stale_operators = explain(model, data)
    return {"fresh_masks": fresh, "fresh_operators": fresh_operators,
            "stale_masks": stale, "stale_operators": stale_operators}


def inference_breaks(name: str, path: str) -> Dict[str, object]:
    r"""Graph breaks under :func:`torch.no_grad` of the sparse squashed
    ticket of :obj:`MODELS[name]` on the :obj:`path` backend, the
    operators traced, and its number of sparse layers.
    """
    data = graph(SPARSE_WIDTH)
    with backend.use(path), torch.no_grad():
        sparse = sparse_squashed(name)
        count, operators = explain(sparse, data)
    layers = sum(isinstance(m, SparseLinear) for m in sparse.modules())
    return {"breaks": count, "operators": operators, "sparse_layers": layers}


def main(argv: Optional[List[str]] = None) -> Dict:
    p = cli.parser(__doc__)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    rows = []
    for name, build in MODELS.items():
        search: Dict[str, object] = {"plain": breaks(build(), graph())}
        with torch.no_grad():
            inference: Dict[str, object] = {"plain": breaks(
                build(SPARSE_WIDTH).eval(), graph(SPARSE_WIDTH))}
        for path in PATHS:
            found = search_breaks(name, path)
            search[path] = found
            print(f"{name} search, {path}: plain {search['plain']}, "
                  f"supermasked {found['fresh_masks']} (masks up to date), "
                  f"{found['stale_masks']} (stale; traced "
                  f"{found['stale_operators']})")
        for path in PATHS:
            found = inference_breaks(name, path)
            inference[path] = found
            print(f"{name} inference, {path}: plain {inference['plain']}, "
                  f"sparse squashed {found['breaks']} (traced "
                  f"{found['operators']})")
        rows.append({"model": name, "search": search,
                     "inference": inference})
    record = {"torch": torch.__version__, "rows": rows}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(record, f, indent=1)
    return record


if __name__ == "__main__":
    main()
