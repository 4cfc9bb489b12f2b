import json
import os
from pathlib import Path

import pytest

from benchmarks.table3 import PAPER, SPARSITIES, main, report

ROOT = os.environ.get("UGT_DATA")


@pytest.mark.skipif(
    not ROOT or not Path(ROOT, "webkb", "texas", "raw").is_dir(),
    reason="set UGT_DATA to a folder holding webkb/texas/raw")
def test_texas_runs_end_to_end_and_reports(tmp_path, monkeypatch):
    monkeypatch.setenv("UGT_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "records"
    args = ["run", "texas", "--seeds", "0", "1", "--epochs", "4",
            "--sparsities", "0.5", "--out", str(out)]
    main(args)
    records = [json.loads(p.read_text()) for p in out.glob("*.json")]
    assert len(records) == 4  # dense and UGTs, two seeds
    assert {r["split"] for r in records} == {0, 1}
    for r in records:
        assert 0.0 <= r["test"] <= 1.0
        if r["method"] == "ugt":
            assert r["realised_sparsity"] == pytest.approx(0.5, abs=1e-4)
    doc = tmp_path / "table3.md"
    doc.write_text("x\n<!-- table3:start -->\n<!-- table3:end -->\ny\n")
    text = report(out, doc)
    assert f"[{PAPER['texas'][0]}]" in text and "(2)" in text
    assert doc.read_text().startswith("x\n") and len(SPARSITIES) == 11
