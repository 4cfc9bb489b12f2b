"""The architectures of the reproduction suite, built from PyG layers."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch_geometric.nn import GAT, GCN, GATConv, GINConv
from torch_geometric.utils import dropout_edge

from torch_geometric_ugt import Temperature

MODELS = ("GCN", "GIN", "GAT")


class MeanGIN(torch.nn.Module):
    """GIN as in the paper's code: one linear layer per GIN layer, mean
    aggregation, epsilon fixed at 0, no normalisation layers."""

    def __init__(self, in_channels: int, hidden: int, num_layers: int,
                 out_channels: int, dropout: float = 0.0,
                 bias: bool = True, first_aggregated: bool = False) -> None:
        super().__init__()
        dims = [in_channels] + [hidden] * (num_layers - 1) + [out_channels]
        self.convs = torch.nn.ModuleList(
            GINConv(torch.nn.Linear(a, b, bias=bias), eps=0.0, aggr="mean")
            for a, b in zip(dims[:-1], dims[1:]))
        self.dropout = dropout
        # the input is already x + mean of the neighbours' x (constant
        # during a search: see first_aggregation), so the first layer only
        # applies its linear map, and dropout (which comes before the
        # aggregation) acts on the hidden layers only
        self.first_aggregated = first_aggregated

    def forward(self, x, edge_index):
        for i, conv in enumerate(self.convs):
            if i == 0 and self.first_aggregated:
                x = conv.nn(x)
            else:
                x = conv(F.dropout(x, self.dropout, self.training),
                         edge_index)
            if i < len(self.convs) - 1:
                x = F.relu(x)
        return x


def first_aggregation(x, edge_index):
    """The input of MeanGIN's first linear map, ``(1 + eps) x + mean of the
    neighbours' x`` with ``eps = 0``, computed as GINConv computes it."""
    return GINConv(torch.nn.Identity(), eps=0.0, aggr="mean")(x, edge_index)


class InputDropout(torch.nn.Module):
    """A model whose input features pass through dropout while training
    (dense or sparse CSR features: the stored values are dropped)."""

    def __init__(self, model: torch.nn.Module, p: float) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"input dropout must be in [0, 1); got {p}.")
        self.model, self.p = model, p

    def forward(self, x, edge_index):
        if self.training and self.p > 0:
            if x.layout == torch.sparse_csr:
                x = torch.sparse_csr_tensor(
                    x.crow_indices(), x.col_indices(),
                    F.dropout(x.values(), self.p), x.size())
            else:
                x = F.dropout(x, self.p)
        return self.model(x, edge_index)


def as_edge_index(adj) -> torch.Tensor:
    """The ``[2, E]`` edge_index (source, target) of an adjacency a PyG
    model takes: an ``edge_index``, or a transposed sparse ``adj_t``
    (``torch.sparse`` CSR or torch-sparse ``SparseTensor``)."""
    if isinstance(adj, torch.Tensor):
        if adj.layout == torch.strided:
            return adj
        target, source = adj.to_sparse_coo().coalesce().indices()
        return torch.stack([source, target])
    target, source, _ = adj.coo()  # torch_sparse.SparseTensor
    return torch.stack([source, target])


class EdgeDropout(torch.nn.Module):
    """DropEdge (Rong et al., ICLR 2020): while training, every forward
    pass sees the graph with each undirected edge dropped with
    probability :obj:`p` (PyG's :func:`~torch_geometric.utils.dropout_edge`
    with ``force_undirected=True``, a new draw each time, passed on as an
    ``edge_index``); in evaluation the whole graph. The graph must be
    undirected (each edge in both directions, as Planetoid's are): the
    draw keeps an edge's two directions together. The model below must
    not cache its normalised adjacency (GCNConv's ``cached``)."""

    def __init__(self, model: torch.nn.Module, p: float) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"edge dropout must be in [0, 1); got {p}.")
        for conv in model.modules():
            if getattr(conv, "cached", False):
                raise ValueError(f"{type(conv).__name__} caches its "
                                 f"normalised adjacency, so it would never "
                                 f"see the dropped edges: build it with "
                                 f"cached=False.")
        self.model, self.p = model, p

    def forward(self, x, edge_index):
        if self.training and self.p > 0:
            edge_index, _ = dropout_edge(as_edge_index(edge_index), self.p,
                                         force_undirected=True)
        return self.model(x, edge_index)


