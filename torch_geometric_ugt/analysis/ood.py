r"""Out-of-distribution scores from a classifier's output, and their
ROC-AUC (no scikit-learn needed).
"""
from __future__ import annotations

import torch
from torch import Tensor

SCORES = ("max_softmax", "entropy")


def ood_score(logits: Tensor, kind: str = "max_softmax") -> Tensor:
    r"""Per-node OOD score, higher = more likely out of distribution:
    :math:`1 - \max_c p_c` (``"max_softmax"``) or the predictive entropy
    :math:`-\sum_c p_c \log p_c` (``"entropy"``) of
    :math:`p = \mathrm{softmax}(\text{logits})`.
    """
    if kind not in SCORES:
        raise ValueError(f"kind must be one of {SCORES}; got {kind!r}.")
    logp = torch.log_softmax(logits.detach().float(), dim=-1)
    if kind == "max_softmax":
        return 1.0 - logp.max(dim=-1).values.exp()
    return -(logp.exp() * logp).sum(dim=-1)


def roc_auc(scores: Tensor, positive: Tensor) -> float:
    r"""Area under the ROC curve of :obj:`scores` for the boolean labels
    :obj:`positive`: the probability that a random positive scores higher
    than a random negative, ties counting one half (Mann-Whitney U).
    """
    scores = scores.detach().double().view(-1)
    positive = positive.view(-1).bool()
    n_pos = int(positive.sum())
    n_neg = positive.numel() - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("roc_auc() needs both positive and negative "
                         "examples.")
    order = torch.argsort(scores)
    sorted_scores = scores[order]
    ranks = torch.empty_like(scores)
    ranks[order] = torch.arange(1, scores.numel() + 1, dtype=torch.float64)
    # average ranks over ties
    _, inverse, counts = torch.unique_consecutive(
        sorted_scores, return_inverse=True, return_counts=True)
    ends = counts.cumsum(0).double()
    mean_rank = ends - (counts.double() - 1) / 2
    ranks[order] = mean_rank[inverse]
    u = ranks[positive].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))
