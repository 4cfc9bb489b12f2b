"""Full-batch node-classification loops: ticket search and dense
training."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F
from torch_geometric.data import Data

from benchmarks.data import graph_input
from torch_geometric_ugt import SupermaskSparsifier


@dataclass
class RunResult:
    best_epoch: int = -1
    val_acc: float = -1.0
    test_acc: float = 0.0
    epoch_times: List[float] = field(default_factory=list)
    realised_sparsity: Optional[float] = None
    layer_sparsities: Dict[str, float] = field(default_factory=dict)

    @property
    def epoch_time(self) -> float:
        times = sorted(self.epoch_times)
        return times[len(times) // 2] if times else float("nan")


def _accuracies(out: torch.Tensor, data: Data) -> List[float]:
    pred = out.argmax(dim=-1)
    return [
        float((pred[m] == data.y[m]).float().mean())
        for m in (data.val_mask, data.test_mask)
    ]


def search_ticket(model: torch.nn.Module, data: Data,
                  optimizer: torch.optim.Optimizer,
                  sparsifier: SupermaskSparsifier,
                  epochs: int) -> RunResult:
    """UGTs / Edge-Popup protocol: one full-batch step per epoch; validation
    and test accuracy measured at the FINAL sparsity every epoch (also
    during the ramp); the result is the test accuracy at the best validation
    epoch, whose masks are left in the model."""
    result = RunResult()
    adj = graph_input(data)
    best_masks: List[torch.Tensor] = []
    for epoch in range(epochs):
        start = time.perf_counter()
        sparsifier.step(epoch)
        model.train()
        optimizer.zero_grad()
        out = model(data.x, adj)
        loss = F.cross_entropy(out[data.train_mask], data.y[data.train_mask])
        loss.backward()
        optimizer.step()
        model.eval()
        with torch.no_grad(), sparsifier.at_sparsity():
            val, test = _accuracies(model(data.x, adj), data)
            if val > result.val_acc:
                result.best_epoch, result.val_acc, result.test_acc = (
                    epoch, val, test)
                best_masks = [
                    w.parametrization.mask.clone()
                    for w in sparsifier.weights
                ]
        result.epoch_times.append(time.perf_counter() - start)
    with torch.no_grad():
        for w, mask in zip(sparsifier.weights, best_masks):
            w.parametrization.mask.copy_(mask)
    result.realised_sparsity = sparsifier.realised_sparsity()
    result.layer_sparsities = sparsifier.layer_sparsities()
    sparsifier.remove()
    return result


def train_dense(model: torch.nn.Module, data: Data,
                optimizer: torch.optim.Optimizer, epochs: int) -> RunResult:
    """Standard training; test accuracy at the best validation epoch."""
    result = RunResult()
    adj = graph_input(data)
    for epoch in range(epochs):
        start = time.perf_counter()
        model.train()
        optimizer.zero_grad()
        out = model(data.x, adj)
        loss = F.cross_entropy(out[data.train_mask], data.y[data.train_mask])
        loss.backward()
        optimizer.step()
        model.eval()
        with torch.no_grad():
            val, test = _accuracies(model(data.x, adj), data)
            if val > result.val_acc:
                result.best_epoch, result.val_acc, result.test_acc = (
                    epoch, val, test)
        result.epoch_times.append(time.perf_counter() - start)
    return result
