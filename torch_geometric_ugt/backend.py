r"""Which implementation runs the operators: native kernels or PyTorch.

Two operators have native kernels: the global threshold selection that
writes the masks (:mod:`torch_geometric_ugt.threshold`) and the
sparse-weight product of a sparse squashed model
(:mod:`torch_geometric_ugt.sparse_linear`).

The native kernels (``csrc/``) are compiled on first use with
:func:`torch.utils.cpp_extension.load` (needs a C++ compiler and ninja;
about 60 s once, announced by a one-line notice, then cached), unless they
were built at install time (``UGT_BUILD_EXTENSIONS=1 pip install
--no-build-isolation .``, see ``setup.py``). If that is
not possible, a warning is shown once and the pure-PyTorch implementations
are used, which give the same masks and the same products (up to float
rounding), only slower.

Each build has a folder of its own under ``$TORCH_EXTENSIONS_DIR`` (default
``~/.cache/torch_extensions``), named by a hash of the kernel sources, the
flags, and the Python, torch and compiler versions, so two installs on one
machine never rebuild each other. Processes that build the same kernel at
once wait for each other on an operating-system lock that dies with its
holder, so a process killed in the middle of a build leaves nothing to wait
on: the next build finds the half-built folder, empties it and builds again.
A wait longer than ``$UGT_BUILD_TIMEOUT`` seconds (default 900) gives up
with an error that names the lock and the process holding it.

Choose with :func:`set_backend` or the ``UGT_THRESHOLD_BACKEND`` environment
variable (it chooses for both operators): ``"auto"`` (native when it
builds, the default), ``"native"`` (fail loudly if it does not build) or
``"torch"``.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Union

import torch

BACKENDS = ("auto", "native", "torch")
ENV_VAR = "UGT_THRESHOLD_BACKEND"
TIMEOUT_ENV_VAR = "UGT_BUILD_TIMEOUT"
CSRC = Path(__file__).parent / "csrc"

_lock = threading.Lock()
_requested: Optional[str] = None
_loaded: Dict[str, Any] = {}


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


# Sources and flags of each kernel.
def _recipe(kind: str) -> Dict[str, List[str]]:
    if kind == "cpu":
        return {"sources": [str(CSRC / "threshold_cpu.cpp"),
                            str(CSRC / "sparse_linear_cpu.cpp")],
                "extra_cflags": ["-O3", "-fopenmp"],
                "extra_ldflags": ["-fopenmp"]}
    return {"sources": [str(CSRC / "threshold_cuda.cpp"),
                        str(CSRC / "threshold_cuda.cu")],
            "extra_cflags": ["-O3"], "extra_cuda_cflags": ["-O3"]}


def _compiler_version(kind: str) -> str:
    # What `$CXX --version` (and nvcc's, for CUDA) prints: a new compiler
    # gets a new build folder.
    commands = [[os.environ.get("CXX", "c++"), "--version"]]
    if kind == "cuda":
        commands.append(["nvcc", "--version"])
    lines = []
    for command in commands:
        try:
            out = subprocess.run(command, capture_output=True, text=True,
                                 timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            out = "not found"
        lines.append(out.strip())
    return " | ".join(lines)


def build_name(kind: str) -> str:
    r"""The extension's name, also its build folder's: the kernel and a
    hash of its sources, flags, and the Python, torch and compiler
    versions.
    """
    recipe = _recipe(kind)
    h = hashlib.sha256()
    for source in sorted(CSRC.glob("*.*")):  # sources and headers
        h.update(source.name.encode() + source.read_bytes())
    h.update(repr(sorted(recipe.items())).encode())
    h.update(f"{sys.version} {torch.__version__} {torch.version.cuda} "
             f"{_compiler_version(kind)}".encode())
    return f"ugt_native_{kind}_{h.hexdigest()[:16]}"


def build_root() -> Path:
    r"""Where the build folders live: ``$TORCH_EXTENSIONS_DIR``, else
    ``~/.cache/torch_extensions``.
    """
    root = os.environ.get("TORCH_EXTENSIONS_DIR")
    return Path(root) if root else Path.home() / ".cache" / "torch_extensions"


def _timeout() -> float:
    raw = os.environ.get(TIMEOUT_ENV_VAR, "900")
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise ValueError(f"${TIMEOUT_ENV_VAR} must be a positive number of "
                         f"seconds; got {raw!r}.")
    return value


@contextlib.contextmanager
def _build_lock(path: Path, timeout: float) -> Iterator[bool]:
    # An exclusive flock on `path`: the kernel releases it when its holder
    # exits, however it exits, so it can never be left behind. Yields
    # whether the lock is held (False without flock: Windows, where only
    # torch's own lock file guards the build).
    try:
        import fcntl
    except ImportError:
        yield False
        return
    with open(path, "a+") as handle:
        start = time.monotonic()
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:  # another process holds it
                if time.monotonic() - start > timeout:
                    handle.seek(0)
                    holder = handle.read().strip() or "unknown"
                    raise TimeoutError(
                        f"Waited {timeout:.0f} s for another process "
                        f"({holder}) to finish building the native "
                        f"kernels (lock {path}). End that process, "
                        f"raise ${TIMEOUT_ENV_VAR}, or set {ENV_VAR}=torch."
                    ) from None
                time.sleep(0.2)
            except OSError:  # no locks on this file system (e.g. NFS)
                yield False
                return
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()}\n")
            handle.flush()
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


OPS = "torch_geometric_ugt"
r"""The operator namespace: :obj:`torch.ops.torch_geometric_ugt`."""


# The schemas and shape-only (meta / fake tensor) kernels that the native
# operators and their pure-PyTorch twins share: torch.compile and
# torch.library.opcheck use them. The selection mutates its masks and
# returns nothing; the product returns (*, out_features).
PRUNE_SMALLEST_SCHEMA = ("(Tensor[] scores, Tensor(a!)[] masks, Tensor k, "
                         "bool reject_infinite) -> ()")
SPARSE_LINEAR_SCHEMA = ("(Tensor input, Tensor indptr, Tensor indices, "
                        "Tensor values, Tensor? bias) -> Tensor")


def _prune_smallest_fake(scores: List[torch.Tensor],
                         masks: List[torch.Tensor], k: torch.Tensor,
                         reject_infinite: bool) -> None:
    return None


def _sparse_linear_fake(input: torch.Tensor, indptr: torch.Tensor,
                        indices: torch.Tensor, values: torch.Tensor,
                        bias: Optional[torch.Tensor]) -> torch.Tensor:
    return input.new_empty((*input.shape[:-1], indptr.shape[0] - 1))


_fake_registered = False


def _register_fake() -> None:
    # The native operators' fake kernels, once per process.
    global _fake_registered
    if _fake_registered:
        return
    _fake_registered = True
    torch.library.register_fake(f"{OPS}::prune_smallest_")(
        _prune_smallest_fake)
    torch.library.register_fake(f"{OPS}::sparse_linear")(_sparse_linear_fake)


def _prebuilt(kind: str) -> Optional[Path]:
    # A kernel built at install time (UGT_BUILD_EXTENSIONS=1, setup.py).
    found = sorted(Path(__file__).parent.glob(f"_native_{kind}.*"))
    return next((p for p in found if p.suffix in (".so", ".pyd")), None)


def _ops_after_load(kind: str) -> Any:
    # The CPU library defines the operator (and gets its fake kernel); the
    # CUDA one adds an implementation to it.
    if kind == "cpu":
        _register_fake()
    return getattr(torch.ops, OPS)


def _load_prebuilt(kind: str, path: Path) -> Any:
    torch.ops.load_library(str(path))
    return _ops_after_load(kind)


def _build(kind: str) -> Any:
    if kind == "cuda":
        if "cpu" not in _loaded:
            _loaded["cpu"] = _try_build("cpu")
        if isinstance(_loaded["cpu"], Exception):
            raise RuntimeError(f"the CUDA kernel implements the operator "
                               f"that the CPU kernel defines, which did not "
                               f"build: {_loaded['cpu']}")
    prebuilt = _prebuilt(kind)
    if prebuilt is not None:
        try:
            return _load_prebuilt(kind, prebuilt)
        except (OSError, ImportError) as error:
            # built against another torch: compile on first use instead
            warnings.warn(f"The {kind.upper()} kernels built at "
                          f"install time ({prebuilt}) do not load "
                          f"({error}); building them now. Reinstall with "
                          f"UGT_BUILD_EXTENSIONS=1 after upgrading torch.",
                          RuntimeWarning, stacklevel=4)
    from torch.utils.cpp_extension import load
    name = build_name(kind)
    root = build_root()
    folder = root / name
    root.mkdir(parents=True, exist_ok=True)
    with _build_lock(root / f"{name}.lock", _timeout()) as exclusive:
        # We hold the lock, so a torch lock file left in the folder belongs
        # to a build that was killed: its outputs cannot be trusted.
        if exclusive and (folder / "lock").exists():
            shutil.rmtree(folder)
        if not any(folder.glob(f"{name}.*")):
            print(f"torch_geometric_ugt: building the native {kind.upper()} "
                  f"kernels once, about 60 s ({folder})",
                  file=sys.stderr, flush=True)
        folder.mkdir(exist_ok=True)
        # the kernels register with the dispatcher: libraries, not modules
        load(name=name, build_directory=str(folder), verbose=False,
             is_python_module=False, **_recipe(kind))  # type: ignore
    return _ops_after_load(kind)


def _try_build(kind: str) -> Any:
    try:
        return _build(kind)
    except Exception as error:  # no compiler, ninja, build error
        return error


def native_module(device: torch.device) -> Optional[Any]:
    r"""The operator namespace :obj:`torch.ops.torch_geometric_ugt` once
    the kernel for :obj:`device`'s type is loaded, or :obj:`None` when the
    PyTorch backend is to be used.
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
    loaded = _loaded.get(kind)
    if loaded is not None and not isinstance(loaded, Exception):
        return loaded  # built already: no lock (torch.compile traces this)
    with _lock:
        if kind not in _loaded:
            _loaded[kind] = _try_build(kind)
            error = _loaded[kind]
            if isinstance(error, Exception):
                if requested == "auto":
                    warnings.warn(
                        f"The native {kind.upper()} kernels could "
                        f"not be built ({type(error).__name__}: "
                        f"{str(error).splitlines()[0][:200]}); using the "
                        f"pure-PyTorch implementation (same results, slower). "
                        f"Install {_TOOLCHAIN[kind]}, or set "
                        f"{ENV_VAR}=torch to silence this.", RuntimeWarning,
                        stacklevel=3)
    loaded = _loaded[kind]
    if isinstance(loaded, Exception):
        if requested == "native":
            raise RuntimeError(f"The native {kind.upper()} kernels "
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
