"""Size of a compact ticket (save_ticket) vs the usual ways to store the same
model, for GCNs of the paper's shapes at several sparsities.

    python -m benchmarks.ticket_size            # writes the JSON record
    python -m benchmarks.ticket_size --report   # docs/tickets.md table

The masks come from a global selection on freshly initialised scores (no
search), so their layout is that of a ticket at the start of a search;
the compressed size of a searched ticket depends on how its masks cluster.
"""
from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Dict, List, Optional

import torch
from torch_geometric.nn import GCN

from benchmarks import cli
from benchmarks.markdown import replace_section
from torch_geometric_ugt import (GlobalGradualSparsifier, __version__,
                                 save_ticket, squash, supermask)

RESULTS = Path(__file__).parent / "results" / "ticket-size.json"
DOC = Path(__file__).parent.parent / "docs" / "tickets.md"
SHAPES = [  # (name, in, hidden, layers, out)
    ("Cora GCN 2x256", 1433, 256, 2, 7),
    ("Cora GCN 32x448", 1433, 448, 32, 7),
]
SPARSITIES = (0.5, 0.9, 0.99)


def nbytes(obj) -> int:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getbuffer().nbytes


def measure() -> Dict:
    rows: List[Dict] = []
    for name, cin, hidden, layers, cout in SHAPES:
        for s in SPARSITIES:
            model = supermask(GCN(cin, hidden, layers, cout, bias=False),
                              seed=0)
            GlobalGradualSparsifier(model, final_sparsity=s, ramp_epochs=1,
                                    initial_sparsity=s)
            raw = save_ticket(model, io.BytesIO(), compress=False)
            packed = save_ticket(model, io.BytesIO(), compress=True)
            state = nbytes(model.state_dict())
            dense = nbytes(squash(model).state_dict())
            rows.append({
                "model": name, "sparsity": s,
                "masked_weights": raw["masked_weights"],
                "ticket_bytes": raw["bytes"],
                "ticket_compressed_bytes": packed["bytes"],
                "state_dict_bytes": state,
                "squashed_state_dict_bytes": dense,
            })
            print(f"{name} s={s}: ticket {raw['bytes']} B "
                  f"({packed['bytes']} B compressed), supermask state_dict "
                  f"{state} B, squashed {dense} B", flush=True)
    return {"library": __version__, "torch": torch.__version__,
            "rows": rows}


def report(record: Dict) -> str:
    lines = [
        "| model | sparsity | masked weights | ticket | ticket, compressed "
        "| supermask `state_dict` | squashed `state_dict` (float32 W*m) "
        "| state_dict / ticket | squashed / compressed ticket |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]

    def kib(b: int) -> str:
        return f"{b / 1024:,.1f} KiB"

    for r in record["rows"]:
        squashed = r["squashed_state_dict_bytes"]
        lines.append(
            f"| {r['model']} | {r['sparsity']:g} | "
            f"{r['masked_weights']:,} | {kib(r['ticket_bytes'])} | "
            f"{kib(r['ticket_compressed_bytes'])} | "
            f"{kib(r['state_dict_bytes'])} | "
            f"{kib(r['squashed_state_dict_bytes'])} | "
            f"{r['state_dict_bytes'] / r['ticket_bytes']:.0f}x | "
            f"{squashed / r['ticket_compressed_bytes']:.0f}x |")
    return "\n".join(lines)


def write_doc(record: Dict, path: Path = DOC) -> None:
    replace_section(path, "ticket-size", report(record))


def main(argv: Optional[List[str]] = None) -> None:
    p = cli.parser(__doc__)
    p.add_argument("--report", action="store_true",
                   help="only regenerate the table in docs/tickets.md")
    p.add_argument("--json", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    if not args.report:
        args.json.write_text(json.dumps(measure(), indent=1))
    write_doc(json.loads(args.json.read_text()))


if __name__ == "__main__":
    main()
