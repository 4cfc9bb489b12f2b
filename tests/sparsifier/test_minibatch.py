import pytest
import torch
import torch.nn.functional as F
from torch_geometric.data import Data
from torch_geometric.nn import GraphSAGE
from torch_geometric.typing import WITH_PYG_LIB, WITH_TORCH_SPARSE

from torch_geometric_ugt import (GlobalGradualSparsifier, masked_weights,
                                 score_parameters, supermask)
from torch_geometric_ugt.threshold import prune_smallest_reference_

pytestmark = pytest.mark.skipif(
    not (WITH_PYG_LIB or WITH_TORCH_SPARSE),
    reason="NeighborLoader needs pyg-lib or torch-sparse")


def test_neighbor_loader_search_keeps_masks_exact():
    from torch_geometric.loader import NeighborLoader
    gen = torch.Generator().manual_seed(0)
    n = 300
    data = Data(x=torch.randn(n, 10, generator=gen),
                edge_index=torch.randint(0, n, (2, 1500), generator=gen),
                y=torch.randint(0, 4, (n, ), generator=gen))
    model = supermask(GraphSAGE(10, 32, 2, 4, bias=False), seed=0)
    opt = torch.optim.Adam(score_parameters(model), lr=0.05)
    loader = NeighborLoader(data, num_neighbors=[5, 5], batch_size=64,
                            shuffle=True)
    steps = 3 * len(loader)
    # the schedule advanced per optimizer step
    sp = GlobalGradualSparsifier(model, opt, final_sparsity=0.85,
                                 ramp_epochs=steps // 2)
    weights = masked_weights(model)
    step = 0
    for _ in range(3):
        for batch in loader:
            sp.step(step)
            step += 1
            opt.zero_grad()
            out = model(batch.x, batch.edge_index)[:batch.batch_size]
            F.cross_entropy(out, batch.y[:batch.batch_size]).backward()
            opt.step()
            # masks follow the scores after every step: the same as a
            # reference selection at the current sparsity
            want = [torch.empty_like(w.parametrization.mask) for w in weights]
            prune_smallest_reference_(
                [w.parametrization.scores for w in weights], want,
                round(sp.current_sparsity * sp.num_weights))
            assert all(torch.equal(a, w.parametrization.mask)
                       for a, w in zip(want, weights))
    assert sp.current_sparsity == pytest.approx(0.85)
    zeros = sum(int((w.parametrization.mask == 0).sum()) for w in weights)
    assert zeros == round(0.85 * sp.num_weights)
