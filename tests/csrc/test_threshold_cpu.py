import pytest
import torch

from torch_geometric_ugt import (GlobalGradualSparsifier, backend,
                                 supermask)
from torch_geometric_ugt.threshold import prune_smallest_reference_


@pytest.fixture
def ops():
    backend.set_backend("native")
    yield backend.native_module(torch.device("cpu"))
    backend.set_backend("auto")


def test_the_kernel_is_a_dispatcher_operator(ops):
    assert ops is torch.ops.torch_geometric_ugt
    op = torch.ops.torch_geometric_ugt.prune_smallest_
    schema = str(op.default._schema)
    assert "Tensor(a!)[] masks, Tensor k" in schema
    assert schema.endswith("-> ()")
    twin = torch.ops.torch_geometric_ugt.prune_smallest_torch_
    assert str(twin.default._schema).replace("_torch_", "_") == schema
    scores = [torch.randn(5, 4), torch.randn(7)]
    masks = [torch.empty(5, 4), torch.empty(7, dtype=torch.float32)]
    op(scores, masks, torch.tensor(9), True)
    want = [torch.empty_like(s) for s in scores]
    prune_smallest_reference_(scores, want, 9)
    assert all(torch.equal(m, w) for m, w in zip(masks, want))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64,
                                   torch.float16, torch.bfloat16])
def test_opcheck(ops, dtype):
    gen = torch.Generator().manual_seed(0)
    scores = [torch.randn(40, 3, generator=gen), torch.randn(9, generator=gen)]
    masks = [torch.empty(40, 3, dtype=dtype), torch.empty(9, dtype=dtype)]
    torch.library.opcheck(torch.ops.torch_geometric_ugt.prune_smallest_,
                          (scores, masks, torch.tensor(50), True))


def test_refusal_is_a_value_error_and_writes_nothing(ops):
    scores = [torch.tensor([1.0, float("nan")])]
    masks = [torch.full((2, ), 7.0)]
    with pytest.raises(ValueError, match="non-finite"):
        torch.ops.torch_geometric_ugt.prune_smallest_(scores, masks,
                                                      torch.tensor(1), False)
    assert masks[0].tolist() == [7.0, 7.0]


def test_meta_tensors_go_through_the_fake_kernel(ops):
    scores = [torch.empty(4, 3, device="meta")]
    masks = [torch.empty(4, 3, device="meta")]
    torch.ops.torch_geometric_ugt.prune_smallest_(scores, masks,
                                                  torch.tensor(5), True)


def test_a_sparsifier_on_a_meta_model_refuses_clearly():
    from torch_geometric.nn import GCN
    with torch.device("meta"):
        model = GCN(8, 16, 2, 3)
    model = supermask(model, seed=0)
    with pytest.raises(ValueError, match="meta device"):
        GlobalGradualSparsifier(model, final_sparsity=0.5, ramp_epochs=2)


@pytest.mark.parametrize("k", [torch.tensor([[1, 2]]), torch.tensor(1.0),
                               torch.tensor(True),
                               torch.empty(0, dtype=torch.long)])
def test_k_tensors_must_be_integer_counts(k):
    from torch_geometric_ugt.threshold import prune_smallest_
    with pytest.raises(TypeError, match="integer CPU tensor of one or more"):
        prune_smallest_([torch.randn(3)], [torch.empty(3)], k)


def test_the_operator_checks_its_counts():
    ops = torch.ops.torch_geometric_ugt
    for k in (torch.tensor(1.0), torch.empty(0, dtype=torch.long),
              torch.ones(65, dtype=torch.long)):
        with pytest.raises(RuntimeError, match="integer CPU tensor of 1 to"):
            ops.prune_smallest_([torch.randn(3)], [torch.empty(3)], k, False)
