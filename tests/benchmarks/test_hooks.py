import pytest
import torch
from torch_geometric.nn import GCN

from benchmarks.hooks import iterand_setting, rerandomize
from tests.conftest import HIDDEN, IN, OUT
from torch_geometric_ugt import (GlobalGradualSparsifier, masked_weights,
                                 supermask)


def pruned_model():
    model = supermask(GCN(IN, HIDDEN, 2, OUT, bias=False), seed=0,
                      weight_init="kaiming_uniform")
    sp = GlobalGradualSparsifier(model, final_sparsity=0.5, ramp_epochs=1,
                                 initial_sparsity=0.5)
    return model, sp


def weights(model):
    return [w.weight.clone() for w in masked_weights(model)]


def test_rerandomize_is_deterministic_and_touches_pruned_weights_only():
    a, sp_a = pruned_model()
    b, sp_b = pruned_model()
    before = weights(a)
    rerandomize(a, 0.5, "kaiming_uniform", seed=3, epoch=9)
    rerandomize(b, 0.5, "kaiming_uniform", seed=3, epoch=9)
    after = weights(a)
    assert all(torch.equal(x, y) for x, y in zip(after, weights(b)))
    for w, old, new in zip(masked_weights(a), before, after):
        kept = w.parametrization.mask != 0
        assert torch.equal(old[kept], new[kept])
        assert not torch.equal(old[~kept], new[~kept])
    c, _ = pruned_model()
    rerandomize(c, 0.5, "kaiming_uniform", seed=3, epoch=10)
    assert not all(torch.equal(x, y) for x, y in zip(after, weights(c)))
    assert sp_a.final_sparsity == sp_b.final_sparsity == 0.5


def test_iterand_settings_parse():
    assert iterand_setting("p10-r0.1") == (10, 0.1)
    with pytest.raises(ValueError, match="p10-r0.1"):
        iterand_setting("10-0.1")
