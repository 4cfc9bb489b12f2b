import json

import pytest

from benchmarks.search_curves import curves


def _write(folder, seed, method, vals, losses, halves, select_on="even"):
    config = dict(dataset="Cora", model="GCN", layers=2, method=method,
                  sparsity=0.5 if method == "ugt" else 0.0, seed=seed,
                  head="temp", select_on=select_on)
    record = dict(config=config, key=f"{method}-{seed}", val_acc=halves[0],
                  test_acc=0.7, best_epoch=10 * seed,
                  curve=dict(epoch=[0, 10, 20, 30], val=vals, loss=losses),
                  restarts=[dict(val_halves=halves)])
    (folder / f"{method}-{seed}.json").write_text(json.dumps(record))


def test_curves_average_windows_and_halves_per_cell(tmp_path):
    _write(tmp_path, 0, "ugt", [0.2, 0.4, 0.6, 0.8], [2.0, 1.0, 0.5, 0.3],
           [0.8, 0.6])
    _write(tmp_path, 1, "ugt", [0.4, 0.6, 0.8, 0.6], [2.0, 1.2, 0.7, 0.5],
           [0.9, 0.7])
    _write(tmp_path, 0, "dense", [0.5] * 4, [1.0] * 4, [0.7, 0.5])
    lines = curves("GCN", "head=temp, select_on=even", folder=tmp_path,
                   width=20)
    assert lines == [
        "GCN shallow Cora ugt 0.5, 2 runs:",
        "  epochs 0-19: val 40.0, training loss 1.55",
        "  epochs 20-39: val 70.0, training loss 0.50",
        "  selected epochs: [0, 10]",
        "  kept: even half 85.0 (chose), odd half 65.0 (judged)"]
    dense = curves("GCN", "head=temp, select_on=even", method="dense",
                   folder=tmp_path, width=40)
    assert dense[0] == "GCN shallow Cora dense 0, 1 runs:"
    assert dense[-1] == "  kept: even half 70.0 (chose), odd half 50.0 " \
        "(judged)"
    with pytest.raises(ValueError, match="No ugt run of GAT"):
        curves("GAT", "head=temp, select_on=even", folder=tmp_path)
    with pytest.raises(ValueError, match="width must be"):
        curves("GCN", "head=temp, select_on=even", folder=tmp_path, width=0)


def test_runs_that_chose_on_every_node_have_no_halves_line(tmp_path):
    _write(tmp_path, 0, "ugt", [0.2, 0.4, 0.6, 0.8], [2.0, 1.0, 0.5, 0.3],
           [0.8, 0.6], select_on="")
    lines = curves("GCN", "head=temp", folder=tmp_path, width=40)
    assert lines[-1] == "  selected epochs: [0]"
