import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.utils import is_undirected, to_undirected

from torch_geometric_ugt.transforms import EdgeRewire, FeatureNoise


def graph(n=40, e=100, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return Data(x=torch.randn(n, 6, generator=gen) + 5.0,
                edge_index=torch.randint(0, n, (2, e), generator=gen),
                edge_attr=torch.arange(e).float().view(-1, 1))


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.25, 1.0])
def test_feature_noise_counts_values_and_purity(fraction):
    data = graph()
    before = data.x.clone()
    out = FeatureNoise(fraction, seed=1)(data)
    assert torch.equal(data.x, before)  # input untouched
    changed = (out.x != before).any(dim=1)
    assert int(changed.sum()) == round(fraction * 40)
    assert torch.equal(changed.nonzero().view(-1), out.noisy_nodes)
    noisy = out.x[out.noisy_nodes]
    assert set(noisy.unique().tolist()) <= {0.0, 1.0}
    again = FeatureNoise(fraction, seed=1)(data)
    assert torch.equal(again.x, out.x)  # seeded


@pytest.mark.parametrize("fraction", [0.0, 0.2, 0.5, 1.0])
def test_edge_rewire_directed_counts(fraction):
    data = graph()
    before = data.edge_index.clone()
    out = EdgeRewire(fraction, seed=3, undirected=False)(data)
    assert torch.equal(data.edge_index, before)
    assert out.edge_index.shape == before.shape
    moved = (out.edge_index != before)
    assert int(moved.any(dim=0).sum()) == round(fraction * 100)
    assert not moved.all(dim=0).any()  # exactly one endpoint per edge
    assert torch.equal(out.edge_attr, data.edge_attr)


def test_edge_rewire_keeps_undirected_graphs_undirected():
    n = 30
    gen = torch.Generator().manual_seed(0)
    ei = torch.randint(0, n, (2, 60), generator=gen)
    ei = ei[:, ei[0] != ei[1]]
    ei = to_undirected(ei, num_nodes=n)
    data = Data(edge_index=ei, num_nodes=n)
    out = EdgeRewire(0.3, seed=0)(data)
    assert is_undirected(out.edge_index, num_nodes=n)
    undirected_edges = ei.size(1) // 2
    assert out.rewired_edges == round(0.3 * undirected_edges)
    old = {tuple(e) for e in ei.t().tolist()}
    new = {tuple(e) for e in out.edge_index.t().tolist()}
    # every rewired undirected edge removes one pair, adds another
    assert len(old - new) <= 2 * out.rewired_edges
    assert out.edge_index.size(1) == ei.size(1)


def test_bad_fraction():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        FeatureNoise(1.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        EdgeRewire(-0.1)
