import torch
from torch_geometric.data import Data

from benchmarks.score_gradients import first_step_gradients


def tiny_graph() -> Data:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(30, 6, generator=gen)
    x[:, 0] = 0.0  # an unused feature: its scores get exact zero gradients
    edge_index = torch.randint(0, 30, (2, 80), generator=gen)
    y = torch.randint(0, 3, (30,), generator=gen)
    train_mask = torch.zeros(30, dtype=torch.bool)
    train_mask[:12] = True
    data = Data(x=x, edge_index=edge_index, y=y, train_mask=train_mask)
    data.num_classes = 3
    return data


def test_first_step_gradients_per_layer():
    rows = first_step_gradients(tiny_graph(), layers=3, hidden=8, seed=0,
                                sparsity=0.5, weight_init="kaiming_uniform")
    assert len(rows) == 3  # one row per masked weight
    # the first layer's scores of the unused feature: 8 of 6 * 8 entries
    assert rows[0]["zero"] >= 8 / 48
    for row in rows:
        assert 0.0 <= row["below_eps"] <= 1.0
        assert row["median"] > 0.0 and row["mean"] > 0.0
