import math

import pytest
import torch
from torch_geometric.nn import GCN

from tests.conftest import HIDDEN, IN, OUT, tiny_graph
from tests.sparsifier.test_base import fresh_masks
from torch_geometric_ugt import (BestTicket, GlobalGradualSparsifier,
                                 Temperature,
                                 masked_weights, restart_seed,
                                 score_parameters, search_ticket, supermask)
from torch_geometric_ugt.search import RESTART_SEED_STRIDE, full_batch


def node_task():
    data = tiny_graph(num_nodes=40, num_edges=160)
    index = torch.arange(40)
    data.train_mask = index < 20
    data.val_mask = (index >= 20) & (index < 30)
    data.test_mask = index >= 30
    return data


def search_setup(seed, ramp_epochs=4):
    data = node_task()
    model = supermask(GCN(IN, HIDDEN, 2, OUT, bias=False), seed=seed)
    opt = torch.optim.Adam(score_parameters(model), lr=0.05)
    sp = GlobalGradualSparsifier(model, opt, final_sparsity=0.7,
                                 ramp_epochs=ramp_epochs)
    return data, model, opt, sp


def searched(seed, epochs=8):
    data, model, opt, sp = search_setup(seed)
    return model, data, search_ticket(model, data, opt, sp, epochs)


def test_search_keeps_the_best_validation_epochs_ticket():
    model, data, result = searched(0)
    assert result.epochs == 8 and 0 <= result.best_epoch < 8
    # (the curve keeps some epochs, rounded to 4 decimals)
    assert result.val_acc >= max(result.curve["val"]) - 1e-4
    model.eval()
    with torch.no_grad():
        pred = model(data.x, data.edge_index).argmax(-1)
    val = float((pred[data.val_mask] == data.y[data.val_mask]).float()
                .mean())
    assert val == pytest.approx(result.val_acc)
    assert result.realised_sparsity == pytest.approx(0.7, abs=0.01)
    assert all(w.parametrization.sparsifier is None
               for w in masked_weights(model))


def test_best_ticket_counts_every_epoch_and_keeps_the_best():
    best = BestTicket()
    results = []
    for restart in range(3):
        model, data, result = searched(restart_seed(1, restart), epochs=6)
        kept = best.consider(model, result.val_acc, epochs=result.epochs,
                             test_acc=result.test_acc)
        results.append((result.val_acc, model, kept))
    assert best.epochs == 18 and best.searches == 3
    vals = [v for v, _, _ in results]
    first_best = vals.index(max(vals))
    assert best.best_search == first_best  # ties keep the earlier search
    assert best.val_acc == max(vals)
    loaded = best.load(GCN(IN, HIDDEN, 2, OUT, bias=False)).eval()
    winner = results[first_best][1].eval()
    data = node_task()
    assert torch.equal(loaded(data.x, data.edge_index),
                       winner(data.x, data.edge_index))


def test_best_ticket_refuses_bad_calls():
    best = BestTicket()
    with pytest.raises(RuntimeError, match="consider"):
        best.load(GCN(IN, HIDDEN, 2, OUT))
    model, _, result = searched(0, epochs=2)
    for epochs in (-1, 2.0, True):
        with pytest.raises(ValueError, match="epochs must be"):
            best.consider(model, result.val_acc, epochs=epochs)
    with pytest.raises(ValueError, match="NaN"):
        best.consider(model, float("nan"), epochs=2)
    with pytest.raises(ValueError, match="no masked weights"):
        best.consider(GCN(IN, HIDDEN, 2, OUT), 0.5, epochs=2)
    assert best.searches == 0 and best.epochs == 0  # nothing counted


def test_restart_seeds():
    assert restart_seed(3, 0) == 3
    assert restart_seed(3, 2) == 3 + 2 * RESTART_SEED_STRIDE
    seeds = {restart_seed(s, r) for s in range(10) for r in range(4)}
    assert len(seeds) == 40
    with pytest.raises(ValueError):
        restart_seed(0, -1)


