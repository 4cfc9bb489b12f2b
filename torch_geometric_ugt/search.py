r"""Ticket search: the full-batch node-classification loop of the paper's
protocol, and best-of-:math:`R` restarts chosen on validation accuracy.

.. code-block:: python

    best = BestTicket()
    for restart in range(4):
        model = supermask(GCN(...), seed=restart_seed(0, restart))
        optimizer = torch.optim.Adam(score_parameters(model), lr=0.01)
        sparsifier = GlobalGradualSparsifier(model, optimizer,
                                             final_sparsity=0.9,
                                             ramp_epochs=200,
                                             rescale="global")
        result = search_ticket(model, data, optimizer, sparsifier, 400)
        best.consider(model, result.val_acc, epochs=result.epochs)
    model = best.load(GCN(...))   # the ticket with the best validation
    print(best.epochs)            # every epoch spent, all restarts
"""
from __future__ import annotations

import io
import math
import time
from dataclasses import dataclass, field
from typing import (Any, Callable, Dict, List, Optional, Sequence,
                    Tuple)

import torch
import torch.nn.functional as F
from torch import Tensor

from torch_geometric_ugt.sparsifier import SupermaskSparsifier
from torch_geometric_ugt.ticket import load_ticket, save_ticket

CURVE_EVERY = 10
r"""The search curve keeps every this many epochs (and the last)."""

RESTART_SEED_STRIDE = 1_000_003
r"""Restart :math:`r` of seed :math:`s` uses seed :math:`s + r \cdot
1000003` (:func:`restart_seed`): restart 0 is the plain search, and the
restarts of seeds 0 to 9 never share a seed."""


def restart_seed(seed: int, restart: int) -> int:
    r"""The seed of restart :obj:`restart` of a search seeded :obj:`seed`
    (restart 0 is :obj:`seed` itself).
    """
    if restart < 0:
        raise ValueError(f"restart must be >= 0; got {restart}.")
    return seed + restart * RESTART_SEED_STRIDE


