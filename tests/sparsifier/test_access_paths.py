"""Masks stay right on every access path: score writes that bypass the
optimizer, parametrize.cached(), loaded state dicts."""
import ast
import inspect

import torch
import torch.nn.functional as F
from torch.nn.utils import parametrize
from torch_geometric.nn import GCN

import torch_geometric_ugt.parametrization as parametrization_module
from tests.conftest import HIDDEN, IN, OUT
from torch_geometric_ugt import (GlobalGradualSparsifier, masked_weights,
                                 score_parameters, supermask)
from torch_geometric_ugt.threshold import prune_smallest_reference_


def built(sparsity=0.6, seed=0):
    model = supermask(GCN(IN, HIDDEN, 2, OUT, bias=False), seed=seed)
    opt = torch.optim.Adam(score_parameters(model), lr=0.05)
    sp = GlobalGradualSparsifier(model, opt, final_sparsity=sparsity,
                                 ramp_epochs=1, initial_sparsity=sparsity)
    return model, opt, sp


def expected_masks(model, sparsity):
    scores = [w.parametrization.scores.detach()
              for w in masked_weights(model)]
    masks = [torch.empty_like(s) for s in scores]
    total = sum(s.numel() for s in scores)
    prune_smallest_reference_(scores, masks, round(sparsity * total))
    return masks


def stored(model):
    return [w.parametrization.stored_mask().clone()
            for w in masked_weights(model)]


def assert_exact(model, sparsity):
    got = [w.parametrization.mask for w in masked_weights(model)]
    for a, b in zip(got, expected_masks(model, sparsity)):
        assert torch.equal(a, b)


def test_copy_under_no_grad_refreshes_the_masks(graph):
    model, _, sp = built()
    before = stored(model)
    with torch.no_grad():
        for s in score_parameters(model):
            s.copy_(-s)  # every selection flips
    model(graph.x, graph.edge_index)  # the forward pass reads the masks
    after = stored(model)
    assert not all(torch.equal(a, b) for a, b in zip(before, after))
    assert_exact(model, 0.6)


def test_model_load_state_dict_refreshes_the_masks(graph):
    model, _, sp = built(seed=0)
    other, _, _ = built(seed=0)
    with torch.no_grad():
        for s in score_parameters(other):
            s.copy_(torch.randn_like(s))
    model.load_state_dict(other.state_dict())
    assert_exact(model, 0.6)


def test_a_write_between_two_reads_is_seen():
    # reads of .mask with no event in between may not skip a selection
    model, _, sp = built()
    scores = list(score_parameters(model))
    masked_weights(model)[0].parametrization.mask  # a first read
    top = int(scores[0].argmax())  # a kept weight, clearly pruned now
    with torch.no_grad():
        scores[0].view(-1)[top] = -1e6
    got = masked_weights(model)[0].parametrization.mask
    assert got.view(-1)[top] == 0
    assert_exact(model, 0.6)


def test_masks_are_fresh_inside_parametrize_cached(graph):
    model, opt, sp = built()
    with parametrize.cached():
        for _ in range(3):
            opt.zero_grad()
            out = model(graph.x, graph.edge_index)
            F.cross_entropy(out, graph.y).backward()
            opt.step()
            # the weights computed under the cache use fresh masks
            for w in masked_weights(model):
                weight = getattr(w.module, w.attr)
                p = w.parametrization
                assert torch.equal(weight, w.weight * p.mask)
        assert_exact(model, 0.6)
        with sp.at_sparsity(0.3):
            for w in masked_weights(model):
                assert torch.equal(getattr(w.module, w.attr),
                                   w.weight * w.parametrization.mask)
            assert_exact(model, 0.3)
        assert_exact(model, 0.6)


def test_the_parametrization_knows_nothing_of_the_sparsifier():
    tree = ast.parse(inspect.getsource(parametrization_module))
    imported = [
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    ]
    assert not [m for m in imported if m and "sparsifier" in m]
    source = inspect.getsource(parametrization_module)
    assert "_bring_up_to_date" not in source and "_mark_stale" not in source
