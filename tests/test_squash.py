import copy
import io
import pickle

import pytest
import torch
from torch.nn.utils import parametrize
from torch_geometric.nn import GIN, RGCNConv

import torch_geometric_ugt.sparse_linear as sparse_module
from tests.conftest import HIDDEN, IN, MODELS, OUT
from tests.test_coverage import MODELS as COVERAGE_MODELS
from torch_geometric_ugt import (GlobalGradualSparsifier, backend,
                                 load_ticket, masked_weights, save_ticket,
                                 squash, supermask)
from torch_geometric_ugt.sparse_linear import SparseLinear, max_density
from torch_geometric_ugt.supermask import LINEAR_TYPES


@pytest.mark.parametrize("name", sorted(MODELS))
def test_squash_same_outputs_and_plain(name, graph):
    model = supermask(MODELS[name](), seed=0)
    GlobalGradualSparsifier(model, final_sparsity=0.8, ramp_epochs=1,
                            initial_sparsity=0.8)
    model.eval()
    before = model(graph.x, graph.edge_index)
    squash(model)
    assert not any(parametrize.is_parametrized(m) for m in model.modules())
    assert not masked_weights(model)
    after = model(graph.x, graph.edge_index)
    assert torch.equal(before, after)
    assert not any("scores" in k or "mask" in k for k in model.state_dict())
    zeros = sum(int((p == 0).sum()) for n, p in model.named_parameters()
                if not n.endswith("bias"))
    assert zeros > 0
    clone = pickle.loads(pickle.dumps(model))
    assert torch.equal(clone(graph.x, graph.edge_index), after)
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    assert torch.equal(loaded(graph.x, graph.edge_index), after)
    fresh = MODELS[name]()
    fresh.load_state_dict(model.state_dict(), strict=True)
    fresh.eval()
    assert torch.equal(fresh(graph.x, graph.edge_index), after)
    assert after.shape[-1] == OUT


def test_squash_needs_supermask_model():
    with pytest.raises(ValueError, match="supermask"):
        squash(torch.nn.Linear(2, 2))


def test_squashing_a_copy_leaves_the_original(graph):
    # 6. torch's parametrize shares the injected class between copies
    import copy
    model = supermask(MODELS["GAT"](), seed=0)
    GlobalGradualSparsifier(model, final_sparsity=0.5, ramp_epochs=1,
                            initial_sparsity=0.5)
    want = model(graph.x, graph.edge_index)
    plain = squash(copy.deepcopy(model))
    assert not masked_weights(plain)
    assert torch.equal(plain(graph.x, graph.edge_index), want)
    assert torch.equal(model(graph.x, graph.edge_index), want)
    assert any(k.endswith(".scores") for k in model.state_dict())
    assert len(masked_weights(model)) == len(masked_weights(
        copy.deepcopy(model)))
    squash(model)
    assert torch.equal(model(graph.x, graph.edge_index), want)


def test_squash_removes_the_sparsifier(graph):
    from torch_geometric_ugt import score_parameters
    model = supermask(MODELS["GCN"](), seed=0)
    opt = torch.optim.Adam(score_parameters(model), lr=0.1)
    sp = GlobalGradualSparsifier(model, opt, final_sparsity=0.5,
                                 ramp_epochs=1, initial_sparsity=0.5)
    want = model(graph.x, graph.edge_index)
    squash(model)
    assert sp._removed and not opt._optimizer_step_post_hooks
    assert torch.equal(model(graph.x, graph.edge_index), want)


# squash(model, sparse=True)

class RGCN(torch.nn.Module):
    """Bare message-passing weights (RGCNConv's weight and root) and a
    linear head."""

    def __init__(self):
        super().__init__()
        self.conv = RGCNConv(IN, HIDDEN, num_relations=2)
        self.head = torch.nn.Linear(HIDDEN, OUT)

    def forward(self, x, edge_index):
        edge_type = edge_index[0] % 2
        return self.head(self.conv(x, edge_index, edge_type).relu())


# every kind of weight that supermask() masks: Linear / PyG Linear,
# attention vectors, bare conv weights, MultiheadAttention, LSTM, pooling
SPARSE_CASES = dict(
    {name: build for name, build in MODELS.items()},
    **{name: build for name, (build, _) in COVERAGE_MODELS.items()},
    RGCN=RGCN)


def searched(build, sparsity=0.8):
    model = supermask(build(), seed=0)
    GlobalGradualSparsifier(model, final_sparsity=sparsity, ramp_epochs=1,
                            initial_sparsity=sparsity)
    return model


def outputs(model, graph):
    with torch.no_grad():
        return model(graph.x, graph.edge_index)


@pytest.fixture
def small_layers_too(monkeypatch):
    # the test models' layers are smaller than MIN_ELEMENTS
    monkeypatch.setattr(sparse_module, "MIN_ELEMENTS", 0)


@pytest.mark.parametrize("backend_name", ["native", "torch"])
@pytest.mark.parametrize("name", sorted(SPARSE_CASES))
def test_sparse_squash_gives_the_dense_outputs(name, backend_name, graph,
                                               small_layers_too):
    backend.set_backend(backend_name)
    try:
        model = searched(SPARSE_CASES[name])
        dense = squash(copy.deepcopy(model)).eval()
        sparse = squash(model, sparse=True, max_density=1.0).eval()
        layers = [m for m in sparse.modules() if isinstance(m, SparseLinear)]
        assert layers
        # every masked linear layer went sparse, but MultiheadAttention's
        for n, m in sparse.named_modules():
            if isinstance(m, LINEAR_TYPES):
                assert ".attn." in f".{n}", n
        assert not any(p.requires_grad for p in sparse.parameters())
        want, got = outputs(dense, graph), outputs(sparse, graph)
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
        assert torch.equal(got.argmax(-1), want.argmax(-1))
    finally:
        backend.set_backend("auto")


