"""Full-batch node-classification loops: ticket search and dense
training."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import torch
import torch.nn.functional as F
from torch_geometric.data import Data

from benchmarks.data import graph_input
from torch_geometric_ugt import SupermaskSparsifier


CURVE_EVERY = 10


@dataclass
class RunResult:
    best_epoch: int = -1
    val_acc: float = -1.0
    test_acc: float = 0.0
    epoch_times: List[float] = field(default_factory=list)
    realised_sparsity: Optional[float] = None
    layer_sparsities: Dict[str, float] = field(default_factory=dict)
    # every CURVE_EVERY epochs (and the last): epoch, training loss,
    # validation and test accuracy (for tickets at the final sparsity)
    curve: Dict[str, List[float]] = field(default_factory=lambda: {
        "epoch": [], "loss": [], "val": [], "test": []})

    def log(self, epoch: int, epochs: int, loss: float, val: float,
            test: float) -> None:
        """Adds ``epoch`` to :attr:`curve` when it is one it keeps."""
        if epoch % CURVE_EVERY == 0 or epoch == epochs - 1:
            for name, value in (("epoch", epoch), ("loss", round(loss, 4)),
                                ("val", round(val, 4)),
                                ("test", round(test, 4))):
                self.curve[name].append(value)

    @property
    def epoch_time(self) -> float:
        times = sorted(self.epoch_times)
        return times[len(times) // 2] if times else float("nan")


def train_step(model: torch.nn.Module, data: Data, adj,
               optimizer: torch.optim.Optimizer) -> float:
    """One full-batch optimizer step on the training nodes."""
    model.train()
    optimizer.zero_grad()
    out = model(data.x, adj)
    loss = F.cross_entropy(out[data.train_mask], data.y[data.train_mask])
    loss.backward()
    optimizer.step()
    return float(loss.detach())


@torch.no_grad()
def evaluate(model: torch.nn.Module, data: Data, adj) -> List[float]:
    """Validation and test accuracy."""
    model.eval()
    pred = model(data.x, adj).argmax(dim=-1)
    return [
        float((pred[m] == data.y[m]).float().mean())
        for m in (data.val_mask, data.test_mask)
    ]


def ticket_epoch(model: torch.nn.Module, data: Data, adj,
                 optimizer: torch.optim.Optimizer,
                 sparsifier: SupermaskSparsifier,
                 epoch: int) -> List[float]:
    """UGTs protocol epoch: advance the schedule, one step, evaluate at the
    FINAL sparsity (also during the ramp). Returns validation accuracy,
    test accuracy and the training loss."""
    sparsifier.step(epoch)
    loss = train_step(model, data, adj, optimizer)
    with sparsifier.at_sparsity():
        return evaluate(model, data, adj) + [loss]


# on_epoch(epoch, result): after every epoch, with the result so far (so
# result.best_epoch == epoch says the epoch is the best one yet)
EpochHook = Callable[[int, "RunResult"], None]


def search_ticket(model: torch.nn.Module, data: Data,
                  optimizer: torch.optim.Optimizer,
                  sparsifier: SupermaskSparsifier,
                  epochs: int, log_every: int = 0,
                  on_epoch: Optional[EpochHook] = None) -> RunResult:
    """Runs :func:`ticket_epoch` for ``epochs`` epochs; the result is the
    test accuracy at the best validation epoch, whose final-sparsity masks
    are left in the model. ``log_every > 0`` prints the search curve
    (training loss, accuracies at the final sparsity) every that many
    epochs. ``on_epoch(epoch, result)`` runs after every epoch (outside
    the timing)."""
    result = RunResult()
    adj = graph_input(data)
    best_scores: List[torch.Tensor] = []
    for epoch in range(epochs):
        start = time.perf_counter()
        val, test, loss = ticket_epoch(model, data, adj, optimizer,
                                       sparsifier, epoch)
        result.epoch_times.append(time.perf_counter() - start)
        result.log(epoch, epochs, loss, val, test)
        if log_every and (epoch % log_every == 0 or epoch == epochs - 1):
            best = max(val, result.val_acc)
            print(f"epoch {epoch}: loss {loss:.3f}, val {100 * val:.1f}, "
                  f"test {100 * test:.1f} (best val {100 * best:.1f})",
                  flush=True)
        if val > result.val_acc:
            result.best_epoch, result.val_acc, result.test_acc = (epoch, val,
                                                                  test)
            best_scores = [
                w.parametrization.scores.detach().clone()
                for w in sparsifier.weights
            ]
        if on_epoch is not None:
            on_epoch(epoch, result)
    # The selected ticket: the best epoch's scores at the final sparsity;
    # the masks stay so once the sparsifier is removed inside the block.
    with torch.no_grad():
        for w, scores in zip(sparsifier.weights, best_scores):
            w.parametrization.scores.copy_(scores)
    with sparsifier.at_sparsity():
        sparsifier.refresh()  # the scores were edited by hand
        result.realised_sparsity = sparsifier.realised_sparsity()
        result.layer_sparsities = sparsifier.layer_sparsities()
        sparsifier.remove()
    return result


def train_dense(model: torch.nn.Module, data: Data,
                optimizer: torch.optim.Optimizer, epochs: int,
                on_epoch: Optional[EpochHook] = None) -> RunResult:
    """Standard training; test accuracy at the best validation epoch."""
    result = RunResult()
    adj = graph_input(data)
    for epoch in range(epochs):
        start = time.perf_counter()
        loss = train_step(model, data, adj, optimizer)
        val, test = evaluate(model, data, adj)
        result.epoch_times.append(time.perf_counter() - start)
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
