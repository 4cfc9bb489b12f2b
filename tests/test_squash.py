import io
import pickle

import pytest
import torch
from torch.nn.utils import parametrize

from tests.conftest import MODELS, OUT
from torch_geometric_ugt import (GlobalGradualSparsifier, masked_weights,
                                 squash, supermask)


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
