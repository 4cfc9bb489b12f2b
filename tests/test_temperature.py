import copy
import io

import pytest
import torch
import torch.nn.functional as F
from torch_geometric.nn import GCN

from tests.conftest import HIDDEN, IN, OUT
from torch_geometric_ugt import (GlobalGradualSparsifier, Temperature,
                                 load_ticket, masked_weights, save_ticket,
                                 score_parameters, squash, supermask)


def searched(graph, steps=6):
    model = supermask(Temperature(GCN(IN, HIDDEN, 2, OUT, bias=False)),
                      seed=0)
    opt = torch.optim.Adam(score_parameters(model), lr=0.05)
    sp = GlobalGradualSparsifier(model, opt, final_sparsity=0.8,
                                 ramp_epochs=3)
    for epoch in range(steps):
        sp.step(epoch)
        opt.zero_grad()
        F.cross_entropy(model(graph.x, graph.edge_index), graph.y).backward()
        opt.step()
    return model, sp


def test_the_temperature_is_trained_with_the_scores(graph):
    model, _ = searched(graph)
    t = model.log_temperature
    assert t.requires_grad and any(p is t for p in score_parameters(model))
    assert float(t) != 0.0  # trained: it moved from its init
    assert [w.name for w in masked_weights(model)] == [
        "model.convs.0.lin.weight", "model.convs.1.lin.weight"]


def test_it_never_changes_a_prediction(graph):
    model, _ = searched(graph)
    model.eval()
    with torch.no_grad():
        scaled = model(graph.x, graph.edge_index)
        plain = model.model(graph.x, graph.edge_index)
    assert torch.equal(scaled.argmax(-1), plain.argmax(-1))
    torch.testing.assert_close(scaled, plain * model.log_temperature.exp())


def test_squash_and_tickets_keep_it(graph):
    model, _ = searched(graph)
    model.eval()
    want = model(graph.x, graph.edge_index)
    dense = squash(copy.deepcopy(model))
    assert isinstance(dense, Temperature)
    assert torch.equal(dense(graph.x, graph.edge_index), want)
    buffer = io.BytesIO()
    save_ticket(model, buffer)
    buffer.seek(0)
    loaded = load_ticket(Temperature(GCN(IN, HIDDEN, 2, OUT, bias=False)),
                         buffer).eval()
    assert torch.equal(loaded.log_temperature, model.log_temperature)
    assert torch.equal(loaded(graph.x, graph.edge_index), want)


def test_it_wraps_modules_only():
    with pytest.raises(TypeError, match="wraps a torch.nn.Module"):
        Temperature(lambda x: x)
