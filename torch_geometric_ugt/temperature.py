r"""A learned output temperature for the ticket search."""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


class Temperature(torch.nn.Module):
    r"""Wraps a model and multiplies its output by a learned temperature
    :math:`e^{t}` (:math:`t = 0` at first):

    .. math::
        \mathbf{z} = e^{t} f(\mathbf{x})

    A random masked GNN's logits are tiny on row-normalised features, so
    the cross-entropy stays near :math:`\ln C` and the search only sees
    the linear part of the loss; :math:`t`, trained with the scores, lets
    the logits grow as the loss asks (docs/how-it-works.md). It never
    changes a prediction (:math:`e^{t} > 0` keeps the arg max), only the
    search. :func:`~torch_geometric_ugt.supermask` leaves :math:`t`
    trainable and :func:`~torch_geometric_ugt.score_parameters` yields it;
    :func:`~torch_geometric_ugt.squash` and tickets keep it as a plain
    parameter.

    .. code-block:: python

        model = supermask(Temperature(GCN(1433, 256, 2, 7, bias=False)))
        optimizer = torch.optim.Adam(score_parameters(model), lr=0.01)

    Args:
        model (torch.nn.Module): The model whose output is scaled.
        init (float): :math:`t` at first. (default: :obj:`0.0`)

    """

    def __init__(self, model: torch.nn.Module, init: float = 0.0) -> None:
        super().__init__()
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"Temperature wraps a torch.nn.Module; got "
                            f"{type(model).__name__}.")
        self.model = model
        self.log_temperature = torch.nn.Parameter(torch.tensor(float(init)))

    def forward(self, *args: Any, **kwargs: Any) -> Tensor:
        return self.model(*args, **kwargs) * self.log_temperature.exp()

    def extra_repr(self) -> str:
        return f"temperature={float(self.log_temperature.exp()):.4g}"
