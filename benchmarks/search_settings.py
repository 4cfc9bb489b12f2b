"""How a run's settings shape its search: the sparsifier of each
method, what the optimizer trains, and the runner-only schedules (a
smaller learning rate or a frozen temperature once the ramp ends)."""
from __future__ import annotations

from typing import List

import torch

from benchmarks.experiments import METHODS, Config
from torch_geometric_ugt import (EdgePopupSparsifier, GlobalGradualSparsifier,
                                 GradualSchedule, SupermaskSparsifier,
                                 score_parameters)
from torch_geometric_ugt.search import TrainEpoch


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


if __name__ == "__main__":
    from benchmarks import cli
    cli.library(__doc__, "benchmarks.search_settings")
