r"""Which parameters :func:`~torch_geometric_ugt.supermask` masks by default,
and how it reads their fan-in.

The rule is general, not a list of layer types: a parameter is masked when
it multiplies an input, that is every floating parameter with at least two
dimensions, wherever it lives (a plain attribute, a
:class:`~torch.nn.ParameterDict` / :class:`~torch.nn.ParameterList`, an RNN
or RNN cell, a weight of three or more dimensions), and the one-dimensional
:obj:`weight`, :obj:`root` and :obj:`att*` of message passing layers. What
stays dense is a short list of kinds that are not multiplicative weights
(:data:`DENSE_KINDS`).
"""
from __future__ import annotations

import fnmatch
import math
from typing import Dict, Optional, Sequence

import torch
from torch.nn.parameter import is_lazy
from torch_geometric.nn.conv import MessagePassing
from torch_geometric.nn.dense import Linear as PyGLinear

DENSE_KINDS: Dict[str, str] = {
    "integer": "not floating: nothing to scale",
    "bias": "an added offset, not a product with the input (bias, "
            "bias_ih_l0, in_proj_bias, bias_k, ...)",
    "embedding": "a lookup table (torch.nn.Embedding / EmbeddingBag): its "
                 "rows are read, not multiplied with an input",
    "mixture": "the means and widths of a Gaussian mixture (GMMConv's mu "
               "and sigma): distances, not products",
    "gate": "a one-element gate or scale (GINConv's eps, AGNNConv's beta, "
            "SAGPooling's score scale): a mask could only switch it off",
    "per-channel": "a one-dimensional scale or offset per channel (the "
                   "affine parameters of norms, FeaStConv's c)",
}
r"""The kinds of parameters left dense by default, each with its reason.
:obj:`include` / :obj:`exclude` of :func:`~torch_geometric_ugt.supermask`
override the rule either way."""

VECTOR_NAMES = ("weight", "root", "att", "att_*")
r"""One-dimensional parameters of a message passing layer masked by
default (e.g. :class:`~torch_geometric.nn.conv.PANConv`'s path weights)."""

PROJECTION_VECTORS = {"PANPooling": ("p", )}
r"""One-dimensional projection vectors outside message passing layers
masked by default, by class name (:class:`~torch_geometric.nn.pool.
PANPooling`'s score projection)."""

BIAS_PARAMETERS = {"RGATConv": ("b1", "b2")}
r"""Biases whose names do not say so, by class name (kind
:obj:`"bias"`)."""

MIXTURE_PARAMETERS = {"GMMConv": ("mu", "sigma")}
r"""Mixture means and widths, by layer class name (kind
:obj:`"mixture"`)."""


def kind(module: torch.nn.Module, attr: str,
         param: torch.Tensor) -> Optional[str]:
    r"""The :data:`DENSE_KINDS` entry of :obj:`module`'s parameter
    :obj:`attr`, or :obj:`None` when it is masked by default.
    """
    if not (param.is_floating_point() or param.is_complex()):
        return "integer"
    if "bias" in attr:
        return "bias"
    if isinstance(module, (torch.nn.Embedding, torch.nn.EmbeddingBag)):
        return "embedding"
    for cls in type(module).__mro__:
        if attr in MIXTURE_PARAMETERS.get(cls.__name__, ()):
            return "mixture"
        if attr in BIAS_PARAMETERS.get(cls.__name__, ()):
            return "bias"
        if attr in PROJECTION_VECTORS.get(cls.__name__, ()):
            return None
    if is_lazy(param):  # shapes unknown: supermask() refuses it later
        return None
    if param.numel() == 1:
        return "gate"
    if param.dim() >= 2:
        return None
    if isinstance(module, MessagePassing) and any(
            fnmatch.fnmatchcase(attr, p) for p in VECTOR_NAMES):
        return None
    return "per-channel"


def _defining_package(module: torch.nn.Module) -> str:
    # The package of the module's own class (parametrize swaps in a
    # subclass defined in torch.nn.utils.parametrize).
    for cls in type(module).__mro__:
        if cls.__module__ != "torch.nn.utils.parametrize":
            return cls.__module__
    return ""


def layout(module: torch.nn.Module, shape: Sequence[int]) -> str:
    r"""How a weight of :obj:`shape` owned by :obj:`module` is stored:

    * :obj:`"torch"`: ``(out, in, *kernel)`` as :mod:`torch.nn` stores it
      (:class:`~torch.nn.Linear`, RNNs, attention, convolutions,
      :class:`torch_geometric.nn.dense.Linear`), and any layer that is not
      from PyG (read as :func:`torch.nn.init.kaiming_uniform_` reads it);
      attention and projection vectors (first dimension 1, e.g. GAT's
      ``(1, heads, channels)``) too;
    * :obj:`"pyg"`: ``(..., in, out)``, PyG's bare weights that multiply as
      ``x @ W`` (e.g. :class:`~torch_geometric.nn.conv.RGCNConv`'s
      ``(relations, in, out)``, :class:`~torch_geometric.nn.dense.
      HeteroLinear`, :class:`~torch_geometric.nn.conv.GatedGraphConv`).
    """
    if len(shape) < 2 or shape[0] == 1 or isinstance(module, PyGLinear):
        return "torch"
    return ("pyg" if _defining_package(module).startswith("torch_geometric")
            else "torch")


def weight_fan_in(module: torch.nn.Module, shape: Sequence[int]) -> int:
    r"""The fan-in :math:`f` of a weight of :obj:`shape` in :obj:`module`,
    the one its layer's own initialisation uses: the second dimension times
    the receptive field in the :obj:`"torch"` :func:`layout`, the
    second-to-last dimension in the :obj:`"pyg"` one; a vector's length.
    """
    if len(shape) == 0:
        return 1
    if len(shape) == 1:
        return int(shape[0])
    if layout(module, shape) == "pyg":
        return int(shape[-2])
    return int(shape[1]) * math.prod(int(s) for s in shape[2:])
