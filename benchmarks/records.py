"""Result records: one JSON file per run, written atomically."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, List

import torch


def write_record(path: Path, record: Dict[str, Any]) -> None:
    """Writes :obj:`record` to :obj:`path` so that the file is either
    complete or absent, even when two runners race for the same record
    (each writes its own temporary file, then renames it)."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record, indent=1))
    tmp.replace(path)


def read_records(folder: Path,
                 pattern: str = "*.json") -> List[Dict[str, Any]]:
    """The records in :obj:`folder` whose file names match
    :obj:`pattern`, in file-name order (none if the folder does not
    exist)."""
    return [json.loads(p.read_text()) for p in sorted(folder.glob(pattern))]


def device_name(device: torch.device) -> str:
    """``"cpu"``, or the device and the GPU's name (records state it)."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)
