import json

from benchmarks.epoch_time import main
from tests.benchmarks.marks import ROOT, needs_data


@needs_data("planetoid", "Cora")
def test_epoch_time_reports_interleaved_ratios_and_the_masks_share(
        tmp_path):
    out = tmp_path / "epoch-time.json"
    report = main(["--root", str(ROOT), "--epochs", "6", "--ramp", "3",
                   "--hidden", "16", "--threads", "1", "--json", str(out)])
    assert json.loads(out.read_text()) == report
    assert report["ugt_ms"] > 0 and report["dense_ms"] > 0
    assert 0 < report["threshold_share"] < 1
    # two mask sets per epoch during the ramp (schedule and final
    # sparsity), one after it
    assert report["selections_per_epoch_ramp"] == 2
    assert report["selections_per_epoch_after_ramp"] == 1
    assert "compiled_ms" not in report
