"""Timing one squashed ticket three ways (dense, sparse with the default
crossover, torch's CSR product everywhere): interleaved rounds, the time
inside linear layers and message passing, peak memory, agreement."""
from __future__ import annotations

import copy
import statistics
import time
from typing import Any, Dict, List, Optional, Tuple

import torch
from torch_geometric.nn.conv import MessagePassing

from benchmarks import memory
from benchmarks.sparse_crossover import rotated, sync
from torch_geometric_ugt import backend, squash
from torch_geometric_ugt.sparse_linear import SparseLinear
from torch_geometric_ugt.supermask import LINEAR_TYPES

VARIANTS = ("dense", "sparse", "torch_csr")


class Stopwatch:
    """Wall time spent inside the linear layers and inside message passing
    (``propagate``) of a model, through forward hooks."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.linear = 0.0
        self.propagate = 0.0
        self._start: Dict[int, float] = {}
        for module in model.modules():
            if isinstance(module, LINEAR_TYPES + (SparseLinear, )):
                module.register_forward_pre_hook(self._enter)
                module.register_forward_hook(self._leave_linear)
            if isinstance(module, MessagePassing):
                module.register_propagate_forward_pre_hook(self._enter)
                module.register_propagate_forward_hook(self._leave_propagate)

    def reset(self) -> None:
        self.linear = self.propagate = 0.0

    def _enter(self, module: torch.nn.Module, *args: Any) -> None:
        self._start[id(module)] = time.perf_counter()

    def _leave_linear(self, module: torch.nn.Module, *args: Any) -> None:
        self.linear += time.perf_counter() - self._start[id(module)]

    def _leave_propagate(self, module: torch.nn.Module, *args: Any) -> None:
        self.propagate += time.perf_counter() - self._start[id(module)]


def layer_choices(model: torch.nn.Module) -> List[Dict[str, Any]]:
    """The masked linear layers of a sparse squashed model: sparse or not,
    and their density."""
    out = []
    for name, module in model.named_modules():
        if isinstance(module, SparseLinear):
            out.append({"name": name, "sparse": True,
                        "density": module.density})
        elif isinstance(module, LINEAR_TYPES):
            weight = module.weight
            assert isinstance(weight, torch.Tensor)
            out.append({"name": name, "sparse": False,
                        "density": int(torch.count_nonzero(weight)) /
                        weight.numel()})
    return out


def model_bytes(model: torch.nn.Module) -> int:
    tensors = list(model.parameters()) + list(model.buffers())
    return sum(t.numel() * t.element_size() for t in tensors)


PATHS = {"dense": "native", "sparse": "native", "torch_csr": "torch"}
"""The backend each variant runs under."""


def variants(ticket: torch.nn.Module) -> Dict[str, torch.nn.Module]:
    """The dense squash, the sparse squash with the default crossover and
    with torch's CSR product in every linear layer."""
    return {"dense": squash(copy.deepcopy(ticket)).eval(),
            "sparse": squash(copy.deepcopy(ticket), sparse=True).eval(),
            "torch_csr": squash(ticket, sparse=True,
                                max_density=1.0).eval()}


@torch.inference_mode()
def time_variants(models: Dict[str, torch.nn.Module], inputs: Tuple,
                   repeats: int, device: str
                   ) -> Tuple[Dict[str, Dict[str, float]], Dict[str, Any]]:
    """Median seconds (whole pass, linear layers, propagate) of each
    variant over interleaved rounds, and the outputs of the warm-up."""
    watches = {k: Stopwatch(m) for k, m in models.items()}
    times: Dict[str, Dict[str, List[float]]] = {
        part: {k: [] for k in VARIANTS}
        for part in ("total", "linear", "propagate")}
    outputs = {}
    for round_ in range(repeats + 1):  # round 0 warms up
        for name in rotated(VARIANTS, round_):
            backend.set_backend(PATHS[name])
            watch = watches[name]
            watch.reset()
            sync(device)
            start = time.perf_counter()
            out = models[name](*inputs)
            sync(device)
            elapsed = time.perf_counter() - start
            if round_ == 0:
                outputs[name] = out
                continue
            times["total"][name].append(elapsed)
            times["linear"][name].append(watch.linear)
            times["propagate"][name].append(watch.propagate)
            del out
    backend.set_backend("native")
    medians = {part: {k: statistics.median(v) for k, v in series.items()}
               for part, series in times.items()}
    return medians, outputs


def summarise(sparsity: float, models: Dict[str, torch.nn.Module],
            medians: Dict[str, Dict[str, float]],
            outputs: Dict[str, Any]) -> Dict[str, Any]:
    want = outputs["dense"]
    agree = {k: float((outputs[k].argmax(-1) == want.argmax(-1))
                      .float().mean()) for k in ("sparse", "torch_csr")}
    error = {k: float((outputs[k] - want).abs().max() /
                      want.abs().max().clamp_min(1e-30))
             for k in ("sparse", "torch_csr")}
    med, med_linear = medians["total"], medians["linear"]
    med_propagate = medians["propagate"]
    return {
        "sparsity": sparsity,
        "median_s": med, "linear_s": med_linear,
        "propagate_s": med_propagate,
        "speedup": {k: med["dense"] / med[k] for k in VARIANTS},
        "linear_speedup": {k: med_linear["dense"] / med_linear[k]
                           for k in VARIANTS},
        "linear_share_dense": med_linear["dense"] / med["dense"],
        "propagate_share_dense": med_propagate["dense"] / med["dense"],
        "prediction_agreement": agree,
        "max_relative_error": error,
        "model_bytes": {k: model_bytes(m) for k, m in models.items()},
        "layers": layer_choices(models["sparse"]),
    }


@torch.inference_mode()
def peaks(models: Dict[str, torch.nn.Module], inputs: Tuple,
           device: str) -> Dict[str, Optional[int]]:
    peaks = {}
    for name in VARIANTS:
        backend.set_backend(PATHS[name])
        peaks[name] = memory.peak_extra_bytes(
            lambda: models[name](*inputs), device)
    backend.set_backend("native")
    return peaks


if __name__ == "__main__":
    from benchmarks import cli
    cli.library(__doc__, "benchmarks.sparse_timing")