HEADS = ("", "temp", "norm")
"""Output heads of the probes: none, ``tau<T>`` (logits times a fixed
``T``), ``temp`` (the library's :class:`~torch_geometric_ugt.Temperature`:
times ``exp(t)``, ``t`` one scalar trained with the scores from 0),
``norm`` (logits layer-normalised, no affine)."""


class OutputHead(torch.nn.Module):
    """A model followed by a fixed head: ``tau<T>`` or ``norm``."""

    def __init__(self, model: torch.nn.Module, head: str) -> None:
        super().__init__()
        check_head(head)
        self.model = model
        self.head = head

    def forward(self, x, edge_index):
        out = self.model(x, edge_index)
        if self.head.startswith("tau"):
            return out * float(self.head[3:])
        if self.head == "norm":
            return F.layer_norm(out, out.shape[-1:])
        return out


def check_head(head: str) -> None:
    if head in HEADS:
        return
    if head.startswith("tau"):
        try:
            float(head[3:])
            return
        except ValueError:
            pass
    raise ValueError(f"Unknown head {head!r}: use one of {HEADS} or "
                     f"'tau<T>'.")


def build(name: str, in_channels: int, hidden: int, num_layers: int,
          out_channels: int, *, dense: bool, head: str = "",
          dropout: float = 0.0, input_dropout: float = 0.0,
          attention_dropout: float = 0.0,
          edge_dropout: float = 0.0) -> torch.nn.Module:
    """A model for ticket search (``dense=False``: no bias and, as in the
    UGTs protocol, no dropout unless :obj:`dropout`,
    :obj:`input_dropout`, :obj:`edge_dropout` (:class:`EdgeDropout`) or,
    for GAT, :obj:`attention_dropout` says) or standard training (dropout
    0.5), followed by ``head`` (see :data:`HEADS`) when one is given."""
    model = _build(name, in_channels, hidden, num_layers, out_channels,
                   dense, dropout, cached=not edge_dropout)
    if attention_dropout:
        if name != "GAT":
            raise ValueError(f"attention dropout is for GAT; got {name}.")
        for conv in model.modules():
            if isinstance(conv, GATConv):
                conv.dropout = attention_dropout
    if edge_dropout:
        if name == "GIN" and not dense:
            raise ValueError("edge dropout cannot act on a GIN search: its "
                             "first aggregation is computed once, on the "
                             "whole graph.")
        model = EdgeDropout(model, edge_dropout)
    if input_dropout:
        model = InputDropout(model, input_dropout)
    if head == "temp":  # the library's learned temperature
        return Temperature(model)
    return OutputHead(model, head) if head else model


def _build(name: str, in_channels: int, hidden: int, num_layers: int,
           out_channels: int, dense: bool, dropout: float,
           cached: bool = True) -> torch.nn.Module:
    dropout = 0.5 if dense else dropout
    bias = dense
    if name == "GCN":
        return GCN(in_channels, hidden, num_layers, out_channels,
                   dropout=dropout, bias=bias, cached=cached)
    if name == "GAT":
        return GAT(in_channels, hidden, num_layers, out_channels, heads=1,
                   dropout=dropout, bias=bias)
    if name == "GIN":
        return MeanGIN(in_channels, hidden, num_layers, out_channels,
                       dropout=dropout, bias=bias,
                       first_aggregated=not dense)
    raise ValueError(f"Unknown model {name!r}; choose one of {MODELS}.")


if __name__ == "__main__":
    from benchmarks import cli
    cli.library(__doc__, "benchmarks.models")
