r"""The score-masked weight parametrization used by :func:`supermask`."""
from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple

import torch
from torch import Tensor

if TYPE_CHECKING:
    from torch_geometric_ugt.sparsifier.base import SupermaskSparsifier


class _MaskedWeight(torch.autograd.Function):
    r"""Computes :math:`W \odot m` with a straight-through gradient to scores.

    Forward: :math:`W \odot m`. Backward: the binarisation
    :math:`m = \mathbb{1}[S \text{ kept}]` is treated as the identity, so
    :math:`\partial L / \partial S = \partial L / \partial (W \odot m)
    \odot W`.
    """

    @staticmethod
    def forward(ctx: Any, weight: Tensor, scores: Tensor,
                mask: Tensor) -> Tensor:
        # The mask is only needed for the weight's gradient: a frozen
        # weight's backward pass does not mind a mask selected since.
        ctx.save_for_backward(weight, mask if weight.requires_grad else None)
        ctx.scores_dtype = scores.dtype
        return weight * mask

    @staticmethod
    def backward(ctx: Any, *grad_outputs: Tensor) -> Any:
        grad = grad_outputs[0]
        weight, mask = ctx.saved_tensors
        grad_weight = grad * mask if ctx.needs_input_grad[0] else None
        grad_scores = None
        if ctx.needs_input_grad[1]:
            grad_scores = (grad * weight).to(ctx.scores_dtype)
        return grad_weight, grad_scores, None


class ScoreMask(torch.nn.Module):
    r"""Parametrization :math:`W \mapsto W \odot m(S)` with learnable scores.

    Registered on a weight by :func:`torch_geometric_ugt.supermask` through
    :func:`torch.nn.utils.parametrize.register_parametrization`. It holds

    * :obj:`scores`: a float32 :class:`~torch.nn.Parameter` :math:`S` of the
      weight's shape, the only trainable tensor;
    * :obj:`mask`: a buffer :math:`m \in \{0, 1\}` in the weight's dtype,
      written by a sparsifier (all ones until one runs).

    At most one sparsifier owns the mask (:attr:`sparsifier`). It may
    leave the mask stale (after an optimizer step, or a new sparsity) and
    select it on the next read: reading :obj:`mask` (the forward pass does),
    :meth:`state_dict`, pickling or copying brings it up to date first, so
    every reader sees the masks of the current scores. Loading a
    :meth:`state_dict` marks it stale. A copy has no sparsifier.

    The gradient reaches :obj:`scores` straight through the binarisation:
    :math:`\nabla_S L = \nabla_{W \odot m} L \odot W`.

    Args:
        scores (torch.Tensor): Initial scores, same shape as the weight.
        weight_dtype (torch.dtype): Dtype of the weight (and of the mask).

    """

    mask: Tensor
    recipe: Optional[Tuple[str, int, str]]

    def __init__(self, scores: Tensor, weight_dtype: torch.dtype) -> None:
        super().__init__()
        self.scores = torch.nn.Parameter(scores.to(torch.float32))
        mask = torch.ones(scores.shape, dtype=weight_dtype,
                          device=scores.device)
        self.register_buffer("mask", mask)
        self._owner: Optional[weakref.ref] = None
        # (weight_init, seed, fan-in rule) of the frozen weight, set by
        # supermask() (or load_ticket()).
        self.recipe = None
        self.register_load_state_dict_pre_hook(_check_checkpoint_shapes)
        self.register_load_state_dict_post_hook(_mark_stale)
        self.register_state_dict_pre_hook(_bring_up_to_date)

    @property
    def sparsifier(self) -> Optional["SupermaskSparsifier"]:
        r"""The sparsifier that owns this mask, if any."""
        owner = self.__dict__.get("_owner")
        return owner() if owner is not None else None

    def stored_mask(self) -> Tensor:
        r"""The mask buffer as it is stored, without bringing it up to date
        first (what the owning sparsifier writes).
        """
        mask = self._buffers["mask"]
        assert mask is not None
        return mask

    def __getattr__(self, name: str) -> Any:
        # Buffers are found by nn.Module.__getattr__, so every read of
        # ``self.mask`` passes here: bring the mask up to date first.
        if name == "mask":
            _bring_up_to_date(self)
        return super().__getattr__(name)

    def __getstate__(self) -> Dict[str, Any]:
        # Pickled or copied masks are up to date; the copy has no sparsifier.
        _bring_up_to_date(self)
        state = self.__dict__.copy()
        state["_owner"] = None
        return state

    def forward(self, weight: Tensor) -> Tensor:
        return _MaskedWeight.apply(weight, self.scores, self.mask)

    def _apply(self, fn: Any, recurse: bool = True) -> "ScoreMask":
        # ``model.half()`` converts the weight and the mask but must keep the
        # scores in float32: only move them to the new device.
        probe = fn(torch.zeros(0, device=self.scores.device))
        if probe.dtype == torch.float32:
            return super()._apply(fn, recurse)
        scores = self._parameters.pop("scores")
        try:
            super()._apply(fn, recurse)
        finally:
            self._parameters["scores"] = scores
        assert scores is not None
        scores.data = scores.data.to(probe.device)
        if scores.grad is not None:
            scores.grad = scores.grad.to(probe.device)
        return self

    def extra_repr(self) -> str:
        return f"shape={tuple(self.scores.shape)}"


def _bring_up_to_date(module: torch.nn.Module, *args: Any) -> None:
    owner = module.__dict__.get("_owner")
    sparsifier = owner() if owner is not None else None
    if sparsifier is not None:
        sparsifier._bring_up_to_date()


def _mark_stale(module: torch.nn.Module, *args: Any) -> None:
    owner = module.__dict__.get("_owner")
    sparsifier = owner() if owner is not None else None
    if sparsifier is not None:
        sparsifier._mark_stale()


def _check_checkpoint_shapes(module: torch.nn.Module, state_dict: dict,
                             prefix: str, *args: Any) -> None:
    # (reads the stored tensors: loading must work whatever the current
    # scores are, e.g. to recover from NaN scores)
    own_tensors = {"scores": module._parameters.get("scores"),
                   "mask": module._buffers.get("mask")}
    for name, own in own_tensors.items():
        saved = state_dict.get(prefix + name)
        if own is None:
            continue
        if saved is not None and saved.shape != own.shape:
            raise RuntimeError(
                f"Checkpoint entry '{prefix}{name}' has shape "
                f"{tuple(saved.shape)} but this model's masked weight has "
                f"shape {tuple(own.shape)}: the checkpoint comes from another "
                f"architecture. Build the same model (same channels, layers "
                f"and heads), call supermask() on it, then load the "
                f"checkpoint.")
