r"""Untrained GNN Tickets for PyTorch Geometric."""
from torch_geometric_ugt.parametrization import ScoreMask
from torch_geometric_ugt.schedule import (
    ConstantSchedule,
    GradualSchedule,
    SparsitySchedule,
)
from torch_geometric_ugt.sparsifier import (
    EdgePopupSparsifier,
    GlobalGradualSparsifier,
    SupermaskSparsifier,
)
from torch_geometric_ugt.search import (
    BestTicket,
    SearchResult,
    restart_seed,
    search_ticket,
)
from torch_geometric_ugt.squash import squash
from torch_geometric_ugt.temperature import Temperature
from torch_geometric_ugt.summary import ModelSummary, summary
from torch_geometric_ugt.ticket import load_ticket, save_ticket
from torch_geometric_ugt.supermask import (
    MaskedWeight,
    masked_weights,
    score_parameters,
    supermask,
)

from torch_geometric_ugt import analysis, transforms  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "supermask",
    "squash",
    "summary",
    "ModelSummary",
    "save_ticket",
    "load_ticket",
    "search_ticket",
    "SearchResult",
    "BestTicket",
    "restart_seed",
    "Temperature",
    "score_parameters",
    "masked_weights",
    "MaskedWeight",
    "ScoreMask",
    "SupermaskSparsifier",
    "GlobalGradualSparsifier",
    "EdgePopupSparsifier",
    "SparsitySchedule",
    "GradualSchedule",
    "ConstantSchedule",
    "analysis",
    "transforms",
    "__version__",
]
