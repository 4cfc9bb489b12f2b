"""Every layer of torch_geometric.nn, walked from PyG itself: supermask,
summary, a 3-epoch search at 0.9, a ticket round trip, squash and sparse
squash, each giving the searched model's outputs."""
import inspect
import io
from typing import Dict, List

import pytest
import torch
import torch_geometric.nn as pyg
from torch_geometric.nn import conv, models, pool

from tests.pyg_zoo import CASES, SKIPPED, Case, graph
from torch_geometric_ugt import (GlobalGradualSparsifier, load_ticket,
                                 masked_weights, save_ticket,
                                 score_parameters, squash, summary,
                                 supermask)
from torch_geometric_ugt.selection import DENSE_KINDS, kind

NO_WEIGHTS: Dict[str, str] = {
    "SimpleConv": "no parameters",
    "APPNP": "no parameters",
    "LGConv": "no parameters",
    "WLConv": "no parameters (integer colours)",
    "WLConvContinuous": "no parameters",
    "AGNNConv": "one scalar (a gate)",
    "InnerProductDecoder": "no parameters",
    "LabelPropagation": "no parameters",
    "CorrectAndSmooth": "no parameters",
    "MetaPath2Vec": "embeddings only (lookup tables)",
    "LightGCN": "embeddings only (lookup tables)",
    "MaskLabel": "embeddings only (lookup tables)",
}
"""Layers with nothing to mask: supermask() refuses them, clearly."""

UNREAD: Dict[str, List[str]] = {
    "RGATConv": ["l1", "l2"],  # other attention modes
    "SignedGCN": ["lin.weight"],  # read by discriminate() only
    "Polynormer": ["lin_in.weight", "pred_local.weight"],  # global mode
}
"""Weights the layer's forward never reads (with the zoo's arguments):
the sparsifier refuses them by name; supermask(exclude=...) leaves them
out of the selection."""


def walked() -> List[str]:
    """The layer classes of torch_geometric.nn.conv, .models and .pool."""
    names = []
    for module in (conv, models, pool):
        for name in module.__all__:
            obj = getattr(module, name)
            if (inspect.isclass(obj) and issubclass(obj, torch.nn.Module)
                    and name != "MessagePassing"):
                names.append(name)
    return names


def test_every_layer_of_pyg_is_built_or_skipped_with_a_reason():
    missing = [n for n in walked() if n not in CASES and n not in SKIPPED]
    assert not missing, (
        f"PyG layers the layer test cannot build: {missing}. Add each to "
        f"tests/pyg_zoo.py CASES, or to SKIPPED with its reason.")
    assert all(reason for reason in SKIPPED.values())


def build(case: Case) -> torch.nn.Module:
    torch.manual_seed(0)
    return case.build()


def run(case: Case, model: torch.nn.Module, g) -> torch.Tensor:
    with torch.no_grad():
        return case.forward(model, g)


def search(case: Case, model: torch.nn.Module, g) -> None:
    optimizer = torch.optim.Adam(score_parameters(model), lr=0.01)
    sparsifier = GlobalGradualSparsifier(model, optimizer,
                                         final_sparsity=0.9, ramp_epochs=2)
    for epoch in range(3):
        model.train()
        optimizer.zero_grad()
        out = case.forward(model, g)
        if out.requires_grad:
            out.float().pow(2).mean().backward()
        optimizer.step()
        sparsifier.step(epoch + 1)
    model.eval()


def check_dense_kinds(model: torch.nn.Module) -> None:
    masked = {w.name for w in masked_weights(model)}
    for name, module in model.named_modules():
        for attr, param in module._parameters.items():
            full = f"{name}.{attr}" if name else attr
            if param is None or full in masked or \
                    "parametrizations" in full.split("."):
                continue
            assert kind(module, attr, param) in DENSE_KINDS, full


@pytest.fixture(scope="module")
def g():
    return graph()


