"""Result records: one JSON file per run, written atomically, and claimed
by one runner at a time."""
from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List, Union

import torch


def write_atomic(path: Path, text: Union[str, bytes]) -> None:
    """Writes :obj:`text` (or bytes) to :obj:`path` so that the file holds
    the old content or the new, never a torn one, even when two writers
    race: each writes its own temporary file in the same folder, flushes
    and fsyncs it, then renames it over :obj:`path`."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb" if isinstance(text, bytes) else "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def write_record(path: Path, record: Any) -> None:
    """Writes :obj:`record` as JSON to :obj:`path`, atomically
    (:func:`write_atomic`)."""
    write_atomic(path, json.dumps(record, indent=1, default=str) + "\n")


def parse_record(path: Path) -> Dict[str, Any]:
    """The record in :obj:`path`; a :class:`ValueError` that names the file
    if it is not a JSON object (truncated, corrupted)."""
    try:
        record = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} is not a readable record ({error}); "
                         f"delete it, or run its experiment again, which "
                         f"redoes it.") from None
    if not isinstance(record, dict):
        raise ValueError(f"{path} holds no record (a JSON object); delete "
                         f"it, or run its experiment again, which redoes "
                         f"it.")
    return record


def record_done(path: Path) -> bool:
    """Whether :obj:`path` holds a readable record. A file that does not
    parse (truncated by a killed writer of older releases, or corrupted)
    does not count: a notice names it, and its run is done again."""
    if not path.exists():
        return False
    try:
        parse_record(path)
    except ValueError as error:
        print(f"redoing: {error}", file=sys.stderr, flush=True)
        return False
    return True


@contextlib.contextmanager
def claim(path: Path) -> Iterator[bool]:
    """Claims the run of the record :obj:`path` for this process: yields
    :obj:`True` when this runner should compute it (no other runner holds
    it, and it is not done), else :obj:`False`. The claim is an operating
    system lock on ``<path>.lock``, released when the process ends however
    it ends, so two runners on one folder never compute a record twice and
    a killed runner leaves nothing behind."""
    try:
        import fcntl
    except ImportError:  # no flock (Windows): no claims
        yield not record_done(path)
        return
    lock = path.with_name(f"{path.name}.lock")
    with open(lock, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False  # another runner is computing it
            return
        try:
            yield not record_done(path)
        finally:
            with contextlib.suppress(OSError):
                lock.unlink()
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_records(folder: Path,
                 pattern: str = "*.json") -> List[Dict[str, Any]]:
    """The records in :obj:`folder` whose file names match
    :obj:`pattern`, in file-name order (none if the folder does not
    exist); a :class:`ValueError` names a file that does not parse."""
    return [parse_record(p) for p in sorted(folder.glob(pattern))]


def device_name(device: torch.device) -> str:
    """``"cpu"``, or the device and the GPU's name (records state it)."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)



if __name__ == "__main__":
    from benchmarks import cli
    cli.library(__doc__, "benchmarks.records")
