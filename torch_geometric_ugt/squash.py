r"""Bake a ticket into an ordinary model."""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import torch
from torch.nn.utils import parametrize

import torch_geometric_ugt.sparse_linear as sparse_module
from torch_geometric_ugt.sparse_linear import SparseLinear, _check_real
from torch_geometric_ugt.supermask import (LINEAR_TYPES, masked_weights,
                                           own_class, remove_hooks)


def squash(model: torch.nn.Module, *, sparse: bool = False,
           max_density: Optional[float] = None) -> torch.nn.Module:
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

    With :obj:`sparse=True`, every masked :class:`torch.nn.Linear` /
    :class:`torch_geometric.nn.dense.Linear` whose squashed weight has at
    most :obj:`max_density` nonzeros per entry (and at least
    :data:`~torch_geometric_ugt.sparse_linear.MIN_ELEMENTS` entries) is
    replaced by a :class:`~torch_geometric_ugt.sparse_linear.SparseLinear`
    that stores it in CSR and multiplies only its nonzeros; the other
    weights stay dense: denser layers, attention vectors, and the weights
    that torch's fused functions read as dense tensors
    (:class:`torch.nn.MultiheadAttention`'s, RNNs'). The
    model then gives the dense squash's outputs up to float rounding, and
    runs inference only (:obj:`eval()`, :func:`torch.no_grad`); see
    docs/inference.md.

    Args:
        model (torch.nn.Module): A model returned by :func:`supermask`.
        sparse (bool): Store sparse enough linear weights sparse.
            (default: :obj:`False`)
        max_density (float, optional): The densest weight to store sparse,
            in [0, 1]; :obj:`0` makes no layer sparse. By default the
            crossover measured for the weights' device
            (:func:`~torch_geometric_ugt.sparse_linear.max_density`):
            where a sparse layer is faster than a dense one.

    Returns:
        The same :obj:`model` (a new
        :class:`~torch_geometric_ugt.sparse_linear.SparseLinear` when
        :obj:`model` itself is a sparse enough linear layer).

    """
    if not isinstance(sparse, bool):
        raise TypeError(f"sparse must be True or False; got {sparse!r}.")
    if max_density is not None:
        if not sparse:
            raise ValueError("max_density only applies with sparse=True.")
        _check_real(max_density, "max_density")
    found = masked_weights(model)
    if not found:
        raise ValueError("squash() found no masked weight; it takes a model "
                         "returned by supermask().")
    # the masks as their sparsifier selects them now, then it lets go
    owners = {id(s): s for s in (e.parametrization.owner for e in found)
              if s is not None}
    for owner in owners.values():
        remove = getattr(owner, "remove", None)
        if callable(remove):
            remove()  # a sparsifier: its optimizer hook goes too
    for entry in found:
        entry.parametrization.mask  # noqa: B018 (up to date, then alone)
        entry.parametrization.detach()
    for module in {id(e.module): e.module for e in found}.values():
        own_class(module)
    for entry in found:
        parametrize.remove_parametrizations(entry.module, entry.attr,
                                            leave_parametrized=True)
    for entry in found:
        if not parametrize.is_parametrized(entry.module):
            remove_hooks(entry.module)
    if not sparse:
        return model
    linears = [e.module for e in found
               if isinstance(e.module, LINEAR_TYPES) and e.attr == "weight"]
    return _sparsify(model, linears, max_density)


def _sparsify(model: torch.nn.Module, linears: List[torch.nn.Module],
              limit: Optional[float]) -> torch.nn.Module:
    # Puts a SparseLinear wherever one of `linears` is referenced (a module
    # may be shared), for those sparse enough to gain from it.
    # (MultiheadAttention reads its out_proj's weight directly, as a dense
    # tensor: that one stays dense.)
    parents: Dict[int, List[Tuple[torch.nn.Module, str]]] = {}
    inside_attention = set()
    for parent in model.modules():
        for name, child in parent._modules.items():
            if child is not None:
                parents.setdefault(id(child), []).append((parent, name))
                if isinstance(parent, torch.nn.MultiheadAttention):
                    inside_attention.add(id(child))
    root = model
    for module in {id(m): m for m in linears}.values():
        if id(module) in inside_attention:
            continue
        weight = module.weight
        assert isinstance(weight, torch.Tensor)
        threshold = (sparse_module.max_density(weight.device) if limit is None
                     else limit)
        if weight.numel() < sparse_module.MIN_ELEMENTS:
            continue
        density = int(torch.count_nonzero(weight)) / weight.numel()
        if threshold == 0 or density > threshold:  # 0: no sparse layer
            continue
        bias = getattr(module, "bias", None)
        layer = SparseLinear.from_dense(
            weight, bias if isinstance(bias, torch.Tensor) else None)
        layer.train(module.training)
        for parent, name in parents.get(id(module), []):
            parent._modules[name] = layer
        if module is model:
            root = layer
    return root

