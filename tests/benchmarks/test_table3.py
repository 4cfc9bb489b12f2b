import json
import os
from pathlib import Path

import pytest

from benchmarks.table3 import PAPER, SPARSITIES, main, section

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
    text = "\n".join(section(out))
    assert len(SPARSITIES) == 11
    texas_dense = next(line for line in text.splitlines()
                       if line.startswith("| texas | trained dense"))
    assert f"(2) [{PAPER['texas'][0]}]" in texas_dense
    texas_ugt = next(line for line in text.splitlines()
                     if line.startswith("| texas | UGTs"))
    cells = texas_ugt.split(" | ")[2:]
    half = SPARSITIES.index(0.5)
    assert cells[half].endswith(f"(2) [{PAPER['texas'][1][half]}]")
    assert cells[0].startswith("— [")  # sparsity 0.1 has no record
    assert "texas 4" in text  # epochs per run
