"""Peak memory of one call: what it adds above what is allocated before.

On CUDA, the allocator's peak statistics. On a Linux CPU, the process's
resident-set high-water mark (``VmHWM``), reset just before the call: in a
fresh process, or after :func:`release_freed_memory`, that is the peak of
the tensors the call allocates.
"""
from __future__ import annotations

import ctypes
import ctypes.util
from pathlib import Path
from typing import Callable, Optional

import torch


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def release_freed_memory() -> bool:
    """Makes glibc give every freed block of 64 KiB or more back to the
    system at once (``mallopt(M_MMAP_THRESHOLD, 64 KiB)``), so that the
    resident set follows the live tensors and :func:`peak_extra_bytes`
    measures the same peak in a warm process as in a fresh one. Call it
    after the timings (it makes large allocations map fresh pages).
    Returns whether it could."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        return bool(libc.mallopt(-3, 64 * 1024))  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        return False


def peak_extra_bytes(call: Callable[[], object],
                     device: str) -> Optional[int]:
    """Peak memory :obj:`call()` adds above what is allocated before it;
    :obj:`None` where it cannot be read."""
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        call()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - base
    try:  # Linux: reset the RSS high-water mark, then read it back
        Path("/proc/self/clear_refs").write_text("5")
        base = _status_kb("VmRSS")
    except (OSError, KeyError):
        return None
    call()
    return max(_status_kb("VmHWM") - base, 0) * 1024


if __name__ == "__main__":
    from benchmarks import cli
    cli.library(__doc__, "benchmarks.memory")
