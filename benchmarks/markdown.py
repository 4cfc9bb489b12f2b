"""Generated sections of markdown files.

A generated section sits between ``<!-- NAME:start -->`` and
``<!-- NAME:end -->``; report commands replace what is between the two
markers and leave the rest of the file as it is.
"""
from __future__ import annotations

import statistics
from pathlib import Path
from typing import Sequence

from benchmarks.records import write_atomic


def mean_std(values: Sequence[float]) -> str:
    """A table cell: ``mean ± std (count)`` to one decimal, ``value (1)``
    for a single value (one seed has no spread), or a dash when there are
    no values."""
    if not values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:.1f} (1)"
    return (f"{statistics.fmean(values):.1f} ± "
            f"{statistics.stdev(values):.1f} ({len(values)})")


def percent_pm(fractions: Sequence[float]) -> str:
    """``mean ± std`` of fractions in %, to two decimals (std 0 for one
    value): the README's and the command lines' figures."""
    std = statistics.stdev(fractions) if len(fractions) > 1 else 0.0
    return f"{100 * statistics.fmean(fractions):.2f} ± {100 * std:.2f}"


def replace_section(path: Path, name: str, text: str) -> None:
    """Writes :obj:`text` between the ``NAME`` markers of :obj:`path`."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    body = path.read_text()
    if body.count(start) != 1 or body.count(end) != 1:
        raise ValueError(f"{path} needs exactly one {start} and one {end} "
                         f"marker to hold the generated section; add them "
                         f"where the section belongs.")
    head, rest = body.split(start)
    _, tail = rest.split(end)
    write_atomic(path, f"{head}{start}\n{text}\n{end}{tail}")


if __name__ == "__main__":
    from benchmarks import cli
    cli.library(__doc__, "benchmarks.markdown")
