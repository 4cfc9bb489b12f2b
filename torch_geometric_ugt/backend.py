r"""Which implementation computes the masks: native kernels or PyTorch.

The native kernels (``csrc/``) are compiled on first use with
:func:`torch.utils.cpp_extension.load` (needs a C++ compiler and ninja;
about a minute once, then cached in ``TORCH_EXTENSIONS_DIR``). If that is
not possible, a warning is shown once and the pure-PyTorch reference is
used, which gives the same masks, only slower.

Choose with :func:`set_backend` or the ``UGT_THRESHOLD_BACKEND`` environment
variable: ``"auto"`` (native when it builds, the default), ``"native"``
(fail loudly if it does not build) or ``"torch"``.
"""
from __future__ import annotations

import os
import threading
import warnings
from pathlib import Path
from types import ModuleType
from typing import Dict, Optional, Union

import torch

BACKENDS = ("auto", "native", "torch")
ENV_VAR = "UGT_THRESHOLD_BACKEND"
CSRC = Path(__file__).parent / "csrc"

_lock = threading.Lock()
_requested: Optional[str] = None
_loaded: Dict[str, Union[ModuleType, Exception]] = {}


def _check(name: str) -> str:
    if name not in BACKENDS:
        raise ValueError(f"Unknown threshold backend {name!r}; choose one "
                         f"of {BACKENDS} (argument or ${ENV_VAR}).")
    return name


def requested_backend() -> str:
    r"""The backend asked for: :func:`set_backend`, else ``$UGT_THRESHOLD_
    BACKEND``, else ``"auto"``.
    """
    if _requested is not None:
        return _requested
    return _check(os.environ.get(ENV_VAR, "auto") or "auto")


def set_backend(name: str) -> None:
    r"""Chooses the backend: ``"auto"``, ``"native"`` or ``"torch"``."""
    global _requested
    _requested = _check(name)


# What each kernel's build needs, for the message when it fails.
_TOOLCHAIN = {"cpu": "a C++ compiler and ninja",
              "cuda": "a C++ compiler, ninja and the CUDA toolkit (nvcc; "
                      "set CUDA_HOME if it is not found)"}


def _build(kind: str) -> ModuleType:
    from torch.utils.cpp_extension import load
    if kind == "cpu":
        return load(name="ugt_threshold_cpu",
                    sources=[str(CSRC / "threshold_cpu.cpp")],
                    extra_cflags=["-O3", "-fopenmp"],
                    extra_ldflags=["-fopenmp"], verbose=False)
    return load(name="ugt_threshold_cuda",
                sources=[str(CSRC / "threshold_cuda.cpp"),
                         str(CSRC / "threshold_cuda.cu")],
                extra_cflags=["-O3"], extra_cuda_cflags=["-O3"],
                verbose=False)


def native_module(device: torch.device) -> Optional[ModuleType]:
    r"""The compiled kernels for :obj:`device`'s type, or :obj:`None` when
    the PyTorch backend is to be used.
    """
    requested = requested_backend()
    if requested == "torch":
        return None
    kind = "cuda" if device.type == "cuda" else "cpu"
    if device.type not in ("cpu", "cuda"):
        if requested == "native":
            raise RuntimeError(f"No native threshold kernel for device "
                               f"{device}; use the 'torch' backend.")
        return None
    with _lock:
        if kind not in _loaded:
            try:
                _loaded[kind] = _build(kind)
            except Exception as error:  # no compiler, ninja, build error
                _loaded[kind] = error
                if requested == "auto":
                    warnings.warn(
                        f"The native {kind.upper()} threshold kernel could "
                        f"not be built ({type(error).__name__}: "
                        f"{str(error).splitlines()[0][:200]}); using the "
                        f"pure-PyTorch implementation (same masks, slower). "
                        f"Install {_TOOLCHAIN[kind]}, or set "
                        f"{ENV_VAR}=torch to silence this.", RuntimeWarning,
                        stacklevel=3)
    loaded = _loaded[kind]
    if isinstance(loaded, Exception):
        if requested == "native":
            raise RuntimeError(f"The native {kind.upper()} threshold kernel "
                               f"could not be built: {loaded}. Install "
                               f"{_TOOLCHAIN[kind]}, or use the 'torch' "
                               f"backend.") from loaded
        return None
    return loaded


def active_backend(device: Union[str, torch.device] = "cpu") -> str:
    r"""The backend that thresholding on :obj:`device` uses now:
    ``"native"`` or ``"torch"`` (builds the kernel if needed).
    """
    found = native_module(torch.device(device))
    return "native" if found is not None else "torch"
