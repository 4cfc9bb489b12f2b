"""rescale: weights times 1/sqrt(density), through the schedule, squash,
sparse squash, tickets, checkpoints and resume."""
import copy
import io
import math

import pytest
import torch
import torch.nn.functional as F
from torch_geometric.nn import GCN, GIN

import torch_geometric_ugt.sparse_linear as sparse_module
from tests.conftest import HIDDEN, IN, MODELS, OUT
from torch_geometric_ugt import (EdgePopupSparsifier, GlobalGradualSparsifier,
                                 load_ticket, masked_weights, save_ticket,
                                 score_parameters, squash, supermask)


def searched(build, rescale, graph, steps=5, seed=0, sparsity=0.8):
    model = supermask(build(), seed=seed)
    opt = torch.optim.Adam(score_parameters(model), lr=0.05)
    sp = GlobalGradualSparsifier(model, opt, final_sparsity=sparsity,
                                 ramp_epochs=3, rescale=rescale)
    for epoch in range(steps):
        sp.step(epoch)
        opt.zero_grad()
        F.cross_entropy(model(graph.x, graph.edge_index), graph.y).backward()
        opt.step()
    return model, opt, sp


def scales(model):
    return [float(w.parametrization.scale) for w in masked_weights(model)]


def test_global_scale_follows_the_sparsity_in_force(graph):
    model, opt, sp = searched(lambda: GCN(IN, HIDDEN, 2, OUT), "global",
                              graph, steps=0)
    sp.step(0)
    model(graph.x, graph.edge_index)
    assert scales(model) == [1.0, 1.0]  # the ramp starts at scale 1
    sp.step(2)
    total = sp.num_weights
    kept = total - round(sp.current_sparsity * total)
    want = math.sqrt(total / kept)
    assert scales(model) == pytest.approx([want] * 2, rel=1e-6)
    with sp.at_sparsity():
        kept = total - round(0.8 * total)
        assert scales(model) == pytest.approx([math.sqrt(total / kept)] * 2,
                                              rel=1e-6)
    for w in masked_weights(model):  # the forward pass uses c W m
        p = w.parametrization
        assert torch.allclose(getattr(w.module, w.attr),
                              w.weight * p.mask * p.scale)


def test_layer_scale_is_each_masks_own_density(graph):
    model, _, sp = searched(lambda: GIN(IN, HIDDEN, 2, OUT), "layer", graph)
    for w in masked_weights(model):
        mask = w.parametrization.mask
        density = float(mask.count_nonzero()) / mask.numel()
        assert float(w.parametrization.scale) == pytest.approx(
            1 / math.sqrt(density), rel=1e-6)


def test_edge_popup_scales_by_its_sparsity(graph):
    model = supermask(GCN(IN, HIDDEN, 2, OUT), seed=0)
    EdgePopupSparsifier(model, sparsity=0.75, rescale="layer")
    assert scales(model) == pytest.approx([2.0, 2.0], rel=1e-3)


def test_no_rescale_means_no_scale(graph):
    model, _, _ = searched(lambda: GCN(IN, HIDDEN, 2, OUT), None, graph)
    assert all(w.parametrization.scale is None
               for w in masked_weights(model))
    assert not any(k.endswith(".scale") for k in model.state_dict())
    with pytest.raises(ValueError, match="rescale must be"):
        GlobalGradualSparsifier(supermask(GCN(IN, HIDDEN, 2, OUT), seed=0),
                                final_sparsity=0.5, ramp_epochs=2,
                                rescale="sqrt")