@dataclass
class SearchResult:
    r"""What a search found: the epoch with the best validation accuracy
    (at the final sparsity; the lowest validation loss with
    :obj:`select="loss"`), its validation and test accuracy and validation
    loss, the epochs spent, per-epoch times and the search curve.
    """

    best_epoch: int = -1
    val_acc: float = -1.0
    test_acc: float = 0.0
    epochs: int = 0
    epoch_times: List[float] = field(default_factory=list)
    realised_sparsity: Optional[float] = None
    layer_sparsities: Dict[str, float] = field(default_factory=dict)
    # every CURVE_EVERY epochs (and the last): epoch, training loss,
    # validation and test accuracy (at the final sparsity)
    curve: Dict[str, List[float]] = field(default_factory=lambda: {
        "epoch": [], "loss": [], "val": [], "test": []})
    # the kept epoch's validation loss (NaN when evaluate() returns none,
    # or before an epoch is kept)
    val_loss: float = math.nan
    # what chooses the epoch: "accuracy" (the highest validation
    # accuracy) or "loss" (the lowest validation loss); ties keep the
    # earlier epoch, and an epoch with a NaN criterion is never kept
    select: str = "accuracy"

    def log(self, epoch: int, epochs: int, loss: float, val: float,
            test: float) -> None:
        r"""Adds :obj:`epoch` to :attr:`curve` when it is one it keeps."""
        if epoch % CURVE_EVERY == 0 or epoch == epochs - 1:
            for name, value in (("epoch", epoch), ("loss", round(loss, 4)),
                                ("val", round(val, 4)),
                                ("test", round(test, 4))):
                self.curve[name].append(value)

    def __post_init__(self) -> None:
        check_select(self.select)

    def add_epoch(self, epoch: int, epochs: int, seconds: float,
                  loss: float, val: float, test: float,
                  val_loss: Optional[float] = None) -> bool:
        r"""Counts :obj:`epoch` (its time, the curve) and keeps it when its
        validation accuracy (:attr:`select` ``"loss"``: validation loss,
        which must then be given) is the best yet (ties keep the
        earlier); returns whether it did.
        """
        if self.select == "loss" and val_loss is None:
            raise ValueError("select='loss' chooses the epoch on the "
                             "validation loss: evaluate() must return it "
                             "as its third value (validation accuracy, "
                             "test accuracy, validation loss).")
        loss_value = math.nan if val_loss is None else float(val_loss)
        self.epoch_times.append(seconds)
        self.epochs += 1
        self.log(epoch, epochs, loss, val, test)
        if self.select == "loss":
            better = not math.isnan(loss_value) and (
                self.best_epoch < 0 or loss_value < self.val_loss)
        else:
            better = val > self.val_acc
        if better:
            self.best_epoch, self.val_acc, self.test_acc = epoch, val, test
            self.val_loss = loss_value
            return True
        return False

    @property
    def epoch_time(self) -> float:
        r"""The median epoch time in seconds."""
        times = sorted(self.epoch_times)
        return times[len(times) // 2] if times else float("nan")


def graph_input(data: Any) -> Tensor:
    r"""The adjacency a PyG model takes: :obj:`data.adj_t` when the graph
    holds a sparse one, else :obj:`data.edge_index`.
    """
    adj = getattr(data, "adj_t", None)
    return adj if adj is not None else data.edge_index


def train_step(model: torch.nn.Module, data: Any, adj: Any,
               optimizer: torch.optim.Optimizer,
               label_smoothing: float = 0.0) -> float:
    r"""One full-batch optimizer step on :obj:`data.train_mask` (cross
    entropy, with :obj:`label_smoothing` as in
    :func:`torch.nn.functional.cross_entropy`).
    """
    model.train()
    optimizer.zero_grad()
    out = model(data.x, adj)
    loss = F.cross_entropy(out[data.train_mask], data.y[data.train_mask],
                           label_smoothing=label_smoothing)
    loss.backward()
    optimizer.step()
    return float(loss.detach())


SELECTIONS = ("accuracy", "loss")
r"""What may choose a search's epoch: the validation accuracy (highest)
or the validation loss (lowest)."""


def check_select(select: str) -> None:
    r"""Refuses a :obj:`select` not in :data:`SELECTIONS`."""
    if select not in SELECTIONS:
        raise ValueError(f"select must be one of {SELECTIONS} (what "
                         f"chooses the epoch); got {select!r}.")


@torch.no_grad()
def evaluate(model: torch.nn.Module, data: Any, adj: Any) -> List[float]:
    r"""Accuracy on :obj:`data.val_mask` and :obj:`data.test_mask`, and
    the cross-entropy on :obj:`data.val_mask`.
    """
    model.eval()
    out = model(data.x, adj)
    pred = out.argmax(dim=-1)
    accs = [(pred[m] == data.y[m]).float().mean()
            for m in (data.val_mask, data.test_mask)]
    loss = F.cross_entropy(out[data.val_mask], data.y[data.val_mask])
    return torch.stack(accs + [loss]).tolist()  # one host sync


def ticket_epoch(model: torch.nn.Module, data: Any, adj: Any,
                 optimizer: torch.optim.Optimizer,
                 sparsifier: SupermaskSparsifier,
                 epoch: int) -> List[float]:
    r"""One epoch of the UGTs protocol: advance the schedule, one step,
    evaluate at the FINAL sparsity (also during the ramp). Returns the
    validation accuracy, the test accuracy and the training loss.
    """
    val, test, loss, _ = _protocol_epoch(
        sparsifier, epoch, lambda epoch: train_step(model, data, adj,
                                                    optimizer),
        lambda: evaluate(model, data, adj))
    return [val, test, loss]


def _protocol_epoch(sparsifier: SupermaskSparsifier, epoch: int,
                    train: Callable[[int], float],
                    evaluate: Callable[[], Sequence[float]],
                    advance_schedule: bool = True
                    ) -> Tuple[float, float, float, Optional[float]]:
    # advance the schedule, train, evaluate at the FINAL sparsity
    if advance_schedule:
        sparsifier.step(epoch)
    loss = train(epoch)
    with sparsifier.at_sparsity():
        val, test, val_loss = evaluated(evaluate)
    return val, test, loss, val_loss


EpochHook = Callable[[int, SearchResult], None]
r""":obj:`on_epoch(epoch, result)`: runs after every epoch with the result
so far (:obj:`result.best_epoch == epoch` says the epoch is the best one
yet)."""

TrainEpoch = Callable[[int], float]
r""":obj:`train(epoch)`: one epoch's optimizer steps (e.g. one per
mini-batch of a :class:`~torch_geometric.loader.NeighborLoader`); returns
the mean training loss."""

Evaluate = Callable[[], Sequence[float]]
r""":obj:`evaluate()`: validation and test accuracy of the model as it is
(the search calls it at the final sparsity), and optionally the validation
loss as a third value (which :obj:`select="loss"` needs)."""


def evaluated(evaluate: Evaluate) -> Tuple[float, float, Optional[float]]:
    r"""The validation and test accuracy and the validation loss
    :obj:`evaluate()` returns (None where it returns no loss).
    """
    out = list(evaluate())
    if len(out) not in (2, 3):
        raise ValueError(f"evaluate() must return the validation and test "
                         f"accuracy, and optionally the validation loss; "
                         f"got {len(out)} values.")
    val_loss = float(out[2]) if len(out) == 3 else None
    return float(out[0]), float(out[1]), val_loss


def full_batch(model: torch.nn.Module, data: Any,
               optimizer: torch.optim.Optimizer,
               label_smoothing: float = 0.0
               ) -> Tuple[TrainEpoch, Evaluate]:
    r"""The :obj:`train` and :obj:`evaluate` of full-batch node
    classification on :obj:`data` (:func:`train_step`, :func:`evaluate`):
    the default of :func:`search_ticket` (which smooths no labels).
    """
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1]; got "
                         f"{label_smoothing}.")
    adj = graph_input(data)
    return (lambda epoch: train_step(model, data, adj, optimizer,
                                     label_smoothing),
            lambda: evaluate(model, data, adj))


