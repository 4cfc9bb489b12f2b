"""Standard (dense) training beside the library's ticket search
(``torch_geometric_ugt.search``)."""
from __future__ import annotations

import time
from typing import Optional

import torch
from torch_geometric.data import Data

from torch_geometric_ugt.search import (EpochHook, SearchResult, evaluate,
                                        graph_input, train_step)


def train_dense(model: torch.nn.Module, data: Data,
                optimizer: torch.optim.Optimizer, epochs: int,
                on_epoch: Optional[EpochHook] = None) -> SearchResult:
    """Standard training; test accuracy at the best validation epoch."""
    result = SearchResult()
    adj = graph_input(data)
    for epoch in range(epochs):
        start = time.perf_counter()
        loss = train_step(model, data, adj, optimizer)
        val, test = evaluate(model, data, adj)
        result.epoch_times.append(time.perf_counter() - start)
        result.epochs += 1
        result.log(epoch, epochs, loss, val, test)
        if val > result.val_acc:
            result.best_epoch, result.val_acc, result.test_acc = (epoch, val,
                                                                  test)
        if on_epoch is not None:
            on_epoch(epoch, result)
    return result


if __name__ == "__main__":
    from benchmarks import cli
    cli.library(__doc__, "benchmarks.train")
