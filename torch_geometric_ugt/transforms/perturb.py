r"""Input perturbations as PyG transforms (paper Sec. 4.5): noisy features
and rewired edges. Seeded, exact in their counts, and never modifying the
input :class:`~torch_geometric.data.Data`.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch_geometric.data import Data
from torch_geometric.transforms import BaseTransform
from torch_geometric.utils import is_undirected


def _check_fraction(fraction: float) -> float:
    fraction = float(fraction)
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1]; got {fraction}.")
    return fraction


class FeatureNoise(BaseTransform):
    r"""Replaces the features of :math:`\mathrm{round}(R \cdot N)` nodes,
    chosen uniformly at random, by independent Bernoulli(0.5) draws
    (0 or 1 in every channel).

    Args:
        fraction (float): :math:`R \in [0, 1]`.
        seed (int): Seed of the node choice and the noise.
            (default: :obj:`0`)

    The indices of the perturbed nodes are stored in
    :obj:`data.noisy_nodes`.

    """

    def __init__(self, fraction: float, seed: int = 0) -> None:
        self.fraction = _check_fraction(fraction)
        self.seed = seed

    def forward(self, data: Data) -> Data:
        if data.x is None:
            raise ValueError("FeatureNoise needs node features (data.x).")
        data = data.clone()
        gen = torch.Generator().manual_seed(self.seed)
        n = data.num_nodes
        count = round(self.fraction * n)
        nodes = torch.randperm(n, generator=gen)[:count]
        noise = torch.randint(0, 2, (count, data.x.size(1)), generator=gen)
        x = data.x.clone()
        x[nodes.to(x.device)] = noise.to(x.device, x.dtype)
        data.x = x
        data.noisy_nodes = nodes.sort().values.to(x.device)
        return data

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.fraction}, seed={self.seed})"


class EdgeRewire(BaseTransform):
    r"""Moves one endpoint of :math:`\mathrm{round}(R \cdot E)` edges,
    chosen uniformly at random, to a uniformly random *other* node.

    For an undirected graph (both directions stored; detected unless
    :obj:`undirected` is given) :math:`E` counts undirected edges, and a
    rewired edge is rewired in both directions, so the result stays
    undirected. Edge attributes follow their edges.

    Args:
        fraction (float): :math:`R \in [0, 1]`.
        seed (int): Seed. (default: :obj:`0`)
        undirected (bool, optional): Treat the graph as undirected.
            (default: detected with
            :func:`torch_geometric.utils.is_undirected`)

    """

    def __init__(self, fraction: float, seed: int = 0,
                 undirected: Optional[bool] = None) -> None:
        self.fraction = _check_fraction(fraction)
        self.seed = seed
        self.undirected = undirected

    def forward(self, data: Data) -> Data:
        if data.edge_index is None:
            raise ValueError("EdgeRewire needs data.edge_index.")
        data = data.clone()
        gen = torch.Generator().manual_seed(self.seed)
        edge_index = data.edge_index.cpu()
        n = data.num_nodes
        undirected = (is_undirected(edge_index, num_nodes=n)
                      if self.undirected is None else self.undirected)
        if undirected:
            # one representative per undirected edge (row < col; self
            # loops kept as they are)
            row, col = edge_index
            keep = row <= col
            pairs = edge_index[:, keep]
            attr = data.edge_attr[keep.to(data.edge_attr.device)] if (
                data.edge_attr is not None) else None
        else:
            pairs, attr = edge_index, data.edge_attr
        count = round(self.fraction * pairs.size(1))
        chosen = torch.randperm(pairs.size(1), generator=gen)[:count]
        side = torch.randint(0, 2, (count, ), generator=gen)
        shift = torch.randint(1, max(n, 2), (count, ), generator=gen)
        pairs = pairs.clone()
        old = pairs[side, chosen]
        pairs[side, chosen] = (old + shift) % n  # never the old endpoint
        if undirected:
            loops = pairs[0] == pairs[1]
            pairs = torch.cat([pairs, pairs[:, ~loops].flip(0)], dim=1)
            if attr is not None:
                attr = torch.cat([attr, attr[(~loops).to(attr.device)]])
        data.edge_index = pairs.to(data.edge_index.device)
        if attr is not None:
            data.edge_attr = attr
        data.rewired_edges = count
        return data

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.fraction}, seed={self.seed})"
