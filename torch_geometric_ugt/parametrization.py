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
    r"""Computes :math:`W \odot m` with a straight-through gradient to
    scores.

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
      with :obj:`rescale="layer"`);
    * :obj:`log_scale`: an optional learnable float32 scalar :math:`g`
      (with :obj:`learn_scale=True`), trained with the scores.

    The weight is :math:`\gamma \, W \odot m(S)` with the multiplier
    :math:`\gamma = c \, e^{g}` (:meth:`multiplier`; 1 when neither is
    present).
    At most one owner (:class:`MaskOwner`, e.g. a sparsifier) selects the
    mask (:meth:`attach`). It may leave the mask stale and select it on the
    next read: every read of :obj:`mask` (the forward pass does),
    :meth:`state_dict`, pickling or copying calls its
    :meth:`~MaskOwner.before_mask_read` first, so every reader sees the
    masks of the current scores. Loading a :meth:`state_dict` calls its
    :meth:`~MaskOwner.after_load`. A copy has no owner.

    The gradient reaches :obj:`scores` straight through the binarisation:
    :math:`\nabla_S L = \gamma \, \nabla_{\gamma W \odot m} L \odot W`.

    Args:
        scores (torch.Tensor): Initial scores, same shape as the weight.
        weight_dtype (torch.dtype): Dtype of the weight (and of the mask).
        learn_scale (bool): Give the weight a learnable scale
            :math:`e^{g}`, :math:`g = 0` at first. (default: :obj:`False`)

    """

    mask: Tensor
    scale: Optional[Tensor]
    log_scale: Optional[torch.nn.Parameter]
    recipe: Optional[Tuple[str, int, str]]
    fan_in: Optional[int]

    def __init__(self, scores: Tensor, weight_dtype: torch.dtype,
                 learn_scale: bool = False) -> None:
        super().__init__()
        self.scores = torch.nn.Parameter(scores.to(torch.float32))
        if learn_scale:
            self.log_scale = torch.nn.Parameter(
                torch.zeros((), device=scores.device))
        else:
            self.register_parameter("log_scale", None)
        mask = torch.ones(scores.shape, dtype=weight_dtype,
                          device=scores.device)
        self.register_buffer("mask", mask)
        self.register_buffer("scale", None)
        self._owner: Optional[weakref.ref] = None
        # (weight_init, seed, fan-in rule) of the frozen weight, set by
        # supermask() (or load_ticket()).
        self.recipe = None
        # the fan-in the frozen weight was drawn at (its layer's own)
        self.fan_in = None
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

    def multiplier(self) -> Optional[Tensor]:
        r"""The weight's multiplier :math:`\gamma = c \, e^{g}` in the
        weight's dtype (differentiable in :math:`g`), or :obj:`None` when
        the weight has neither a scale nor a learnable one.
        """
        scale = self.scale  # up to date
        log_scale = self._parameters.get("log_scale")
        if log_scale is None:
            return scale
        mask = self.stored_mask()
        factor = log_scale.exp()
        if scale is not None:
            factor = factor * scale.to(factor.dtype)
        return factor.to(mask.dtype)

    def forward(self, weight: Tensor) -> Tensor:
        mask = self.mask  # up to date (the scale too)
        masked = _MaskedWeight.apply(weight, self.scores, mask)
        factor = self.multiplier()
        return masked if factor is None else masked * factor

    def _apply(self, fn: Any, recurse: bool = True) -> "ScoreMask":
        # ``model.half()`` converts the weight and the mask but must keep the
        # scores in float32: only move them to the new device.
        probe = fn(torch.zeros(0, device=self.scores.device))
        if probe.dtype == torch.float32:
            return super()._apply(fn, recurse)
        kept = {name: self._parameters.pop(name)
                for name in ("scores", "log_scale")}
        try:
            super()._apply(fn, recurse)
        finally:
            self._parameters.update(kept)
        for param in kept.values():
            if param is None:
                continue
            param.data = param.data.to(probe.device)
            if param.grad is not None:
                param.grad = param.grad.to(probe.device)
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
