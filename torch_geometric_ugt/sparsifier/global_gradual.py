r"""UGTs: global threshold, gradually growing sparsity."""
from __future__ import annotations

from typing import Callable, Optional, Union

import torch

from torch_geometric_ugt.schedule import CallableSchedule, GradualSchedule
from torch_geometric_ugt.schedule import SparsitySchedule
from torch_geometric_ugt.sparsifier.base import SupermaskSparsifier


class GlobalGradualSparsifier(SupermaskSparsifier):
    r"""The UGTs sparsifier from the `"You Can Have Better Graph Neural
    Networks by Not Training Weights at All" <https://arxiv.org/abs/
    2211.15335>`_ paper.

    One threshold is shared by all masked weights, so the per-layer
    sparsities are non-uniform; the sparsity grows from
    :math:`s_i` to :math:`s_f` over :math:`n` epochs (eq. 5):

    .. math::
        s_t = s_f + (s_i - s_f)\left(1 - \frac{t - t_0}{n}\right)

    Args:
        model (torch.nn.Module): A model returned by :func:`supermask`.
        optimizer (torch.optim.Optimizer, optional): The optimizer of the
            scores; masks then refresh after each of its steps.
            (default: :obj:`None`)
        final_sparsity (float): :math:`s_f \in [0, 1)`, the fraction of
            weights removed at the end.
        ramp_epochs (int): :math:`n \geq 1`.
        initial_sparsity (float): :math:`s_i`. Set it to
            :obj:`final_sparsity` for a fixed sparsity (the "global only"
            ablation). (default: :obj:`0.0`)
        start_epoch (int): :math:`t_0`. (default: :obj:`0`)
        schedule (str or Callable[[int], float] or SparsitySchedule):
            :obj:`"linear"` (eq. 5), :obj:`"cubic"` (Zhu & Gupta) or a
            function of the epoch, which must end at
            :obj:`final_sparsity`. (default: :obj:`"linear"`)
        rescale (str, optional): :obj:`"global"` or :obj:`"layer"`: scale
            each weight by :math:`1/\sqrt{d}`, :math:`d` the density in
            force or the tensor's realised density (see
            :class:`SupermaskSparsifier`). (default: :obj:`None`)
        coats (int): Multicoated masks: :math:`C` nested selections, the
            mask the share of coats that keep each weight (see
            :class:`SupermaskSparsifier`). (default: :obj:`1`)

    """

    def __init__(
        self,
        model: torch.nn.Module,
        optimizer: Optional[torch.optim.Optimizer] = None,
        *,
        final_sparsity: float,
        ramp_epochs: int,
        initial_sparsity: float = 0.0,
        start_epoch: int = 0,
        schedule: Union[str, Callable[[int], float],
                        SparsitySchedule] = "linear",
        rescale: Optional[str] = None,
        coats: int = 1,
    ) -> None:
        plan: SparsitySchedule
        if isinstance(schedule, str):
            plan = GradualSchedule(final_sparsity, ramp_epochs,
                                   initial_sparsity, start_epoch, schedule)
        elif isinstance(schedule, SparsitySchedule) or callable(schedule):
            # ramp_epochs and friends are then unused; still check them
            GradualSchedule(final_sparsity, ramp_epochs, initial_sparsity,
                            start_epoch)
            plan = (schedule if isinstance(schedule, SparsitySchedule) else
                    CallableSchedule(schedule, final_sparsity))
            if plan.final_sparsity != final_sparsity:
                raise ValueError(f"final_sparsity={final_sparsity} but the "
                                 f"schedule ends at {plan.final_sparsity}; "
                                 f"pass the same value.")
        else:
            raise TypeError(f"schedule must be 'linear', 'cubic' or a "
                            f"callable; got {schedule!r}.")
        super().__init__(model, optimizer, schedule=plan, scope="global",
                         rescale=rescale, coats=coats)
