r"""Building, caching and loading the native kernels (``csrc/``).

The kernels are compiled on first use with
:func:`torch.utils.cpp_extension.load` (a C++ compiler and ninja; about
60 s once, announced on stderr), unless they were built at install time
(``UGT_BUILD_EXTENSIONS=1 pip install --no-build-isolation .``, see
``setup.py``, which reads the recipe from this module).

Each build has a folder of its own under ``$TORCH_EXTENSIONS_DIR`` (default
``~/.cache/torch_extensions``), named by a hash of the kernel sources, the
flags, and the Python and torch versions, so two installs on one machine
never rebuild each other, and a node without a compiler finds the build
another node made. A finished build writes a manifest (``manifest.json``:
the library's file name, size and SHA-256, and the compiler that built
it). A cached
library is loaded only when it matches its manifest, without a lock, so a
complete cache in a read-only place is used as it is; a library that does
not match (truncated, overwritten, a build killed half-way) is never
loaded: the folder is emptied and built again. Processes that build the
same kernel at once wait for each other on an operating-system lock that
dies with its holder; a wait longer than ``$UGT_BUILD_TIMEOUT`` seconds
(default 900) gives up with an error that names the lock and the process
holding it.

This module imports only :mod:`torch` and the standard library.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import torch

TIMEOUT_ENV_VAR = "UGT_BUILD_TIMEOUT"
CSRC = Path(__file__).parent / "csrc"
MANIFEST = "manifest.json"

# What each kernel's build needs, for the message when it fails.
TOOLCHAIN = {"cpu": "a C++ compiler and ninja",
             "cuda": "a C++ compiler, ninja and the CUDA toolkit (nvcc; "
                     "set CUDA_HOME if it is not found)"}


def recipe(kind: str) -> Dict[str, List[str]]:
    r"""The sources and flags of the :obj:`"cpu"` / :obj:`"cuda"` kernels."""
    if kind == "cpu":
        return {"sources": [str(CSRC / "threshold_cpu.cpp"),
                            str(CSRC / "sparse_linear_cpu.cpp")],
                "extra_cflags": ["-O3", "-fopenmp"],
                "extra_ldflags": ["-fopenmp"]}
    return {"sources": [str(CSRC / "threshold_cuda.cpp"),
                        str(CSRC / "threshold_cuda.cu")],
            "extra_cflags": ["-O3"], "extra_cuda_cflags": ["-O3"]}


def compiler_version(kind: str) -> str:
    r"""What ``$CXX --version`` (and nvcc's, for CUDA) prints (recorded in
    the manifest).
    """
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
    hash of its sources, flags, and the Python and torch versions.
    """
    h = hashlib.sha256()
    for source in sorted(CSRC.glob("*.*")):  # sources and headers
        h.update(source.name.encode() + source.read_bytes())
    h.update(repr(sorted(recipe(kind).items())).encode())
    h.update(f"{sys.version} {torch.__version__} "
             f"{torch.version.cuda}".encode())
    return f"ugt_native_{kind}_{h.hexdigest()[:16]}"


def build_root() -> Path:
    r"""Where the build folders live: ``$TORCH_EXTENSIONS_DIR``, else
    ``~/.cache/torch_extensions``.
    """
    root = os.environ.get("TORCH_EXTENSIONS_DIR")
    return Path(root) if root else Path.home() / ".cache" / "torch_extensions"


def timeout() -> float:
    r"""``$UGT_BUILD_TIMEOUT`` in seconds (default 900)."""
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
def build_lock(path: Path, wait: float) -> Iterator[bool]:
    r"""An exclusive :obj:`flock` on :obj:`path`: the kernel releases it
    when its holder exits, however it exits, so it can never be left
    behind. Yields whether the lock is held (:obj:`False` without flock:
    Windows, or a file system without locks).
    """
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
                if time.monotonic() - start > wait:
                    handle.seek(0)
                    holder = handle.read().strip() or "unknown"
                    raise TimeoutError(
                        f"Waited {wait:.0f} s for another process "
                        f"({holder}) to finish building the native "
                        f"kernels (lock {path}). End that process, "
                        f"raise ${TIMEOUT_ENV_VAR}, or set "
                        f"UGT_THRESHOLD_BACKEND=torch.") from None
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


