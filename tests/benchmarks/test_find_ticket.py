import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from benchmarks import data as bdata
from benchmarks.find_ticket import main, parse_args, ticket_model
from benchmarks.recipes import settings
from tests.benchmarks.marks import ROOT, needs_data

needs_cora = needs_data("planetoid", "Cora", "raw")


@needs_cora
def test_find_ticket_quick(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("UGT_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "r.json"
    report = main(["--epochs", "6", "--ramp", "3", "--hidden", "16",
                   "--seeds", "0", "--dense-epochs", "3", "--sparsity",
                   "0.8", "--json", str(out)])
    printed = capsys.readouterr().out
    assert "ticket (ugt, recipe best, sparsity 0.8)" in printed
    assert "trained dense GCN" in printed
    record = json.loads(out.read_text())
    ticket = record["ticket"][0]
    assert ticket["realised_sparsity"] == pytest.approx(0.8, abs=1e-4)
    assert 0.0 < ticket["test_acc"] <= 1.0
    assert report["config"]["recipe"] == "best"  # the default
    assert ticket["search_epochs"] % 6 == 0  # every restart's epochs
    assert report["dense"][0]["test_acc"] > 0.0
    # the data root is only read: processed files go to the cache
    assert not Path(ROOT, "planetoid", "Cora", "processed").exists() or \
        (tmp_path / "cache").exists()
    assert list((tmp_path / "cache").rglob("processed"))


def test_missing_dataset_message(tmp_path, monkeypatch):
    monkeypatch.setenv("UGT_CACHE", str(tmp_path / "cache"))
    with pytest.raises(FileNotFoundError, match="planetoid/Cora/raw|UGT_DATA"):
        bdata.load_planetoid("Cora", str(tmp_path))
    with pytest.raises(ValueError, match="Unknown Planetoid"):
        bdata.load_planetoid("Corra", str(tmp_path))


def test_root_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("UGT_DATA", str(tmp_path))
    assert bdata.data_root() == tmp_path.resolve()
    assert bdata.data_root(str(tmp_path / "x")) == (tmp_path / "x").resolve()
    monkeypatch.delenv("UGT_DATA")
    assert bdata.data_root() is None


@pytest.mark.parametrize("sparsity,coats", [(0.3, 7), (0.9, 2)])
def test_best_gives_denser_gcn_tickets_more_coats(sparsity, coats):
    data = SimpleNamespace(num_features=8, num_classes=3)
    args = parse_args(["--sparsity", str(sparsity), "--hidden", "16"])
    chosen = settings("best", "GCN", args.layers)
    _, _, sparsifier = ticket_model(args, data, 0, chosen)
    assert sparsifier.coats == coats


def test_a_recipe_with_runner_only_settings_is_refused(monkeypatch):
    from benchmarks import recipes
    best = dict(recipes.BEST[("GCN", "shallow")], late_lr=0.1)
    monkeypatch.setitem(recipes.BEST, ("GCN", "shallow"), best)
    with pytest.raises(ValueError, match=r"late_lr\); run it with"):
        main(["--root", "/nonexistent"])


def test_the_weight_init_is_the_flag_else_the_recipe_else_the_default(
        monkeypatch):
    from benchmarks import recipes
    assert parse_args([]).weight_init == "signed_constant"
    assert parse_args(["--layers", "16"]).weight_init == "kaiming_uniform"
    monkeypatch.setitem(recipes.BEST, ("GCN", "shallow"),
                        dict(weight_init="kaiming_normal"))
    assert parse_args([]).weight_init == "kaiming_normal"
    assert parse_args(["--recipe", "paper"]).weight_init == \
        "signed_constant"
    assert parse_args(["--weight-init", "kaiming_uniform"]).weight_init \
        == "kaiming_uniform"
