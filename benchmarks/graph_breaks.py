"""Graph breaks of torch.compile (``torch._dynamo.explain``) for plain PyG
models beside the same models supermasked, with the masks up to date and
stale (the forward pass then selects them, inside the graph).

    python -m benchmarks.graph_breaks \\
        --json benchmarks/results/graph-breaks.json
"""
from __future__ import annotations

import json
from typing import Callable, Dict, List, Optional

import torch
import torch._dynamo as dynamo
from torch_geometric.data import Data
from torch_geometric.nn import GAT, GCN, GIN, GraphSAGE

from benchmarks import cli
from torch_geometric_ugt import (GlobalGradualSparsifier, backend,
                                 score_parameters, supermask)

MODELS: Dict[str, Callable[[], torch.nn.Module]] = {
    "GCN": lambda: GCN(8, 16, 2, 3),
    "GAT": lambda: GAT(8, 16, 2, 3, heads=2),
    "GIN": lambda: GIN(8, 16, 2, 3),
    "GraphSAGE": lambda: GraphSAGE(8, 16, 2, 3),
}


def breaks(model: torch.nn.Module, graph: Data) -> int:
    dynamo.reset()
    return dynamo.explain(model)(graph.x, graph.edge_index).graph_break_count


def main(argv: Optional[List[str]] = None) -> Dict:
    p = cli.parser(__doc__)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    backend.set_backend("native")
    gen = torch.Generator().manual_seed(0)
    graph = Data(x=torch.randn(12, 8, generator=gen),
                 edge_index=torch.randint(0, 12, (2, 40), generator=gen))
    rows = []
    for name, build in MODELS.items():
        plain = breaks(build(), graph)
        model = supermask(build(), seed=0)
        opt = torch.optim.Adam(score_parameters(model), lr=0.05)
        sparsifier = GlobalGradualSparsifier(model, opt, final_sparsity=0.6,
                                             ramp_epochs=3)
        fresh = breaks(model, graph)
        sparsifier.step(1)  # stale masks
        stale = breaks(model, graph)
        rows.append({"model": name, "plain": plain, "fresh_masks": fresh,
                     "stale_masks": stale})
        print(f"{name}: plain {plain}, supermasked {fresh} (masks up to "
              f"date), {stale} (stale masks)")
    record = {"torch": torch.__version__, "rows": rows}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(record, f, indent=1)
    return record


if __name__ == "__main__":
    main()
