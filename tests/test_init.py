import math

import pytest
import torch

from torch_geometric_ugt.init import (SCORE_INITS, WEIGHT_INITS, fan_in,
                                      resolve_init, sample)


def test_fan_in_rules():
    assert fan_in("weight", torch.empty(256, 1433)) == 1433
    # attention vectors (1, heads, channels): as torch counts them
    assert fan_in("att_src", torch.empty(1, 4, 32)) == 4 * 32
    assert fan_in("att_src", torch.empty(1, 4, 32), "channels") == 32
    assert fan_in("att", torch.empty(1, 1, 32)) == fan_in(
        "att", torch.empty(1, 1, 32), "channels") == 32  # one head: same
    from torch.nn.init import _calculate_fan_in_and_fan_out
    for shape in [(1, 4, 32), (1, 1, 8), (3, 16, 8), (256, 1433)]:
        t = torch.empty(shape)
        assert fan_in("att_dst", t) == _calculate_fan_in_and_fan_out(t)[0]
    with pytest.raises(ValueError, match="fan-in rule"):
        fan_in("att", torch.empty(1, 2, 3), "heads")
    assert fan_in("weight", torch.empty(3, 16, 8)) == 16 * 8
    assert fan_in("weight", torch.empty(5)) == 5


@pytest.mark.parametrize("name", sorted(WEIGHT_INITS))
def test_weight_inits_have_relu_kaiming_variance(name):
    gen = torch.Generator().manual_seed(0)
    w = sample(torch.Size([512, 300]), "weight", WEIGHT_INITS[name], gen)
    assert w.dtype == torch.float32
    assert float(w.var()) == pytest.approx(2.0 / 300, rel=0.05)


def test_kaiming_uniform_bound_and_uniform_scores():
    gen = torch.Generator().manual_seed(0)
    w = sample(torch.Size([64, 100]), "weight", WEIGHT_INITS[
        "kaiming_uniform"], gen)
    assert float(w.abs().max()) <= math.sqrt(6.0 / 100)
    s = sample(torch.Size([64, 100]), "weight", SCORE_INITS["uniform"], gen)
    assert -1.0 <= float(s.min()) and float(s.max()) <= 1.0


def test_same_seed_same_values():
    a = sample(torch.Size([8, 8]), "weight", WEIGHT_INITS["kaiming_normal"],
               torch.Generator().manual_seed(3))
    b = sample(torch.Size([8, 8]), "weight", WEIGHT_INITS["kaiming_normal"],
               torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_unknown_init():
    with pytest.raises(ValueError, match="choose one of"):
        resolve_init("xavier", WEIGHT_INITS, "weight_init")
