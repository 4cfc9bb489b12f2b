"""Standard (dense) training beside the library's ticket search
(``torch_geometric_ugt.search``)."""
from __future__ import annotations

import time
from typing import Optional

import torch
from torch_geometric.data import Data

from torch_geometric_ugt.search import (EpochHook, Evaluate, SearchResult,
                                        TrainEpoch, evaluated,
                                        task_functions)


def train_dense(model: torch.nn.Module, data: Optional[Data],
                optimizer: torch.optim.Optimizer, epochs: int,
                on_epoch: Optional[EpochHook] = None, *,
                train: Optional[TrainEpoch] = None,
                evaluate: Optional[Evaluate] = None,
                select: str = "accuracy") -> SearchResult:
    """Standard training; test accuracy at the best validation epoch
    (``select="loss"``: the lowest validation loss). By default one
    full-batch step per epoch on :obj:`data`; :obj:`train` and
    :obj:`evaluate` replace both, as in :func:`search_ticket`."""
    train, evaluate = task_functions(model, data, optimizer, train,
                                     evaluate)
    result = SearchResult(select=select)
    for epoch in range(epochs):
        start = time.perf_counter()
        loss = train(epoch)
        val, test, val_loss = evaluated(evaluate)
        result.add_epoch(epoch, epochs, time.perf_counter() - start, loss,
                         val, test, val_loss)
        if on_epoch is not None:
            on_epoch(epoch, result)
    return result


if __name__ == "__main__":
    from benchmarks import cli
    cli.library(__doc__, "benchmarks.train")
