import pytest
import torch
from torch_geometric.nn import GCN

from benchmarks.train import train_dense
from tests.conftest import HIDDEN, IN, OUT
from tests.test_search import node_task


def test_dense_training_can_select_on_the_validation_loss():
    losses = {}
    for select in ("accuracy", "loss"):
        data = node_task()
        torch.manual_seed(0)
        model = GCN(IN, HIDDEN, 2, OUT)
        opt = torch.optim.Adam(model.parameters(), lr=0.05)
        result = train_dense(model, data, opt, 30, select=select)
        assert result.select == select
        losses[select] = result.val_loss
    # the same training: the lowest loss is no higher than the loss at
    # the most accurate epoch
    assert losses["loss"] <= losses["accuracy"]
    with pytest.raises(ValueError, match="select must be one of"):
        train_dense(model, data, opt, 1, select="auc")