def test_search_takes_a_custom_loop_and_keeps_its_best_epoch():
    # mini-batch training (two halves of the training nodes, the schedule
    # advanced per optimizer step) through the same loop
    data, model, opt, sp = search_setup(0, ramp_epochs=8)
    batches = torch.arange(20).chunk(2)
    steps, vals = [], []

    def train(epoch):
        for step, nodes in enumerate(batches, 2 * epoch):
            sp.step(step)
            steps.append(step)
            opt.zero_grad()
            out = model(data.x, data.edge_index)[nodes]
            torch.nn.functional.cross_entropy(out, data.y[nodes]).backward()
            opt.step()
        return 0.0

    def evaluate():
        assert sp.sparsity_in_force == pytest.approx(0.7)  # final sparsity
        vals.append([0.5, 0.9, 0.7, 0.9, 0.1][len(vals)])
        return vals[-1], 0.25 * len(vals)
    result = search_ticket(model, data, opt, sp, 5, train=train,
                           evaluate=evaluate, advance_schedule=False)
    assert steps == list(range(10))
    assert (result.best_epoch, result.val_acc, result.test_acc) == (
        1, 0.9, 0.5)  # ties keep the earlier epoch
    with pytest.raises(ValueError, match="both train and evaluate"):
        search_ticket(model, data, opt, sp, 1, train=train)


@torch.no_grad()
def logits(model, data):
    model.eval()
    return model(data.x, data.edge_index)


def third_epoch_search(model, data, opt, sp):
    """A custom-loop search of 6 epochs whose third epoch is the best;
    the logits of every epoch's evaluation and of the returned model."""
    outputs = []

    def predict():
        return logits(model, data)

    def train(epoch):
        opt.zero_grad()
        out = model(data.x, data.edge_index)[data.train_mask]
        torch.nn.functional.cross_entropy(
            out, data.y[data.train_mask]).backward()
        opt.step()
        return 0.0

    def evaluate():
        outputs.append(predict())
        return (1.0 if len(outputs) == 3 else 0.0), 0.0
    search_ticket(model, data, opt, sp, 6, train=train, evaluate=evaluate)
    return outputs, predict()


def test_search_restores_the_best_epochs_masks_with_a_custom_loop():
    data, model, opt, sp = search_setup(0, ramp_epochs=2)
    outputs, final = third_epoch_search(model, data, opt, sp)
    assert torch.equal(final, outputs[2])  # the third epoch's ticket
    assert not torch.equal(final, outputs[-1])


@pytest.mark.parametrize("lever", ["learn_scale", "temperature"])
def test_search_restores_everything_the_best_epoch_trained(lever):
    # learned scales and a temperature are the best epoch's too, so the
    # model computes exactly the logits the selection saw
    data = node_task()
    model = supermask(GCN(IN, HIDDEN, 2, OUT, bias=False), seed=0,
                      learn_scale=lever == "learn_scale")
    if lever == "temperature":
        model = Temperature(model)
    # (score_parameters yields the temperature too)
    opt = torch.optim.Adam(score_parameters(model), lr=0.05)
    sp = GlobalGradualSparsifier(model, opt, final_sparsity=0.7,
                                 ramp_epochs=2)
    outputs, final = third_epoch_search(model, data, opt, sp)
    assert torch.equal(final, outputs[2])


def test_full_batch_refuses_a_label_smoothing_outside_0_1():
    data, model, opt, _ = search_setup(0)
    with pytest.raises(ValueError, match="label_smoothing"):
        full_batch(model, data, opt, label_smoothing=1.5)


def test_average_evaluates_and_selects_the_moving_average_of_the_scores():
    data, model, opt, sp = search_setup(3, ramp_epochs=2)
    scores = list(score_parameters(model))
    beta, raw, mean, seen, stepped = 0.6, [], [], [], []

    def train(epoch):
        # the optimizer steps the raw values of the epoch before
        stepped.append(all(torch.equal(s, r)
                           for s, r in zip(scores, raw[-1]))
                       if raw else True)
        sp.step(epoch)
        opt.zero_grad()
        out = model(data.x, data.edge_index)[data.train_mask]
        torch.nn.functional.cross_entropy(
            out, data.y[data.train_mask]).backward()
        opt.step()
        raw.append([s.detach().clone() for s in scores])
        mean.append([r.clone() if not mean else
                     beta * m + (1 - beta) * r
                     for m, r in zip(mean[-1] if mean else raw[-1],
                                     raw[-1])])
        return 0.0

    def evaluate():
        assert all(torch.allclose(s, m, atol=1e-6)
                   for s, m in zip(scores, mean[-1]))
        for w, want in zip(masked_weights(model),
                           fresh_masks(model, 0.7)):
            assert torch.equal(w.parametrization.mask, want)
        seen.append([s.detach().clone() for s in scores])
        return (1.0 if len(seen) == 4 else 0.0), 0.0
    search_ticket(model, data, opt, sp, 6, train=train, evaluate=evaluate,
                  advance_schedule=False, average=beta)
    assert all(stepped) and len(stepped) == 6
    assert not all(torch.allclose(m, r) for m, r in zip(mean[3], raw[3]))
    # the selected ticket holds the fourth epoch's averaged scores
    assert all(torch.equal(s, m) for s, m in zip(scores, seen[3]))


