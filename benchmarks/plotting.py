"""The one plot set-up of the benchmark reports: matplotlib's pyplot on
the file-only ``Agg`` backend (imported on first use: only the reports
draw), and :func:`save`, which writes a figure atomically and frees it."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from benchmarks.records import write_atomic


def pyplot() -> Any:
    """``matplotlib.pyplot`` drawing to files only."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save(fig: Any, path: Path, dpi: int = 90) -> None:
    """Lays out :obj:`fig`, writes it to :obj:`path` in the format its
    suffix names (creating its folder; :func:`~benchmarks.records.
    write_atomic`) and closes it."""
    fig.tight_layout()
    image = io.BytesIO()
    fig.savefig(image, dpi=dpi, format=path.suffix.lstrip("."))
    pyplot().close(fig)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, image.getvalue())


if __name__ == "__main__":
    from benchmarks import cli
    cli.library(__doc__, "benchmarks.plotting")