def task_functions(model: torch.nn.Module, data: Any,
                   optimizer: torch.optim.Optimizer,
                   train: Optional[TrainEpoch],
                   evaluate: Optional[Evaluate]
                   ) -> Tuple[TrainEpoch, Evaluate]:
    r""":obj:`train` and :obj:`evaluate` when both are given (a custom
    task), :func:`full_batch` on :obj:`data` when neither is; one without
    the other is refused.
    """
    if train is not None and evaluate is not None:
        return train, evaluate
    if train is not None or evaluate is not None:
        raise ValueError("Pass both train and evaluate (a custom task) or "
                         "neither (full-batch node classification).")
    return full_batch(model, data, optimizer)


def search_ticket(model: torch.nn.Module, data: Any,
                  optimizer: torch.optim.Optimizer,
                  sparsifier: SupermaskSparsifier, epochs: int, *,
                  log_every: int = 0,
                  on_epoch: Optional[EpochHook] = None,
                  train: Optional[TrainEpoch] = None,
                  evaluate: Optional[Evaluate] = None,
                  advance_schedule: bool = True,
                  average: float = 0.0,
                  select: str = "accuracy") -> SearchResult:
    r"""Runs :obj:`epochs` epochs of the UGTs protocol and keeps the epoch
    with the best validation accuracy (:obj:`select="loss"`: the lowest
    validation loss, which :obj:`evaluate` must then return as a third
    value; the default one does): its scores, at the final sparsity,
    are put back into the model and the sparsifier is removed, so the
    model holds that ticket. :obj:`log_every > 0` prints the curve every
    that many epochs; :obj:`on_epoch` runs after every epoch (outside the
    timing).

    Each epoch advances the schedule (:obj:`sparsifier.step(epoch)`;
    :obj:`advance_schedule=False` when :obj:`train` steps it itself, e.g.
    once per optimizer step), runs :obj:`train(epoch)` and then
    :obj:`evaluate()` at the final sparsity. Their defaults are one
    full-batch step on :obj:`data.train_mask` and the accuracy on
    :obj:`data.val_mask` / :obj:`data.test_mask` with the cross-entropy on
    :obj:`data.val_mask` (:func:`evaluate`); pass both for mini-batch
    training or another task.

    :obj:`average` :math:`\beta \in [0, 1)` evaluates and selects an
    exponential moving average of what the search trains (scores, a
    temperature) instead of its last values,
    :math:`\bar S_t = \beta \bar S_{t-1} + (1 - \beta) S_t` with
    :math:`\bar S_0 = S_0` after the first step: the optimizer steps the
    raw values, and between epochs (in :obj:`on_epoch`, and in the model
    returned) the model holds the averaged ones, whose masks are the exact
    top-:math:`k` of the averaged scores. :obj:`0` (default) averages
    nothing.
    """
    if isinstance(average, bool) or not isinstance(average, (int, float)) \
            or not 0.0 <= average < 1.0:
        raise ValueError(f"average must be a float in [0, 1) (the decay of "
                         f"the moving average; 0 averages nothing); got "
                         f"{average!r}.")
    result = SearchResult(select=select)  # (checks select)
    train, evaluate = task_functions(model, data, optimizer, train,
                                     evaluate)
    trained = searched_parameters(sparsifier, optimizer)
    if average:
        train = _averaged(train, trained, float(average))
    best_state: List[Tensor] = []
    for epoch in range(epochs):
        start = time.perf_counter()
        val, test, loss, val_loss = _protocol_epoch(
            sparsifier, epoch, train, evaluate, advance_schedule)
        if result.add_epoch(epoch, epochs, time.perf_counter() - start,
                            loss, val, test, val_loss):
            best_state = [p.detach().clone() for p in trained]
        if log_every and (epoch % log_every == 0 or epoch == epochs - 1):
            print(f"epoch {epoch}: loss {loss:.3f}, val {100 * val:.1f}, "
                  f"test {100 * test:.1f} (kept val "
                  f"{100 * result.val_acc:.1f})", flush=True)
        if on_epoch is not None:
            on_epoch(epoch, result)
    # The selected ticket: the best epoch's scores (and whatever else the
    # search trained: learned scales, a temperature) at the final sparsity
    # (a write the version counters see); the masks stay so once the
    # sparsifier is removed inside the block.
    with torch.no_grad():
        for p, state in zip(trained, best_state):
            p.copy_(state)
    with sparsifier.at_sparsity():
        result.realised_sparsity = sparsifier.realised_sparsity()
        result.layer_sparsities = sparsifier.layer_sparsities()
        sparsifier.remove()
    return result


