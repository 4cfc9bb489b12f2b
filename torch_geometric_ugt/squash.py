r"""Bake a ticket into an ordinary model."""
from __future__ import annotations

import torch
from torch.nn.utils import parametrize

from torch_geometric_ugt.supermask import masked_weights, remove_hooks


def squash(model: torch.nn.Module) -> torch.nn.Module:
    r"""Removes the score-mask parametrizations of :obj:`model`, in place.

    Each masked weight becomes a plain :class:`~torch.nn.Parameter` holding
    :math:`W \odot m` for the current mask, so the model gives exactly the
    same outputs, has no scores, pickles and :func:`torch.save`\ s like any
    model. All its parameters stay frozen (:obj:`requires_grad=False`);
    call :obj:`model.requires_grad_()` to fine-tune it. The sparsifier
    that owned the masks is removed (:meth:`SupermaskSparsifier.remove`),
    so its optimizer hook goes too. A copy (:func:`copy.deepcopy`) can be
    squashed while the original stays a supermask model with its
    sparsifier.

    Returns:
        The same :obj:`model`.

    """
    found = masked_weights(model)
    if not found:
        raise ValueError("squash() found no masked weight; it takes a model "
                         "returned by supermask().")
    # the masks as their sparsifier selects them now, then it lets go
    owners = {id(s): s for s in (e.parametrization.sparsifier for e in found)
              if s is not None}
    for sparsifier in owners.values():
        sparsifier.remove()
    for module in {id(e.module): e.module for e in found}.values():
        _own_class(module)
    for entry in found:
        parametrize.remove_parametrizations(entry.module, entry.attr,
                                            leave_parametrized=True)
    for entry in found:
        if not parametrize.is_parametrized(entry.module):
            remove_hooks(entry.module)
    return model


def _own_class(module: torch.nn.Module) -> None:
    # torch.nn.utils.parametrize keeps each parametrized property on a class
    # made for the module, and removing a parametrization deletes it there.
    # A deep copy shares that class with its original, so the copy gets a
    # class of its own first (same bases, same attributes).
    cls = type(module)
    body = {k: v for k, v in vars(cls).items()
            if k not in ("__dict__", "__weakref__")}
    module.__class__ = type(cls.__name__, cls.__bases__, body)
