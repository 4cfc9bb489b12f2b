import copy

import pytest
import torch
from torch.nn.utils import parametrize
from torch_geometric.nn import GAT, GCN, GCNConv, GATConv, GIN, MLP
from torch_geometric.nn.dense import Linear as PyGLinear

from tests.conftest import ALL_MODELS, HIDDEN, IN, INPUTS, MODELS, OUT
from tests.conftest import adjacency
from torch_geometric_ugt import (EdgePopupSparsifier, ScoreMask,
                                 masked_weights, score_parameters, supermask)

EXPECTED = {
    "GCN": ["convs.0.lin.weight", "convs.1.lin.weight"],
    "GAT": ["convs.0.att_src", "convs.0.att_dst", "convs.0.lin.weight",
            "convs.1.att_src", "convs.1.att_dst", "convs.1.lin.weight"],
    "GATv2": ["convs.0.att", "convs.0.lin_l.weight", "convs.0.lin_r.weight",
              "convs.1.att", "convs.1.lin_l.weight", "convs.1.lin_r.weight"],
}


@pytest.mark.parametrize("name", sorted(ALL_MODELS))
def test_supermask_every_model(name, graph):
    model = supermask(ALL_MODELS[name](), seed=0)
    found = masked_weights(model)
    assert found
    names = [w.name for w in found]
    if name in EXPECTED:
        assert sorted(names) == sorted(EXPECTED[name])
    scores = list(score_parameters(model))
    assert all(s.dtype == torch.float32 and s.requires_grad for s in scores)
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert {id(p) for p in trainable} == {id(s) for s in scores}
    for w in found:
        assert not w.weight.requires_grad
        assert w.parametrization.scores.shape == w.weight.shape
        assert torch.all(w.parametrization.mask == 1)
    out = model(graph.x, graph.edge_index)
    assert out.shape == (graph.num_nodes, OUT)
    out.sum().backward()
    assert all(s.grad is not None for s in scores)


def test_gin_and_sage_mask_all_linears():
    model = supermask(GIN(IN, HIDDEN, 2, OUT), seed=0)
    assert len(masked_weights(model)) == 4  # two 2-layer MLPs
    assert all("nn.lins" in w.name for w in masked_weights(model))


def _reference_forward(model, graph, adj):
    """Forward of a copy whose weights are replaced by W * m by hand."""
    plain = copy.deepcopy(model)
    for w in masked_weights(plain):
        value = (w.weight * w.parametrization.mask).detach().clone()
        parametrize.remove_parametrizations(w.module, w.attr,
                                            leave_parametrized=False)
        getattr(w.module, w.attr).data.copy_(value)
    return plain(graph.x, adj)


@pytest.mark.parametrize("kind", INPUTS)
@pytest.mark.parametrize("name", sorted(MODELS))
def test_forward_uses_masked_weights(name, kind, graph):
    model = supermask(MODELS[name](), seed=1)
    EdgePopupSparsifier(model, sparsity=0.5)
    adj = adjacency(graph, kind)
    model.eval()
    out = model(graph.x, adj)
    expected = _reference_forward(model, graph, adj)
    assert torch.allclose(out, expected, atol=1e-6)
    # and the masks change the output (the test could fail)
    dense = supermask(MODELS[name](), seed=1).eval()
    assert not torch.allclose(out, dense(graph.x, adj))


def test_straight_through_gradient():
    lin = torch.nn.Linear(5, 4)
    supermask(lin, seed=0)
    EdgePopupSparsifier(lin, sparsity=0.5)
    (entry, ) = masked_weights(lin)
    x = torch.randn(7, 5)
    out = lin(x)
    grad_out = torch.randn_like(out)
    out.backward(grad_out)
    # d loss / d (W*m) = grad_out^T x ; dS = that * W
    d_masked = grad_out.t() @ x
    expected = d_masked * entry.weight
    assert torch.allclose(entry.parametrization.scores.grad, expected,
                          atol=1e-6)


def test_seed_determinism_and_independence():
    a = supermask(GCN(IN, HIDDEN, 2, OUT), seed=3)
    b = supermask(GCN(IN, HIDDEN, 2, OUT), seed=3, score_init="uniform")
    c = supermask(GCN(IN, HIDDEN, 2, OUT), seed=4)
    for wa, wb, wc in zip(masked_weights(a), masked_weights(b),
                          masked_weights(c)):
        assert torch.equal(wa.weight, wb.weight)
        assert not torch.equal(wa.weight, wc.weight)
        assert not torch.equal(wa.parametrization.scores,
                               wb.parametrization.scores)
    torch.manual_seed(0)
    d = supermask(GCN(IN, HIDDEN, 2, OUT))
    torch.manual_seed(0)
    e = supermask(GCN(IN, HIDDEN, 2, OUT))
    assert all(torch.equal(x.weight, y.weight)
               for x, y in zip(masked_weights(d), masked_weights(e)))


