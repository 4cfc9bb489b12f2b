"""The one plot set-up of the benchmark reports: matplotlib's pyplot on
the file-only ``Agg`` backend (imported on first use: only the reports
draw), and :func:`save`, which writes a figure and frees it."""
from __future__ import annotations

from pathlib import Path
from typing import Any


def pyplot() -> Any:
    """``matplotlib.pyplot`` drawing to files only."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save(fig: Any, path: Path, dpi: int = 90) -> None:
    """Lays out :obj:`fig`, writes it to :obj:`path` (creating its folder)
    and closes it."""
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)


if __name__ == "__main__":
    from benchmarks import cli
    cli.library(__doc__, "benchmarks.plotting")