@pytest.mark.parametrize("rescale", ["global", "layer"])
@pytest.mark.parametrize("name", ["GCN", "GAT", "GIN", "GraphSAGE"])
def test_squash_bakes_the_scale_in(name, rescale, graph, monkeypatch):
    monkeypatch.setattr(sparse_module, "MIN_ELEMENTS", 0)
    model, _, sp = searched(MODELS[name], rescale, graph)
    model.eval()
    with torch.no_grad(), sp.at_sparsity():
        want = model(graph.x, graph.edge_index)
        dense = squash(copy.deepcopy(model))
        sparse = squash(copy.deepcopy(model), sparse=True, max_density=1.0)
    assert any(s != 1.0 for s in scales(model))
    with torch.no_grad():
        assert torch.allclose(dense(graph.x, graph.edge_index), want,
                              atol=1e-6)
        torch.testing.assert_close(sparse(graph.x, graph.edge_index), want,
                                   atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("rescale", ["global", "layer"])
def test_tickets_carry_the_scale(rescale, graph):
    model, _, _ = searched(lambda: GCN(IN, HIDDEN, 2, OUT), rescale, graph)
    model.eval()
    want = model(graph.x, graph.edge_index)
    buffer = io.BytesIO()
    save_ticket(model, buffer)
    buffer.seek(0)
    loaded = load_ticket(GCN(IN, HIDDEN, 2, OUT), buffer).eval()
    assert scales(loaded) == scales(model)
    assert torch.equal(loaded(graph.x, graph.edge_index), want)


def test_version_2_tickets_without_scales_still_load(graph):
    model, _, _ = searched(lambda: GCN(IN, HIDDEN, 2, OUT), None, graph)
    buffer = io.BytesIO()
    save_ticket(model, buffer)
    ticket = torch.load(io.BytesIO(buffer.getvalue()), weights_only=True)
    from torch_geometric_ugt import ticket as ticket_module
    ticket["version"] = 2
    del ticket["scales"]
    payload = ticket["mask_bits"].numpy().tobytes()
    ticket["sha256"] = ticket_module._ticket_digest(ticket, payload)
    old = io.BytesIO()
    torch.save(ticket, old)
    old.seek(0)
    loaded = load_ticket(GCN(IN, HIDDEN, 2, OUT), old).eval()
    assert all(w.parametrization.scale is None
               for w in masked_weights(loaded))
    model.eval()
    assert torch.equal(loaded(graph.x, graph.edge_index),
                       model(graph.x, graph.edge_index))


def test_resume_with_rescale_is_bit_identical(graph):
    def fresh():
        model = supermask(GCN(IN, HIDDEN, 2, OUT), seed=4)
        opt = torch.optim.Adam(score_parameters(model), lr=0.05)
        sp = GlobalGradualSparsifier(model, opt, final_sparsity=0.8,
                                     ramp_epochs=6, rescale="layer")
        return model, opt, sp

    def train(model, opt, sp, epochs):
        for epoch in epochs:
            sp.step(epoch)
            opt.zero_grad()
            F.cross_entropy(model(graph.x, graph.edge_index),
                            graph.y).backward()
            opt.step()

    model, opt, sp = fresh()
    train(model, opt, sp, range(10))
    model2, opt2, sp2 = fresh()
    train(model2, opt2, sp2, range(4))
    states = (model2.state_dict(), opt2.state_dict(), sp2.state_dict())
    assert any(k.endswith(".scale") for k in states[0])
    assert states[2]["rescale"] == "layer"
    model3, opt3, sp3 = fresh()
    model3.load_state_dict(states[0])
    opt3.load_state_dict(states[1])
    sp3.load_state_dict(states[2])
    train(model3, opt3, sp3, range(4, 10))
    for a, b in zip(masked_weights(model), masked_weights(model3)):
        assert torch.equal(a.parametrization.scores, b.parametrization.scores)
        assert torch.equal(a.parametrization.mask, b.parametrization.mask)
        assert torch.equal(a.parametrization.scale, b.parametrization.scale)
    with pytest.raises(ValueError, match="rescale"):
        other = supermask(GCN(IN, HIDDEN, 2, OUT), seed=4)
        GlobalGradualSparsifier(other, final_sparsity=0.8,
                                ramp_epochs=6).load_state_dict(states[2])


def test_checkpoints_with_and_without_a_scale_load_both_ways(graph):
    scaled, _, _ = searched(lambda: GCN(IN, HIDDEN, 2, OUT), "global", graph)
    plain = supermask(GCN(IN, HIDDEN, 2, OUT), seed=0)
    plain.load_state_dict(scaled.state_dict())  # gains the scale
    assert scales(plain) == scales(scaled)
    plain.eval()
    scaled.eval()
    assert torch.equal(plain(graph.x, graph.edge_index),
                       scaled(graph.x, graph.edge_index))
    unscaled = supermask(GCN(IN, HIDDEN, 2, OUT), seed=0)
    plain.load_state_dict(unscaled.state_dict())  # drops it
    assert all(w.parametrization.scale is None
               for w in masked_weights(plain))


def learned(graph, rescale=None, steps=5):
    model = supermask(GCN(IN, HIDDEN, 2, OUT), seed=1, learn_scale=True)
    opt = torch.optim.Adam(score_parameters(model), lr=0.05)
    sp = GlobalGradualSparsifier(model, opt, final_sparsity=0.8,
                                 ramp_epochs=3, rescale=rescale)
    for epoch in range(steps):
        sp.step(epoch)
        opt.zero_grad()
        F.cross_entropy(model(graph.x, graph.edge_index), graph.y).backward()
        opt.step()
    return model, opt, sp


@pytest.mark.parametrize("rescale", [None, "global"])
def test_learned_scales_train_and_survive_squash_and_tickets(rescale,
                                                             graph):
    model, _, sp = learned(graph, rescale)
    log_scales = [w.parametrization.log_scale for w in masked_weights(model)]
    assert all(g is not None and g.requires_grad for g in log_scales)
    assert all(float(g) != 0.0 for g in log_scales)  # trained
    assert {id(g) for g in log_scales} <= {id(p) for p in
                                           score_parameters(model)}
    model.eval()
    with torch.no_grad():
        want = model(graph.x, graph.edge_index)
        dense = squash(copy.deepcopy(model))
        assert torch.equal(dense(graph.x, graph.edge_index), want)
    buffer = io.BytesIO()
    save_ticket(model, buffer)
    buffer.seek(0)
    loaded = load_ticket(GCN(IN, HIDDEN, 2, OUT), buffer).eval()
    assert torch.equal(loaded(graph.x, graph.edge_index), want)


def test_learned_scales_stay_float32_and_resume(graph):
    model, opt, sp = learned(graph, steps=3)
    state = (model.state_dict(), opt.state_dict(), sp.state_dict())
    assert any(k.endswith("log_scale") for k in state[0])
    model.half()
    assert all(w.parametrization.log_scale.dtype == torch.float32
               for w in masked_weights(model))
    again, opt2, sp2 = learned(graph, steps=0)
    again.load_state_dict(state[0])
    opt2.load_state_dict(state[1])
    sp2.load_state_dict(state[2])
    for a, b in zip(masked_weights(again), masked_weights(learned(
            graph, steps=3)[0])):
        assert torch.equal(a.parametrization.log_scale,
                           b.parametrization.log_scale)
