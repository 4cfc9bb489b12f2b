r"""SHA-256 digests of tensors' bytes: what tickets, mask digests and the
distributed checks compare.
"""
from __future__ import annotations

import hashlib
from typing import Iterable

import torch
from torch import Tensor


def tensor_bytes(tensor: Tensor) -> bytes:
    r"""The raw bytes of :obj:`tensor` (row-major, on the CPU)."""
    t = tensor.detach().cpu().contiguous().view(-1)
    return t.view(torch.uint8).numpy().tobytes() if t.numel() else b""


def sha256_of(tensors: Iterable[Tensor]) -> str:
    r"""The SHA-256 of the tensors' bytes, in order (hex)."""
    h = hashlib.sha256()
    for t in tensors:
        h.update(tensor_bytes(t))
    return h.hexdigest()
