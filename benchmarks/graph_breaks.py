"""Graph breaks of torch.compile (``torch._dynamo.explain``) for plain PyG
models beside the same models supermasked, with the masks up to date and
stale (the forward pass then selects them, inside the graph), and, for
inference, beside their sparse squashed tickets on both paths of the
sparse product (the native operator, and ``torch.sparse`` as on CUDA).

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
                 if str(node.target).startswith(f"{backend.OPS}.")]
    return explained.graph_break_count, operators


def breaks(model: torch.nn.Module, data: Data) -> int:
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


def inference_breaks(name: str) -> Dict[str, object]:
    r"""Graph breaks under :func:`torch.no_grad` of the plain model in eval
    mode and of its sparse squashed ticket on each path of the product,
    with the operators traced for the ticket.
    """
    data = graph(SPARSE_WIDTH)
    found: Dict[str, object] = {}
    previous = backend.requested_backend()
    with torch.no_grad():
        found["plain_eval"] = breaks(MODELS[name](SPARSE_WIDTH).eval(), data)
        try:
            for path in ("native", "torch"):
                backend.set_backend(path)
                count, operators = explain(sparse_squashed(name), data)
                found[f"sparse_{path}"] = count
                found[f"sparse_{path}_operators"] = operators
        finally:
            backend.set_backend(previous)
    return found


def main(argv: Optional[List[str]] = None) -> Dict:
    p = cli.parser(__doc__)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    backend.set_backend("native")
    data = graph()
    rows = []
    for name, build in MODELS.items():
        plain = breaks(build(), data)
        model = supermask(build(), seed=0)
        opt = torch.optim.Adam(score_parameters(model), lr=0.05)
        sparsifier = GlobalGradualSparsifier(model, opt, final_sparsity=0.6,
                                             ramp_epochs=3)
        fresh = breaks(model, data)
        sparsifier.step(1)  # stale masks
        stale, stale_operators = explain(model, data)
        inference = inference_breaks(name)
        rows.append({"model": name, "plain": plain, "fresh_masks": fresh,
                     "stale_masks": stale,
                     "stale_masks_operators": stale_operators, **inference})
        print(f"{name}: plain {plain}, supermasked {fresh} (masks up to "
              f"date), {stale} (stale masks; traced: {stale_operators}); "
              f"inference: plain {inference['plain_eval']}, sparse "
              f"squashed {inference['sparse_native']} (native; traced: "
              f"{inference['sparse_native_operators']}), "
              f"{inference['sparse_torch']} (torch.sparse; traced: "
              f"{inference['sparse_torch_operators']})")
    record = {"torch": torch.__version__, "rows": rows}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(record, f, indent=1)
    return record


if __name__ == "__main__":
    main()
