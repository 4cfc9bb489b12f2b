r"""Initialisations of the frozen weights and of the scores.

All initialisers use the fan-in :math:`f` of the weight (see :func:`fan_in`)
and the ReLU gain :math:`g = \sqrt{2}`:

* ``"kaiming_uniform"``: :math:`U(-g\sqrt{3/f},\, g\sqrt{3/f})`;
* ``"kaiming_normal"``: :math:`\mathcal{N}(0,\, g^2/f)`;
* ``"signed_constant"``: :math:`\pm g/\sqrt{f}` with a random sign
  (Edge-Popup's best weight init);
* ``"uniform"`` (scores only): :math:`U(-1, 1)`.
"""
from __future__ import annotations

import math
from typing import Callable, Dict, Optional

import torch
from torch import Tensor

GAIN = math.sqrt(2.0)

Initializer = Callable[[Tensor, int, Optional[torch.Generator]], None]


FAN_IN_RULES = ("torch", "channels")
r"""How the fan-in of an attention vector is counted: :obj:`"torch"` (the
default since this release, as :func:`torch.nn.init._calculate_fan_in_and_
fan_out` and the UGTs reference code count it) or :obj:`"channels"` (the
rule of earlier releases, kept to regenerate their tickets)."""


def fan_in(name: str, tensor: Tensor, rule: str = "torch") -> int:
    r"""The fan-in of a masked weight.

    A 2-D weight is stored as ``(out, in)``, so :math:`f` is its second
    dimension; any other shape uses PyTorch's convention (second dimension
    times the receptive field), so an attention vector ``(1, heads,
    channels)`` has :math:`f = \text{heads} \cdot \text{channels}`. With
    :obj:`rule="channels"` (earlier releases) an attention vector (a
    parameter whose name starts with ``att``) has :math:`f =
    \text{channels}`; the two agree for one head.
    """
    if rule not in FAN_IN_RULES:
        raise ValueError(f"Unknown fan-in rule {rule!r}; choose one of "
                         f"{FAN_IN_RULES}.")
    if tensor.dim() == 0:
        return 1
    if tensor.dim() == 1:
        return tensor.numel()
    if rule == "channels" and name.startswith("att"):
        return tensor.size(-1)
    return tensor.size(1) * math.prod(tensor.shape[2:])


def _kaiming_uniform_(t: Tensor, fan: int,
                      gen: Optional[torch.Generator]) -> None:
    bound = GAIN * math.sqrt(3.0 / fan)
    t.uniform_(-bound, bound, generator=gen)


def _kaiming_normal_(t: Tensor, fan: int,
                     gen: Optional[torch.Generator]) -> None:
    t.normal_(0.0, GAIN / math.sqrt(fan), generator=gen)


def _signed_constant_(t: Tensor, fan: int,
                      gen: Optional[torch.Generator]) -> None:
    sign = torch.randint(0, 2, t.shape, generator=gen, dtype=t.dtype) * 2 - 1
    t.copy_(sign * (GAIN / math.sqrt(fan)))


def _uniform_(t: Tensor, fan: int, gen: Optional[torch.Generator]) -> None:
    t.uniform_(-1.0, 1.0, generator=gen)


WEIGHT_INITS: Dict[str, Initializer] = {
    "kaiming_uniform": _kaiming_uniform_,
    "kaiming_normal": _kaiming_normal_,
    "signed_constant": _signed_constant_,
}

SCORE_INITS: Dict[str, Initializer] = {
    "kaiming_uniform": _kaiming_uniform_,
    "uniform": _uniform_,
}


def resolve_init(kind: str, table: Dict[str, Initializer],
                 what: str) -> Initializer:
    """Looks up an initialiser by name with an error listing the choices."""
    try:
        return table[kind]
    except KeyError:
        raise ValueError(f"Unknown {what} {kind!r}; choose one of "
                         f"{sorted(table)}.") from None


def sample(shape: torch.Size, name: str, init: Initializer,
           gen: Optional[torch.Generator], rule: str = "torch") -> Tensor:
    r"""Draws a float32 CPU tensor of :obj:`shape` with :obj:`init`.

    Sampling on the CPU with an explicit generator makes the values depend
    only on the seed, never on the device the model lives on.
    """
    return draw(shape, fan_in(name, torch.empty(shape, device="meta"), rule),
                init, gen)


def draw(shape: torch.Size, fan: int, init: Initializer,
         gen: Optional[torch.Generator]) -> Tensor:
    r"""Draws a float32 CPU tensor of :obj:`shape` with :obj:`init` at the
    fan-in :obj:`fan` (:func:`torch_geometric_ugt.selection.weight_fan_in`
    reads it from the layer).
    """
    out = torch.empty(shape, dtype=torch.float32)
    init(out, fan, gen)
    return out
