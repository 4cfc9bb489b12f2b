r"""Leave-out-classes OOD split (Stadler et al., "Graph Posterior Network",
NeurIPS 2021): all nodes of some classes are held out of training and
validation; at test time the model should flag them.
"""
from __future__ import annotations

import torch
from torch_geometric.data import Data
from torch_geometric.transforms import BaseTransform


class OODSplit(BaseTransform):
    r"""Holds out :math:`\mathrm{round}(f \cdot C)` classes (at least one,
    at most :math:`C - 2`) as out-of-distribution.

    Sets on a copy of the data:

    * :obj:`ood_classes`: the held-out class ids;
    * :obj:`ood_mask`: nodes of held-out classes;
    * :obj:`train_mask`, :obj:`val_mask`: the given masks without any
      held-out node (so nothing of those classes is seen in training or
      model selection), :obj:`test_mask` unchanged;
    * :obj:`y_id`: labels remapped to :math:`0 \dots C_{id} - 1` for the
      in-distribution classes, :obj:`-1` for held-out nodes, and
      :obj:`num_id_classes`.

    Args:
        ood_fraction (float): :math:`f`, the fraction of classes held out.
            (default: :obj:`0.4`)
        seed (int): Seed of the class choice. (default: :obj:`0`)
        classes (List[int], optional): Hold out exactly these classes
            instead. (default: :obj:`None`)

    """

    def __init__(self, ood_fraction: float = 0.4, seed: int = 0,
                 classes=None) -> None:
        if not 0.0 < ood_fraction < 1.0:
            raise ValueError(f"ood_fraction must be in (0, 1); got "
                             f"{ood_fraction}.")
        self.ood_fraction = ood_fraction
        self.seed = seed
        self.classes = None if classes is None else sorted(set(classes))

    def forward(self, data: Data) -> Data:
        if data.y is None or data.y.dim() != 1:
            raise ValueError("OODSplit needs one integer class per node in "
                             "data.y.")
        for name in ("train_mask", "val_mask", "test_mask"):
            if getattr(data, name, None) is None:
                raise ValueError(f"OODSplit needs data.{name}.")
        data = data.clone()
        num_classes = int(data.y.max()) + 1
        if self.classes is not None:
            held = torch.tensor(self.classes, dtype=torch.long)
            if held.numel() == 0 or held.min() < 0 or \
                    held.max() >= num_classes:
                raise ValueError(f"classes must be ids in [0, "
                                 f"{num_classes}); got {self.classes}.")
        else:
            count = min(max(round(self.ood_fraction * num_classes), 1),
                        num_classes - 2)
            if count < 1:
                raise ValueError(f"OODSplit needs at least 3 classes; got "
                                 f"{num_classes}.")
            gen = torch.Generator().manual_seed(self.seed)
            held = torch.randperm(num_classes, generator=gen)[:count].sort()[0]
        y = data.y
        is_ood = torch.isin(y, held.to(y.device))
        keep = torch.ones(num_classes, dtype=torch.bool)
        keep[held] = False
        remap = torch.full((num_classes, ), -1, dtype=torch.long)
        remap[keep] = torch.arange(int(keep.sum()))
        data.ood_classes = held
        data.ood_mask = is_ood
        data.train_mask = data.train_mask & ~is_ood
        data.val_mask = data.val_mask & ~is_ood
        data.y_id = remap.to(y.device)[y]
        data.num_id_classes = int(keep.sum())
        return data

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.ood_fraction}, "
                f"seed={self.seed})")
