import pytest
import torch
from torch_geometric.nn import GAT, GCN

from tests.conftest import HIDDEN, IN, OUT
from torch_geometric_ugt import GlobalGradualSparsifier, supermask
from torch_geometric_ugt.analysis import LayerOutputs


def test_records_every_conv_in_order(graph):
    model = supermask(GCN(IN, HIDDEN, 4, OUT), seed=0)
    GlobalGradualSparsifier(model, final_sparsity=0.5, ramp_epochs=1,
                            initial_sparsity=0.5)
    with LayerOutputs(model) as outputs:
        out = model(graph.x, graph.edge_index)
    assert list(outputs) == [f"convs.{i}" for i in range(4)]
    assert outputs["convs.0"].shape == (graph.num_nodes, HIDDEN)
    assert torch.equal(outputs["convs.3"], out)  # the last layer's output
    assert not outputs["convs.0"].requires_grad
    # hooks are gone afterwards
    model(graph.x, graph.edge_index)
    assert all(not m._forward_hooks for m in model.modules())


def test_module_choice_and_tuple_outputs(graph):
    model = GAT(IN, HIDDEN, 2, OUT, heads=2)
    with LayerOutputs(model, ["convs.1", torch.nn.ReLU]) as outputs:
        model(graph.x, graph.edge_index)
    assert "convs.1" in outputs and "convs.0" not in outputs
    with pytest.raises(ValueError, match="no module matching"):
        LayerOutputs(model, ["nothing.*"])
