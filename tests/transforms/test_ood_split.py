import pytest
import torch
from torch_geometric.data import Data

from torch_geometric_ugt.transforms import OODSplit


def data(n=200, classes=7, seed=0):
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n, ), generator=gen)
    masks = torch.rand(3, n, generator=gen)
    return Data(x=torch.randn(n, 4), y=y, train_mask=masks[0] < 0.3,
                val_mask=(masks[0] >= 0.3) & (masks[0] < 0.5),
                test_mask=masks[0] >= 0.5)


@pytest.mark.parametrize("seed", range(5))
def test_held_out_classes_never_reach_training(seed):
    d = data()
    out = OODSplit(0.4, seed=seed)(d)
    assert out.ood_classes.numel() == round(0.4 * 7)
    held = set(out.ood_classes.tolist())
    assert held.isdisjoint(out.y[out.train_mask].tolist())
    assert held.isdisjoint(out.y[out.val_mask].tolist())
    assert torch.equal(out.ood_mask, torch.isin(out.y, out.ood_classes))
    # in-distribution training nodes are all kept
    assert torch.equal(out.train_mask, d.train_mask & ~out.ood_mask)
    assert torch.equal(out.test_mask, d.test_mask)
    assert out.num_id_classes == 7 - len(held)
    assert (out.y_id[out.ood_mask] == -1).all()
    assert sorted(out.y_id[~out.ood_mask].unique().tolist()) == list(
        range(out.num_id_classes))
    assert d.train_mask.sum() >= out.train_mask.sum()  # input untouched
    assert not hasattr(d, "ood_mask") or d.ood_mask is None


def test_explicit_classes_and_errors():
    out = OODSplit(classes=[1, 5])(data())
    assert out.ood_classes.tolist() == [1, 5]
    with pytest.raises(ValueError, match="ood_fraction"):
        OODSplit(1.0)
    with pytest.raises(ValueError, match="classes"):
        OODSplit(classes=[9])(data())
    with pytest.raises(ValueError, match="train_mask"):
        OODSplit()(Data(y=torch.zeros(3, dtype=torch.long)))
