"""How the searches of one setting went: the validation accuracy and
training loss of their curves, averaged per window of epochs over the
seeds, the epochs they selected and, for runs that chose on the even
validation nodes, both halves' accuracy of what they kept.

    python -m benchmarks.search_curves GCN 'head=temp, select_on=even' \\
        --dataset CiteSeer --folder benchmarks/results/ticket-pilots

Trained dense runs are read too (``--method dense``; their settings
label is ``select_on=even`` when they chose on the even nodes).
"""
from __future__ import annotations

import argparse
import statistics
from pathlib import Path
from typing import Any, Dict, List, Sequence

from benchmarks.recipe_compare import groups_by_label
from benchmarks.recipes import PROBES
from benchmarks.records import read_records


def window_means(records: Sequence[Dict[str, Any]], key: str,
                 start: int, width: int) -> float:
    """The mean of :obj:`key` (``val`` or ``loss``) over the curve points
    of epochs ``[start, start + width)`` of every record."""
    values = [v for r in records
              for e, v in zip(r["curve"]["epoch"], r["curve"][key])
              if start <= e < start + width]
    if not values:
        raise ValueError(f"No curve point in epochs {start}-"
                         f"{start + width - 1}.")
    return statistics.fmean(values)


def summary(records: Sequence[Dict[str, Any]], width: int) -> List[str]:
    """The lines of one cell: the windows, the selected epochs and the
    validation halves."""
    epochs = max(r["curve"]["epoch"][-1] for r in records) + 1
    lines = [f"  epochs {start}-{start + width - 1}: val "
             f"{100 * window_means(records, 'val', start, width):.1f}, "
             f"training loss {window_means(records, 'loss', start, width):.2f}"
             for start in range(0, epochs, width)]
    lines.append(f"  selected epochs: "
                 f"{sorted(r['best_epoch'] for r in records)}")
    halves = [r["restarts"][0]["val_halves"] for r in records
              if r["config"].get("select_on") == "even"]
    if halves:
        even, odd = (statistics.fmean(100 * h[i] for h in halves)
                     for i in (0, 1))
        lines.append(f"  kept: even half {even:.1f} (chose), odd half "
                     f"{odd:.1f} (judged)")
    return lines


def curves(model: str, name: str, dataset: str | None = None,
           method: str = "ugt", folder: Path = PROBES,
           width: int = 50) -> List[str]:
    """:func:`summary` of every cell of :obj:`model` whose runs of
    :obj:`method` are labelled :obj:`name`."""
    if width < 1:
        raise ValueError(f"width must be a positive number of epochs; got "
                         f"{width}.")
    records = [r for r in read_records(folder)
               if r["config"]["method"] == method]
    lines = []
    for (m, depth, ds, sparsity, label), runs in sorted(
            groups_by_label(records).items()):
        if (m, label) == (model, name) and dataset in (None, ds):
            lines.append(f"{m} {depth} {ds} {method} {sparsity:g}, "
                         f"{len(runs)} runs:")
            lines += summary(runs, width)
    if not lines:
        raise ValueError(f"No {method} run of {model} is labelled "
                         f"{name!r} in {folder}.")
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    from benchmarks import cli
    p = cli.parser(__doc__)
    p.add_argument("model")
    p.add_argument("settings", help="the label, as in the selection table")
    p.add_argument("--dataset", default=None)
    p.add_argument("--method", default="ugt")
    p.add_argument("--folder", type=Path, default=PROBES)
    p.add_argument("--width", type=int, default=50,
                   help="epochs per window (default: 50)")
    args: argparse.Namespace = p.parse_args(argv)
    print("\n".join(curves(args.model, args.settings, args.dataset,
                           args.method, args.folder, args.width)))


if __name__ == "__main__":
    main()