def file_sha256(path: Path) -> str:
    r"""The SHA-256 of a file's bytes (hex)."""
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_manifest(folder: Path, library: Path, compiler: str) -> None:
    r"""Records :obj:`library`'s name, size and SHA-256, and the
    :obj:`compiler` that built it, in :obj:`folder`'s manifest (written
    atomically).
    """
    manifest = {"library": library.name, "size": library.stat().st_size,
                "sha256": file_sha256(library), "compiler": compiler}
    handle, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    with os.fdopen(handle, "w") as file:
        json.dump(manifest, file)
        file.flush()
        os.fsync(file.fileno())
    os.replace(tmp, folder / MANIFEST)


def verified_library(folder: Path) -> Optional[Path]:
    r"""The library of a finished build in :obj:`folder` when it matches
    its manifest (name, size, SHA-256), else :obj:`None`: a library that
    does not match is never loaded.
    """
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        library = folder / str(manifest["library"])
        if library.parent != folder:
            return None
        if library.stat().st_size != int(manifest["size"]):
            return None
        if file_sha256(library) != manifest["sha256"]:
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return library


def prebuilt(kind: str) -> Optional[Path]:
    r"""A kernel built at install time (``UGT_BUILD_EXTENSIONS=1``)."""
    found = sorted(Path(__file__).parent.glob(f"_native_{kind}.*"))
    return next((p for p in found if p.suffix in (".so", ".pyd")), None)


def load_library(kind: str) -> Path:
    r"""Loads the :obj:`kind` kernels into this process and returns the
    library's path: the install-time build if it loads, else a cached
    build that matches its manifest, else a new build (under the lock).
    Raises whatever stops the build (no compiler, a timeout).
    """
    import warnings
    installed = prebuilt(kind)
    if installed is not None:
        try:
            torch.ops.load_library(str(installed))
            return installed
        except (OSError, ImportError, RuntimeError) as error:
            # built against another torch: compile on first use instead
            warnings.warn(f"The {kind.upper()} kernels built at install time "
                          f"({installed}) do not load ({error}); building "
                          f"them now. Reinstall with UGT_BUILD_EXTENSIONS=1 "
                          f"after upgrading torch.", RuntimeWarning,
                          stacklevel=4)
    name = build_name(kind)
    root = build_root()
    folder = root / name
    library = verified_library(folder)
    if library is not None:  # a finished build: no lock, read-only is fine
        try:
            torch.ops.load_library(str(library))
            return library
        except (OSError, RuntimeError):
            pass  # matches its manifest but does not load: build again
    root.mkdir(parents=True, exist_ok=True)
    with build_lock(root / f"{name}.lock", timeout()):
        library = verified_library(folder)  # another process built it
        if library is None:
            _compile(kind, name, folder)
            library = verified_library(folder)
            if library is None:
                raise RuntimeError(f"The build in {folder} left no library "
                                   f"that matches its manifest.")
        torch.ops.load_library(str(library))
    return library


def _compile(kind: str, name: str, folder: Path) -> None:
    # A fresh build in an empty folder (whatever was there did not match
    # its manifest), then the manifest of its library.
    from torch.utils.cpp_extension import load
    if folder.exists():
        shutil.rmtree(folder)
    print(f"torch_geometric_ugt: building the native {kind.upper()} kernels "
          f"once, about 60 s ({folder})", file=sys.stderr, flush=True)
    folder.mkdir(parents=True)
    # the kernels register with the dispatcher: libraries, not modules
    path: Any = load(name=name, build_directory=str(folder), verbose=False,
                     is_python_module=False, **recipe(kind))  # type: ignore
    library = Path(path) if isinstance(path, (str, os.PathLike)) else None
    if library is None or not library.exists():
        found = sorted(folder.glob(f"{name}.*"))
        library = next(p for p in found if p.suffix in (".so", ".pyd"))
    write_manifest(folder, library, compiler_version(kind))
