import pytest
import torch

from torch_geometric_ugt.analysis import mad


def brute_force(x, target):
    """Chen et al.'s definition with a dense N x N target mask."""
    unit = torch.nn.functional.normalize(x.double(), dim=-1)
    d = (1 - unit @ unit.t()) * target
    d[d < 1e-6] = 0  # rounding of identical directions
    per = d.sum(1) / (d > 0).sum(1).clamp(min=1)
    return float(per.sum() / (per > 0).sum()) if (per > 0).any() else 0.0


def test_identical_rows_have_mad_zero_orthogonal_rows_one():
    x = torch.ones(5, 3)
    assert mad(x) == 0.0
    assert mad(torch.eye(4)) == pytest.approx(1.0)
    # opposite vectors: cosine distance 2
    assert mad(torch.tensor([[1.0, 0.0], [-1.0, 0.0]])) == pytest.approx(2.0)


def path_graph(n):
    row = torch.arange(n - 1)
    return torch.stack([row, row + 1])


@pytest.mark.parametrize("hops", [1, 2, 3])
def test_neighbour_and_remote_match_the_dense_definition(hops):
    gen = torch.Generator().manual_seed(0)
    n = 9
    x = torch.randn(n, 4, generator=gen)
    edge_index = path_graph(n)
    # on a path, i and j are within `hops` hops iff |i - j| <= hops
    dist = (torch.arange(n)[:, None] - torch.arange(n)[None]).abs()
    near = (dist <= hops).double()
    assert mad(x, edge_index, hops=hops) == pytest.approx(
        brute_force(x, near), rel=1e-6)
    assert mad(x, edge_index, variant="remote", hops=hops) == pytest.approx(
        brute_force(x, 1 - near), rel=1e-6)
    assert mad(x) == pytest.approx(brute_force(x, torch.ones(n, n)),
                                   rel=1e-6)


def test_chunking_and_node_mask_do_not_change_the_result():
    gen = torch.Generator().manual_seed(1)
    n = 50
    x = torch.randn(n, 8, generator=gen)
    edge_index = torch.randint(0, n, (2, 120), generator=gen)
    for variant in ("global", "neighbour", "remote"):
        full = mad(x, edge_index, variant=variant, hops=2)
        tiny = mad(x, edge_index, variant=variant, hops=2, max_pairs=n)
        assert tiny == pytest.approx(full, rel=1e-6)
    mask = torch.zeros(n, dtype=torch.bool)
    mask[::3] = True
    sub = x[mask]
    assert mad(x, mask=mask) == pytest.approx(mad(sub), rel=1e-6)


def test_more_similar_representations_have_lower_mad():
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(30, 16, generator=gen)
    smooth = x + 10 * torch.randn(1, 16, generator=gen)  # shared component
    assert mad(smooth) < mad(x)


def test_errors():
    with pytest.raises(ValueError, match="num_nodes"):
        mad(torch.ones(3))
    with pytest.raises(ValueError, match="edge_index"):
        mad(torch.ones(3, 2), variant="remote")
    with pytest.raises(ValueError, match="variant"):
        mad(torch.ones(3, 2), variant="far")
    with pytest.raises(ValueError, match="hops"):
        mad(torch.ones(3, 2), path_graph(3), hops=0)
    assert mad(torch.ones(0, 2)) == 0.0
