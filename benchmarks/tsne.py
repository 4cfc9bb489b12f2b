"""Exact t-SNE (van der Maaten & Hinton, 2008) in PyTorch, for the
paper's node-representation plots (a few thousand nodes; O(N^2) memory).

    coords = tsne(h, seed=0)        # [N, 2]
"""
from __future__ import annotations

import math

import torch
from torch import Tensor


def _affinities(x: Tensor, perplexity: float, tol: float = 1e-5,
                steps: int = 64) -> Tensor:
    """Symmetrised input affinities P with a per-point bandwidth found by
    bisection so that every conditional distribution has the perplexity."""
    d = torch.cdist(x, x).pow_(2)
    n = x.size(0)
    d.fill_diagonal_(float("inf"))
    target = math.log(perplexity)
    lo = torch.full((n, 1), -math.inf)
    hi = torch.full((n, 1), math.inf)
    beta = torch.ones(n, 1)
    for _ in range(steps):
        logits = -d * beta
        p = torch.softmax(logits, dim=1)
        entropy = -(p * torch.log(p.clamp_min(1e-30))).sum(1, keepdim=True)
        too_flat = entropy > target  # raise beta
        lo = torch.where(too_flat, beta, lo)
        hi = torch.where(too_flat, hi, beta)
        beta = torch.where(torch.isinf(hi), beta * 2,
                           torch.where(torch.isinf(lo), beta / 2,
                                       (lo + hi) / 2))
        if (entropy - target).abs().max() < tol:
            break
    p = torch.softmax(-d * beta, dim=1)
    p = (p + p.t()) / (2 * n)
    return p.clamp_min_(1e-12)


def tsne(x: Tensor, dim: int = 2, perplexity: float = 30.0,
         iterations: int = 500, seed: int = 0, pca: int = 50) -> Tensor:
    """2-D (or ``dim``-D) t-SNE embedding of the rows of ``x``: PCA to
    ``pca`` dimensions, exact affinities, early exaggeration 12 for the
    first 250 iterations, gradient descent with momentum and gains."""
    x = x.detach().float()
    x = x - x.mean(0)
    if pca and x.size(1) > pca:
        _, _, v = torch.linalg.svd(x, full_matrices=False)
        x = x @ v[:pca].t()
    n = x.size(0)
    p = _affinities(x, perplexity)
    gen = torch.Generator().manual_seed(seed)
    y = 1e-4 * torch.randn(n, dim, generator=gen)
    velocity = torch.zeros_like(y)
    gains = torch.ones_like(y)
    lr = max(n / 12.0 / 4, 50.0)
    for it in range(iterations):
        exaggeration = 12.0 if it < 250 else 1.0
        momentum = 0.5 if it < 250 else 0.8
        sq = (y * y).sum(1)
        num = (sq[:, None] + sq[None, :]).sub_(y @ y.t(), alpha=2.0)
        num = num.add_(1.0).reciprocal_()
        num.fill_diagonal_(0.0)
        q = (num / num.sum()).clamp_min_(1e-12)
        w = (p * exaggeration).sub_(q).mul_(num)
        grad = 4.0 * (w.sum(1, keepdim=True) * y - w @ y)
        same = (grad > 0) == (velocity > 0)
        gains = torch.where(same, gains * 0.8, gains + 0.2).clamp_min_(0.01)
        velocity = momentum * velocity - lr * gains * grad
        y = y + velocity
        y = y - y.mean(0)
    return y.float()


if __name__ == "__main__":
    from benchmarks import cli
    cli.library(__doc__, "benchmarks.tsne")
