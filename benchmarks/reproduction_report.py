"""Tables and plots of docs/reproduction.md from the committed records of
``benchmarks.reproduce`` and ``benchmarks.table3``.

    python -m benchmarks.reproduction_report
    python -m benchmarks.reproduction_report --out <records folder>
"""
from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from benchmarks import cli
from benchmarks.markdown import replace_section
from benchmarks.recipe_report import recipe_results
from benchmarks.recipe_selection import (restart_table, scale_section,
                                         selection_table)
from benchmarks.recipes import label
from benchmarks.records import read_records
from benchmarks.experiments import (DEEP_SETTING, DEEP_SPARSITY,
                                  DEEP_WEIGHT_INIT, RECIPE_EXPERIMENTS,
                                  RESULTS, WEIGHT_INIT, experiments)
from benchmarks.report_figures import (METHOD_NAMES, cell, fig2, fig3,
                                       fig4, fig5, fig6, fig7, plot_panels)
from benchmarks.report_selection import (deep_selection, full_config,
                                         table5_search)
from benchmarks.table3_report import arch_section as table3_archs
from benchmarks.table3_report import section as table3_section
from benchmarks.table3_report import split_section as table3_splits

DOCS = Path(__file__).parent.parent / "docs"

# Facts copied from the paper (test accuracy, %).
PAPER_TABLE5 = {  # GAT 2x256, Cora
    "edge-popup": [81.4, 81.0, 80.9, 81.0, 79.1, 46.1],
    "gradual-only": [80.7, 81.6, 81.7, 80.4, 79.9, 73.1],  # UGTs - global
    "global-only": [80.6, 81.8, 82.1, 82.1, 80.4, 79.5],  # UGTs - gradual
    "ugt": [79.7, 81.1, 81.0, 81.5, 81.7, 82.2],
}
TABLE5_SPARSITIES = [0.1, 0.3, 0.5, 0.7, 0.9, 0.95]
PAPER_TABLE1 = {  # GCN, width 448: (dataset, layers) -> (UGTs, dense)
    ("Cora", 16): ("77.3 ± 0.9", "21.4"),
    ("Cora", 32): ("77.5 ± 0.8", "21.2"),
    ("CiteSeer", 16): ("61.1 ± 0.9", "19.5"),
    ("CiteSeer", 32): ("56.2 ± 0.4", "20.2"),
}
PAPER_TABLE6 = {  # GAT, width 448, Cora
    ("Cora", 16): ("76.7 ± 1.1", "20.6"),
    ("Cora", 32): ("74.9 ± 0.2", "13.0"),
}
Key = Tuple[str, str, int, int, str, float]


def _setting(config: Dict[str, Any]) -> Tuple:
    """A record's configuration without its weight init and seed."""
    full = full_config(config)
    return tuple((k, full[k]) for k in sorted(full)
                 if k not in ("weight_init", "seed"))


def init_ablation(out: Path) -> List[str]:
    """Records that differ from an experiment's configuration only in the
    weight init, beside that configuration's own records."""
    experiment_init = {_setting(asdict(c)): c.weight_init
                       for configs in experiments().values()
                       for c in configs}
    # (setting, init) -> seed -> (val, test)
    groups: Dict[tuple, Dict[int, Tuple[float, float]]] = defaultdict(dict)
    for r in read_records(out, "*.json"):
        setting = _setting(r["config"])
        if setting in experiment_init:
            groups[(setting, r["config"]["weight_init"])][
                r["config"]["seed"]] = (100 * r["val_acc"],
                                        100 * r["test_acc"])
    settings = {s for s, init in groups if init != experiment_init[s]}
    if not settings:
        return []
    lines = ["## Weight init (selection on validation accuracy)", "",
             "| configuration | init | seeds | val acc | test acc |",
             "|---|---|---|---|---|"]
    for setting in sorted(settings):
        c = dict(setting)
        name = (f"{c['dataset']} {c['model']} {c['layers']}×{c['hidden']} "
                f"{c['method']} s={c['sparsity']:g}")
        for (other, init), runs in sorted(groups.items()):
            if other != setting:
                continue
            val = statistics.fmean(v for v, _ in runs.values())
            test = statistics.fmean(t for _, t in runs.values())
            lines.append(f"| {name} | {init} | {sorted(runs)} | {val:.1f} | "
                         f"{test:.1f} |")
    return lines + [""]


def load(out: Path, include_quick: bool = False) -> Dict[Key, List[dict]]:
    """Records of the experiments' configurations on the plain task (see
    :func:`benchmarks.reproduce.experiments`), grouped by configuration
    without the seed. Records of other configurations (e.g. other weight
    inits, extra seeds) are not table cells, nor are the OOD and perturbed
    variants (Figures 6 and 7 read their own records)."""
    skipped = RECIPE_EXPERIMENTS + (() if include_quick else ("quick", ))
    # the paper's search settings only: a cell groups records without
    # them (`best` has its own section); the weight init is the
    # experiment's own (the depth sweep's 2-8 layers take the deep one)
    wanted = {c.key() for name, configs in experiments().items()
              if name not in skipped for c in configs
              if not c.variant and not name.startswith("probe")
              and label({**asdict(c), "weight_init": ""}) == "paper"}
    groups: Dict[Key, List[dict]] = defaultdict(list)
    for r in read_records(out, "*.json"):
        if r["key"] not in wanted:
            continue
        c = r["config"]
        key = (c["dataset"], c["model"], c["layers"], c["hidden"],
               c["method"], c["sparsity"])
        groups[key].append(r)
    return groups


