"""How a run's settings shape its search: the sparsifier of each
method, what the optimizer trains, the runner-only schedules (a
smaller learning rate or a frozen temperature once the ramp ends, noise
on the scores) and what is stacked on the masks (learned signs, a
signed supermask; coat levels)."""
from __future__ import annotations

from typing import Any, Callable, Dict, List, TypeVar

import torch
from torch.nn.utils import parametrize

from benchmarks.experiments import METHODS, Config
from torch_geometric_ugt import (EdgePopupSparsifier, GlobalGradualSparsifier,
                                 GradualSchedule, SupermaskSparsifier,
                                 masked_weights, score_parameters)
from torch_geometric_ugt.parametrization import ScoreMask
from torch_geometric_ugt.search import TrainEpoch
from torch_geometric_ugt.supermask import MaskedWeight


def sparsifier_for(cfg: Config, model, optimizer) -> SupermaskSparsifier:
    """The sparsifier of :obj:`cfg.method`."""
    s, rescale = cfg.sparsity, cfg.rescale or None
    coats = cfg.coats_in_force()
    if cfg.method == "ugt":
        return GlobalGradualSparsifier(model, optimizer, final_sparsity=s,
                                       ramp_epochs=cfg.ramp, rescale=rescale,
                                       coats=coats)
    if cfg.method == "edge-popup":
        return EdgePopupSparsifier(model, optimizer, sparsity=s,
                                   rescale=rescale, coats=coats)
    if cfg.method == "global-only":
        return GlobalGradualSparsifier(model, optimizer, final_sparsity=s,
                                       ramp_epochs=1, initial_sparsity=s,
                                       rescale=rescale, coats=coats)
    if cfg.method == "gradual-only":
        return SupermaskSparsifier(model, optimizer,
                                   schedule=GradualSchedule(s, cfg.ramp),
                                   scope="layer", rescale=rescale,
                                   coats=coats)
    raise ValueError(f"Unknown method {cfg.method!r}; choose one of "
                     f"{METHODS}.")


def temperatures(model: torch.nn.Module) -> List[torch.nn.Parameter]:
    """The learned temperatures of a model (head ``temp``)."""
    return [p for name, p in model.named_parameters()
            if name.endswith("log_temperature")]


def trained_parameters(model: torch.nn.Module) -> List[torch.Tensor]:
    """The scores (and learned scales), and a head's learned scalar if any
    (supermask froze it with the other unmasked parameters)."""
    trained: List[torch.Tensor] = list(score_parameters(model))
    for p in temperatures(model):
        if not any(p is q for q in trained):
            trained.append(p.requires_grad_(True))
    return trained


def optimizer_groups(model: torch.nn.Module, cfg: Config
                     ) -> List[Dict[str, Any]]:
    """The optimizer's parameter groups: :func:`trained_parameters` with
    the score penalty, and the learned signs (:obj:`cfg.signs`) without
    it (a penalty would pull them to zero, where any step flips them)."""
    groups: List[Dict[str, Any]] = [dict(params=trained_parameters(model),
                                         weight_decay=cfg.score_decay)]
    if cfg.signs:
        groups.append(dict(params=learn_signs(model), weight_decay=0.0))
    return groups


class LearnedSign(torch.nn.Module):
    r"""A parametrization stacked on a masked weight: :math:`W' = W
    \odot \operatorname{sign}(T)`, with :math:`T` a learnable tensor of
    the weight's shape that starts at 1 (no flip). The gradient reaches
    :math:`T` straight through the sign, as it reaches the scores through
    the mask; with the mask this is a signed supermask, whose kept weights
    keep their random magnitude and may flip sign."""

    def __init__(self, shape: torch.Size) -> None:
        super().__init__()
        self.sign_scores = torch.nn.Parameter(torch.ones(shape))

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        t = self.sign_scores
        sign = torch.where(t >= 0, 1.0, -1.0).to(t.dtype)
        return weight * (t + (sign - t).detach())


Stacked = TypeVar("Stacked", bound=torch.nn.Module)


def stack_on_masks(model: torch.nn.Module,
                   make: Callable[[MaskedWeight], Stacked]) -> List[Stacked]:
    """Stacks :obj:`make(entry)` on every masked weight of :obj:`model`
    (after its mask) and returns the stacked parametrizations."""
    out = []
    for entry in masked_weights(model):
        stacked = make(entry)
        parametrize.register_parametrization(entry.module, entry.attr,
                                             stacked)
        out.append(stacked)
    return out


def learn_signs(model: torch.nn.Module) -> List[torch.nn.Parameter]:
    """Stacks a :class:`LearnedSign` on every masked weight of
    :obj:`model` (after its mask) and returns their learnable tensors."""
    signs = stack_on_masks(model, lambda entry: LearnedSign(
        getattr(entry.module, entry.attr).shape))
    return [sign.sign_scores for sign in signs]


