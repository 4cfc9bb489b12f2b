r"""Analyses of tickets: over-smoothing (MAD, per-layer outputs) and
out-of-distribution scores.
"""
from torch_geometric_ugt.analysis.capture import LayerOutputs
from torch_geometric_ugt.analysis.mad import mad
from torch_geometric_ugt.analysis.ood import ood_score, roc_auc

__all__ = ["mad", "LayerOutputs", "ood_score", "roc_auc"]
