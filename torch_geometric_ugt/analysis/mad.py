r"""Mean Average Distance (MAD) of node representations (Chen et al.,
"Measuring and Relieving the Over-smoothing Problem for Graph Neural
Networks from the Topological View", AAAI 2020).

With the cosine distance :math:`D_{ij} = 1 - \cos(x_i, x_j)` and a 0/1
target mask :math:`M` over node pairs,

.. math::
    \bar{D}_i = \frac{\sum_j D_{ij} M_{ij}}{\sum_j \mathbb{1}[D_{ij} M_{ij}
    > 0]}, \qquad
    \mathrm{MAD} = \frac{\sum_i \bar{D}_i}{\sum_i \mathbb{1}[\bar{D}_i > 0]}

(:math:`0/0 = 0`; distances below :obj:`1e-6`, float rounding of
identical directions, count as 0). The target is all pairs
(``"global"``), pairs within :obj:`hops` hops (``"neighbour"``), or pairs
farther apart than :obj:`hops` hops, unreachable ones included
(``"remote"``). Rows are processed in chunks, so at most
:obj:`max_pairs` distances (and as many reachability flags) are held at
once: 2^24 by default, 64 MiB of float32
plus 16 MiB of flags, whatever the graph size.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

VARIANTS = ("global", "neighbour", "remote")
ROUNDING = 1e-6


def mad(x: Tensor, edge_index: Optional[Tensor] = None,
        mask: Optional[Tensor] = None, *, variant: Optional[str] = None,
        hops: int = 1, max_pairs: int = 1 << 24) -> float:
    r"""The MAD of the rows of :obj:`x`.

    Args:
        x (torch.Tensor): Node representations :math:`[N, F]`.
        edge_index (torch.Tensor, optional): Graph connectivity
            :math:`[2, E]`, needed by the ``"neighbour"`` and ``"remote"``
            variants (treated as undirected). (default: :obj:`None`)
        mask (torch.Tensor, optional): Boolean node mask :math:`[N]`: only
            pairs of these nodes count (e.g. the test nodes).
            (default: :obj:`None`)
        variant (str, optional): ``"global"``, ``"neighbour"`` or
            ``"remote"``. (default: ``"neighbour"`` when :obj:`edge_index`
            is given, else ``"global"``)
        hops (int): Neighbourhood radius of the ``"neighbour"`` /
            ``"remote"`` variants. (default: :obj:`1`)
        max_pairs (int): Upper bound on the node pairs held in memory at
            once. (default: :obj:`2**24`)

    """
    if x.dim() != 2:
        raise ValueError(f"mad() takes node representations of shape "
                         f"[num_nodes, channels]; got {tuple(x.shape)}.")
    if variant is None:
        variant = "global" if edge_index is None else "neighbour"
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}; got "
                         f"{variant!r}.")
    if variant != "global" and edge_index is None:
        raise ValueError(f"The {variant!r} variant needs edge_index.")
    if hops < 1:
        raise ValueError(f"hops must be >= 1; got {hops}.")
    x = x.detach()
    n = x.size(0)
    nodes = (torch.arange(n, device=x.device) if mask is None else
             mask.nonzero().view(-1))
    if nodes.numel() == 0:
        return 0.0
    unit = F.normalize(x.float(), dim=-1)
    cols = unit[nodes]
    adj = None
    if variant != "global":
        assert edge_index is not None
        both = torch.cat([edge_index, edge_index.flip(0)], dim=1)
        adj = torch.sparse_coo_tensor(
            both, torch.ones(both.size(1), device=x.device),
            (n, n)).coalesce()
    rows = max(1, max_pairs // max(n, 1))
    total = torch.zeros((), dtype=torch.float64, device=x.device)
    counted = 0
    for start in range(0, nodes.numel(), rows):
        chunk = nodes[start:start + rows]
        dist = 1.0 - unit[chunk] @ cols.t()
        dist = dist.masked_fill_(dist < ROUNDING, 0.0)
        if adj is not None:
            near = _within_hops(adj, chunk, n, hops)[:, nodes]
            keep = near if variant == "neighbour" else ~near
            dist = dist * keep
        positive = dist > 0
        per_node = dist.sum(dim=1) / positive.sum(dim=1).clamp(min=1)
        total += per_node.sum(dtype=torch.float64)
        counted += int((per_node > 0).sum())
    return float(total / counted) if counted else 0.0


def _within_hops(adj: Tensor, chunk: Tensor, n: int, hops: int) -> Tensor:
    """Boolean ``[len(chunk), n]``: reachable in 1..hops steps or self."""
    reach = torch.zeros(chunk.numel(), n, dtype=torch.bool,
                        device=chunk.device)
    reach[torch.arange(chunk.numel()), chunk] = True
    frontier = reach.float()
    for _ in range(hops):
        # (adj @ frontier^T)^T: one more hop for every row of the chunk
        frontier = torch.sparse.mm(adj, frontier.t()).t()
        frontier = (frontier > 0) & ~reach
        reach |= frontier
        frontier = frontier.float()
    return reach
