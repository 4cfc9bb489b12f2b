from dataclasses import replace

import pytest
import torch
from torch_geometric.nn import GCN
from torch_geometric.utils import to_undirected

import torch_geometric.transforms as T
from benchmarks.config import Config
from benchmarks.models import EdgeDropout, as_edge_index, build
from tests.conftest import tiny_graph


def _edges(edge_index: torch.Tensor) -> set:
    return set(map(tuple, edge_index.t().tolist()))


def _undirected_graph():
    data = tiny_graph(num_nodes=12, num_edges=40)
    data.edge_index = to_undirected(
        data.edge_index[:, data.edge_index[0] != data.edge_index[1]])
    return data


def _directed_graph():
    data = tiny_graph(num_nodes=12, num_edges=40)
    data.edge_index = data.edge_index[:, data.edge_index[0]
                                      != data.edge_index[1]]
    return data


def test_as_edge_index_reads_edge_index_and_torch_sparse_csr():
    data = _directed_graph()
    expected = _edges(data.edge_index)
    assert _edges(as_edge_index(data.edge_index)) == expected
    csr = T.ToSparseTensor(layout=torch.sparse_csr)(data.clone()).adj_t
    assert _edges(as_edge_index(csr)) == expected  # (source, target)


def test_as_edge_index_reads_sparse_tensor():
    torch_sparse = pytest.importorskip("torch_sparse")
    data = _directed_graph()
    adj_t = T.ToSparseTensor()(data.clone()).adj_t
    assert isinstance(adj_t, torch_sparse.SparseTensor)
    assert _edges(as_edge_index(adj_t)) == _edges(data.edge_index)


def test_edge_dropout_drops_undirected_edges_while_training_only():
    data = _undirected_graph()
    torch.manual_seed(0)
    model = build("GCN", data.num_features, 16, 2, 3, dense=False,
                  edge_dropout=0.5)
    assert isinstance(model, EdgeDropout)
    seen = []
    model.model.convs[0].register_forward_pre_hook(
        lambda module, args: seen.append(_edges(args[1])))
    everything = _edges(data.edge_index)
    adj_t = T.ToSparseTensor(layout=torch.sparse_csr)(data.clone()).adj_t
    model.train()
    for adj in (data.edge_index, adj_t, data.edge_index):
        model(data.x, adj)
    for kept in seen:
        assert kept < everything  # a strict subset: some edges dropped
        assert kept == {(j, i) for i, j in kept}  # both directions go
    assert seen[0] != seen[2]  # a new draw every pass
    model.eval()
    out = model(data.x, data.edge_index)
    assert seen[-1] == everything  # the whole graph when evaluating
    plain = model.model  # the same GCN, without the wrapper
    assert torch.equal(out, plain(data.x, data.edge_index))


def test_edge_dropout_refuses_cached_normalisation_and_bad_rates():
    with pytest.raises(ValueError, match="cached=False"):
        EdgeDropout(GCN(8, 16, 2, 3, cached=True), 0.2)
    with pytest.raises(ValueError, match="edge dropout"):
        EdgeDropout(GCN(8, 16, 2, 3), 1.0)
    assert build("GCN", 8, 16, 2, 3, dense=False).convs[0].cached
    with pytest.raises(ValueError, match="GIN search"):
        build("GIN", 8, 16, 2, 3, dense=False, edge_dropout=0.2)
    build("GIN", 8, 16, 2, 3, dense=True, edge_dropout=0.2)
    cfg = Config("CiteSeer", "GCN", 2, 16, "ugt", 0.5, 0,
                 edge_dropout=0.3)
    assert cfg.key().endswith("-edrop0.3-seed0")
    with pytest.raises(ValueError, match="edge_dropout must be"):
        replace(cfg, edge_dropout=1.0)
    with pytest.raises(ValueError, match="GIN search"):
        replace(cfg, model="GIN")
    replace(cfg, model="GIN", method="dense", sparsity=0.0)  # dense: fine
