import pytest
import torch
import torch.nn.functional as F

from torch_geometric_ugt import backend


@pytest.fixture
def ops():
    backend.set_backend("native")
    yield backend.native_module(torch.device("cpu"))
    backend.set_backend("auto")


def csr(out_features, in_features, density, dtype=torch.float32, seed=0):
    gen = torch.Generator().manual_seed(seed)
    weight = torch.randn(out_features, in_features, generator=gen)
    weight *= torch.rand(out_features, in_features, generator=gen) < density
    weight = weight.to(dtype)
    sparse = weight.to_sparse_csr()
    return weight, (sparse.crow_indices().clone(),
                    sparse.col_indices().int(), sparse.values().clone())


def test_the_product_is_a_dispatcher_operator(ops):
    op = torch.ops.torch_geometric_ugt.sparse_linear
    schema = str(op.default._schema)
    assert schema.endswith("Tensor? bias) -> Tensor")
    twin = torch.ops.torch_geometric_ugt.sparse_linear_csr
    assert str(twin.default._schema).replace("_csr", "") == schema
    weight, parts = csr(33, 20, 0.2)
    x = torch.randn(50, 20)
    bias = torch.randn(33)
    torch.testing.assert_close(op(x, *parts, bias), F.linear(x, weight, bias))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64,
                                   torch.float16, torch.bfloat16])
def test_opcheck(ops, dtype):
    _, parts = csr(21, 17, 0.3, dtype)
    x = torch.randn(37, 17).to(dtype)
    bias = torch.randn(21).to(dtype)
    torch.library.opcheck(torch.ops.torch_geometric_ugt.sparse_linear,
                          (x, *parts, bias))
    torch.library.opcheck(torch.ops.torch_geometric_ugt.sparse_linear,
                          (x.view(1, 37, 17), *parts, None))


@pytest.mark.parametrize("bad, message", [
    (lambda p: (p[0], torch.full_like(p[1], 17), p[2]), "out of range"),
    (lambda p: (p[0].flip(0), p[1], p[2]), "indptr"),
    (lambda p: (p[0].int(), p[1], p[2]), "int64"),
    (lambda p: (p[0], p[1].long(), p[2]), "int32"),
    (lambda p: (p[0], p[1], p[2].double()), "Double"),
])
def test_a_bad_weight_is_an_error_not_a_wild_read(ops, bad, message):
    _, parts = csr(8, 17, 0.5)
    with pytest.raises(RuntimeError, match=message):
        torch.ops.torch_geometric_ugt.sparse_linear(torch.randn(4, 17),
                                                     *bad(parts), None)