@pytest.mark.parametrize("name", sorted(set(CASES) | set(SKIPPED)))
def test_layer_protocol(name, g):
    if name in SKIPPED:
        pytest.skip(SKIPPED[name])
    torch.set_num_threads(1)
    case = CASES[name]
    model = build(case)
    if name in NO_WEIGHTS:
        with pytest.raises(ValueError, match="found nothing to mask"):
            supermask(model, seed=1)
        return
    supermask(model, seed=1)
    check_dense_kinds(model)
    unread = UNREAD.get(name, [])
    if unread:
        optimizer = torch.optim.Adam(score_parameters(model), lr=0.01)
        GlobalGradualSparsifier(model, optimizer, final_sparsity=0.9,
                                ramp_epochs=2)
        case.forward(model, g).float().pow(2).mean().backward()
        with pytest.raises(ValueError, match="never read") as error:
            optimizer.step()
        assert all(repr(n) in str(error.value) for n in unread)
        model = supermask(build(case), seed=1, exclude=unread)
    text = str(summary(model))
    assert all(w.name in text for w in masked_weights(model))
    search(case, model, g)
    want = run(case, model, g)

    buffer = io.BytesIO()
    save_ticket(model, buffer)

    def loaded() -> torch.nn.Module:
        buffer.seek(0)
        out = load_ticket(build(case), buffer)
        out.eval()  # (some PyG modules' train() returns None)
        return out

    assert torch.equal(run(case, loaded(), g), want)
    squashed = squash(loaded())
    squashed.eval()
    assert torch.equal(run(case, squashed, g), want)
    assert not masked_weights(squashed)
    sparse = squash(loaded(), sparse=True, max_density=1.0)
    sparse.eval()
    torch.testing.assert_close(run(case, sparse, g), want, atol=1e-5,
                               rtol=1e-4)


def test_the_weights_that_were_left_dense_before_are_masked():
    # each of these kept a weight-like parameter dense by default
    cases = {
        "GCN2Conv": ["weight1"],
        "GatedGraphConv": ["rnn.weight_ih", "rnn.weight_hh", "weight"],
        "ARMAConv": ["init_weight", "weight", "root_weight"],
        "RGATConv": ["q", "k", "weight"],
        "AntiSymmetricConv": ["W"],
        "MemPooling": ["k"],
        "GMMConv": ["g"],
        "HANConv": ["lin_src.a__to__b", "lin_dst.a__to__b"],
    }
    for name, wanted in cases.items():
        model = supermask(build(CASES[name]), seed=0)
        masked = {w.name for w in masked_weights(model)}
        assert set(wanted) <= masked, (name, sorted(masked))
    gcn2 = supermask(pyg.GCN2Conv(16, alpha=0.1, theta=0.5, layer=1,
                                  shared_weights=False), seed=0)
    assert {w.name for w in masked_weights(gcn2)} == {"weight1", "weight2"}
    gmm = supermask(build(CASES["GMMConv"]), seed=0)
    assert not {"mu", "sigma"} & {w.name for w in masked_weights(gmm)}


def test_fan_in_is_the_layers_own():
    # torch layout (out, in): dimension 1; PyG's bare (..., in, out):
    # dimension -2; an attention vector (1, heads, channels): heads *
    # channels; an RNN cell (3 * hidden, in): dimension 1
    layers = {
        "lin": (pyg.dense.Linear(8, 16), {"weight": 8}),
        "rgcn": (pyg.RGCNConv(4, 32, 3), {"weight": 4, "root": 4}),
        "gated": (pyg.GatedGraphConv(32, 3),
                  {"weight": 32, "rnn.weight_ih": 32,
                   "rnn.weight_hh": 32}),
        "gat": (pyg.GATConv(8, 16, heads=2),
                {"lin.weight": 8, "att_src": 32, "att_dst": 32}),
        "hetero": (pyg.HeteroLinear(8, 16, num_types=3), {"weight": 8}),
    }
    for key, (layer, fans) in layers.items():
        model = supermask(layer, seed=0)
        got = {w.name: w.parametrization.fan_in
               for w in masked_weights(model)}
        assert got == fans, key

    class Own(torch.nn.Module):  # not PyG's: read as torch reads it
        def __init__(self) -> None:
            super().__init__()
            self.weight = torch.nn.Parameter(torch.empty(16, 8))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x @ self.weight.t()

    own = supermask(Own(), seed=0)
    assert masked_weights(own)[0].parametrization.fan_in == 8
