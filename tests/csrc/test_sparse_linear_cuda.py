"""Sparse inference on a GPU (torch's CSR product, cuSPARSE); run by
scripts/gpu_check.sh where a GPU exists."""
import pytest
import torch
import torch.nn.functional as F

from torch_geometric_ugt.sparse_linear import SparseLinear, max_density

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="needs a CUDA GPU")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64,
                                   torch.bfloat16])
def test_sparse_linear_on_cuda(dtype):
    gen = torch.Generator().manual_seed(0)
    weight = torch.randn(96, 80, generator=gen)
    weight *= torch.rand(96, 80, generator=gen) < 0.1
    bias = torch.randn(96, generator=gen)
    layer = SparseLinear.from_dense(weight, bias).to("cuda", dtype).eval()
    x = torch.randn(300, 80, generator=gen).to("cuda", dtype)
    with torch.no_grad():
        got = layer(x).double()
    want = F.linear(x.double(), weight.cuda().double(), bias.cuda().double())
    tol = 1e-5 if dtype == torch.float32 else 1e-12 \
        if dtype == torch.float64 else 3e-2
    torch.testing.assert_close(got, want, atol=tol * want.abs().max(),
                               rtol=0)
    assert max_density(torch.device("cuda")) == 0.0  # not measured yet


def test_the_csr_operator_on_cuda():
    weight = torch.randn(21, 17) * (torch.rand(21, 17) < 0.3)
    layer = SparseLinear.from_dense(weight, torch.randn(21)).to("cuda")
    x = torch.randn(37, 17, device="cuda")
    torch.library.opcheck(torch.ops.torch_geometric_ugt.sparse_linear_csr,
                          (x, layer.indptr, layer.indices, layer.values,
                           layer.bias))
