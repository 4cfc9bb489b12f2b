"""The GCN of OGB's molecule examples and PyG's plain GCN on atom
embeddings, as paper Table 3 runs them (``python -m benchmarks.table3``).
"""
from __future__ import annotations

from typing import List

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import Batch
from torch_geometric.nn import GCN, MessagePassing, global_mean_pool
from torch_geometric.utils import degree

from benchmarks.table3_report import ARCHS, MOLECULE_ARCH
from torch_geometric_ugt import score_parameters, supermask

HIDDEN, LAYERS = 448, 3


class BondGCNConv(MessagePassing):
    r"""The GCN layer of OGB's molecule examples: bond features enter every
    message,

    .. math::
        \mathbf{x}'_i = \sum_{j \in \mathcal{N}(i)}
        \frac{\mathrm{ReLU}(\mathbf{h}_j + \mathbf{e}_{ji})}
        {\sqrt{d_i d_j}} + \frac{\mathrm{ReLU}(\mathbf{h}_i +
        \mathbf{r})}{d_i}, \qquad \mathbf{h} = \mathbf{W}\mathbf{x}
        (+ \mathbf{b}),

    with :math:`\mathbf{e}_{ji}` the bond embedding, :math:`\mathbf{r}` a
    root embedding and :math:`d_i` the number of edges leaving :math:`i`
    plus one (molecule graphs are undirected, so it is the degree)."""

    def __init__(self, channels: int, bias: bool) -> None:
        super().__init__(aggr="add")
        from ogb.graphproppred.mol_encoder import BondEncoder
        self.lin = torch.nn.Linear(channels, channels, bias=bias)
        self.root = torch.nn.Embedding(1, channels)
        self.bonds = BondEncoder(channels)

    def forward(self, x: Tensor, edge_index: Tensor,
                edge_attr: Tensor) -> Tensor:
        x = self.lin(x)
        row, col = edge_index
        deg = degree(row, x.size(0), dtype=x.dtype) + 1
        inv_sqrt = deg.pow(-0.5)
        out = self.propagate(edge_index, x=x, bond=self.bonds(edge_attr),
                             norm=inv_sqrt[row] * inv_sqrt[col])
        return out + F.relu(x + self.root.weight) / deg.unsqueeze(-1)

    def message(self, x_j: Tensor, bond: Tensor, norm: Tensor) -> Tensor:
        return norm.unsqueeze(-1) * F.relu(x_j + bond)


class MolGCN(torch.nn.Module):
    """AtomEncoder -> GCN (LAYERS x HIDDEN) -> mean pool -> linear.

    ``arch="plain"``: PyG's ``GCN`` on the atom embeddings, ReLU after every
    layer, no normalisation. ``arch="ogb"``: the GCN of OGB's molecule
    examples: :class:`BondGCNConv` layers (bond features in the messages),
    batch norm after every layer, ReLU between layers. A ticket's batch
    norms keep their untrained affine parameters (1, 0) and track running
    statistics in training mode; during the ramp those come from the
    current, not the final, sparsity that evaluation uses."""

    def __init__(self, num_tasks: int, dense: bool,
                 arch: str = MOLECULE_ARCH) -> None:
        super().__init__()
        from ogb.graphproppred.mol_encoder import AtomEncoder
        self.arch = arch
        self.dropout = 0.5 if dense else 0.0
        self.atoms = AtomEncoder(HIDDEN)
        if arch == "plain":
            self.gnn = GCN(HIDDEN, HIDDEN, LAYERS, HIDDEN,
                           dropout=self.dropout, bias=dense)
        elif arch == "ogb":
            self.convs = torch.nn.ModuleList(
                BondGCNConv(HIDDEN, bias=dense) for _ in range(LAYERS))
            self.norms = torch.nn.ModuleList(
                torch.nn.BatchNorm1d(HIDDEN) for _ in range(LAYERS))
        else:
            raise ValueError(f"arch must be one of {ARCHS}, got {arch!r}")
        self.head = torch.nn.Linear(HIDDEN, num_tasks, bias=dense)

    def to_ticket(self, seed: int) -> List[torch.nn.Parameter]:
        """Masks every weight (embeddings, convolutions, head), freezes
        everything else (batch norms included) and returns the scores."""
        targets: List = [torch.nn.Embedding, torch.nn.Linear]
        if self.arch == "plain":  # PyG's GCN keeps its weights in its Linear
            targets.append("gnn.convs.*")
        supermask(self, seed=seed, include=targets)  # freezes the rest
        return list(score_parameters(self))

    def forward(self, batch: Batch) -> Tensor:
        h = self.atoms(batch.x)
        if self.arch == "plain":
            h = self.gnn(h, batch.edge_index).relu()
        else:
            for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
                h = norm(conv(h, batch.edge_index, batch.edge_attr))
                if i < LAYERS - 1:
                    h = h.relu()
                h = F.dropout(h, self.dropout, self.training)
        return self.head(global_mean_pool(h, batch.batch))


if __name__ == "__main__":
    from benchmarks import cli
    cli.library(__doc__, "benchmarks.mol_models")
