import pytest
import torch
from torch_geometric.nn import GAT

from tests.conftest import HIDDEN, IN, OUT
from torch_geometric_ugt import (GlobalGradualSparsifier, masked_weights,
                                 summary, supermask)


def test_summary_lists_every_parameter():
    model = supermask(GAT(IN, HIDDEN, 2, OUT, heads=2), seed=0)
    sp = GlobalGradualSparsifier(model, final_sparsity=0.7, ramp_epochs=1,
                                 initial_sparsity=0.7)
    table = summary(model)
    masked = {w.name for w in masked_weights(model)}
    assert {r.name for r in table.rows if r.masked} == masked
    plain = {n for n, _ in GAT(IN, HIDDEN, 2, OUT, heads=2).named_parameters()}
    assert {r.name for r in table.rows} == plain
    assert all(r.trainable == r.masked for r in table.rows)  # frozen rest
    layers = sp.layer_sparsities()
    for r in table.rows:
        if r.masked:
            assert r.sparsity == pytest.approx(layers[r.name])
        else:
            assert r.sparsity is None
    assert table.realised_sparsity == pytest.approx(sp.realised_sparsity())
    assert table.masked_weights == sp.num_weights
    text = str(table)
    assert "convs.0.att_src" in text and "masked" in text and "frozen" in text
    assert f"{sp.num_weights:,}" in text


def test_summary_of_a_plain_model_and_bad_input():
    table = summary(torch.nn.Linear(3, 2))
    assert [(r.name, r.masked, r.trainable) for r in table.rows] == [
        ("weight", False, True), ("bias", False, True)]
    assert table.realised_sparsity == 0.0
    with pytest.raises(TypeError, match="Module"):
        summary("GCN")


def test_summary_of_a_sparse_squashed_model():
    from torch_geometric_ugt import squash
    from torch_geometric_ugt.sparse_linear import SparseLinear
    model = supermask(torch.nn.Sequential(torch.nn.Linear(128, 64),
                                          torch.nn.Linear(64, 4)), seed=0)
    GlobalGradualSparsifier(model, final_sparsity=0.9, ramp_epochs=1,
                            initial_sparsity=0.9)
    squash(model, sparse=True)
    assert isinstance(model[0], SparseLinear)  # 64 x 4 stays dense
    table = summary(model)
    rows = {r.name: r for r in table.rows}
    assert rows["0.weight"].sparse and rows["0.weight"].shape == (64, 128)
    assert rows["0.weight"].sparsity == pytest.approx(1 - model[0].density)
    assert not rows["1.weight"].sparse and rows["1.weight"].sparsity is None
    assert table.sparse_weights == 64 * 128
    assert table.dense_parameters == 64 + 64 * 4 + 4
    text = str(table)
    assert "sparse" in text and f"({model[0].nnz:,} stored)" in text
