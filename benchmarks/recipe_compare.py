"""Two ticket recipes' settings compared by seed on validation accuracy
(or on the validation nodes that chose nothing), and a setting's tickets
against the trained dense model there: the numbers behind every choice
of ``best`` (``python -m benchmarks.recipe_selection`` prints them)."""
from __future__ import annotations

import math
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

from benchmarks.experiments import DEEP_SETTING
from benchmarks.markdown import mean_std
from benchmarks.recipes import PROBES, depth_class, label
from benchmarks.records import read_records


PROTOCOL: Dict[str, Any] = {"hidden": 256, "epochs": 400, "ramp": 200,
                           "lr": 0.01, "score_init": "kaiming_uniform"}
"""The shallow protocol's width, epochs, ramp, lr and score init: a probe
run with others is labelled with them (they are not recipe settings)."""
DEEP_WIDTH = 448
"""The deep tables' width (their lr: ``DEEP_SETTING``)."""


def protocol(config: Dict[str, Any]) -> Dict[str, Any]:
    """:data:`PROTOCOL` of a record's model and depth: the deep searches
    are :data:`DEEP_WIDTH` wide with the lr of ``DEEP_SETTING`` (their
    trained dense models keep the shallow lr)."""
    if depth_class(config.get("layers", 2)) == "shallow":
        return PROTOCOL
    lr = PROTOCOL["lr"]
    if config.get("method") != "dense":
        lr = DEEP_SETTING.get((config["dataset"], config["layers"]),
                              (lr, None))[0]
    return {**PROTOCOL, "hidden": DEEP_WIDTH, "lr": lr}


def run_label(config: Dict[str, Any]) -> str:
    """The settings :func:`~benchmarks.recipes.label` of a record, and
    where it ran another protocol (:func:`protocol`) the fields that
    differ, e.g. ``head=temp, epochs=800, ramp=400``, so that such runs
    are never pooled with the protocol's."""
    name = label(config)
    other = [f"{field}={config[field]}"
             for field, value in protocol(config).items()
             if config.get(field, value) != value]
    if not other:
        return name
    return ", ".join(([] if name == "paper" else [name]) + other)


def groups_by_label(records: Sequence[Dict[str, Any]]
                    ) -> Dict[Tuple, List[dict]]:
    """Records by (model, depth class, dataset, sparsity, settings
    label :func:`run_label`)."""
    groups: Dict[Tuple, List[dict]] = defaultdict(list)
    for r in records:
        c = r["config"]
        cell = (c["model"], depth_class(c["layers"]), c["dataset"],
                c["sparsity"])
        groups[cell + (run_label(c), )].append(r)
    return groups


Cells = Dict[Tuple, Dict[int, float]]  # (dataset, sparsity) -> seed -> %


def held_out_accuracy(record: Dict[str, Any]) -> float:
    """The accuracy (in %) of a run that chose its epoch on the even
    validation positions (``select_on="even"``) on the odd ones, which
    chose nothing."""
    if record["config"].get("select_on") != "even":
        raise ValueError(f"{record['key']} chose its epoch on every "
                         f"validation node; only runs with "
                         f"select_on='even' have held-out ones.")
    return 100 * record["restarts"][0]["val_halves"][1]


def family_cells(groups: Dict[Tuple, List[dict]],
                 held_out: bool = False) -> Dict[Tuple, Cells]:
    """(model, depth, settings) -> the validation accuracy of each seed in
    each cell probed with all of seeds 0-9 (:obj:`held_out`: on the
    validation nodes that chose nothing); restarts left out (their
    validation accuracy chose the restart: the restart table judges
    them)."""
    out: Dict[Tuple, Cells] = defaultdict(dict)
    for (model, depth, dataset, sparsity, name), records in groups.items():
        seeds = {r["config"]["seed"]: held_out_accuracy(r) if held_out
                 else 100 * r["val_acc"] for r in records}
        if "restarts" not in name and len(seeds) >= 10:
            out[(model, depth, name)][(dataset, sparsity)] = seeds
    return out


