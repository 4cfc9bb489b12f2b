"""torch.compile: a supermasked model gets no more graph breaks than the
plain one, and a compiled training loop keeps the masks exact."""
import warnings

import pytest
import torch
import torch._dynamo as dynamo
import torch.nn.functional as F

from benchmarks import graph_breaks
from benchmarks.graph_breaks import MODELS
from tests.conftest import tiny_graph
from torch_geometric_ugt import (GlobalGradualSparsifier, backend,
                                 score_parameters, supermask)
from torch_geometric_ugt.threshold import prune_smallest_reference_


@pytest.fixture(autouse=True)
def native():
    backend.set_backend("native")
    dynamo.reset()
    yield
    dynamo.reset()
    backend.set_backend("auto")


def breaks(model, graph):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        count = graph_breaks.breaks(model, graph)
    assert not [w for w in caught
                if "does not know how to trace" in str(w.message)]
    return count


@pytest.mark.parametrize("name", sorted(MODELS))
def test_no_more_graph_breaks_than_the_plain_model(name):
    graph = tiny_graph()
    plain = breaks(MODELS[name](), graph)
    model = supermask(MODELS[name](), seed=0)
    opt = torch.optim.Adam(score_parameters(model), lr=0.05)
    sp = GlobalGradualSparsifier(model, opt, final_sparsity=0.6,
                                 ramp_epochs=3)
    assert breaks(model, graph) <= plain  # masks up to date
    sp.step(1)  # stale: the forward pass selects them, inside the graph
    assert breaks(model, graph) <= plain


def test_compiled_training_keeps_the_masks_exact():
    graph = tiny_graph()
    model = supermask(MODELS["GIN"](), seed=0)
    opt = torch.optim.Adam(score_parameters(model), lr=0.05)
    sp = GlobalGradualSparsifier(model, opt, final_sparsity=0.6,
                                 ramp_epochs=3)
    compiled = torch.compile(model)
    moved = 0
    for epoch in range(6):
        before = [w.parametrization.stored_mask().clone()
                  for w in sp.weights]
        sp.step(epoch)
        opt.zero_grad()
        F.cross_entropy(compiled(graph.x, graph.edge_index),
                        graph.y).backward()
        opt.step()
        with torch.no_grad():
            out = compiled(graph.x, graph.edge_index)
        scores = [w.parametrization.scores for w in sp.weights]
        want = [torch.empty_like(s) for s in scores]
        prune_smallest_reference_(
            scores, want, round(sp.sparsity_in_force * sp.num_weights))
        got = [w.parametrization.stored_mask() for w in sp.weights]
        assert all(torch.equal(a, b) for a, b in zip(got, want)), epoch
        with torch.no_grad():
            assert torch.allclose(out, model(graph.x, graph.edge_index),
                                  atol=1e-5)
        moved += any(not torch.equal(a, b) for a, b in zip(before, got))
    assert moved >= 4