def table5(groups) -> List[str]:
    head = " | ".join(f"{s:g}" for s in TABLE5_SPARSITIES)
    lines = ["## Table 5: ablations, GAT 2×256 on Cora", "",
             "Ours: mean ± std (seeds); paper in brackets.", "",
             f"| method | {head} |",
             "|---|" + "---|" * len(TABLE5_SPARSITIES)]
    for method, paper in PAPER_TABLE5.items():
        cells = [
            f"{cell(groups.get(('Cora', 'GAT', 2, 256, method, s)))} "
            f"[{p}]" for s, p in zip(TABLE5_SPARSITIES, paper)
        ]
        lines.append(f"| {METHOD_NAMES[method]} | " + " | ".join(cells) +
                     " |")
    return lines + [""]


def deep_table(groups, title: str, model: str, paper: dict) -> List[str]:
    lines = [f"## {title}", "",
             f"Width 448, UGTs at sparsity {DEEP_SPARSITY:g} with "
             f"{DEEP_WEIGHT_INIT} weights, and the lr and Adam eps of its "
             f"dataset and depth (chosen on the GCN's validation "
             f"accuracy: see the deep-setting selection below); ours mean "
             f"± std (seeds), paper in brackets.", "",
             "| dataset | layers | UGTs: lr, Adam eps | UGTs | trained dense |",
             "|---|---|---|---|---|"]
    for (dataset, layers), (p_ugt, p_dense) in paper.items():
        lr, eps = DEEP_SETTING[dataset, layers]
        ugt = groups.get((dataset, model, layers, 448, "ugt", DEEP_SPARSITY))
        dense = groups.get((dataset, model, layers, 448, "dense", 0.0))
        lines.append(f"| {dataset} | {layers} | {lr:g}, {eps:g} | "
                     f"{cell(ugt)} [{p_ugt}] | {cell(dense)} [{p_dense}] |")
    return lines + [""]




def _header() -> List[str]:
    return ["# Reproduction", "",
            "Generated by `python -m benchmarks.reproduction_report` from the "
            "records in `benchmarks/results/reproduction/` (one JSON per "
            "run: configuration, seed, library version, accuracies, "
            "realised sparsities, epoch time). Run the missing ones with "
            "`python -m benchmarks.reproduce run <experiment>` (resumable; "
            "`list` shows the experiments). A dash means no record yet.",
            "", "Protocol: see `benchmarks/reproduce.py`. Weight init of the "
            f"frozen weights per architecture: {WEIGHT_INIT}, chosen on "
            "validation accuracy (GCN: docs/how-it-works.md; GAT 2×256 on "
            "Cora at sparsity 0.5, seeds 0–1: Kaiming-uniform validation "
            "80.7 % vs signed-constant 79.2 %; GIN keeps the authors' "
            "default; under each model's `best` recipe the other init "
            "loses for all three, see \"Ticket recipes\").", ""]


def write_report(out: Path, docs: Path = DOCS,
                 include_quick: bool = False) -> str:
    groups = load(out, include_quick)
    images = docs / "images"
    lines = _header()
    lines += table5(groups)
    recipe_lines, budget = recipe_results(read_records(out, "*.json"),
                                          PAPER_TABLE5, TABLE5_SPARSITIES)
    lines += recipe_lines
    if budget:
        plot_panels(budget, [1, 2, 4], images / "recipe-budget.png",
                     "search budget (x the paper's 400 epochs)", log=True)
        lines += ["Accuracy against search budget (`best`, the restart "
                  "chosen on validation among the first R of 4):", "",
                  "![budget](images/recipe-budget.png)", ""]
    probes = out.parent / "ticket-probes"
    lines += selection_table(probes) + restart_table(probes)
    lines += deep_table(groups, "Table 1: deep GCN", "GCN", PAPER_TABLE1)
    lines += deep_table(groups, "Table 6: deep GAT", "GAT", PAPER_TABLE6)
    lines += deep_selection(out.parent / "deep-selection", out)
    lines += table5_search(out.parent / "table5-probes", out)
    lines += fig5(groups, images)
    lines += fig2(groups, images)
    lines += fig4(out, images)
    lines += fig3(out, images)
    lines += fig6(out, images)
    lines += fig7(out, images)
    lines += table3_section(out.parent / "table3")
    lines += table3_splits(out.parent / "table3")
    lines += table3_archs(out.parent / "table3")
    lines += init_ablation(out)
    text = "\n".join(lines)
    doc = docs / "reproduction.md"
    if not doc.exists():
        doc.write_text("<!-- reproduction:start -->\n"
                       "<!-- reproduction:end -->\n")
    # Hand-written notes (what mattered) live outside the markers.
    replace_section(doc, "reproduction", text)
    scale = scale_section(out.parent / "ticket-probes")
    if scale and (docs / "how-it-works.md").exists():
        replace_section(docs / "how-it-works.md", "scale", "\n".join(scale))
    print(text)
    return text


def main(argv: Optional[List[str]] = None) -> str:
    p = cli.parser(__doc__)
    p.add_argument("--out", type=Path, default=RESULTS,
                   help="the folder of reproduction records (default: "
                   "benchmarks/results/reproduction)")
    args = p.parse_args(argv)
    return write_report(args.out)


if __name__ == "__main__":
    main()
