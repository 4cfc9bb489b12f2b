r"""Which implementation runs the operators: native kernels or PyTorch.

Two operators have native kernels (:mod:`torch_geometric_ugt.ops`): the
global threshold selection that writes the masks
(:mod:`torch_geometric_ugt.threshold`) and the sparse-weight product of a
sparse squashed model (:mod:`torch_geometric_ugt.sparse_linear`). How the
kernels are built and cached is :mod:`torch_geometric_ugt.build`'s job;
this module chooses.

A native kernel is used on a device only after it was compared, once per
process and device, with its pure-PyTorch twin on small adversarial
inputs (ties at the threshold, several tensors, :math:`k = 0` and
:math:`k = N`, every mask dtype, non-finite values; see
:func:`register_self_check`). This costs milliseconds once. On any
mismatch the kernel is not used on that device, with a warning that says
how to report it. If a kernel does not build, a warning is shown once and
the pure-PyTorch implementations are used, which give the same masks and
the same products (up to float rounding), only slower.

Choose with :func:`set_backend`, :func:`use` or the
``UGT_THRESHOLD_BACKEND`` environment variable (it chooses for both
operators): ``"auto"`` (native when it builds and passes its check, the
default), ``"native"`` (fail loudly otherwise) or ``"torch"``.
"""
from __future__ import annotations

import contextlib
import os
import threading
import warnings
from typing import Any, Callable, Dict, Iterator, List, Optional, Union

import torch

from torch_geometric_ugt import build
from torch_geometric_ugt.ops import OPS

BACKENDS = ("auto", "native", "torch")
ENV_VAR = "UGT_THRESHOLD_BACKEND"
REPORT = ("Please report it to the torch_geometric_ugt issue tracker with "
          "this message and the output of `python -c \"import torch; "
          "print(torch.__version__, torch.__config__.show())\"`.")

_lock = threading.Lock()
_requested: Optional[str] = None
_loaded: Dict[str, Any] = {}  # kind -> the ops namespace, or the error
_ready: Dict[str, Any] = {}  # device -> the checked ops namespace
_refused: Dict[str, str] = {}  # device -> why its kernel is not used

SelfCheck = Callable[[Any, torch.device], Optional[str]]
_self_checks: List[SelfCheck] = []


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


@contextlib.contextmanager
def use(name: str) -> Iterator[None]:
    r"""Context manager: the backend :obj:`name` inside, the previous
    choice (:func:`set_backend`'s, or none) after.

    .. code-block:: python

        with backend.use("torch"):
            sparsifier.refresh()
    """
    global _requested
    previous = _requested
    set_backend(name)
    try:
        yield
    finally:
        _requested = previous


def register_self_check(check: SelfCheck) -> SelfCheck:
    r"""Adds :obj:`check(ops, device)` to the comparisons a native kernel
    passes before it is used on a device: it runs the native operator of
    :obj:`ops` and its pure-PyTorch twin on small inputs on
    :obj:`device`, and returns :obj:`None` when they agree, else what
    differs. The operator modules register theirs.
    """
    _self_checks.append(check)
    return check


def _device_key(device: torch.device) -> str:
    if device.type == "cuda":
        index = device.index
        if index is None:
            index = (torch.cuda.current_device()
                     if torch.cuda.is_available() else 0)
        return f"cuda:{index}"
    return device.type


def _load(kind: str) -> Any:
    build.load_library(kind)
    return getattr(torch.ops, OPS)


def _try_load(kind: str) -> Any:
    try:
        return _load(kind)
    except Exception as error:  # no compiler, ninja, build error
        return error


def native_module(device: torch.device) -> Optional[Any]:
    r"""The operator namespace :obj:`torch.ops.torch_geometric_ugt` once
    the kernel for :obj:`device` is loaded and has passed its self-check
    there, or :obj:`None` when the PyTorch backend is to be used.
    """
    requested = requested_backend()
    if requested == "torch":
        return None
    if device.type not in ("cpu", "cuda"):
        if requested == "native":
            raise RuntimeError(f"No native kernel for device {device}; use "
                               f"the 'torch' backend.")
        return None
    key = _device_key(device)
    ready = _ready.get(key)
    if ready is not None:
        return ready  # built and checked: no lock (torch.compile traces)
    return _prepare(device, key, requested)


@torch.compiler.disable
def _prepare(device: torch.device, key: str, requested: str) -> Any:
    # Loads (once per process) and checks (once per device) the kernel.
    kind = "cuda" if device.type == "cuda" else "cpu"
    with _lock:
        first_try = kind not in _loaded
        if first_try:
            _loaded[kind] = _try_load(kind)
        loaded = _loaded[kind]
        if isinstance(loaded, Exception):
            if requested == "native":
                raise RuntimeError(
                    f"The native {kind.upper()} kernels could not be "
                    f"built: {loaded}. Install {build.TOOLCHAIN[kind]}, or "
                    f"use the 'torch' backend.") from loaded
            if first_try:
                why = (str(loaded).splitlines() or [""])[0][:200]
                warnings.warn(
                    f"The native {kind.upper()} kernels could not be built "
                    f"({type(loaded).__name__}: {why}); using the "
                    f"pure-PyTorch implementation (same results, slower). "
                    f"Install {build.TOOLCHAIN[kind]}, or set "
                    f"{ENV_VAR}=torch to silence this.", RuntimeWarning,
                    stacklevel=4)
            return None
        if key not in _refused and key not in _ready:
            problem = _self_check(loaded, device)
            if problem is None:
                _ready[key] = loaded
            else:
                _refused[key] = problem
                if requested == "auto":
                    warnings.warn(
                        f"The native {kind.upper()} kernel gave other "
                        f"results than its pure-PyTorch twin on a self-check "
                        f"on {key} ({problem}), so it is not used there; "
                        f"the pure-PyTorch implementation runs instead. "
                        f"{REPORT}", RuntimeWarning, stacklevel=4)
        if key in _refused:
            if requested == "native":
                raise RuntimeError(
                    f"The native {kind.upper()} kernel failed its self-check "
                    f"on {key} ({_refused[key]}). {REPORT} Use the 'torch' "
                    f"backend meanwhile.")
            return None
        return _ready[key]


def _self_check(ops: Any, device: torch.device) -> Optional[str]:
    # Every registered check, with gradients off and no mask left behind.
    with torch.no_grad():
        for check in _self_checks:
            try:
                problem = check(ops, device)
            except Exception as error:  # a kernel that raises is refused
                problem = f"{type(error).__name__}: {error}"
            if problem is not None:
                return problem
    return None


def active_backend(device: Union[str, torch.device] = "cpu") -> str:
    r"""The backend that thresholding on :obj:`device` uses now:
    ``"native"`` or ``"torch"`` (builds and checks the kernel if needed).
    """
    found = native_module(torch.device(device))
    return "native" if found is not None else "torch"
