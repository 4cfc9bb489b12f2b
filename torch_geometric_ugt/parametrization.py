r"""The score-masked weight parametrization used by :func:`supermask`.

The parametrization is a plain mask, as in :mod:`torch.ao.pruning`: it
knows nothing of who selects the mask. Whoever does (a sparsifier)
attaches itself as the mask's :class:`MaskOwner` and is told, through that
small protocol, when the mask is about to be read and when a checkpoint
was loaded into it.
"""
from __future__ import annotations

import weakref
from typing import Any, Dict, Optional, Protocol, Tuple

import torch
from torch import Tensor
from torch.nn.utils import parametrize


class MaskOwner(Protocol):
    r"""What a :class:`ScoreMask` calls on the object that selects its mask
    (see :meth:`ScoreMask.attach`).
    """

    def before_mask_read(self) -> None:
        r"""Called before every read of the mask (the forward pass,
        :obj:`mask`, :meth:`~torch.nn.Module.state_dict`, pickling and
        copying): write the masks of the current scores now if they are
        stale.
        """

    def after_load(self) -> None:
        r"""Called after a state dict was loaded into the mask's module:
        the scores may have changed.
        """


class _MaskedWeight(torch.autograd.Function):
    r"""Computes :math:`c \, W \odot m` with a straight-through gradient to
    the scores.

    Forward: :math:`c \, W \odot m` (:math:`c = 1` without a scale).
    Backward: the binarisation :math:`m = \mathbb{1}[S \text{ kept}]` is
    treated as the identity, so :math:`\partial L / \partial S = c \,
    \partial L / \partial (c W \odot m) \odot W`.
    """

    @staticmethod
    def forward(ctx: Any, weight: Tensor, scores: Tensor, mask: Tensor,
                scale: Optional[Tensor]) -> Tensor:
        # The mask is only needed for the weight's gradient: a frozen
        # weight's backward pass does not mind a mask selected since.
        ctx.save_for_backward(weight, mask if weight.requires_grad else None,
                              scale)
        ctx.scores_dtype = scores.dtype
        out = weight * mask
        return out if scale is None else out * scale

    @staticmethod
    def backward(ctx: Any, *grad_outputs: Tensor) -> Any:
        grad = grad_outputs[0]
        weight, mask, scale = ctx.saved_tensors
        if scale is not None:
            grad = grad * scale
        grad_weight = grad * mask if ctx.needs_input_grad[0] else None
        grad_scores = None
        if ctx.needs_input_grad[1]:
            grad_scores = (grad * weight).to(ctx.scores_dtype)
        return grad_weight, grad_scores, None, None


