r"""What :func:`supermask` did to a model, as a table."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import torch

from torch_geometric_ugt.sparse_linear import SparseLinear
from torch_geometric_ugt.supermask import MaskedWeight, masked_weights


@dataclass(frozen=True)
class ParameterRow:
    r"""One parameter of a model, as :func:`summary` lists it.

    Attributes:
        name (str): Qualified name, e.g. :obj:`"convs.0.lin.weight"`.
        shape (Tuple[int, ...]): Its shape.
        masked (bool): Whether a score mask replaces it.
        trainable (bool): Whether an optimizer can change it: the scores of
            a masked weight, the parameter itself otherwise.
        sparsity (float, optional): The fraction of a masked weight's mask
            that is zero, or of a sparse weight's entries that are not
            stored (:obj:`None` for a dense parameter, or a mask on the
            :obj:`meta` device).
        sparse (bool): Whether it is the weight of a
            :class:`~torch_geometric_ugt.sparse_linear.SparseLinear` (of
            :obj:`squash(model, sparse=True)`), stored in CSR.

    """

    name: str
    shape: Tuple[int, ...]
    masked: bool
    trainable: bool
    sparsity: Optional[float]
    sparse: bool = False

    @property
    def numel(self) -> int:
        r"""The number of elements."""
        return math.prod(self.shape)


class ModelSummary:
    r"""The parameters of a model, masked or dense, with totals; printed as
    a table (in the style of :mod:`torchinfo`).
    """

    def __init__(self, rows: List[ParameterRow]) -> None:
        self.rows = rows

    @property
    def masked_weights(self) -> int:
        r"""Elements of the masked weights."""
        return sum(r.numel for r in self.rows if r.masked)

    @property
    def dense_parameters(self) -> int:
        r"""Elements of the parameters without a mask, stored dense."""
        return sum(r.numel for r in self.rows
                   if not r.masked and not r.sparse)

    @property
    def sparse_weights(self) -> int:
        r"""Entries of the weights stored sparse (stored or not)."""
        return sum(r.numel for r in self.rows if r.sparse)

    @property
    def realised_sparsity(self) -> float:
        r"""The fraction of all masked weights that are zeroed."""
        zeros = sum(r.numel * (r.sparsity or 0.0) for r in self.rows
                    if r.masked)
        return zeros / max(self.masked_weights, 1)

    def __str__(self) -> str:
        header = ("parameter", "shape", "mask", "trainable", "sparsity")
        body = [(r.name, str(list(r.shape)), "masked" if r.masked else
                 "sparse" if r.sparse else "dense",
                 "yes" if r.trainable else "frozen",
                 "-" if r.sparsity is None else f"{r.sparsity:.4f}")
                for r in self.rows]
        widths = [max(len(row[i]) for row in [header] + body)
                  for i in range(len(header))]

        def line(cells: Tuple[str, ...]) -> str:
            return "  ".join(c.ljust(w)
                             for c, w in zip(cells, widths)).rstrip()

        rule = "-" * len(line(header))
        totals = (f"masked weights: {self.masked_weights:,} (realised "
                  f"sparsity {self.realised_sparsity:.4f}); dense "
                  f"parameters: {self.dense_parameters:,}")
        if self.sparse_weights:
            stored = sum(r.numel * (1 - (r.sparsity or 0.0))
                         for r in self.rows if r.sparse)
            totals += (f"; sparse weights: {self.sparse_weights:,} "
                       f"({round(stored):,} stored)")
        return "\n".join([rule, line(header), rule] +
                         [line(b) for b in body] + [rule, totals, rule])

    def __repr__(self) -> str:
        return str(self)


def summary(model: torch.nn.Module) -> ModelSummary:
    r"""Lists every parameter of :obj:`model`: its shape, whether it is
    masked or dense, trainable or frozen, and the realised sparsity of each
    mask (read as the forward pass reads it, so a sparsifier brings it up to
    date first); for a model squashed with :obj:`sparse=True`, also the
    weight of each :class:`~torch_geometric_ugt.sparse_linear.SparseLinear`
    and the share of it that is not stored.

    .. code-block:: python

        print(summary(supermask(GCN(1433, 256, 2, 7))))

    Returns:
        A :class:`ModelSummary`; :obj:`rows` holds one
        :class:`ParameterRow` per parameter, in module order.

    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"summary() takes a torch.nn.Module; got "
                        f"{type(model).__name__}.")
    by_module: Dict[int, List[MaskedWeight]] = {}
    internal = set()
    for w in masked_weights(model):
        by_module.setdefault(id(w.module), []).append(w)
        internal.add(id(w.parametrization.scores))
        internal.add(id(w.weight))
    rows: List[ParameterRow] = []
    listed = set()
    for name, module in model.named_modules():
        for attr, param in module.named_parameters(recurse=False):
            qualified = f"{name}.{attr}" if name else attr
            if id(param) in internal or id(param) in listed:
                continue
            listed.add(id(param))
            rows.append(ParameterRow(qualified, tuple(param.shape), False,
                                     param.requires_grad, None))
        if isinstance(module, SparseLinear):
            rows.append(ParameterRow(
                f"{name}.weight" if name else "weight",
                (module.out_channels, module.in_channels), False, False,
                1.0 - module.density, sparse=True))
        for w in by_module.get(id(module), []):
            mask = w.parametrization.mask
            sparsity = (None if mask.device.type == "meta" else
                        int((mask == 0).sum()) / max(mask.numel(), 1))
            rows.append(ParameterRow(
                w.name, tuple(mask.shape), True,
                w.parametrization.scores.requires_grad, sparsity))
    return ModelSummary(rows)
