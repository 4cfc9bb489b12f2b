"""The figures of docs/reproduction.md (paper Figures 2-7), drawn from the
records of ``python -m benchmarks.reproduce``; the sections that show
them (``python -m benchmarks.reproduction_report`` writes them)."""
from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from benchmarks.markdown import mean_std
from benchmarks.plotting import pyplot, save
from benchmarks.experiments import experiments
from benchmarks.records import read_records

METHOD_NAMES = {
    "ugt": "UGTs",
    "edge-popup": "Edge-Popup",
    "global-only": "UGTs − gradual (global, fixed)",
    "gradual-only": "UGTs − global (per layer, gradual)",
    "dense": "trained dense",
}

def cell(records: Optional[List[dict]], field: str = "test_acc") -> str:
    """Mean ± std (count) of a record field, in %."""
    return mean_std([100 * r[field] for r in records or []])


def mean(records: Optional[List[dict]],
         field: str = "test_acc") -> Optional[float]:
    if not records:
        return None
    return 100 * statistics.fmean(r[field] for r in records)


def panel_head(dataset: str, model: str, dense: str,
               sparsities: Sequence[float]) -> List[str]:
    """The title and table head of one panel (a dataset and model) over
    the sparsity row."""
    return [f"**{dataset} / {model}** (trained dense: {dense})", "",
            "| method | " + " | ".join(f"{s:g}" for s in sparsities) + " |",
            "|---|" + "---|" * len(sparsities)]


def fig4(out: Path, images: Path) -> List[str]:
    """MAD per layer of the deep Cora GCNs (Table 1's records)."""
    table1 = {c.key() for c in experiments()["table1"]}
    runs: Dict[Tuple[int, str], List[dict]] = defaultdict(list)
    for r in read_records(out, "Cora-GCN-L*-W448-*.json"):
        c = r["config"]
        if "mad_per_layer" not in r or r["key"] not in table1:
            continue
        runs[(c["layers"], c["method"])].append(r)
    if not runs:
        return []
    lines = ["## Figure 4: over-smoothing (MAD per layer, Cora GCN, width "
             "448)", "",
             "Mean Average Distance (cosine, all node pairs) of every "
             "layer's output, mean over seeds: the selected ticket (best "
             "validation epoch, final sparsity) vs the trained dense model "
             "at the end of training; and the last layer's MAD during the "
             "search (at the final sparsity) / training. The paper's claim: "
             "UGTs keeps the representations apart (high MAD) in deep layers, "
             "the dense model collapses them (MAD near 0).", "",
             "| layers | model | seeds | MAD layer 1 | layer L/2 | last "
             "hidden | output |", "|---|---|---|---|---|---|---|"]
    for (layers, method), recs in sorted(runs.items()):
        curves = [r["mad_per_layer"] for r in recs]
        avg = [statistics.fmean(v) for v in zip(*curves)]
        seeds = sorted(r["config"]["seed"] for r in recs)
        lines.append(f"| {layers} | {METHOD_NAMES[method]} | {seeds} | "
                     f"{avg[0]:.3f} | {avg[layers // 2 - 1]:.3f} | "
                     f"{avg[-2]:.3f} | {avg[-1]:.3f} |")
    _plot_mad(runs, images / "fig4.png")
    return lines + ["", "![Figure 4](images/fig4.png)", ""]


