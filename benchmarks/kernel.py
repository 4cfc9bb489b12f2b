"""Global threshold + mask writing: the native kernel vs PyTorch paths.

    python -m benchmarks.kernel           # writes results/kernel-<dev>.json
    python -m benchmarks.kernel --coats 2 3 4   # results/kernel-coats-<dev>
    python -m benchmarks.kernel --report  # table + plot: docs/kernel.md

Sizes N in {1e5, 1e6, 1e7, 5e7} split over 32 and over 4096 tensors,
k = 0.9 N. ``--coats`` times the multicoated selection (C counts at
sparsities 0.9 + 0.1 c / C, one call) against one selection at 0.9 with
the native kernel, on Gaussian scores and on scores with many ties (on a
grid of 1/8), N over 32 tensors. Each method is timed side by side on the
same inputs (median of repeated runs, methods interleaved); peak extra
memory is measured for one call in a fresh process: the peak RSS above
the RSS before the call (Linux, reset through /proc/self/clear_refs) or,
on CUDA, the peak allocated bytes above the inputs.
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
from functools import partial
from pathlib import Path
from typing import Callable, Dict, List, Optional

import torch

from benchmarks import cli, memory
from benchmarks.kernel_coats import (coats_report, make_inputs,
                                     measure_coats)
from benchmarks.sparse_crossover import interleaved_medians
from benchmarks.markdown import replace_section
from benchmarks.plotting import pyplot, save
from benchmarks.records import write_record
from torch_geometric_ugt import __version__, backend
from torch_geometric_ugt.threshold import (prune_smallest_,
                                           prune_smallest_reference_)

RESULTS = Path(__file__).parent / "results"
DOCS = Path(__file__).parent.parent / "docs"
SIZES = [100_000, 1_000_000, 10_000_000, 50_000_000]
SPLITS = [32, 4096]
Method = Callable[[List[torch.Tensor], List[torch.Tensor], int], None]


def _write(masks: List[torch.Tensor], keep: torch.Tensor) -> None:
    for mask, chunk in zip(masks, keep.split([m.numel() for m in masks])):
        mask.copy_(chunk.view(mask.shape))


def cat_kthvalue(scores, masks, k):
    """The published UGTs code's approach (ties kept, so not exact)."""
    flat = torch.cat([s.reshape(-1) for s in scores])
    tau = flat.kthvalue(k).values
    _write(masks, flat >= tau)


def cat_topk(scores, masks, k):
    flat = torch.cat([s.reshape(-1) for s in scores])
    keep = torch.ones_like(flat, dtype=torch.bool)
    keep[flat.topk(k, largest=False, sorted=False).indices] = False
    _write(masks, keep)


def cat_sort(scores, masks, k):
    """Edge-Popup's approach."""
    flat = torch.cat([s.reshape(-1) for s in scores])
    keep = torch.ones_like(flat, dtype=torch.bool)
    keep[flat.argsort()[:k]] = False
    _write(masks, keep)


def native(scores, masks, k):
    prune_smallest_(scores, masks, k)


METHODS: Dict[str, Method] = {
    "native": native,
    "reference": prune_smallest_reference_,
    "cat+kthvalue": cat_kthvalue,
    "cat+topk": cat_topk,
    "cat+sort": cat_sort,
}


def peak_extra_bytes(method: Method, scores, masks, k: int,
                     device: str) -> Optional[int]:
    """Peak memory one call adds above what is allocated before it."""
    return memory.peak_extra_bytes(lambda: method(scores, masks, k), device)


def probe(name: str, n: int, tensors: int, device: str,
          threads: int) -> Optional[int]:
    """Peak extra memory of one call, in a fresh process (a fresh heap)."""
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.kernel", "--probe", name, str(n),
         str(tensors), device, str(threads)],
        capture_output=True, text=True, check=True)
    value = out.stdout.strip().splitlines()[-1]
    return None if value == "None" else int(value)


