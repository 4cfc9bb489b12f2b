import json

from benchmarks.gcnii import GCNII, main
from tests.benchmarks.marks import ROOT, needs_data
from torch_geometric_ugt import masked_weights, supermask


def test_every_gcn2conv_weight_is_masked():
    model = supermask(GCNII(8, 16, 3, layers=4), seed=0)
    names = {w.name for w in masked_weights(model)}
    assert {f"convs.{i}.weight1" for i in range(4)} <= names
    assert {"lin_in.weight", "lin_out.weight"} <= names


@needs_data("planetoid", "Cora", "raw")
def test_a_short_run_writes_both_methods(tmp_path, capsys):
    out = tmp_path / "gcnii.json"
    main(["--root", ROOT, "--layers", "2", "--hidden", "8", "--epochs", "3",
          "--seeds", "0", "--out", str(out)])
    rows = json.loads(out.read_text())
    assert [r["method"] for r in rows] == ["ugt", "dense"]
    assert all(0.0 <= r["test_acc"] <= 1.0 for r in rows)
    assert "ugt: test" in capsys.readouterr().out
