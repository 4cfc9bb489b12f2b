"""Attention, recurrent and pooling weights are masked by default, and
such models search, squash and round-trip tickets like any other."""
import io

import pytest
import torch
import torch.nn.functional as F
from torch_geometric.nn import GINConv, GPSConv, SAGEConv, TopKPooling
from torch_geometric.nn import SAGPooling

from tests.conftest import HIDDEN, IN, OUT, tiny_graph
from torch_geometric_ugt import (GlobalGradualSparsifier, load_ticket,
                                 masked_weights, save_ticket,
                                 score_parameters, squash, supermask)


class GPS(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = GPSConv(IN, GINConv(torch.nn.Linear(IN, IN)), heads=2)
        self.head = torch.nn.Linear(IN, OUT)

    def forward(self, x, edge_index):
        return self.head(self.conv(x, edge_index))


class LSTMSage(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = SAGEConv(IN, HIDDEN, aggr="lstm")
        self.head = torch.nn.Linear(HIDDEN, OUT)

    def forward(self, x, edge_index):
        edge_index = edge_index[:, edge_index[1].argsort(stable=True)]
        return self.head(self.conv(x, edge_index).relu())


class TopK(torch.nn.Module):
    def __init__(self, pool=TopKPooling):
        super().__init__()
        self.conv = SAGEConv(IN, HIDDEN)
        self.pool = pool(HIDDEN, ratio=0.5)
        self.head = torch.nn.Linear(HIDDEN, OUT)

    def forward(self, x, edge_index):
        x = self.conv(x, edge_index).relu()
        x = self.pool(x, edge_index)[0]
        return self.head(x).mean(0, keepdim=True).expand(12, -1)


MODELS = {
    "GPSConv": (GPS, {"conv.attn.in_proj_weight"}),
    "SAGEConv(aggr=lstm)": (LSTMSage, {"conv.aggr_module.lstm.weight_ih_l0",
                                       "conv.aggr_module.lstm.weight_hh_l0"}),
    "TopKPooling": (TopK, {"pool.select.weight"}),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_masked_with_no_extra_arguments(name, recwarn):
    build, expected = MODELS[name]
    model = supermask(build(), seed=0)
    names = {w.name for w in masked_weights(model)}
    assert expected <= names
    left = [n for n, p in model.named_parameters()
            if p.dim() >= 2 and "parametrizations" not in n]
    assert left == []  # every weight is masked
    assert not [w for w in recwarn if "dense" in str(w.message)]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_search_squash_and_ticket(name):
    graph = tiny_graph()
    torch.manual_seed(0)
    model = supermask(MODELS[name][0](), seed=1)
    opt = torch.optim.Adam(score_parameters(model), lr=0.05)
    sp = GlobalGradualSparsifier(model, opt, final_sparsity=0.6,
                                 ramp_epochs=2)
    before = [w.parametrization.mask.clone() for w in masked_weights(model)]
    for epoch in range(4):
        sp.step(epoch)
        opt.zero_grad()
        F.cross_entropy(model(graph.x, graph.edge_index), graph.y).backward()
        assert all(s.grad is not None for s in score_parameters(model))
        opt.step()
    after = [w.parametrization.mask for w in masked_weights(model)]
    assert any(not torch.equal(a, b) for a, b in zip(before, after))
    zeros = sum(int((m == 0).sum()) for m in after)
    assert zeros == round(0.6 * sp.num_weights)
    model.eval()
    want = model(graph.x, graph.edge_index)
    buffer = io.BytesIO()
    save_ticket(model, buffer)
    buffer.seek(0)
    loaded = load_ticket(MODELS[name][0](), buffer).eval()
    assert torch.equal(loaded(graph.x, graph.edge_index), want)
    # (eval without gradients may take MultiheadAttention's fused path)
    plain = squash(model)(graph.x, graph.edge_index)
    assert torch.allclose(plain, want, atol=1e-6)


def test_multihead_attention_with_other_key_sizes():
    mha = supermask(torch.nn.MultiheadAttention(8, 2, kdim=4, vdim=4),
                    seed=0)
    assert [w.name for w in masked_weights(mha)] == [
        "q_proj_weight", "k_proj_weight", "v_proj_weight", "out_proj.weight"]


def test_sag_pooling_scale_stays_dense():
    # SAGPooling scores with its GNN (masked); its 1-element scale is not
    # a projection: a mask could only zero every score
    model = supermask(TopK(SAGPooling), seed=0)
    names = {w.name for w in masked_weights(model)}
    assert "pool.select.weight" not in names
    assert "pool.gnn.lin_rel.weight" in names


def test_same_rules_for_the_new_weights():
    model = supermask(GPS(), seed=0, exclude=["*.attn.*"])
    names = {w.name for w in masked_weights(model)}
    assert not any(".attn." in n for n in names)


def test_embeddings_stay_dense_quietly_unless_included():
    # a lookup table is a documented dense kind: no warning, no mask
    class WithEmbedding(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(100, 16)
            self.lin = torch.nn.Linear(16, 3)

    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = supermask(WithEmbedding(), seed=0)
    assert [w.name for w in masked_weights(model)] == ["lin.weight"]
    model = supermask(WithEmbedding(), seed=0,
                      include=[torch.nn.Embedding, torch.nn.Linear])
    assert [w.name for w in masked_weights(model)] == ["emb.weight",
                                                       "lin.weight"]