@pytest.mark.parametrize("init", ["kaiming_uniform", "kaiming_normal",
                                  "signed_constant"])
def test_weight_inits_scale(init):
    model = supermask(torch.nn.Linear(400, 300), seed=0, weight_init=init)
    w = masked_weights(model)[0].weight
    std = (2.0 / 400)**0.5
    assert abs(float(w.std()) - std) < 0.05 * std
    if init == "signed_constant":
        assert torch.allclose(w.abs(), torch.full_like(w, std))


def test_score_init_uniform_range():
    model = supermask(torch.nn.Linear(50, 40), seed=0, score_init="uniform")
    scores = next(score_parameters(model))
    assert scores.min() >= -1 and scores.max() <= 1 and scores.min() < -0.5


def test_include_exclude():
    model = GAT(IN, HIDDEN, 2, OUT)
    supermask(model, include=[PyGLinear], seed=0)
    assert all(w.name.endswith("lin.weight") for w in masked_weights(model))
    model = supermask(GAT(IN, HIDDEN, 2, OUT), exclude=["*.att_*"], seed=0)
    assert all("att" not in w.name for w in masked_weights(model))
    model = supermask(GCN(IN, HIDDEN, 2, OUT), include=["convs.1.*weight"],
                      seed=0)
    assert [w.name for w in masked_weights(model)] == ["convs.1.lin.weight"]
    # a pattern may opt a non-default parameter in
    emb = torch.nn.Sequential(torch.nn.Embedding(5, 4), torch.nn.Linear(4, 2))
    supermask(emb, include=[torch.nn.Embedding, torch.nn.Linear], seed=0)
    assert [w.name for w in masked_weights(emb)] == ["0.weight", "1.weight"]


def test_unmasked_parameters_frozen_or_not():
    model = supermask(MLP([IN, HIDDEN, OUT]), seed=0)
    assert not any(p.requires_grad for n, p in model.named_parameters()
                   if "norm" in n or n.endswith("bias"))
    model = supermask(MLP([IN, HIDDEN, OUT]), seed=0, freeze_unmasked=False)
    assert any(p.requires_grad for n, p in model.named_parameters()
               if n.endswith("bias"))


def test_errors():
    with pytest.raises(ValueError, match="nothing to mask"):
        supermask(torch.nn.Sequential(torch.nn.ReLU()))
    with pytest.raises(RuntimeError, match="lazy"):
        supermask(GCN(-1, HIDDEN, 2, OUT))
    model = supermask(GCN(IN, HIDDEN, 2, OUT))
    with pytest.raises(RuntimeError, match="already applied"):
        supermask(model)
    with pytest.raises(ValueError, match="weight_init"):
        supermask(GCN(IN, HIDDEN, 2, OUT), weight_init="xavier")
    with pytest.raises(ValueError, match="matched no parameter"):
        supermask(GCN(IN, HIDDEN, 2, OUT), include=["nope.*"])
    model = GCN(IN, HIDDEN, 2, OUT)
    with pytest.raises(ValueError, match=r"exclude=\['convs\.\*\.att'\]"):
        supermask(model, exclude=["convs.*.lin.weight", "convs.*.att"])
    assert not any_parametrized(model)
    with pytest.raises(TypeError, match="list"):
        supermask(GCN(IN, HIDDEN, 2, OUT), include="convs.*")
    with pytest.raises(TypeError, match="entries"):
        supermask(GCN(IN, HIDDEN, 2, OUT), exclude=[3])
    with pytest.raises(ValueError, match="supermask"):
        list(score_parameters(GCN(IN, HIDDEN, 2, OUT)))


def test_lazy_model_after_materialisation(graph):
    model = GCN(-1, HIDDEN, 2, OUT)
    model(graph.x, graph.edge_index)
    supermask(model, seed=0)
    assert masked_weights(model)[0].weight.shape == (HIDDEN, IN)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_state_dict_round_trip(name, graph):
    model = supermask(MODELS[name](), seed=0)
    EdgePopupSparsifier(model, sparsity=0.7)
    with torch.no_grad():
        for s in score_parameters(model):
            s.add_(torch.randn_like(s))
    state = model.state_dict()
    assert not any(k.endswith("lin.weight") for k in state)
    fresh = supermask(MODELS[name](), seed=123)
    fresh.load_state_dict(state, strict=True)
    model.eval(), fresh.eval()
    assert torch.equal(model(graph.x, graph.edge_index),
                       fresh(graph.x, graph.edge_index))


