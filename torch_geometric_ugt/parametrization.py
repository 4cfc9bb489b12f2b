r"""The score-masked weight parametrization used by :func:`supermask`."""
from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple

import torch
from torch import Tensor


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
        ctx.save_for_backward(weight, mask)
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

    A sparsifier may leave the mask stale (after an optimizer step, or a new
    sparsity) and register a pending refresh; reading :obj:`mask` (the
    forward pass does), :meth:`state_dict`, pickling or copying runs it
    first, so every reader sees the masks of the current scores.

    The gradient reaches :obj:`scores` straight through the binarisation:
    :math:`\nabla_S L = \nabla_{W \odot m} L \odot W`.

    Args:
        scores (torch.Tensor): Initial scores, same shape as the weight.
        weight_dtype (torch.dtype): Dtype of the weight (and of the mask).

    """

    mask: Tensor
    pending_refresh: Optional[Callable[[], None]]
    recipe: Optional[Tuple[str, int]]

    def __init__(self, scores: Tensor, weight_dtype: torch.dtype) -> None:
        super().__init__()
        self.scores = torch.nn.Parameter(scores.to(torch.float32))
        mask = torch.ones(scores.shape, dtype=weight_dtype,
                          device=scores.device)
        self.register_buffer("mask", mask)
        self.pending_refresh = None
        # (weight_init, seed) of the frozen weight, set by supermask().
        self.recipe = None
        self.register_load_state_dict_pre_hook(_check_checkpoint_shapes)
        self.register_state_dict_pre_hook(_run_pending_refresh)

    def __getattr__(self, name: str) -> Any:
        # Buffers are found by nn.Module.__getattr__, so every read of
        # ``self.mask`` passes here: bring the mask up to date first.
        if name == "mask":
            pending = self.__dict__.get("pending_refresh")
            if pending is not None:
                pending()
        return super().__getattr__(name)

    def __getstate__(self) -> Dict[str, Any]:
        # Pickled or copied masks are up to date; the copy has no sparsifier.
        _run_pending_refresh(self)
        state = self.__dict__.copy()
        state["pending_refresh"] = None
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


def _run_pending_refresh(module: torch.nn.Module, *args: Any) -> None:
    pending = module.__dict__.get("pending_refresh")
    if pending is not None:
        pending()


def _check_checkpoint_shapes(module: torch.nn.Module, state_dict: dict,
                             prefix: str, *args: Any) -> None:
    for name in ("scores", "mask"):
        saved = state_dict.get(prefix + name)
        own = getattr(module, name)
        if saved is not None and saved.shape != own.shape:
            raise RuntimeError(
                f"Checkpoint entry '{prefix}{name}' has shape "
                f"{tuple(saved.shape)} but this model's masked weight has "
                f"shape {tuple(own.shape)}: the checkpoint comes from another "
                f"architecture. Build the same model (same channels, layers "
                f"and heads), call supermask() on it, then load the "
                f"checkpoint.")
