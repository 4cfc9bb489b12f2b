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


def test_the_report_lists_every_record_with_its_setting(tmp_path):
    from benchmarks.gcnii import report
    folder = tmp_path / "results"
    (folder / "gcnii-probes").mkdir(parents=True)
    row = dict(method="ugt", seed=0, val_acc=0.5, test_acc=0.25, layers=16,
               hidden=256, epochs=200, lr=0.05, sparsity=0.5,
               search=dict(dropout=0.0, temperature=True, rescale="global"))
    dense = dict(row, method="dense", hidden=64, epochs=400, lr=0.01,
                 sparsity=0.0, val_acc=0.75, test_acc=0.5)
    (folder / "gcnii.json").write_text(json.dumps([row, dict(
        row, seed=1, val_acc=0.7, test_acc=0.35)]))
    (folder / "gcnii-dense.json").write_text(json.dumps([dense]))
    (folder / "gcnii-probes" / "plain.json").write_text(json.dumps([dict(
        row, search=dict(dropout=0.6), lr=0.01)]))
    doc = tmp_path / "api.md"
    doc.write_text("x\n<!-- gcnii:start -->\n<!-- gcnii:end -->\ny\n")
    report(doc, folder)
    text = doc.read_text()
    assert text.startswith("x\n") and text.endswith("y\n")
    assert ("| `results/gcnii.json` | ugt | hidden 256, 200 epochs, lr 0.05, "
            "sparsity 0.5, learned temperature, rescale global | 2 | "
            "60.00 ± 14.14 | 30.00 ± 7.07 |") in text
    assert ("| `results/gcnii-dense.json` | dense | hidden 64, 400 epochs, "
            "lr 0.01 | 1 | 75.00 ± 0.00 | 50.00 ± 0.00 |") in text
    assert "| `results/gcnii-probes/plain.json` | ugt |" in text
    assert "dropout 0.6" in text
