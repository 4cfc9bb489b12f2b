r"""Capture the output of every layer of a model with forward hooks, so
per-layer analyses (MAD per layer, t-SNE of a hidden layer) need no change
to the model.
"""
from __future__ import annotations

import fnmatch
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence, Type, Union

import torch
from torch import Tensor
from torch.utils.hooks import RemovableHandle
from torch_geometric.nn.conv import MessagePassing

Target = Union[Type[torch.nn.Module], str]


class LayerOutputs:
    r"""Context manager that records the outputs of the chosen modules of
    :obj:`model` during the forward passes inside it.

    .. code-block:: python

        with LayerOutputs(model) as outputs:
            model(data.x, data.edge_index)
        for name, h in outputs.items():
            print(name, mad(h, data.edge_index))

    Args:
        model (torch.nn.Module): Any model, supermasked or not.
        modules (List[type or str], optional): Module types, or
            :mod:`fnmatch` patterns over qualified module names, to record.
            (default: every :class:`MessagePassing` layer)
        detach (bool): Store detached tensors. (default: :obj:`True`)
        to_cpu (bool): Move them to the CPU. (default: :obj:`False`)

    The recorded outputs are in module order; a module called several
    times keeps its last output. A tuple output keeps its first element
    (e.g. :class:`~torch_geometric.nn.conv.GATConv` with attention
    weights).

    """

    def __init__(self, model: torch.nn.Module,
                 modules: Optional[Sequence[Target]] = None, *,
                 detach: bool = True, to_cpu: bool = False) -> None:
        targets = list(modules) if modules is not None else [MessagePassing]
        self.names: List[str] = [
            name for name, module in model.named_modules()
            if name and any(_matches(t, name, module) for t in targets)
        ]
        if not self.names:
            examples = [n for n, _ in model.named_modules()][1:4]
            raise ValueError(f"LayerOutputs found no module matching "
                             f"{targets!r} in {type(model).__name__}; pass "
                             f"modules=[...] with module types or names such "
                             f"as {examples}.")
        self.model = model
        self.detach = detach
        self.to_cpu = to_cpu
        self.outputs: Dict[str, Tensor] = OrderedDict()
        self._handles: List[RemovableHandle] = []

    def __enter__(self) -> Dict[str, Tensor]:
        self.outputs.clear()
        modules = dict(self.model.named_modules())
        for name in self.names:
            self.outputs[name] = torch.empty(0)  # keeps module order
            self._handles.append(modules[name].register_forward_hook(
                self._hook(name)))
        return self.outputs

    def __exit__(self, *exc: Any) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def _hook(self, name: str):
        def hook(module: torch.nn.Module, args: Any, output: Any) -> None:
            if isinstance(output, (tuple, list)):
                output = output[0]
            if self.detach:
                output = output.detach()
            if self.to_cpu:
                output = output.cpu()
            self.outputs[name] = output
        return hook


def _matches(target: Target, name: str, module: torch.nn.Module) -> bool:
    if isinstance(target, str):
        return fnmatch.fnmatchcase(name, target)
    return isinstance(module, target)