def measure(device: str, threads: int, sizes: List[int],
            repeats: int) -> Dict:
    torch.set_num_threads(threads)
    backend.set_backend("native")
    records = []
    for tensors in SPLITS:
        for n in sizes:
            scores, masks, k = make_inputs(n, tensors, device)
            reps = repeats if n <= 10_000_000 else max(2, repeats // 2)
            medians = interleaved_medians(
                {name: partial(method, scores, masks, k)
                 for name, method in METHODS.items()}, reps, device)
            memory = {name: probe(name, n, tensors, device, threads)
                       for name in METHODS}
            fastest_torch = min(v for m, v in medians.items()
                                if m not in ("native", "reference"))
            record = {
                "n": n, "tensors": tensors, "k": k, "repeats": reps,
                "median_s": medians, "peak_extra_bytes": memory,
                "speedup_vs_fastest_torch": fastest_torch / medians["native"],
                "speedup_vs_reference":
                medians["reference"] / medians["native"],
            }
            records.append(record)
            print(f"N={n:>9,} tensors={tensors:>5}: " + ", ".join(
                f"{m} {1e3 * v:.2f} ms" for m, v in medians.items()) +
                  f"; native {record['speedup_vs_fastest_torch']:.1f}x "
                  f"faster than the fastest cat+... path, "
                  f"{record['speedup_vs_reference']:.1f}x than the "
                  f"reference", flush=True)
    return {
        "device": device, "threads": threads, "torch": torch.__version__,
        "library": __version__, "machine": platform.machine(),
        "gpu": (torch.cuda.get_device_name() if device == "cuda" else None),
        "records": records,
    }


def _mb(value: Optional[int]) -> str:
    return "n/a" if value is None else f"{value / 2**20:.1f}"


def report(paths: List[Path]) -> str:
    plt = pyplot()

    lines = ["Global threshold + mask writing over `tensors` score tensors "
             "with N elements in all, k = 0.9 N. Medians of repeated runs, "
             "all methods side by side in one run; generated by "
             "`python -m benchmarks.kernel --report` from "
             "`benchmarks/results/kernel-*.json`.", ""]
    for path in paths:
        data = json.loads(path.read_text())
        device = data["device"]
        title = (f"{device.upper()}, {data['threads']} threads, torch "
                 f"{data['torch']}" + (f", {data['gpu']}" if data["gpu"]
                                       else ""))
        lines += [f"## {title}", "",
                  "| N | tensors | " + " | ".join(METHODS) +
                  " | native vs fastest cat+ path | native vs reference |",
                  "| --- | --- | " + " | ".join("---" for _ in METHODS) +
                  " | --- | --- |"]
        for r in data["records"]:
            lines.append(
                f"| {r['n']:.0e} | {r['tensors']} | " + " | ".join(
                    f"{1e3 * r['median_s'][m]:.2f} ms" for m in METHODS) +
                f" | {r['speedup_vs_fastest_torch']:.1f}x | "
                f"{r['speedup_vs_reference']:.1f}x |")
        lines += ["", "Peak extra memory (MB):", "",
                  "| N | tensors | " + " | ".join(METHODS) + " |",
                  "| --- | --- | " + " | ".join("---" for _ in METHODS) +
                  " |"]
        for r in data["records"]:
            lines.append(f"| {r['n']:.0e} | {r['tensors']} | " + " | ".join(
                _mb(r['peak_extra_bytes'][m]) for m in METHODS) +
                         " |")
        fig, axes = plt.subplots(1, len(SPLITS), figsize=(10, 4),
                                 sharey=True)
        for ax, tensors in zip(axes, SPLITS):
            rows = [r for r in data["records"] if r["tensors"] == tensors]
            for m in METHODS:
                ax.loglog([r["n"] for r in rows],
                          [1e3 * r["median_s"][m] for r in rows], "o-",
                          label=m)
            ax.set_title(f"{tensors} tensors")
            ax.set_xlabel("N (scores)")
        axes[0].set_ylabel("median time (ms)")
        axes[0].legend()
        fig.suptitle(title)
        image = DOCS / "images" / f"kernel-{device}.png"
        save(fig, image, dpi=100)
        lines += ["", f"![{title}](images/{image.name})", ""]
    text = "\n".join(lines) + "\n"
    return text


def main(argv: List[str] | None = None) -> None:
    p = cli.parser(__doc__)
    p.add_argument("--device", default=None)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--sizes", type=int, nargs="+", default=SIZES)
    p.add_argument("--report", action="store_true")
    p.add_argument("--coats", type=int, nargs="+", default=None,
                   help="time the multicoated selection for these numbers "
                   "of coats against one selection")
    p.add_argument("--probe", nargs=5, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.probe:
        name, n, tensors, device, threads = args.probe
        torch.set_num_threads(int(threads))
        backend.set_backend("native")
        tiny = make_inputs(1000, 2, device)
        METHODS["native"](*tiny)  # load the kernel outside the probe
        scores, masks, k = make_inputs(int(n), int(tensors), device)
        print(peak_extra_bytes(METHODS[name], scores, masks, k, device))
        return
    if args.report:
        paths = sorted(p for p in RESULTS.glob("kernel-*.json")
                       if not p.name.startswith("kernel-coats"))
        text = "\n".join([report(paths)] + coats_report(
            sorted(RESULTS.glob("kernel-coats-*.json"))))
        replace_section(DOCS / "kernel.md", "kernel-results", text)
        print(text)
        return
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    RESULTS.mkdir(exist_ok=True)
    if args.coats:
        sizes = args.sizes if args.sizes != SIZES else [1_000_000,
                                                         10_000_000]
        result = measure_coats(device, args.threads, sizes, args.coats,
                               args.repeats)
        out = RESULTS / f"kernel-coats-{device}.json"
        write_record(out, result)
        print(f"wrote {out}")
        return
    result = measure(device, args.threads, args.sizes, args.repeats)
    out = RESULTS / f"kernel-{device}.json"
    write_record(out, result)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
