"""torch.compile: a supermasked model gets no more graph breaks than the
plain one, a compiled training loop keeps the masks exact, and a sparse
squashed model compiles as the plain one does (and exports), on the native
kernels and on their pure-PyTorch twins."""
import os
import subprocess
import sys
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


def traceable(measure, *args):
    # what a graph_breaks measurement returns, with no untraceable call
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = measure(*args)
    assert not [w for w in caught
                if "does not know how to trace" in str(w.message)]
    return found


# each path's operator: native kernels, or their pure-PyTorch twins (CUDA
# without nvcc, other devices, UGT_THRESHOLD_BACKEND=torch)
SELECTION = {"native": "prune_smallest_", "torch": "prune_smallest_torch_"}
PRODUCT = {"native": "sparse_linear", "torch": "sparse_linear_csr"}


@pytest.mark.parametrize("backend_name", sorted(SELECTION))
@pytest.mark.parametrize("name", sorted(MODELS))
def test_no_more_graph_breaks_than_the_plain_model(name, backend_name):
    plain = traceable(graph_breaks.breaks, MODELS[name](),
                      graph_breaks.graph())
    found = traceable(graph_breaks.search_breaks, name, backend_name)
    assert found["fresh_masks"] <= plain and found["stale_masks"] <= plain
    assert found["fresh_operators"] == []  # masks up to date
    # stale: the forward pass selects them, inside the graph
    assert found["stale_operators"] == [
        f"torch_geometric_ugt.{SELECTION[backend_name]}"]


@pytest.mark.parametrize("backend_name", sorted(SELECTION))
def test_compiled_training_keeps_the_masks_exact(backend_name):
    backend.set_backend(backend_name)
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


@pytest.mark.parametrize("backend_name", sorted(PRODUCT))
@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_sparse_squashed_model_compiles_as_the_plain_one(name,
                                                           backend_name):
    # Both paths of sparse_linear are operators with fake kernels: the
    # native one, and torch.sparse.mm on a CSR weight (CUDA, or no kernel),
    # which torch.compile could not trace (no sparse tensors in a graph).
    width = graph_breaks.SPARSE_WIDTH
    data = graph_breaks.graph(width)
    with torch.no_grad():
        plain = traceable(graph_breaks.breaks, MODELS[name](width).eval(),
                          data)
    found = traceable(graph_breaks.inference_breaks, name, backend_name)
    assert found["breaks"] <= plain
    assert found["operators"] == [
        f"torch_geometric_ugt.{PRODUCT[backend_name]}"
    ] * found["sparse_layers"]
    backend.set_backend(backend_name)
    sparse = graph_breaks.sparse_squashed(name)
    with torch.no_grad():
        want = sparse(data.x, data.edge_index)
        dynamo.reset()
        compiled = torch.compile(sparse, fullgraph=plain == 0)
        got = compiled(data.x, data.edge_index)
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize("backend_name", sorted(PRODUCT))
@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_sparse_squashed_model_exports(name, backend_name):
    backend.set_backend(backend_name)
    data = graph_breaks.graph(graph_breaks.SPARSE_WIDTH)
    sparse = graph_breaks.sparse_squashed(name)
    program = torch.export.export(sparse, (data.x, data.edge_index))
    assert f"torch_geometric_ugt.{PRODUCT[backend_name]}" in str(
        program.graph)
    with torch.no_grad():
        want = sparse(data.x, data.edge_index)
    torch.testing.assert_close(
        program.module()(data.x, data.edge_index), want)


LOAD = """
import sys
import torch
import torch_geometric_ugt
torch_geometric_ugt.backend.active_backend("cpu")  # registers the kernels
program = torch.export.load(sys.argv[1])
x, edge_index, want = torch.load(sys.argv[2])
torch.testing.assert_close(program.module()(x, edge_index), want)
"""


@pytest.mark.parametrize("backend_name", sorted(PRODUCT))
def test_an_exported_ticket_loads_in_a_fresh_process(backend_name, tmp_path):
    backend.set_backend(backend_name)
    data = graph_breaks.graph(graph_breaks.SPARSE_WIDTH)
    sparse = graph_breaks.sparse_squashed("GIN")
    torch.export.save(torch.export.export(sparse, (data.x, data.edge_index)),
                      tmp_path / "ticket.pt2")
    with torch.no_grad():
        torch.save((data.x, data.edge_index, sparse(data.x, data.edge_index)),
                   tmp_path / "io.pt")
    env = dict(os.environ, UGT_THRESHOLD_BACKEND=backend_name)
    done = subprocess.run(
        [sys.executable, "-c", LOAD, str(tmp_path / "ticket.pt2"),
         str(tmp_path / "io.pt")], capture_output=True, text=True, env=env,
        timeout=600)
    assert done.returncode == 0, done.stderr
