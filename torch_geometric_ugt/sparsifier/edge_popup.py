r"""Edge-Popup: fixed sparsity, the same in every tensor."""
from __future__ import annotations

from typing import Optional

import torch

from torch_geometric_ugt.schedule import ConstantSchedule
from torch_geometric_ugt.sparsifier.base import SupermaskSparsifier


class EdgePopupSparsifier(SupermaskSparsifier):
    r"""The Edge-Popup baseline from the `"What's Hidden in a Randomly
    Weighted Neural Network?" <https://arxiv.org/abs/1911.13299>`_ paper.

    Every masked tensor :math:`l` keeps its top
    :math:`N_l - \mathrm{round}(s N_l)` scores from the first epoch on.

    Args:
        model (torch.nn.Module): A model returned by :func:`supermask`.
        optimizer (torch.optim.Optimizer, optional): The optimizer of the
            scores. (default: :obj:`None`)
        sparsity (float): :math:`s \in [0, 1)`, the fraction of weights
            removed in every tensor.
        rescale (str, optional): :obj:`"global"` or :obj:`"layer"` (the
            same here): scale each weight by :math:`1/\sqrt{1 - s}`.
            (default: :obj:`None`)
        coats (int): Multicoated masks, per tensor (see
            :class:`SupermaskSparsifier`). (default: :obj:`1`)

    """

    def __init__(
        self,
        model: torch.nn.Module,
        optimizer: Optional[torch.optim.Optimizer] = None,
        *,
        sparsity: float,
        rescale: Optional[str] = None,
        coats: int = 1,
    ) -> None:
        super().__init__(model, optimizer, schedule=ConstantSchedule(sparsity),
                         scope="layer", rescale=rescale, coats=coats)