def fig3(out: Path, images: Path) -> List[str]:
    """t-SNE of the last hidden layer (Table 1's records with one)."""
    table1 = {c.key() for c in experiments()["table1"]}
    panels = []
    for r in read_records(out, "Cora-GCN-L*-W448-*.json"):
        c = r["config"]
        if "tsne_last_hidden" not in r or r["key"] not in table1:
            continue
        panels.append((c["layers"], c["method"], c["seed"],
                       100 * r["test_acc"], r["tsne_last_hidden"]))
    if not panels:
        return []
    panels.sort(key=lambda p: (p[0], p[1] != "ugt"))
    plt = pyplot()

    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.2),
                             squeeze=False)
    for ax, (layers, method, seed, acc, t) in zip(axes.flat, panels):
        xs, ys = zip(*t["coords"])
        ax.scatter(xs, ys, c=t["labels"], s=2, cmap="tab10")
        ax.set_title(f"{METHOD_NAMES[method]}, {layers} layers\n"
                     f"(seed {seed}, test {acc:.1f} %)", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    save(fig, images / "fig3.png")
    return ["## Figure 3: t-SNE of the last hidden layer (Cora GCN, width "
            "448)", "",
            "Exact t-SNE (`benchmarks/tsne.py`, perplexity 30) of the "
            "last hidden layer's output (after ReLU) of the selected ticket "
            "and of the trained dense model, coloured by class. The paper's "
            "claim: the classes stay apart with UGTs and mix in the deep "
            "trained dense model.", "", "![Figure 3](images/fig3.png)", ""]


def fig6(out: Path, images: Path) -> List[str]:
    """OOD detection ROC-AUC vs sparsity (variant "ood" records)."""
    groups: Dict[tuple, List[dict]] = defaultdict(list)
    wanted = {c.key() for c in experiments()["fig6"]}
    for r in read_records(out, "*-ood-seed*.json"):
        if r["key"] in wanted:
            c = r["config"]
            groups[(c["dataset"], c["model"], c["method"],
                    c["sparsity"])].append(r)
    if not groups:
        return []
    sparsities = [0.1, 0.3, 0.5, 0.7, 0.9, 0.95, 0.99]

    auc = "ood_auroc_max_softmax"

    lines = ["## Figures 6 / 10: out-of-distribution detection (2 layers × "
             "256)", "",
             "All nodes of 40 % of the classes (3 of 7 on Cora, 2 of 6 on "
             "CiteSeer, chosen per seed) are left out of training and "
             "validation; ROC-AUC (%) of the OOD score 1 − max softmax over "
             "all test nodes, at the epoch chosen by in-distribution "
             "validation accuracy. The paper plots this only; the shape to "
             "check is UGTs close to the trained dense model across "
             "sparsities and above Edge-Popup at high sparsity.", ""]
    panels = []
    for dataset in ("Cora", "CiteSeer"):
        for model in ("GCN", "GAT"):
            dense = groups.get((dataset, model, "dense", 0.0))
            lines += panel_head(dataset, model, cell(dense, auc),
                                sparsities)
            series = {}
            for method in ("ugt", "edge-popup"):
                recs = [groups.get((dataset, model, method, s))
                        for s in sparsities]
                lines.append(f"| {METHOD_NAMES[method]} | " +
                             " | ".join(cell(r, auc) for r in recs) + " |")
                series[method] = [mean(r, auc) for r in recs]
            lines.append("")
            panels.append((f"{dataset} / {model}", series, mean(dense, auc)))
    plot_panels(panels, sparsities, images / "fig6.png", "sparsity",
                 log=False, ylabel="OOD ROC-AUC (%)")
    return lines + ["![Figure 6](images/fig6.png)", ""]


def fig7(out: Path, images: Path) -> List[str]:
    """Accuracy vs perturbation fraction (variants feat<R> / edge<R>)."""
    from benchmarks.experiments import PERTURBATIONS
    wanted = {c.key() for c in experiments()["fig7"]}
    groups: Dict[tuple, List[dict]] = defaultdict(list)
    for r in read_records(out, "Cora-*-L2-W256-*.json"):
        if r["key"] not in wanted:
            continue
        c = r["config"]
        v = c.get("variant", "")
        kinds = [v[:4]] if v else ["feat", "edge"]  # R = 0 serves both
        fraction = float(v[4:]) if v else 0.0
        for kind in kinds:
            groups[(c["model"], kind, c["method"], fraction)].append(r)
    if not any(k[3] > 0 for k in groups):
        return []
    lines = ["## Figures 7 / 8: robustness to perturbed features and edges "
             "(Cora, 2 layers × 256)", "",
             "A fraction R of the nodes get Bernoulli(0.5) features "
             "(`FeatureNoise`) or of the edges get one endpoint moved "
             "(`EdgeRewire`), before training; UGTs and Edge-Popup at "
             "sparsity 0.9. Test accuracy (%), mean ± std (seeds). The shape "
             "to check: UGTs degrades no faster than the trained dense "
             "model.", ""]
    panels = []
    for kind, what in (("feat", "features"), ("edge", "edges")):
        for model in ("GCN", "GAT"):
            lines += [f"**{model}, perturbed {what}**", "",
                      "| method | " + " | ".join(f"R={r:g}"
                                                for r in PERTURBATIONS)
                      + " |", "|---|" + "---|" * len(PERTURBATIONS)]
            series = {}
            for method in ("ugt", "edge-popup", "dense"):
                recs = [groups.get((model, kind, method, r))
                        for r in PERTURBATIONS]
                lines.append(f"| {METHOD_NAMES[method]} | " +
                             " | ".join(cell(x) for x in recs) + " |")
                series[method] = [mean(x) for x in recs]
            lines.append("")
            panels.append((f"{model}, {what}", series, None))
    plot_panels(panels, list(PERTURBATIONS), images / "fig7.png",
                 "perturbed fraction R", log=False)
    return lines + ["![Figure 7](images/fig7.png)", ""]


def _plot_mad(runs, path: Path) -> None:
    plt = pyplot()

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for (layers, method), recs in sorted(runs.items()):
        label = f"{METHOD_NAMES[method]}, {layers} layers"
        avg = [statistics.fmean(v)
               for v in zip(*(r["mad_per_layer"] for r in recs))]
        axes[0].plot(range(1, len(avg) + 1), avg, "o-", ms=3, label=label)
        epochs = sorted({int(e) for r in recs for e in r["mad_curve"]})
        last = [statistics.fmean(r["mad_curve"][str(e)][-2] for r in recs
                                 if str(e) in r["mad_curve"])
                for e in epochs]
        axes[1].plot(epochs, last, "o-", ms=3, label=label)
    axes[0].set(xlabel="layer", ylabel="MAD", title="final model")
    axes[1].set(xlabel="epoch", ylabel="MAD of the last hidden layer",
                title="during the search / training")
    axes[0].legend(fontsize=7)
    save(fig, path)


def fig5(groups, images: Path) -> List[str]:
    sparsities = [0.1, 0.3, 0.5, 0.7, 0.9, 0.95, 0.99]
    lines = ["## Figure 5: accuracy vs sparsity (2 layers × 256)", "",
             "The paper gives this as a plot only; the shape to check is that "
             "UGTs keeps its accuracy up to 0.99 while Edge-Popup degrades "
             "from 0.9 on.", ""]
    panels = []
    for dataset in ("Cora", "CiteSeer"):
        for model in ("GCN", "GIN", "GAT"):
            dense = groups.get((dataset, model, 2, 256, "dense", 0.0))
            lines += panel_head(dataset, model, cell(dense), sparsities)
            series = {}
            for method in ("ugt", "edge-popup"):
                recs = [groups.get((dataset, model, 2, 256, method, s))
                        for s in sparsities]
                lines.append(f"| {METHOD_NAMES[method]} | " +
                             " | ".join(cell(r) for r in recs) + " |")
                series[method] = [mean(r) for r in recs]
            lines.append("")
            panels.append((f"{dataset} / {model}", series, mean(dense)))
    if any(v is not None for _, s, _ in panels for vs in s.values()
           for v in vs):
        plot_panels(panels, sparsities, images / "fig5.png",
                     "sparsity", log=False)
        lines += ["![Figure 5](images/fig5.png)", ""]
    return lines


def fig2(groups, images: Path) -> List[str]:
    depths = [2, 4, 8, 16, 32]
    lines = ["## Figure 2: accuracy vs depth (GCN, width 448, Cora)", "",
             "| method | " + " | ".join(str(d) for d in depths) + " |",
             "|---|" + "---|" * len(depths)]
    series = {}
    for method, s in (("ugt", 0.1), ("ugt", 0.5), ("dense", 0.0)):
        recs = [groups.get(("Cora", "GCN", d, 448, method, s)) for d in depths]
        name = METHOD_NAMES[method] + (f" s={s:g}" if method == "ugt" else "")
        lines.append(f"| {name} | " + " | ".join(cell(r) for r in recs) +
                     " |")
        series[name] = [mean(r) for r in recs]
    lines.append("")
    if any(v is not None for vs in series.values() for v in vs):
        plot_panels([("Cora / GCN", series, None)], depths,
                     images / "fig2.png", "layers", log=True)
        lines += ["![Figure 2](images/fig2.png)", ""]
    return lines


def plot_panels(panels, xs, path: Path, xlabel: str, log: bool,
                 ylabel: str = "test accuracy (%)") -> None:
    plt = pyplot()

    # 4 panels as 2 × 2, 6 as 2 × 3: no empty axes for these counts
    cols = min(2 if len(panels) == 4 else 3, len(panels))
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows),
                             squeeze=False)
    for ax, (title, series, dense) in zip(axes.flat, panels):
        for name, ys in series.items():
            pts = [(x, y) for x, y in zip(xs, ys) if y is not None]
            if pts:
                ax.plot(*zip(*pts), "o-", label=METHOD_NAMES.get(name, name))
        if dense is not None:
            ax.axhline(dense, color="gray", ls="--", label="trained dense")
        if log:
            ax.set_xscale("log", base=2)
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7)
    save(fig, path)


if __name__ == "__main__":
    from benchmarks import cli
    cli.library(__doc__, "benchmarks.report_figures")
