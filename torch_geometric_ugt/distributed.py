r"""Multi-process ticket search with :mod:`torch.distributed`.

Nothing special is needed to search a ticket with
:class:`~torch.nn.parallel.DistributedDataParallel`: the scores are the
only trainable tensors, so DDP all-reduces their gradients, every rank
applies the same optimizer step, and since the selection is a pure
function of the scores (ties broken by position, never by thread timing),
every rank computes the same global threshold and the same masks.
A sparsifier built in a distributed run checks that every rank holds the
same frozen weights and scores (and refuses, naming the rank and the first
differing tensor); :func:`masks_in_sync` checks the masks at run time
(one small all-gather of a SHA-256 digest per call).
"""
from __future__ import annotations

import hashlib
from typing import Optional

import torch
import torch.distributed as dist

from torch_geometric_ugt.hashing import tensor_bytes
from torch_geometric_ugt.supermask import masked_weights


def mask_digest(model: torch.nn.Module) -> torch.Tensor:
    r"""The SHA-256 of all masks of :obj:`model` (which weights are kept,
    in every tensor, with the tensors' names and shapes), as a 32-element
    :obj:`uint8` CPU tensor: two different masks never share it in
    practice.
    """
    found = masked_weights(model)
    if not found:
        raise ValueError("mask_digest() takes a model returned by "
                         "supermask(); this one has no masked weights.")
    h = hashlib.sha256()
    for w in found:
        kept = (w.parametrization.mask != 0).to(torch.uint8)
        h.update(f"{w.name}{tuple(kept.shape)}".encode())
        h.update(tensor_bytes(kept))
    return torch.frombuffer(bytearray(h.digest()), dtype=torch.uint8)


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