class CoatLevels(torch.nn.Module):
    r"""A parametrization stacked on a multicoated masked weight: a weight
    kept by :math:`k` of the :math:`C` coats enters at
    :math:`\frac{r^k - 1}{r^C - 1}` of its value instead of :math:`k / C`
    (so :math:`r > 1` weighs the sparser coats more; :math:`r = 1` is the
    plain mask). It multiplies the masked weight by that level over
    :math:`k / C`; a pruned weight's score gets the gradient it would get
    in the first coat."""

    mask_module: ScoreMask
    factors: torch.Tensor

    def __init__(self, mask: ScoreMask, coats: int, ratio: float) -> None:
        super().__init__()
        self.__dict__["mask_module"] = mask  # not a submodule
        self.coats = coats
        # the multiplier of a weight kept by k = 0, ..., C coats (k = 0:
        # the first coat's, for the gradient of a pruned weight's score)
        k = torch.arange(coats + 1, dtype=torch.float32).clamp(min=1.0)
        self.register_buffer("factors", ((ratio ** k - 1.0)
                                         / (ratio ** coats - 1.0))
                             * coats / k, persistent=False)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        kept_by = torch.round(self.mask_module.mask.float() * self.coats)
        return weight * self.factors[kept_by.long()].to(weight.dtype)


def coat_levels(model: torch.nn.Module, coats: int, ratio: float) -> None:
    """Stacks a :class:`CoatLevels` on every masked weight of
    :obj:`model` (after its mask)."""
    if coats < 2 or not ratio > 0.0 or ratio == 1.0:
        raise ValueError(f"coat levels need 2 or more coats and a ratio > 0 "
                         f"other than 1; got {coats} coats, ratio {ratio}.")
    stack_on_masks(model, lambda entry: CoatLevels(entry.parametrization,
                                                   coats, ratio))


ATTENTION = ["*.att_src", "*.att_dst"]
"""GAT's attention vectors (:obj:`Config.dense_attention` leaves them
unmasked)."""


def late_lr(train: TrainEpoch, optimizer: torch.optim.Optimizer,
            ramp: int, factor: float) -> TrainEpoch:
    """:obj:`train`, with the learning rate multiplied by :obj:`factor`
    from epoch :obj:`ramp` on (the end of the sparsity ramp)."""
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, [ramp],
                                                     gamma=factor)

    def step(epoch: int) -> float:
        loss = train(epoch)
        scheduler.step()
        return loss
    return step


def freeze_temperature(train: TrainEpoch, model: torch.nn.Module,
                       ramp: int) -> TrainEpoch:
    """:obj:`train`, with the model's learned temperature frozen from
    epoch :obj:`ramp` on (the end of the sparsity ramp): it keeps its
    value there, the optimizer skips it (no gradient) and the scores go
    on."""
    temperature = temperatures(model)
    if not temperature:
        raise ValueError("freeze_temperature needs a learned temperature "
                         "(head 'temp'); this model has none.")

    def step(epoch: int) -> float:
        if epoch == ramp:
            for p in temperature:
                p.requires_grad_(False)
                p.grad = None
        return train(epoch)
    return step


def score_noise(train: TrainEpoch, model: torch.nn.Module,
                optimizer: torch.optim.Optimizer, noise: float,
                seed: int) -> TrainEpoch:
    r""":obj:`train`, then Gaussian noise added to every score tensor:
    :math:`S \leftarrow S + \sigma \, \eta \, \varepsilon`,
    :math:`\varepsilon \sim \mathcal{N}(0, I)`, with :math:`\sigma` =
    :obj:`noise` and :math:`\eta` the score's learning rate in force (about
    one Adam step). The draws come from a generator seeded with
    :obj:`seed`, on the CPU, so a run is the same on every device; the
    masks are selected from the perturbed scores, as from any other."""
    if not noise >= 0.0:
        raise ValueError(f"noise must be >= 0; got {noise}.")
    scores = [entry.parametrization.scores for entry in masked_weights(model)]
    lr_of = {id(p): group for group in optimizer.param_groups
             for p in group["params"]}
    generator = torch.Generator().manual_seed(seed)

    def step(epoch: int) -> float:
        loss = train(epoch)
        with torch.no_grad():
            for p in scores:
                eps = torch.randn(p.shape, generator=generator)
                p.add_(eps.to(p.device, p.dtype),
                       alpha=noise * lr_of[id(p)]["lr"])
        return loss
    return step


if __name__ == "__main__":
    from benchmarks import cli
    cli.library(__doc__, "benchmarks.search_settings")