def paired_difference(a: Cells, b: Cells) -> str:
    """Mean ± standard error of ``a - b`` over the (cell, seed) pairs both
    have, in points."""
    diffs = [a[cell][seed] - b[cell][seed] for cell in a if cell in b
             for seed in a[cell] if seed in b[cell]]
    if len(diffs) < 2:
        return ""
    se = statistics.stdev(diffs) / len(diffs) ** 0.5
    return f"{statistics.fmean(diffs):+.2f} ± {se:.2f}"


def compare(model: str, a: str, b: str, depth: str = "shallow",
            folder: Path = PROBES, held_out: bool = False) -> List[str]:
    """Settings :obj:`b` against settings :obj:`a` (labels as in the
    selection table) for :obj:`model`: the validation accuracy of ``b``
    minus that of ``a``, paired by seed, per cell and over all of them
    (:obj:`held_out`: on the odd validation nodes of runs that chose on
    the even ones, :func:`held_out_accuracy`)."""
    records = read_records(folder, "*.json")
    if held_out:
        records = [r for r in records
                   if r["config"].get("select_on") == "even"]
    cells = family_cells(groups_by_label(records), held_out)
    found = {name for (m, d, name) in cells if (m, d) == (model, depth)}
    for name in (a, b):
        if name not in found:
            raise ValueError(f"No {model} {depth} probe is labelled "
                             f"{name!r}; the labels: {sorted(found)}.")
    first, second = cells[(model, depth, a)], cells[(model, depth, b)]
    return [f"{cell[0]} {cell[1]:g}: "
            f"{paired_difference({cell: second[cell]}, {cell: first[cell]})}"
            for cell in sorted(first) if cell in second] + [
        f"all cells: {paired_difference(second, first)}"]


def against_dense(model: str, name: str, depth: str = "shallow",
                  folder: Path = PROBES) -> List[str]:
    """The tickets of settings :obj:`name` against the trained dense
    model on the validation nodes that chose nothing (both chose their
    epoch on the even ones, :func:`held_out_accuracy`), per cell: the
    difference of the means ± its standard error (the runs are
    independent draws, not paired)."""
    records = [r for r in read_records(folder, "*.json")
               if r["config"].get("select_on") == "even"]
    dense: Dict[str, List[float]] = defaultdict(list)
    for r in records:
        c = r["config"]
        if (c["method"], c["model"], depth_class(c["layers"])) == (
                "dense", model, depth) and run_label(
                    {**c, "select_on": "", "weight_init": ""}) == "paper":
            dense[c["dataset"]].append(held_out_accuracy(r))
    cells = family_cells(groups_by_label(
        [r for r in records if r["config"]["method"] != "dense"]), True)
    if (model, depth, name) not in cells:
        raise ValueError(f"No {model} {depth} probe is labelled {name!r} "
                         f"with select_on='even' on seeds 0-9.")
    lines = []
    for (dataset, sparsity), seeds in sorted(cells[(model, depth, name)]
                                             .items()):
        ticket, trained = list(seeds.values()), dense.get(dataset, [])
        if len(trained) < 2:
            continue
        se = math.sqrt(statistics.variance(ticket) / len(ticket)
                       + statistics.variance(trained) / len(trained))
        diff = statistics.fmean(ticket) - statistics.fmean(trained)
        lines.append(f"{dataset} {sparsity:g}: ticket {mean_std(ticket)} "
                     f"vs dense {mean_std(trained)}: {diff:+.2f} ± "
                     f"{se:.2f}")
    if not lines:
        raise ValueError(f"No trained dense {model} chose its epoch on the "
                         f"even validation nodes of these datasets (run "
                         f"`reproduce one --method dense --select-on "
                         f"even`).")
    return lines


if __name__ == "__main__":
    from benchmarks import cli
    cli.library(__doc__, "benchmarks.recipe_compare")
