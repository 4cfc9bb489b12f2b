"""Markdown summary of the committed find-ticket and epoch-time records,
written into README.md (the "Results on Cora" section).

    python -m benchmarks.report_core
"""
from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import List, Optional

from benchmarks import cli
from benchmarks.markdown import percent_pm, replace_section
from benchmarks.records import read_records

RESULTS = Path(__file__).parent / "results"
README = Path(__file__).parent.parent / "README.md"


def main(argv: Optional[List[str]] = None) -> str:
    cli.parser(__doc__).parse_args(argv)
    lines = [
        "| recipe | weights | seeds | ticket val acc | ticket test acc | "
        "trained dense test acc | realised sparsity |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for record in read_records(RESULTS, "find-ticket-*.json"):
        ticket = record["ticket"]
        seeds = [t["seed"] for t in ticket]
        lines.append(
            f"| {record['config'].get('recipe', 'paper')} | "
            f"{record['config']['weight_init']} | {seeds} | "
            f"{percent_pm([t['val_acc'] for t in ticket])} | "
            f"{percent_pm([t['test_acc'] for t in ticket])} | "
            f"{percent_pm([d['test_acc'] for d in record['dense']])} | "
            f"{statistics.fmean(t['realised_sparsity'] for t in ticket):.4f}"
            f" |")
    timing = RESULTS / "epoch-time-cora-gcn.json"
    if timing.exists():
        t = json.loads(timing.read_text())
        lines += [
            "",
            f"Per-epoch time ({t['adjacency']}, "
            f"{t['config']['threads']} threads, {t['config']['epochs']} "
            f"interleaved epochs): UGTs / dense = **{t['ratio']:.2f}x** over "
            f"the whole run ({t['ramp_ratio']:.2f}x during the ramp, "
            f"{t['after_ramp_ratio']:.2f}x after); median epoch "
            f"{t['ugt_ms']:.1f} ms vs {t['dense_ms']:.1f} ms; mask "
            f"refreshes ({t['threshold_backend']} thresholding) take "
            f"{100 * t['threshold_share']:.1f} % of the UGTs epoch time"
            + (f" ({100 * t['threshold_share_ramp']:.1f} % during the ramp, "
               f"with {t['selections_per_epoch_ramp']:g} mask sets selected "
               f"per epoch; {100 * t['threshold_share_after_ramp']:.1f} % "
               f"after, with {t['selections_per_epoch_after_ramp']:g})."
               if t.get("selections_per_epoch_after_ramp") else "."),
        ]
    text = "\n".join(lines)
    replace_section(README, "results-cora", text)
    print(text)
    return text


if __name__ == "__main__":
    main()
