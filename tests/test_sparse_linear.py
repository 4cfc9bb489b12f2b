"""SparseLinear and sparse_linear: the dense product up to float rounding,
on both paths, for any input; inference only."""
import io

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from torch_geometric_ugt import backend
from torch_geometric_ugt.sparse_linear import (NATIVE_MAX_DENSITY,
                                               TORCH_MAX_DENSITY, SparseLinear,
                                               max_density, sparse_linear,
                                               sparse_linear_reference)

PATHS = {"native": sparse_linear, "reference": sparse_linear_reference}
TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-12,
             torch.float16: 1e-2, torch.bfloat16: 2e-2}


@pytest.fixture(autouse=True)
def native():
    backend.set_backend("native")
    yield
    backend.set_backend("auto")


def sparse_weight(out_features, in_features, density, dtype=torch.float32,
                  seed=0, zero_rows=()):
    gen = torch.Generator().manual_seed(seed)
    weight = torch.randn(out_features, in_features, generator=gen)
    weight *= torch.rand(out_features, in_features, generator=gen) < density
    weight[list(zero_rows)] = 0
    return weight.to(dtype)


def check(layer, x, weight, bias=None):
    with torch.no_grad():
        got = layer(x)
    want = F.linear(x.double(), weight.double(),
                    None if bias is None else bias.double())
    tol = TOLERANCE[x.dtype] * max([1.0] + want.abs().flatten().tolist())
    assert got.dtype == x.dtype and got.shape == want.shape
    torch.testing.assert_close(got.double(), want, atol=tol, rtol=0)


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("dtype", sorted(TOLERANCE, key=str))
def test_the_dense_product(path, dtype):
    weight = sparse_weight(70, 45, 0.1, dtype, zero_rows=(0, 3, 69))
    bias = torch.randn(70).to(dtype)
    layer = SparseLinear.from_dense(weight, bias).eval()
    assert layer.nnz == int((weight != 0).sum())
    x = torch.randn(53, 45).to(dtype)  # 53: tiles of 16 and a remainder
    out = PATHS[path](x, layer.indptr, layer.indices, layer.values,
                      layer.bias)
    want = F.linear(x.double(), weight.double(), bias.double())
    tol = TOLERANCE[dtype] * float(want.abs().max())
    torch.testing.assert_close(out.double(), want, atol=tol, rtol=0)
    assert torch.all(out[:, [0, 3, 69]] == bias[[0, 3, 69]])


@pytest.mark.parametrize("path", sorted(PATHS))
def test_any_input_layout(path):
    weight = sparse_weight(30, 20, 0.3)
    layer = SparseLinear.from_dense(weight, None).eval()

    def run(x):
        with torch.no_grad():
            return PATHS[path](x, layer.indptr, layer.indices, layer.values)

    base = torch.randn(20, 41)
    for x in (base.t(),                      # non-contiguous
              torch.randn(41, 40)[:, ::2],   # strided
              torch.randn(3, 7, 20),         # leading dimensions
              torch.randn(20),               # one sample
              torch.randn(0, 20),            # no nodes
              torch.randn(2, 0, 20)):
        want = F.linear(x, weight)
        got = run(x)
        assert got.shape == want.shape
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


@settings(max_examples=30, deadline=None)
@given(rows=st.integers(0, 40), in_features=st.integers(1, 40),
       out_features=st.integers(0, 40), density=st.floats(0, 1),
       bias=st.booleans(), seed=st.integers(0, 2**16))
def test_matches_dense_for_any_shape(rows, in_features, out_features, density,
                                     bias, seed):
    weight = sparse_weight(out_features, in_features, density, seed=seed)
    b = torch.randn(out_features) if bias else None
    layer = SparseLinear.from_dense(weight, b).eval()
    check(layer, torch.randn(rows, in_features), weight, b)


def test_the_fallback_path_is_used_without_the_kernel():
    backend.set_backend("torch")
    assert max_density(torch.device("cpu")) == TORCH_MAX_DENSITY
    weight = sparse_weight(40, 24, 0.2, torch.bfloat16)
    layer = SparseLinear.from_dense(weight, None).eval()
    check(layer, torch.randn(19, 24).to(torch.bfloat16), weight)
    backend.set_backend("native")
    assert max_density(torch.device("cpu")) == NATIVE_MAX_DENSITY
    assert max_density(torch.device("meta")) == 0.0  # not measured: dense


@pytest.mark.parametrize("dtype", sorted(TOLERANCE, key=str))
def test_the_csr_path_is_an_operator_too(dtype):
    # torch.sparse.mm on a CSR weight, opaque to torch.compile
    op = torch.ops.torch_geometric_ugt.sparse_linear_csr
    weight = sparse_weight(21, 17, 0.3, dtype)
    layer = SparseLinear.from_dense(weight, torch.randn(21).to(dtype))
    parts = (layer.indptr, layer.indices, layer.values)
    x = torch.randn(37, 17).to(dtype)
    torch.library.opcheck(op, (x, *parts, layer.bias))
    torch.library.opcheck(op, (x.view(1, 37, 17), *parts, None))
    torch.library.opcheck(op, (x[:0], *parts, None))
    got = op(x, *parts, layer.bias)
    assert got.is_contiguous()  # as the fake kernel says
    want = F.linear(x.double(), weight.double(), layer.bias.double())
    torch.testing.assert_close(
        got.double(), want, atol=TOLERANCE[dtype] * float(want.abs().max()),
        rtol=0)


