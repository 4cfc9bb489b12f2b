r"""Sparsifiers: how masks are chosen from scores."""
from torch_geometric_ugt.sparsifier.base import SupermaskSparsifier
from torch_geometric_ugt.sparsifier.edge_popup import EdgePopupSparsifier
from torch_geometric_ugt.sparsifier.global_gradual import (
    GlobalGradualSparsifier, )

__all__ = [
    "SupermaskSparsifier",
    "GlobalGradualSparsifier",
    "EdgePopupSparsifier",
]