def test_layers_go_sparse_only_below_the_crossover(graph, small_layers_too):
    model = searched(lambda: GIN(IN, HIDDEN, 3, OUT), sparsity=0.7)
    densities = {e.name.rsplit(".", 1)[0]:
                 int(e.parametrization.mask.count_nonzero()) / e.weight.numel()
                 for e in masked_weights(model)}
    limit = sorted(densities.values())[len(densities) // 2]
    dense = squash(copy.deepcopy(model)).eval()
    sparse = squash(model, sparse=True, max_density=limit).eval()
    for name, density in densities.items():
        module = sparse.get_submodule(name)
        assert isinstance(module, SparseLinear) == (density <= limit), name
    torch.testing.assert_close(outputs(sparse, graph), outputs(dense, graph))


def test_the_default_crossover_and_tiny_layers(graph):
    model = searched(lambda: GIN(IN, HIDDEN, 2, OUT))
    squash(model, sparse=True)  # every layer is below MIN_ELEMENTS
    assert not any(isinstance(m, SparseLinear) for m in model.modules())
    model = searched(lambda: torch.nn.Linear(128, 64), sparsity=0.9)
    density = float(masked_weights(model)[0].parametrization.mask.mean())
    assert density <= max_density(torch.device("cpu"))
    layer = squash(model, sparse=True)  # the model itself is replaced
    assert isinstance(layer, SparseLinear) and layer.nnz > 0


def test_sparse_model_from_a_ticket_and_its_state_dict(tmp_path, graph,
                                                       small_layers_too):
    model = searched(MODELS["GIN"])
    save_ticket(model, tmp_path / "ticket.pt")
    want = outputs(squash(copy.deepcopy(model)).eval(), graph)
    # the recipe: load the ticket into a fresh model, squash it sparse
    fresh = load_ticket(MODELS["GIN"](), tmp_path / "ticket.pt")
    sparse = squash(fresh, sparse=True, max_density=1.0).eval()
    torch.testing.assert_close(outputs(sparse, graph), want)
    buffer = io.BytesIO()
    torch.save(sparse.state_dict(), buffer)
    buffer.seek(0)
    other = squash(searched(MODELS["GIN"], sparsity=0.2), sparse=True,
                   max_density=1.0).eval()
    other.load_state_dict(torch.load(buffer))
    assert torch.equal(outputs(other, graph), outputs(sparse, graph))


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_sparse_squash_in_other_dtypes(dtype, graph, small_layers_too):
    model = searched(MODELS["GCN"])
    dense = squash(copy.deepcopy(model)).eval().to(dtype)
    sparse = squash(model, sparse=True, max_density=1.0).eval().to(dtype)
    x = graph.x.to(dtype)
    with torch.no_grad():
        want = dense(x, graph.edge_index).double()
        got = sparse(x, graph.edge_index).double()
    tol = 1e-12 if dtype == torch.float64 else 5e-2
    torch.testing.assert_close(got, want, atol=tol * want.abs().max(),
                               rtol=0)


def test_sparse_squash_refuses_training(graph, small_layers_too):
    sparse = squash(searched(MODELS["GCN"]), sparse=True, max_density=1.0)
    with pytest.raises(RuntimeError, match="inference only"):
        sparse(graph.x, graph.edge_index)
    sparse.eval()
    outputs(sparse, graph)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"sparse": "yes"}, TypeError, "True or False"),
    ({"max_density": 0.5}, ValueError, "only applies with sparse=True"),
    ({"sparse": True, "max_density": 1.5}, ValueError, r"in \[0, 1\]"),
    ({"sparse": True, "max_density": True}, ValueError, r"in \[0, 1\]"),
])
def test_sparse_squash_checks_its_arguments_first(kwargs, error, message):
    model = searched(MODELS["GCN"])
    with pytest.raises(error, match=message):
        squash(model, **kwargs)
    assert masked_weights(model)  # untouched


@pytest.mark.parametrize("backend_name", ["native", "torch"])
def test_sparse_squash_is_exact_for_non_finite_inputs(backend_name, graph,
                                                      small_layers_too):
    backend.set_backend(backend_name)
    try:
        model = supermask(GIN(IN, HIDDEN, 2, OUT), seed=0)
        sp = GlobalGradualSparsifier(model, final_sparsity=0.9,
                                     ramp_epochs=1, initial_sparsity=0.9)
        first = masked_weights(model)[0].parametrization
        with torch.no_grad():  # input column 3: all its weights pruned
            first.scores[:, 3] = -1e9
        assert (first.mask[:, 3] == 0).all() and sp.final_sparsity == 0.9
        x = graph.x.clone()
        x[2, 3] = float("nan")
        x[5, 3] = float("inf")
        dense = squash(copy.deepcopy(model)).eval()
        sparse = squash(model, sparse=True, max_density=1.0).eval()
        with torch.no_grad():
            want = dense(x, graph.edge_index)
            got = sparse(x, graph.edge_index)
        assert want.isnan().any()
        assert torch.equal(got.isnan(), want.isnan())
        finite = want.isfinite()
        torch.testing.assert_close(got[finite], want[finite])
    finally:
        backend.set_backend("auto")


def test_max_density_zero_makes_no_layer_sparse(small_layers_too):
    model = supermask(torch.nn.Linear(64, 64), seed=0)
    with torch.no_grad():
        masked_weights(model)[0].parametrization.mask.zero_()
    layer = squash(model, sparse=True, max_density=0.0)
    assert isinstance(layer, torch.nn.Linear)