@pytest.mark.parametrize("path", ["native", "torch"])
def test_operands_that_require_grad_are_refused(path):
    backend.set_backend(path)
    layer = SparseLinear.from_dense(sparse_weight(8, 6, 0.5),
                                    torch.randn(8))
    parts = (layer.indptr, layer.indices, layer.values)
    x = torch.randn(3, 6)
    for args in ((x.requires_grad_(), *parts, None),
                 (x.detach(), *parts, layer.bias.requires_grad_())):
        with pytest.raises(RuntimeError, match="no gradients"):
            sparse_linear(*args)
        with torch.no_grad():
            sparse_linear(*args)


def test_conversions_and_the_dense_weight():
    weight = sparse_weight(12, 9, 0.4)
    bias = torch.randn(12)
    layer = SparseLinear.from_dense(weight, bias).eval()
    assert torch.equal(layer.weight, weight)
    layer = layer.double()
    assert layer.values.dtype == layer.bias.dtype == torch.float64
    assert layer.indices.dtype == torch.int32
    check(layer, torch.randn(5, 9).double(), weight.double(), bias.double())
    with pytest.raises(TypeError, match="convert the model"):
        layer(torch.randn(5, 9))
    with pytest.raises(ValueError, match="9 features"):
        layer(torch.randn(5, 8).double())


def test_state_dict_round_trip_resizes():
    weight = sparse_weight(16, 10, 0.3)
    layer = SparseLinear.from_dense(weight, torch.randn(16)).eval()
    buffer = io.BytesIO()
    torch.save(layer.state_dict(), buffer)
    buffer.seek(0)
    fresh = SparseLinear(10, 16).eval()
    assert fresh.nnz == 0
    fresh.load_state_dict(torch.load(buffer))
    assert fresh.nnz == layer.nnz
    assert torch.equal(fresh.weight, weight)
    x = torch.randn(7, 10)
    with torch.no_grad():
        assert torch.equal(fresh(x), layer(x))


@pytest.mark.parametrize("edit, message", [
    (lambda s: s.update(indices=torch.full_like(s["indices"], 10)),
     "outside"),
    (lambda s: s.update(indptr=s["indptr"][:-1]), "indptr must be int64"),
    (lambda s: s.update(values=s["values"][:-1]), "one per index"),
])
def test_a_mismatched_checkpoint_is_refused(edit, message):
    layer = SparseLinear.from_dense(sparse_weight(16, 10, 0.3), None)
    state = dict(layer.state_dict())
    edit(state)
    fresh = SparseLinear(10, 16, bias=False)
    with pytest.raises(RuntimeError, match=message):
        fresh.load_state_dict(state)
    assert fresh.nnz == 0


def test_a_dense_checkpoint_is_refused_with_the_fix():
    layer = SparseLinear(10, 16)
    dense = torch.nn.Linear(10, 16).state_dict()
    with pytest.raises(RuntimeError, match="is a dense weight"):
        layer.load_state_dict(dense)


def test_training_is_refused():
    layer = SparseLinear.from_dense(sparse_weight(16, 10, 0.3), None)
    assert not any(p.requires_grad for p in layer.parameters())
    x = torch.randn(3, 10)
    with pytest.raises(RuntimeError, match="inference only"):
        layer(x)  # training mode, autograd on
    layer.eval()
    with pytest.raises(RuntimeError, match="inference only"):
        layer(x.requires_grad_())
    with torch.no_grad():
        layer(x)
    with torch.inference_mode():
        layer.train()(x.detach())
    with pytest.raises(RuntimeError, match="cannot be re-initialised"):
        layer.reset_parameters()


def test_bad_arguments():
    with pytest.raises(ValueError, match="non-negative int"):
        SparseLinear(-1, 3)
    with pytest.raises(ValueError, match="2-D floating point"):
        SparseLinear.from_dense(torch.ones(3, dtype=torch.int64))
    with pytest.raises(ValueError, match="bias"):
        SparseLinear.from_dense(torch.ones(3, 2), torch.ones(2))


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("bad", [float("nan"), float("inf"),
                                 -float("inf")])
def test_non_finite_inputs_give_the_dense_product(path, bad):
    weight = sparse_weight(16, 10, 0.3, zero_rows=(3, ))
    weight[:, 4] = 0  # a column no output reads
    weight[5, 4] = 0.5  # ... but one
    bias = torch.randn(16)
    x = torch.randn(6, 10)
    x[1, 4] = bad  # in the mostly pruned column
    x[2, 0] = bad
    x[3, 4] = bad
    x[3, 7] = bad
    with torch.no_grad():
        if path == "native":
            got = SparseLinear.from_dense(weight, bias).eval()(x)
        else:
            layer = SparseLinear.from_dense(weight, bias)
            got = sparse_linear_reference(x, layer.indptr, layer.indices,
                                          layer.values, layer.bias)
    want = F.linear(x, weight, bias)
    assert torch.equal(got.isnan(), want.isnan())
    assert torch.equal(got.isinf(), want.isinf())
    finite = want.isfinite()
    torch.testing.assert_close(got[finite], want[finite])


@pytest.mark.parametrize("drop, extra", [("values", None), ("bias", None),
                                         (None, "weight_scale")])
def test_missing_or_extra_keys_leave_the_layer_unchanged(drop, extra):
    layer = SparseLinear.from_dense(sparse_weight(16, 10, 0.3),
                                    torch.randn(16))
    other = SparseLinear.from_dense(sparse_weight(16, 10, 0.5, seed=1),
                                    torch.randn(16))
    state = dict(other.state_dict())
    if drop:
        del state[drop]
    if extra:
        state[extra] = torch.ones(1)
    before = {k: v.clone() for k, v in layer.state_dict().items()}
    with pytest.raises(RuntimeError, match="all of .* or nothing"):
        layer.load_state_dict(state)
    after = layer.state_dict()
    assert set(after) == set(before)
    assert all(torch.equal(after[k], v) for k, v in before.items())
