import torch

from torch_geometric_ugt.parametrization import ScoreMask


def test_forward_is_weight_times_mask_and_ste_gradient():
    weight = torch.randn(4, 3)
    p = ScoreMask(torch.randn(4, 3), weight.dtype)
    p.mask.copy_(torch.tensor([[1., 0., 1.], [0., 0., 1.], [1., 1., 1.],
                               [0., 1., 0.]]))
    out = p(weight)
    assert torch.equal(out, weight * p.mask)
    grad = torch.randn(4, 3)
    out.backward(grad)
    # straight through: dS = dL/d(W*m) * W, also where the mask is 0
    assert torch.allclose(p.scores.grad, grad * weight)


def test_scores_stay_float32_under_half():
    p = ScoreMask(torch.randn(2, 2), torch.float32)
    p.half()
    assert p.scores.dtype == torch.float32
    assert p.mask.dtype == torch.float16
    assert "shape=(2, 2)" in repr(p)