class ScoreMask(torch.nn.Module):
    r"""Parametrization :math:`W \mapsto c \, W \odot m(S)` with learnable
    scores.

    Registered on a weight by :func:`torch_geometric_ugt.supermask` through
    :func:`torch.nn.utils.parametrize.register_parametrization`. It holds

    * :obj:`scores`: a float32 :class:`~torch.nn.Parameter` :math:`S` of the
      weight's shape, the only trainable tensor;
    * :obj:`mask`: a buffer :math:`m \in \{0, 1\}` in the weight's dtype,
      written by the mask's owner (all ones until one runs);
    * :obj:`scale`: an optional 0-dimensional buffer :math:`c` (absent,
      :obj:`None`, unless an owner rescales the weight, e.g. a sparsifier
      with :obj:`rescale="layer"`).

    At most one owner (:class:`MaskOwner`, e.g. a sparsifier) selects the
    mask (:meth:`attach`). It may leave the mask stale and select it on the
    next read: every read of :obj:`mask` (the forward pass does),
    :meth:`state_dict`, pickling or copying calls its
    :meth:`~MaskOwner.before_mask_read` first, so every reader sees the
    masks of the current scores. Loading a :meth:`state_dict` calls its
    :meth:`~MaskOwner.after_load`. A copy has no owner.

    The gradient reaches :obj:`scores` straight through the binarisation:
    :math:`\nabla_S L = \nabla_{c W \odot m} L \odot c W`.

    Args:
        scores (torch.Tensor): Initial scores, same shape as the weight.
        weight_dtype (torch.dtype): Dtype of the weight (and of the mask).

    """

    mask: Tensor
    scale: Optional[Tensor]
    recipe: Optional[Tuple[str, int, str]]

    def __init__(self, scores: Tensor, weight_dtype: torch.dtype) -> None:
        super().__init__()
        self.scores = torch.nn.Parameter(scores.to(torch.float32))
        mask = torch.ones(scores.shape, dtype=weight_dtype,
                          device=scores.device)
        self.register_buffer("mask", mask)
        self.register_buffer("scale", None)
        self._owner: Optional[weakref.ref] = None
        # (weight_init, seed, fan-in rule) of the frozen weight, set by
        # supermask() (or load_ticket()).
        self.recipe = None
        self.register_load_state_dict_pre_hook(_check_checkpoint)
        self.register_load_state_dict_post_hook(_after_load)
        self.register_state_dict_pre_hook(_before_read)

    # The owner ---------------------------------------------------------

    @property
    def owner(self) -> Optional[MaskOwner]:
        r"""The object that selects this mask, if any."""
        ref = self.__dict__.get("_owner")
        return ref() if ref is not None else None

    @property
    def sparsifier(self) -> Optional[MaskOwner]:
        r"""The sparsifier that owns this mask, if any (:attr:`owner`)."""
        return self.owner

    def attach(self, owner: MaskOwner) -> None:
        r"""Makes :obj:`owner` select this mask from now on (held by a weak
        reference). Refused while another owner holds it.
        """
        current = self.owner
        if current is not None and current is not owner:
            raise RuntimeError(
                f"This mask is already owned by {current!r}; call remove() "
                f"on that one first.")
        self._owner = weakref.ref(owner)

    def detach(self) -> None:
        r"""Releases the mask: it then stays as it is."""
        self._owner = None

    # The buffers -------------------------------------------------------

    def stored_mask(self) -> Tensor:
        r"""The mask buffer as it is stored, without bringing it up to date
        first (what the owner writes).
        """
        mask = self._buffers["mask"]
        assert mask is not None
        return mask

    def set_scale(self, scale: Optional[Tensor]) -> None:
        r"""Sets :obj:`scale` (a 0-dimensional tensor, written in place
        when one exists) or removes it (:obj:`None`).
        """
        if scale is None:
            self._buffers["scale"] = None
            return
        if scale.dim() != 0:
            raise ValueError(f"A weight's scale is 0-dimensional; got shape "
                             f"{tuple(scale.shape)}.")
        mask = self.stored_mask()
        current = self._buffers.get("scale")
        if current is None or current.device != mask.device:
            self._buffers["scale"] = scale.detach().to(mask.device,
                                                       mask.dtype).clone()
        else:
            current.copy_(scale)

    def __getattr__(self, name: str) -> Any:
        # Buffers are found by nn.Module.__getattr__, so every read of
        # ``self.mask`` (or ``self.scale``) passes here: bring them up to
        # date first.
        if name in ("mask", "scale"):
            _before_read(self)
        return super().__getattr__(name)

    def __getstate__(self) -> Dict[str, Any]:
        # Pickled or copied masks are up to date; the copy has no owner.
        _before_read(self)
        state = self.__dict__.copy()
        state["_owner"] = None
        return state

    def forward(self, weight: Tensor) -> Tensor:
        mask = self.mask  # up to date (the scale too)
        return _MaskedWeight.apply(weight, self.scores, mask,
                                   self._buffers["scale"])

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


def drop_cached_weight(module: torch.nn.Module, attr: str) -> None:
    r"""Forgets the weight that :func:`torch.nn.utils.parametrize.cached`
    computed for :obj:`module.attr`, so its next read computes it again
    (with the masks of that moment). Nothing happens outside a cached
    block.
    """
    cache = getattr(parametrize, "_cache", None)
    if getattr(parametrize, "_cache_enabled", 0) and cache is not None:
        cache.pop((id(module), attr), None)


def _before_read(module: torch.nn.Module, *args: Any) -> None:
    ref = module.__dict__.get("_owner")
    owner = ref() if ref is not None else None
    if owner is not None:
        owner.before_mask_read()


def _after_load(module: torch.nn.Module, *args: Any) -> None:
    ref = module.__dict__.get("_owner")
    owner = ref() if ref is not None else None
    if owner is not None:
        owner.after_load()


def _check_checkpoint(module: torch.nn.Module, state_dict: dict,
                      prefix: str, *args: Any) -> None:
    # Shapes first (reads the stored tensors: loading must work whatever
    # the current scores are, e.g. to recover from NaN scores).
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
    # The scale is optional on both sides: the weight takes the
    # checkpoint's (none for checkpoints saved without rescaling, or by an
    # earlier release); an owner that rescales writes it again after the
    # load.
    saved_scale = state_dict.get(prefix + "scale")
    own_scale = module._buffers.get("scale")
    if saved_scale is not None and own_scale is None:
        mask = module._buffers["mask"]
        assert mask is not None
        module._buffers["scale"] = torch.ones((), dtype=mask.dtype,
                                              device=mask.device)
    elif saved_scale is None and own_scale is not None:
        module._buffers["scale"] = None
