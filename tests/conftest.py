from __future__ import annotations

from typing import Callable, Dict

import pytest
import torch
import torch.nn.functional as F
from torch_geometric.data import Data
from torch_geometric.nn import GAT, GCN, GIN, PNA, GATConv, GCNConv, GraphSAGE
from torch_geometric.utils import degree

IN, HIDDEN, OUT = 8, 16, 3

try:
    import torch_sparse  # noqa: F401
    HAS_TORCH_SPARSE = True
except ImportError:
    HAS_TORCH_SPARSE = False


class TwoConv(torch.nn.Module):
    """A user-written model: a GCN layer, a GAT layer and a linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = GCNConv(IN, HIDDEN)
        self.conv2 = GATConv(HIDDEN, HIDDEN, heads=2, concat=False)
        self.head = torch.nn.Linear(HIDDEN, OUT)

    def forward(self, x, edge_index):
        x = F.relu(self.conv1(x, edge_index))
        x = F.relu(self.conv2(x, edge_index))
        return self.head(x)


def tiny_graph(num_nodes: int = 12, num_edges: int = 40,
               seed: int = 0) -> Data:
    gen = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(0, num_nodes, (2, num_edges), generator=gen)
    x = torch.randn(num_nodes, IN, generator=gen)
    y = torch.randint(0, OUT, (num_nodes, ), generator=gen)
    return Data(x=x, edge_index=edge_index, y=y)


def _pna() -> torch.nn.Module:
    data = tiny_graph()
    deg = torch.bincount(
        degree(data.edge_index[1], data.num_nodes, dtype=torch.long))
    return PNA(IN, HIDDEN, 2, OUT, aggregators=["mean", "max"],
               scalers=["identity", "amplification"], deg=deg)


MODELS: Dict[str, Callable[[], torch.nn.Module]] = {
    "GCN": lambda: GCN(IN, HIDDEN, 2, OUT),
    "GraphSAGE": lambda: GraphSAGE(IN, HIDDEN, 2, OUT),
    "GIN": lambda: GIN(IN, HIDDEN, 2, OUT),
    "GAT": lambda: GAT(IN, HIDDEN, 2, OUT, heads=2),
    "GATv2": lambda: GAT(IN, HIDDEN, 2, OUT, heads=2, v2=True),
    "TwoConv": TwoConv,
}

SPARSE_MODELS = [name for name in MODELS]
ALL_MODELS = dict(MODELS, PNA=_pna)


@pytest.fixture
def graph() -> Data:
    return tiny_graph()


def adjacency(data: Data, kind: str):
    if kind == "edge_index":
        return data.edge_index
    if not HAS_TORCH_SPARSE:
        pytest.skip("torch-sparse is not installed")
    from torch_sparse import SparseTensor
    n = data.num_nodes
    return SparseTensor.from_edge_index(data.edge_index,
                                        sparse_sizes=(n, n)).t()


INPUTS = ["edge_index", "sparse_tensor"]
