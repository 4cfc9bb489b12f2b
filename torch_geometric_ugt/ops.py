r"""The package's operators, :obj:`torch.ops.torch_geometric_ugt.*`: each
schema is declared here, once, with its shape-only (fake) kernel.

* :obj:`prune_smallest_` writes the masks of a global threshold selection
  (:mod:`torch_geometric_ugt.threshold`); native CPU and CUDA kernels
  (``csrc/threshold_*.cpp``) register implementations of it.
* :obj:`sparse_linear` multiplies by a CSR weight
  (:mod:`torch_geometric_ugt.sparse_linear`); the native CPU kernel
  (``csrc/sparse_linear_cpu.cpp``) implements it.

Their pure-PyTorch twins (:obj:`prune_smallest_torch_`,
:obj:`sparse_linear_csr`) are Python operators with the same schemas and
fake kernels, so :func:`torch.compile` and :func:`torch.export` trace
either path whole. The C++ files only register kernels
(``TORCH_LIBRARY_IMPL``), as in pyg-lib.
"""
from __future__ import annotations

from typing import List, Optional

import torch

OPS = "torch_geometric_ugt"
r"""The operator namespace: :obj:`torch.ops.torch_geometric_ugt`."""

PRUNE_SMALLEST_SCHEMA = ("(Tensor[] scores, Tensor(a!)[] masks, Tensor k, "
                         "bool reject_infinite) -> ()")
r"""The selection mutates its masks and returns nothing."""

SPARSE_LINEAR_SCHEMA = ("(Tensor input, Tensor indptr, Tensor indices, "
                        "Tensor values, Tensor? bias) -> Tensor")
r"""The product returns :math:`(*, C_{out})`."""


def prune_smallest_fake(scores: List[torch.Tensor],
                        masks: List[torch.Tensor], k: torch.Tensor,
                        reject_infinite: bool) -> None:
    r"""The selection's fake kernel: it writes its masks in place."""
    return None


def sparse_linear_fake(input: torch.Tensor, indptr: torch.Tensor,
                       indices: torch.Tensor, values: torch.Tensor,
                       bias: Optional[torch.Tensor]) -> torch.Tensor:
    r"""The product's fake kernel: a contiguous :math:`(*, C_{out})`."""
    return input.new_empty((*input.shape[:-1], indptr.shape[0] - 1))


# The native operators' definitions (the kernels come with the libraries).
_library = torch.library.Library(OPS, "FRAGMENT")
_library.define("prune_smallest_" + PRUNE_SMALLEST_SCHEMA)
_library.define("sparse_linear" + SPARSE_LINEAR_SCHEMA)
torch.library.register_fake(f"{OPS}::prune_smallest_",
                            prune_smallest_fake, lib=_library)
torch.library.register_fake(f"{OPS}::sparse_linear", sparse_linear_fake,
                            lib=_library)