def test_checkpoint_from_other_architecture():
    state = supermask(GCN(IN, HIDDEN, 2, OUT), seed=0).state_dict()
    other = supermask(GCN(IN, HIDDEN + 1, 2, OUT), seed=0)
    with pytest.raises(RuntimeError, match="another architecture"):
        other.load_state_dict(state)
    plain = GCN(IN, HIDDEN, 2, OUT).state_dict()
    with pytest.raises(RuntimeError, match="plain weight"):
        supermask(GCN(IN, HIDDEN, 2, OUT)).load_state_dict(plain)


def test_reset_parameters_keeps_the_ticket(graph):
    model = supermask(GCN(IN, HIDDEN, 2, OUT), seed=0)
    before = [w.weight.clone() for w in masked_weights(model)]
    model.reset_parameters()
    after = [w.weight for w in masked_weights(model)]
    assert all(torch.equal(a, b) for a, b in zip(before, after))


def test_deepcopy_and_half_precision(graph):
    model = supermask(torch.nn.Sequential(torch.nn.Linear(IN, HIDDEN),
                                          torch.nn.ReLU(),
                                          torch.nn.Linear(HIDDEN, OUT)),
                      seed=0)
    EdgePopupSparsifier(model, sparsity=0.5)
    clone = copy.deepcopy(model)
    assert torch.equal(clone(graph.x), model(graph.x))
    model.to(torch.bfloat16)
    for w in masked_weights(model):
        assert w.weight.dtype == torch.bfloat16
        assert w.parametrization.mask.dtype == torch.bfloat16
        assert w.parametrization.scores.dtype == torch.float32
    out = model(graph.x.bfloat16())
    out.float().sum().backward()
    assert all(s.grad.dtype == torch.float32
               for s in score_parameters(model))
    assert isinstance(masked_weights(model)[0].parametrization, ScoreMask)


def test_conv_level_parameters_masked():
    conv = GATConv(IN, HIDDEN, heads=2)
    supermask(conv, seed=0)
    names = {w.name for w in masked_weights(conv)}
    assert {"att_src", "att_dst", "lin.weight"} == names
    conv = GCNConv(IN, HIDDEN)
    supermask(conv, seed=0)
    assert {w.name for w in masked_weights(conv)} == {"lin.weight"}


def any_parametrized(model):
    """Whether a module of the model is parametrized."""
    from torch.nn.utils import parametrize
    return any(parametrize.is_parametrized(m) for m in model.modules())


class _Tied(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = torch.nn.Linear(4, 4)
        self.b = torch.nn.Linear(4, 4)
        self.b.weight = self.a.weight  # one Parameter, two users

    def forward(self, x):
        return self.b(torch.relu(self.a(x)))


def _snapshot(model):
    return ({k: v.clone() for k, v in model.state_dict().items()},
            {n: p.requires_grad for n, p in model.named_parameters()},
            type(model.a), type(model.b))


def test_tied_weights_are_refused_naming_every_user():
    model = _Tied()
    before = _snapshot(model)
    with pytest.raises(ValueError, match=r"'a\.weight', 'b\.weight'.*tied"):
        supermask(model, seed=0)
    after = _snapshot(model)
    assert before[1:] == after[1:]
    assert all(torch.equal(before[0][k], after[0][k]) for k in before[0])
    assert not masked_weights(model)
    assert model.b.weight is model.a.weight


def test_a_weight_without_elements_is_skipped_with_a_note():
    class Empty(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.empty = torch.nn.Linear(0, 4)
            self.full = torch.nn.Linear(4, 4)

    with pytest.warns(UserWarning, match="'empty.weight'.*no elements"):
        model = supermask(Empty(), seed=0)
    assert [w.name for w in masked_weights(model)] == ["full.weight"]
    with pytest.warns(UserWarning, match="no elements"):
        with pytest.raises(ValueError, match="found nothing to mask"):
            supermask(torch.nn.Linear(0, 4), seed=0)


def test_a_failure_half_way_leaves_the_model_as_it_was(monkeypatch):
    import sys
    module = sys.modules["torch_geometric_ugt.supermask"]
    model = GCN(IN, HIDDEN, 2, OUT)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    calls = []
    real = module.draw

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # the second weight's scores
            raise RuntimeError("injected")
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "draw", failing)
    with pytest.raises(RuntimeError, match="injected"):
        supermask(model, seed=0)
    assert not masked_weights(model)
    assert set(model.state_dict()) == set(state)
    assert all(torch.equal(model.state_dict()[k], v)
               for k, v in state.items())
    assert all(p.requires_grad for p in model.parameters())