@pytest.mark.parametrize("bad", [-0.1, 1.0, float("nan"), True, "0.9"])
def test_average_outside_0_1_is_refused_before_anything_runs(bad):
    data, model, opt, sp = search_setup(0)
    before = [s.detach().clone() for s in score_parameters(model)]
    with pytest.raises(ValueError, match="average must be"):
        search_ticket(model, data, opt, sp, 2, average=bad)
    assert all(torch.equal(a, b)
               for a, b in zip(before, score_parameters(model)))
    assert sp.last_epoch == -1


def test_select_loss_keeps_the_lowest_validation_loss_epoch():
    data, model, opt, sp = search_setup(0, ramp_epochs=2)
    outputs = []
    train, _ = full_batch(model, data, opt)
    losses = [0.9, 0.4, 0.7, 0.4, 0.5]

    def evaluate():
        outputs.append(logits(model, data))
        # the highest accuracy is epoch 0's, the lowest loss epoch 1's
        return 0.9 if len(outputs) == 1 else 0.5, 0.1, losses[
            len(outputs) - 1]
    result = search_ticket(model, data, opt, sp, 5, train=train,
                           evaluate=evaluate, select="loss")
    assert (result.best_epoch, result.val_loss, result.val_acc) == (
        1, 0.4, 0.5)  # ties keep the earlier epoch
    assert result.select == "loss"
    assert torch.equal(logits(model, data), outputs[1])  # that ticket


def _validation_loss(model, data):
    model.eval()
    with torch.no_grad():
        out = model(data.x, data.edge_index)
    return float(torch.nn.functional.cross_entropy(out[data.val_mask],
                                                   data.y[data.val_mask]))


def test_the_default_evaluation_returns_the_validation_loss():
    for select in ("loss", "accuracy"):  # either records the kept loss
        data, model, opt, sp = search_setup(0)
        result = search_ticket(model, data, opt, sp, 4, select=select)
        assert result.val_loss == pytest.approx(
            _validation_loss(model, data))


def test_a_nan_validation_loss_is_never_kept():
    data, model, opt, sp = search_setup(0, ramp_epochs=2)
    losses = [float("nan"), 0.6, float("nan"), 0.7]
    result = search_ticket(
        model, data, opt, sp, 4, train=lambda epoch: 0.0, select="loss",
        evaluate=lambda: (0.5, 0.5, losses[sp.last_epoch]))
    assert (result.best_epoch, result.val_loss) == (1, 0.6)
    # accuracy selection with a two-value evaluate keeps no loss
    data, model, opt, sp = search_setup(0, ramp_epochs=2)
    result = search_ticket(model, data, opt, sp, 2,
                           train=lambda epoch: 0.0,
                           evaluate=lambda: (0.5, 0.5))
    assert result.best_epoch == 0 and math.isnan(result.val_loss)


def test_select_is_checked_before_the_search_starts():
    data, model, opt, sp = search_setup(0)
    before = [p.detach().clone() for p in score_parameters(model)]
    with pytest.raises(ValueError, match="select must be one of"):
        search_ticket(model, data, opt, sp, 2, select="auc")
    assert sp.last_epoch == -1  # the schedule never advanced
    assert all(torch.equal(a, b)
               for a, b in zip(before, score_parameters(model)))


def test_an_evaluation_without_the_loss_it_needs_is_refused():
    # (found when the first epoch is evaluated)
    data, model, opt, sp = search_setup(0)
    with pytest.raises(ValueError, match="third value"):
        search_ticket(model, data, opt, sp, 2, select="loss",
                      train=lambda epoch: 0.0,
                      evaluate=lambda: (0.5, 0.5))
    with pytest.raises(ValueError, match="optionally the validation loss"):
        search_ticket(model, data, opt, sp, 2, train=lambda epoch: 0.0,
                      evaluate=lambda: (0.5,))
