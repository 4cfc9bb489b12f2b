import pytest
import torch

from torch_geometric_ugt.analysis import ood_score, roc_auc


def test_roc_auc_known_values():
    labels = torch.tensor([0, 0, 1, 1]).bool()
    assert roc_auc(torch.tensor([0.1, 0.2, 0.8, 0.9]), labels) == 1.0
    assert roc_auc(torch.tensor([0.9, 0.8, 0.2, 0.1]), labels) == 0.0
    assert roc_auc(torch.ones(4), labels) == 0.5  # ties count one half
    # 3 of 4 positive-negative pairs ordered correctly
    assert roc_auc(torch.tensor([0.1, 0.5, 0.4, 0.9]), labels) == 0.75
    with pytest.raises(ValueError, match="both"):
        roc_auc(torch.ones(3), torch.ones(3).bool())


def test_roc_auc_equals_pairwise_probability():
    gen = torch.Generator().manual_seed(0)
    scores = torch.randint(0, 5, (200, ), generator=gen).float()
    labels = torch.rand(200, generator=gen) < 0.3
    pos, neg = scores[labels], scores[~labels]
    diff = pos[:, None] - neg[None]
    want = float(((diff > 0).double() + 0.5 * (diff == 0).double()).mean())
    assert roc_auc(scores, labels) == pytest.approx(want)


def test_scores_rank_uncertain_outputs_higher():
    confident = torch.tensor([[10.0, 0.0, 0.0]])
    uniform = torch.zeros(1, 3)
    for kind in ("max_softmax", "entropy"):
        s = ood_score(torch.cat([confident, uniform]), kind)
        assert s[1] > s[0]
    assert ood_score(uniform, "entropy").item() == pytest.approx(
        torch.log(torch.tensor(3.0)).item())
    assert ood_score(uniform).item() == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="kind"):
        ood_score(uniform, "energy")
