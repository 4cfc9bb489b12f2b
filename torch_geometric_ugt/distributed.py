r"""Multi-process ticket search with :mod:`torch.distributed`.

Nothing special is needed to search a ticket with
:class:`~torch.nn.parallel.DistributedDataParallel`: the scores are the
only trainable tensors, so DDP all-reduces their gradients, every rank
applies the same optimizer step, and since the selection is a pure
function of the scores (ties broken by position, never by thread timing),
every rank computes the same global threshold and the same masks.
:func:`masks_in_sync` checks that claim at run time (cheaply: one small
all-gather of a digest per call).
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.distributed as dist

from torch_geometric_ugt.supermask import masked_weights


def mask_digest(model: torch.nn.Module) -> torch.Tensor:
    r"""A 64-bit fingerprint of all masks of :obj:`model` (position
    weighted, so moved zeros change it), as a one-element CPU tensor.
    """
    found = masked_weights(model)
    if not found:
        raise ValueError("mask_digest() takes a model returned by "
                         "supermask(); this one has no masked weights.")
    total = torch.zeros((), dtype=torch.int64)
    offset = 0
    for w in found:
        mask = w.parametrization.mask.detach().reshape(-1).cpu()
        kept = torch.nonzero(mask != 0).view(-1) + offset
        # sum of (position * odd constant) mod 2^64 over kept weights, plus
        # the count: cheap, exact on every rank, sensitive to any move
        total += (kept * 0x1E3779B97F4A7C15).sum() + kept.numel()
        offset += mask.numel()
    return total.view(1)


def masks_in_sync(model: torch.nn.Module,
                  group: Optional[dist.ProcessGroup] = None) -> bool:
    r"""Whether every rank of :obj:`group` holds the same masks.

    A collective: every rank must call it. With NCCL, the model's device
    is used for the all-gather.
    """
    if not dist.is_available() or not dist.is_initialized():
        raise RuntimeError("masks_in_sync() needs an initialised process "
                           "group: call torch.distributed.init_process_group"
                           "() first (torchrun sets up the environment).")
    digest = mask_digest(model)
    if dist.get_backend(group) == "nccl":
        digest = digest.cuda()
    gathered = [torch.empty_like(digest)
                for _ in range(dist.get_world_size(group))]
    dist.all_gather(gathered, digest, group=group)
    return all(bool(torch.equal(g, gathered[0])) for g in gathered)
