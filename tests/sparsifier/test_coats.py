"""Multicoated masks: every coat the exact selection at its own sparsity,
through training, at_sparsity, squash, sparse squash, tickets and resume."""
import copy
import io

import pytest
import torch
import torch.nn.functional as F
from torch_geometric.nn import GCN

import torch_geometric_ugt.sparse_linear as sparse_module
from tests.conftest import HIDDEN, IN, MODELS, OUT
from torch_geometric_ugt import (EdgePopupSparsifier, GlobalGradualSparsifier,
                                 load_ticket, masked_weights, save_ticket,
                                 score_parameters, squash, supermask)
from torch_geometric_ugt.threshold import prune_smallest_reference_
from torch_geometric_ugt.ticket import mask_coats


def searched(build, graph, coats=3, steps=5, rescale=None, seed=0):
    model = supermask(build(), seed=seed)
    opt = torch.optim.Adam(score_parameters(model), lr=0.05)
    sp = GlobalGradualSparsifier(model, opt, final_sparsity=0.7,
                                 ramp_epochs=3, coats=coats,
                                 rescale=rescale)
    for epoch in range(steps):
        sp.step(epoch)
        opt.zero_grad()
        F.cross_entropy(model(graph.x, graph.edge_index), graph.y).backward()
        opt.step()
    return model, opt, sp


def assert_every_coat_exact(model, sp):
    weights = masked_weights(model)
    scores = [w.parametrization.scores.detach() for w in weights]
    masks = [w.parametrization.mask for w in weights]
    total = sum(s.numel() for s in scores)
    for c, s in enumerate(sp.coat_sparsities()):
        coat = [torch.empty_like(x) for x in scores]
        prune_smallest_reference_(scores, coat, round(s * total))
        for mask, want in zip(masks, coat):
            assert torch.equal(mask * sp.coats > c + 0.5, want.bool())


def test_every_coat_is_exact_through_a_search(graph):
    model, opt, sp = searched(MODELS["GCN"], graph)
    assert sp.coat_sparsities() == pytest.approx([0.7, 0.8, 0.9])
    assert_every_coat_exact(model, sp)
    with sp.at_sparsity(0.4):
        assert_every_coat_exact(model, sp)
        zeros = round(0.4 * sp.num_weights)
        assert sp.realised_sparsity() == zeros / sp.num_weights
    values = torch.cat([w.parametrization.mask.view(-1)
                        for w in masked_weights(model)]).unique()
    assert values.tolist() == pytest.approx([0.0, 1 / 3, 2 / 3, 1.0])


def test_per_tensor_coats_for_edge_popup(graph):
    model = supermask(GCN(IN, HIDDEN, 2, OUT), seed=0)
    sp = EdgePopupSparsifier(model, sparsity=0.5, coats=2)
    for w in masked_weights(model):
        mask = w.parametrization.mask
        n = mask.numel()
        assert int((mask == 0).sum()) == round(0.5 * n)
        assert int((mask == 1).sum()) == n - round(0.75 * n)
    assert sp.coats == 2


@pytest.mark.parametrize("name", ["GCN", "GAT", "GIN"])
def test_squash_sparse_squash_and_tickets_carry_the_levels(name, graph,
                                                           monkeypatch):
    monkeypatch.setattr(sparse_module, "MIN_ELEMENTS", 0)
    model, _, sp = searched(MODELS[name], graph, rescale="global")
    model.eval()
    with torch.no_grad(), sp.at_sparsity():
        want = model(graph.x, graph.edge_index)
        masks = [w.parametrization.mask.clone()
                 for w in masked_weights(model)]
        buffer = io.BytesIO()
        save_ticket(model, buffer)
        dense = squash(copy.deepcopy(model))
        sparse = squash(copy.deepcopy(model), sparse=True, max_density=1.0)
    assert mask_coats(masks) == 3
    with torch.no_grad():
        assert torch.equal(dense(graph.x, graph.edge_index), want)
        torch.testing.assert_close(sparse(graph.x, graph.edge_index), want,
                                   atol=1e-5, rtol=1e-5)
    buffer.seek(0)
    loaded = load_ticket(MODELS[name](), buffer).eval()
    for w, mask in zip(masked_weights(loaded), masks):
        assert torch.equal(w.parametrization.mask, mask)
    assert torch.equal(loaded(graph.x, graph.edge_index), want)


def test_resume_with_coats_is_bit_identical(graph):
    model, opt, sp = searched(MODELS["GCN"], graph, steps=8, seed=2)
    part, opt2, sp2 = searched(MODELS["GCN"], graph, steps=3, seed=2)
    states = (part.state_dict(), opt2.state_dict(), sp2.state_dict())
    assert states[2]["coats"] == 3
    again, opt3, sp3 = searched(MODELS["GCN"], graph, steps=0, seed=2)
    again.load_state_dict(states[0])
    opt3.load_state_dict(states[1])
    sp3.load_state_dict(states[2])
    for epoch in range(3, 8):
        sp3.step(epoch)
        opt3.zero_grad()
        F.cross_entropy(again(graph.x, graph.edge_index),
                        graph.y).backward()
        opt3.step()
    for a, b in zip(masked_weights(model), masked_weights(again)):
        assert torch.equal(a.parametrization.mask, b.parametrization.mask)
    with pytest.raises(ValueError, match="coats"):
        other = supermask(MODELS["GCN"](), seed=2)
        GlobalGradualSparsifier(other, final_sparsity=0.7,
                                ramp_epochs=3).load_state_dict(states[2])


@pytest.mark.parametrize("coats", [0, 65, 1.5, True])
def test_bad_coats_are_refused(coats):
    model = supermask(GCN(IN, HIDDEN, 2, OUT), seed=0)
    with pytest.raises(ValueError, match="coats must be"):
        GlobalGradualSparsifier(model, final_sparsity=0.5, ramp_epochs=2,
                                coats=coats)
    assert masked_weights(model)[0].parametrization.sparsifier is None


def test_masks_that_are_no_levels_are_refused():
    with pytest.raises(ValueError, match="not shares"):
        mask_coats([torch.tensor([0.0, 0.3, 1.0])], most=8)
