"""The selection tables of the ticket recipes in docs/reproduction.md:
every probe and the choice per model family and depth (validation
accuracy over seeds 0-9), the restarts judged on held-out validation
nodes, and the loss evidence of the scale levers."""
from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

from benchmarks.markdown import mean_std
from benchmarks.recipes import (BEST, BUDGET, PAPER, PROBES,
                                SELECTION_SPARSITIES, label)
from benchmarks.recipe_compare import (Cells, against_dense, compare,
                                      family_cells, groups_by_label,
                                      paired_difference)
from benchmarks.records import read_records


def selection_table(folder: Path = PROBES) -> List[str]:
    """Every probe's validation accuracy (what chose) and test accuracy
    (shown only), per cell, best validation first; ``chosen`` marks the
    settings of ``best``."""
    groups = groups_by_label(read_records(folder))
    if not groups:
        return []
    lines = ["### Ticket recipes: how `best` was chosen", "",
             "Validation accuracy chooses (mean ± std over seeds 0-9, in "
             "%); test accuracy is shown, never used. Records: "
             "`benchmarks/results/ticket-probes/`.", "",
             "| model | depth | dataset | sparsity | settings | val acc | "
             "test acc | training loss, last epoch | |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    cells = sorted({k[:4] for k in groups})
    for cell in cells:
        rows = [(k[4], v) for k, v in groups.items() if k[:4] == cell]
        rows.sort(key=lambda kv: -statistics.fmean(
            r["val_acc"] for r in kv[1]))
        chosen = label({**PAPER, **BEST.get(cell[:2], {})})
        for name, records in rows:
            val = [100 * r["val_acc"] for r in records]
            test = [100 * r["test_acc"] for r in records]
            mark = "chosen" if name == chosen else ""
            lines.append(f"| {cell[0]} | {cell[1]} | {cell[2]} | {cell[3]} "
                         f"| {name} | {mean_std(val)} | {mean_std(test)} | "
                         f"{_last_loss(records)} | {mark} |")
    return lines + [""] + family_table(groups)


def _last_loss(records: Sequence[Dict[str, Any]]) -> str:
    # mean training loss of the search's last epoch (of the restart
    # kept), over the records that have their curve
    losses = [r["curve"]["loss"][-1] for r in records
              if r.get("curve", {}).get("loss")]
    return f"{statistics.fmean(losses):.3f}" if losses else ""


def family_table(groups: Dict[Tuple, List[dict]]) -> List[str]:
    """The choice itself: one setting per model family and depth class,
    on the mean over its cells (dataset and sparsity) of the mean
    validation accuracy over seeds 0-9. First at 0.9 among every setting
    probed there on all datasets (the highest mean); then the follow-ups
    that ran at every sparsity of SELECTION_SPARSITIES, each beside the
    chosen settings (paired by cell and seed): one replaces them only
    when it is ahead by more than two standard errors."""
    cells = family_cells(groups)
    lines = ["#### The choice per model family and depth", "",
             "Mean over the cells (dataset, sparsity) of the validation "
             "accuracy over seeds 0-9. First at 0.9: the highest mean. "
             "Then follow-ups at every sparsity from 0.3 to 0.95, each "
             "beside the chosen settings, paired by cell and seed (mean ± "
             "standard error of the difference): one replaces them only "
             "when it is ahead by more than two standard errors.", "",
             "| model | depth | sparsities | settings | cells | mean val "
             "acc | vs chosen (paired) | |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for model, depth in sorted({k[:2] for k in cells}):
        chosen = label({**PAPER, **BEST.get((model, depth), {})})
        rows = {name: c for (m, d, name), c in cells.items()
                if (m, d) == (model, depth)}
        datasets = {d for c in rows.values() for d, _ in c}
        stages = [(f"{SELECTION_SPARSITIES[0]:g}",
                   {(d, SELECTION_SPARSITIES[0]) for d in datasets}),
                  (f"{min(SELECTION_SPARSITIES):g}-"
                   f"{max(SELECTION_SPARSITIES):g}",
                   {(d, s) for d in datasets for s in SELECTION_SPARSITIES})]
        stages = [(span, needed) for span, needed in stages
                  if any(set(c) >= needed for c in rows.values())]
        for i, (span, needed) in enumerate(stages):
            final = i == len(stages) - 1
            stage = {n: {k: c[k] for k in needed} for n, c in rows.items()
                     if needed <= set(c)}

            def mean(kv: Tuple[str, Cells]) -> float:
                return statistics.fmean(statistics.fmean(v.values())
                                        for v in kv[1].values())
            for name, values in sorted(stage.items(), key=lambda kv:
                                       -mean(kv)):
                versus = (paired_difference(values, stage[chosen])
                          if final and name != chosen and chosen in stage
                          else "")
                mark = "chosen" if name == chosen and final else ""
                lines.append(f"| {model} | {depth} | {span} | {name} | "
                             f"{len(values)} | {mean((name, values)):.2f} | "
                             f"{versus} | {mark} |")
    return lines + [""]


def _judged(restarts: Sequence[Dict[str, Any]], count: int) -> float:
    # the restart picked among the first count on the even validation
    # positions, judged on the odd ones (in %)
    pick = max(restarts[:count], key=lambda run: run["val_halves"][0])
    return 100 * pick["val_halves"][1]


def restart_table(folder: Path = PROBES) -> List[str]:
    """Best of R restarts (R = 1, 2, 4, as many as the probe ran) from
    the probes that ran several: the restart is picked on the even
    validation positions, judged on the odd ones. The last column pairs
    the probe's R with R = 1 by seed (mean ± standard error of the
    difference), per cell and, for settings probed in several cells,
    over all of them."""
    counts = (1, 2, BUDGET)
    rows = []
    pooled: Dict[Tuple, Tuple[Cells, Cells]] = defaultdict(lambda: ({}, {}))
    for key, records in sorted(groups_by_label(read_records(folder)).items()):
        most = max((r["config"].get("restarts", 1) for r in records))
        runs = {r["config"]["seed"]: r["restarts"] for r in records
                if most > 1 and len(r.get("restarts", [])) >= most}
        if not runs:
            continue
        judged = {count: {seed: _judged(restarts, count)
                          for seed, restarts in runs.items()}
                  for count in counts if count <= most}
        one, many = pooled[(key[0], key[4])]
        one[key[2:4]], many[key[2:4]] = judged[1], judged[most]
        gain = paired_difference({key: judged[most]}, {key: judged[1]})
        rows.append(f"| {key[0]} | {key[2]} | {key[3]} | {key[4]} | "
                    + " | ".join(mean_std(list(judged[count].values()))
                                 if count in judged else ""
                                 for count in counts)
                    + f" | {gain} |")
    for (model, name), (one, many) in sorted(pooled.items()):
        if len(one) > 1:
            rows.append(f"| {model} | all | {len(one)} cells | {name} | "
                        f"| | | {paired_difference(many, one)} |")
    if not rows:
        return []
    return ["#### Restarts on held-out validation nodes", "",
            "| model | dataset | sparsity | settings | R = 1 | R = 2 | "
            f"R = {BUDGET} | R vs R = 1 (paired) |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |"] \
        + rows + [""]


def scale_section(folder: Path = PROBES) -> List[str]:
    """How each scale lever moves the training loss of the 2-layer
    models at sparsity 0.9 (first and last epoch of the search) beside
    its validation accuracy: the evidence of docs/how-it-works.md."""
    groups: Dict[Tuple, List[dict]] = defaultdict(list)
    for r in read_records(folder):
        c = r["config"]
        if c["layers"] == 2 and c["sparsity"] == 0.9 \
                and c.get("restarts", 1) == 1 and c.get("coats", 1) == 1 \
                and not c.get("iterand"):
            groups[(c["model"], c["dataset"], label(c))].append(r)
    if not groups:
        return []
    lines = ["| model | dataset | settings | seeds | training loss, first "
             "epoch | training loss, last epoch | val acc |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for (model, dataset, name), records in sorted(groups.items()):
        first = statistics.fmean(r["curve"]["loss"][0] for r in records)
        last = statistics.fmean(r["curve"]["loss"][-1] for r in records)
        val = mean_std([100 * r["val_acc"] for r in records])
        lines.append(f"| {model} | {dataset} | {name} | {len(records)} | "
                     f"{first:.3f} | {last:.3f} | {val} |")
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    from benchmarks import cli
    p = cli.parser(__doc__ + "\n\n    python -m benchmarks.recipe_selection "
                   "GIN 'rescale=global' 'rescale=global, score_decay=0.005'"
                   "\n\nprints the second settings' validation accuracy "
                   "minus the first's, paired by seed, per cell and over "
                   "all cells (mean ± standard error, points); 'dense' "
                   "as the second (with --held-out) compares with the "
                   "trained dense model instead.")
    p.add_argument("model")
    p.add_argument("first")
    p.add_argument("second")
    p.add_argument("--depth", default="shallow")
    p.add_argument("--folder", type=Path, default=PROBES,
                   help="the records to compare (default: the probes)")
    p.add_argument("--held-out", action="store_true",
                   help="judge on the odd validation nodes of runs that "
                   "chose their epoch on the even ones (select_on=even)")
    args = p.parse_args(argv)
    if args.second == "dense":
        if not args.held_out:
            p.error("'dense' is compared on the held-out validation nodes "
                    "only: add --held-out")
        print("\n".join(against_dense(args.model, args.first, args.depth,
                                       args.folder)))
        return
    print("\n".join(compare(args.model, args.first, args.second,
                             args.depth, args.folder, args.held_out)))


if __name__ == "__main__":
    main()
