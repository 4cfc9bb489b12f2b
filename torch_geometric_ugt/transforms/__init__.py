r"""PyG transforms for robustness and OOD experiments."""
from torch_geometric_ugt.transforms.ood_split import OODSplit
from torch_geometric_ugt.transforms.perturb import EdgeRewire, FeatureNoise

__all__ = ["FeatureNoise", "EdgeRewire", "OODSplit"]
