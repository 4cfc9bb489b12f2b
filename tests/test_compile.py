"""torch.compile: a supermasked model gets no more graph breaks than the
plain one, a compiled training loop keeps the masks exact, and a sparse
squashed model compiles as the plain one does."""
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
from torch_geometric_ugt.sparse_linear import SparseLinear
from torch_geometric_ugt.threshold import prune_smallest_reference_


@pytest.fixture(autouse=True)
def native():
    backend.set_backend("native")
    dynamo.reset()
    yield
    dynamo.reset()
    backend.set_backend("auto")


def explain(model, graph):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = graph_breaks.explain(model, graph)
    assert not [w for w in caught
                if "does not know how to trace" in str(w.message)]
    return found


@pytest.mark.parametrize("name", sorted(MODELS))
def test_no_more_graph_breaks_than_the_plain_model(name):
    graph = tiny_graph()
    plain, _ = explain(MODELS[name](), graph)
    model = supermask(MODELS[name](), seed=0)
    opt = torch.optim.Adam(score_parameters(model), lr=0.05)
    sp = GlobalGradualSparsifier(model, opt, final_sparsity=0.6,
                                 ramp_epochs=3)
    count, operators = explain(model, graph)  # masks up to date
    assert count <= plain and operators == []
    sp.step(1)  # stale: the forward pass selects them, inside the graph
    count, operators = explain(model, graph)
    assert count <= plain
    assert operators == ["torch_geometric_ugt.prune_smallest_"]


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


@pytest.mark.parametrize("backend_name", ["native", "torch"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_sparse_squashed_model_compiles_as_the_plain_one(name,
                                                           backend_name):
    # Both paths of sparse_linear are operators with fake kernels: the
    # native one, and torch.sparse.mm on a CSR weight (CUDA, or no kernel),
    # which torch.compile could not trace (no sparse tensors in a graph).
    width = graph_breaks.SPARSE_WIDTH
    data = graph_breaks.graph(width)
    with torch.no_grad():
        plain, _ = explain(MODELS[name](width).eval(), data)
    backend.set_backend(backend_name)
    sparse = graph_breaks.sparse_squashed(name)
    layers = sum(isinstance(m, SparseLinear) for m in sparse.modules())
    op = {"native": "sparse_linear", "torch": "sparse_linear_csr"}
    with torch.no_grad():
        count, operators = explain(sparse, data)
        assert count <= plain
        assert operators == [f"torch_geometric_ugt.{op[backend_name]}"] * layers
        want = sparse(data.x, data.edge_index)
        dynamo.reset()
        compiled = torch.compile(sparse, fullgraph=plain == 0)
        got = compiled(data.x, data.edge_index)
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize("backend_name", ["native", "torch"])
def test_a_sparse_squashed_model_exports(backend_name):
    backend.set_backend(backend_name)
    data = graph_breaks.graph(graph_breaks.SPARSE_WIDTH)
    sparse = graph_breaks.sparse_squashed("GIN")
    program = torch.export.export(sparse, (data.x, data.edge_index))
    op = {"native": "sparse_linear", "torch": "sparse_linear_csr"}
    assert f"torch_geometric_ugt.{op[backend_name]}" in str(program.graph)
    with torch.no_grad():
        want = sparse(data.x, data.edge_index)
    torch.testing.assert_close(
        program.module()(data.x, data.edge_index), want)