def _averaged(train: TrainEpoch, trained: List[Tensor],
              beta: float) -> TrainEpoch:
    # train(epoch) on the raw values, leaving the model with their moving
    # average (the raw values are kept aside until the next step, in
    # buffers allocated once)
    raw: List[Tensor] = []
    mean: List[Tensor] = []

    @torch.no_grad()
    def step(epoch: int) -> float:
        for p, r in zip(trained, raw):
            p.copy_(r)
        with torch.enable_grad():
            loss = train(epoch)
        if not raw:
            raw[:] = [p.detach().clone() for p in trained]
            mean[:] = [p.detach().clone() for p in trained]
        for p, r, m in zip(trained, raw, mean):
            r.copy_(p)
            m.lerp_(r, 1.0 - beta)
            p.copy_(m)
        return loss

    return step


def searched_parameters(sparsifier: SupermaskSparsifier,
                        optimizer: torch.optim.Optimizer) -> List[Tensor]:
    r"""What a search trains, once each: every mask's scores, then the
    other parameters of :obj:`optimizer` (learned scales, a
    :class:`~torch_geometric_ugt.Temperature`).
    """
    out: List[Tensor] = [w.parametrization.scores for w in sparsifier.weights]
    for group in optimizer.param_groups:
        for p in group["params"]:
            if not any(p is q for q in out):
                out.append(p)
    return out


class BestTicket:
    r"""The best of several ticket searches by validation accuracy
    (restarts), kept as a compact ticket (:func:`save_ticket`), so holding
    it costs one bit per masked weight.

    Call :meth:`consider` after each search, from any loop; every epoch a
    search spent counts (:attr:`epochs`), whether its ticket is kept or
    not. Ties keep the earlier search.
    """

    def __init__(self) -> None:
        self.val_acc = -math.inf
        self.epochs = 0
        self.searches = 0
        self.best_search: Optional[int] = None
        self.info: Dict[str, Any] = {}
        self._ticket: Optional[bytes] = None

    def consider(self, model: torch.nn.Module, val_acc: float, *,
                 epochs: int, **info: Any) -> bool:
        r"""Counts a search of :obj:`epochs` epochs whose ticket (the
        masks :obj:`model` holds now) reached :obj:`val_acc`, and keeps it
        if it is the best so far, with :obj:`info` (e.g. its test
        accuracy). Returns whether it was kept.
        """
        if isinstance(epochs, bool) or not isinstance(epochs, int) \
                or epochs < 0:
            raise ValueError(f"epochs must be an int >= 0 (the epochs the "
                             f"search spent); got {epochs!r}.")
        val_acc = float(val_acc)
        if math.isnan(val_acc):
            raise ValueError("val_acc is NaN; pass the search's validation "
                             "accuracy.")
        buffer = io.BytesIO()
        kept = val_acc > self.val_acc
        if kept:
            save_ticket(model, buffer)  # may refuse: nothing counted then
        self.epochs += epochs
        self.searches += 1
        if kept:
            self.val_acc = val_acc
            self.best_search = self.searches - 1
            self.info = dict(info)
            self._ticket = buffer.getvalue()
        return kept

    def load(self, model: torch.nn.Module) -> torch.nn.Module:
        r"""The best ticket in :obj:`model`, a freshly built instance of the
        searched architecture (see :func:`load_ticket`).
        """
        if self._ticket is None:
            raise RuntimeError("No search was considered yet: call "
                               "consider(model, val_acc, epochs=...) after "
                               "each search first.")
        return load_ticket(model, io.BytesIO(self._ticket))

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(searches={self.searches}, "
                f"epochs={self.epochs}, best_search={self.best_search}, "
                f"val_acc={self.val_acc:.4f})")
