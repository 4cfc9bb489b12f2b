import math

import pytest
import torch
from torch_geometric.data import Data

from benchmarks.score_gradients import (ADAM_EPS, depth_summary,
                                        first_step_gradients, summary)


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


def test_summary_shares():
    grad = torch.tensor([0.0, 0.0, ADAM_EPS / 100, ADAM_EPS / 2, 1.0, 2.0])
    s = summary(grad)
    assert s["zero"] == pytest.approx(2 / 6)
    assert s["below_eps"] == 2 / 4 and s["below_eps_10"] == 1 / 4
    assert s["median"] == float(grad[3])  # lower median of the non-zero
    assert math.isnan(summary(torch.zeros(3))["median"])


def test_first_step_gradients_per_layer():
    runs = [first_step_gradients(tiny_graph(), layers=3, hidden=8, seed=s,
                                 sparsity=0.5, weight_init="kaiming_uniform")
            for s in (0, 1)]
    assert [g.numel() for g in runs[0]] == [6 * 8, 8 * 8, 8 * 3]
    result = depth_summary(runs)
    # the first layer's scores of the unused feature: 8 of its 48 entries
    assert result["first"]["zero"] >= 8 / 48
    assert result["all"]["zero"] >= 8 / (48 + 64 + 24)
    for part in result.values():
        assert 0.0 <= part["below_eps_10"] <= part["below_eps"] <= 1.0
