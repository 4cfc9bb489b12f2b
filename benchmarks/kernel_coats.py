"""The threshold benchmarks' inputs, and the multicoated selection's
cost: one native call for C coats against one selection, side by side
(``python -m benchmarks.kernel --coats 2 3 4``), and its table in
docs/kernel.md."""
from __future__ import annotations

import json
import platform
from functools import partial
from pathlib import Path
from typing import Dict, List

import torch

from benchmarks.sparse_crossover import interleaved_medians
from torch_geometric_ugt import __version__, backend
from torch_geometric_ugt.threshold import prune_smallest_


def make_inputs(n: int, tensors: int, device: str):
    """N Gaussian scores split over :obj:`tensors` tensors, their masks
    (resident before timing), and k = 0.9 N."""
    gen = torch.Generator().manual_seed(n + tensors)
    sizes = [n // tensors + (i < n % tensors) for i in range(tensors)]
    scores = [torch.randn(size, generator=gen).to(device) for size in sizes]
    masks = [torch.zeros_like(s) for s in scores]
    return scores, masks, int(0.9 * n)


def coat_counts(n: int, coats: int) -> List[int]:
    """The counts of C coats at sparsity 0.9 (the sparsifiers' spacing)."""
    return [round((0.9 + 0.1 * c / coats) * n) for c in range(coats)]


def measure_coats(device: str, threads: int, sizes: List[int],
                  coat_numbers: List[int], repeats: int) -> Dict:
    """One call for C coats against one selection, side by side."""
    torch.set_num_threads(threads)
    backend.set_backend("native")
    records = []
    for scores_kind in ("gaussian", "ties"):
        for n in sizes:
            scores, masks, k = make_inputs(n, 32, device)
            if scores_kind == "ties":
                scores = [(s * 8).round() / 8 for s in scores]
            calls = {"1": torch.tensor(k)}
            calls.update({str(c): torch.tensor(coat_counts(n, c))
                          for c in coat_numbers})
            medians = interleaved_medians(
                {name: partial(prune_smallest_, scores, masks, counts)
                 for name, counts in calls.items()}, repeats, device)
            ratios = {c: medians[c] / medians["1"] for c in medians}
            records.append({"n": n, "scores": scores_kind,
                            "median_s": medians, "ratio_to_one": ratios})
            print(f"N={n:>9,} {scores_kind}: " + ", ".join(
                f"C={c} {1e3 * v:.2f} ms ({ratios[c]:.2f}x)"
                for c, v in medians.items()), flush=True)
    return {"device": device, "threads": threads, "torch": torch.__version__,
            "library": __version__, "machine": platform.machine(),
            "records": records}


def coats_report(paths: List[Path]) -> List[str]:
    """Lines of the multicoated selection's cost table."""
    lines = []
    for path in paths:
        result = json.loads(path.read_text())
        lines += ["", f"Multicoated selection, {result['device']}, "
                  f"{result['threads']} threads (`{path.name}`): one call "
                  f"for C coats / one selection, median of interleaved "
                  f"runs.", ""]
        names = list(result["records"][0]["ratio_to_one"])[1:]
        lines += ["| scores | N | " + " | ".join(f"C = {c}" for c in names)
                  + " |", "| --- | --- | " + " | ".join("---" for _ in names)
                  + " |"]
        for r in result["records"]:
            lines.append(f"| {r['scores']} | {r['n']:,} | " + " | ".join(
                f"{r['ratio_to_one'][c]:.2f}x" for c in names) + " |")
    return lines


if __name__ == "__main__":
    from benchmarks import cli
    cli.library(__doc__, "benchmarks.kernel_coats")
