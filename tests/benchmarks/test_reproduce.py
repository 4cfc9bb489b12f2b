import json
from dataclasses import asdict, replace
from pathlib import Path

import pytest
import torch

from benchmarks.cli import shard_spec
from benchmarks.experiments import DEEP_SETTING, Config, experiments
from benchmarks.hooks import even_validation
from benchmarks.models import build
from benchmarks.reproduce import main
from benchmarks.runner import run
from benchmarks.search_settings import (freeze_temperature, late_lr,
                                        score_noise, sparsifier_for)
from benchmarks.reproduction_report import (deep_selection, load,
                                           table5_search, write_report)
from tests.benchmarks.marks import ROOT, needs_data
from tests.conftest import tiny_graph
from torch_geometric_ugt import score_parameters, supermask
from torch_geometric_ugt.search import full_batch


def test_experiments_cover_the_paper():
    exps = experiments()
    assert len(exps["table5"]) == 4 * 6 * 5
    assert {c.method for c in exps["quick"]} == {
        "ugt", "edge-popup", "global-only", "gradual-only", "dense"}
    assert {c.layers for c in exps["fig2"]} == {2, 4, 8, 16, 32}
    for configs in exps.values():  # experiments may share records
        keys = [c.key() for c in configs]
        assert len(keys) == len(set(keys))
    assert Config("Cora", "GCN", 2, 16, "dense", 0.0, 1).key().endswith(
        "seed1")


def test_adam_eps_is_part_of_the_record_key():
    default = Config("Cora", "GCN", 32, 448, "ugt", 0.04, 0, lr=0.005)
    small = Config("Cora", "GCN", 32, 448, "ugt", 0.04, 0, lr=0.005,
                   adam_eps=1e-14)
    assert "eps" not in default.key()  # the records of before keep keys
    assert "-lr0.005-eps1e-14-" in small.key()
    short_ramp = Config("Cora", "GCN", 2, 16, "ugt", 0.5, 0, ramp=100)
    assert "-e400-r100-lr0.01-" in short_ramp.key()
    # the deep tables' searches use their depth's eps, the dense baseline
    # keeps standard training, Figure 2 the default
    for c in experiments()["table1"] + experiments()["table6"]:
        if c.method == "dense":
            assert (c.lr, c.adam_eps) == (0.01, 1e-8)
        else:
            assert (c.lr, c.adam_eps) == DEEP_SETTING[c.dataset, c.layers]
    assert {c.adam_eps for c in experiments()["fig2"]} == {1e-8}
    assert len(experiments()["table1"]) == 2 * 2 * 2 * 5


def test_score_init_is_part_of_the_record_key():
    default = Config("Cora", "GAT", 2, 256, "ugt", 0.1, 0)
    uniform = Config("Cora", "GAT", 2, 256, "ugt", 0.1, 0,
                     score_init="uniform")
    assert "scores" not in default.key()
    assert default.key().replace("kaiming_uniform-", "kaiming_uniform-"
                                 "scores_uniform-") == uniform.key()
    # a dense run has no scores: one record, whatever was asked
    dense = Config("Cora", "GAT", 2, 256, "dense", 0.0, 0)
    assert replace(dense, score_init="uniform").key() == dense.key()


def test_search_dropout_and_label_smoothing_are_in_the_key_and_model():
    default = Config("Cora", "GIN", 2, 16, "ugt", 0.5, 0)
    both = replace(default, dropout=0.5, smoothing=0.1)
    assert "drop" not in default.key() and "-ls" not in default.key()
    assert both.key().endswith("-drop0.5-ls0.1-seed0")
    # GIN's search takes its first aggregation as input: the dropout acts
    # on the hidden layer only, so the first linear map sees x undropped
    model = build("GIN", 8, 16, 2, 3, dense=False, dropout=0.5)
    x = torch.rand(5, 8)
    seen = []
    model.convs[0].nn.register_forward_hook(
        lambda module, args, out: seen.append(args[0]))
    model.train()
    model(x, torch.tensor([[0, 1], [1, 0]]))
    assert torch.equal(seen[0], x)
    gcn = build("GCN", 8, 16, 2, 3, dense=False, dropout=0.5)
    assert gcn.dropout.p == 0.5


def test_coat_width_gives_denser_tickets_more_coats():
    base = Config("Cora", "GCN", 2, 16, "ugt", 0.3, 0, coats=2)
    assert "-cw" not in base.key() and base.coats_in_force() == 2
    coats = {s: replace(base, sparsity=s, coat_width=0.1).coats_in_force()
             for s in (0.3, 0.5, 0.7, 0.9, 0.95)}
    # one coat per 0.1 of density, never fewer than coats=2
    assert coats == {0.3: 7, 0.5: 5, 0.7: 3, 0.9: 2, 0.95: 2}
    wide = replace(base, coat_width=0.1)
    assert wide.key().endswith("-coats2-cw0.1-seed0")
    model = supermask(build("GCN", 8, 16, 2, 3, dense=False))
    optimizer = torch.optim.Adam(score_parameters(model), lr=0.01)
    assert sparsifier_for(wide, model, optimizer).coats == 7
    with pytest.raises(ValueError, match="coat_width"):
        replace(base, coat_width=1.5)
    with pytest.raises(ValueError, match="100 coats"):
        replace(base, sparsity=0.0, coat_width=0.01)


def test_score_averaging_and_late_lr_are_in_the_key_and_checked():
    cfg = Config("Cora", "GCN", 2, 16, "ugt", 0.5, 0, score_decay=5e-3)
    assert "-avg" not in cfg.key() and "late_lr" not in cfg.key()
    assert replace(cfg, average=0.9, late_lr=0.1).key().endswith(
        "-wd0.005-avg0.9-late_lr0.1-seed0")
    for bad in (dict(average=1.0), dict(average=-0.1), dict(late_lr=0.0),
                dict(late_lr=1.5)):
        with pytest.raises(ValueError, match="must be in"):
            replace(cfg, **bad)


def test_select_on_even_leaves_the_odd_validation_nodes_to_judge():
    cfg = Config("Cora", "GCN", 2, 16, "ugt", 0.5, 0, select_on="even")
    assert cfg.key().endswith("-sel_even-seed0")
    with pytest.raises(ValueError, match="select_on"):
        replace(cfg, select_on="odd")
    data = tiny_graph(num_nodes=10)
    data.val_mask = torch.tensor([0, 1, 1, 0, 1, 1, 1, 0, 0, 1]).bool()
    even = even_validation(data)
    assert even.val_mask.nonzero().view(-1).tolist() == [1, 4, 6]
    assert data.val_mask.sum() == 6  # the data itself is untouched


def test_select_by_loss_is_in_the_key_and_checked():
    cfg = Config("Cora", "GCN", 2, 16, "ugt", 0.5, 0, select_on="even",
                 select_by="loss")
    assert cfg.key().endswith("-sel_even-by_loss-seed0")
    with pytest.raises(ValueError, match="select_by must be"):
        replace(cfg, select_by="accuracy")
    with pytest.raises(ValueError, match="restarts"):
        replace(cfg, restarts=2)


@needs_data("planetoid", "Cora", "raw")
def test_a_search_selected_by_loss_keeps_the_lowest_loss_epoch(
        tmp_path, monkeypatch):
    monkeypatch.setenv("UGT_CACHE", str(tmp_path / "cache"))
    records = {}
    for by in ("", "loss"):
        out = tmp_path / (by or "accuracy")
        main(["one", "--dataset", "Cora", "--sparsity", "0.5", "--epochs",
              "12", "--ramp", "4", "--head", "temp", "--select-by", by,
              "--out", str(out)])
        records[by], = [json.loads(p.read_text()) for p in out.glob("*.json")]
    by_loss = records["loss"]
    assert by_loss["config"]["select_by"] == "loss"
    assert by_loss["key"].endswith("-by_loss-seed0")
    assert 0.0 < by_loss["val_loss"] < 10.0
    # the same search (same seed): selection by accuracy chose an epoch
    # whose validation loss is no lower
    assert records[""]["val_loss"] >= by_loss["val_loss"]
    assert records[""]["val_acc"] >= by_loss["val_acc"]


def test_late_lr_multiplies_the_learning_rate_from_the_ramps_end():
    weight = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([weight], lr=1.0)
    seen = []
    train = late_lr(lambda epoch: seen.append(
        optimizer.param_groups[0]["lr"]) or 0.0, optimizer, 3, 0.1)
    for epoch in range(5):
        train(epoch)
    assert seen == pytest.approx([1.0, 1.0, 1.0, 0.1, 0.1])


def test_freeze_temperature_stops_the_temperature_at_the_ramps_end():
    cfg = Config("Cora", "GCN", 2, 16, "ugt", 0.5, 0, head="temp",
                 freeze_temperature=True)
    assert cfg.key().endswith("-head_temp-tfreeze-seed0")
    with pytest.raises(ValueError, match="head 'temp'"):
        replace(cfg, head="")
    data = tiny_graph(num_nodes=12)
    data.train_mask = torch.ones(12, dtype=torch.bool)
    model = supermask(build("GCN", data.num_features, 16, 2, 3,
                            dense=False, head="temp"), seed=0)
    optimizer = torch.optim.Adam(score_parameters(model), lr=0.1)
    base, _ = full_batch(model, data, optimizer)
    train = freeze_temperature(base, model, ramp=3)
    scores = list(score_parameters(model))[0]
    temps, first = [], []
    for epoch in range(6):
        train(epoch)
        temps.append(float(model.log_temperature))
        first.append(float(scores.detach()[0, 0]))
    assert len(set(temps[:3])) == 3  # learned during the ramp
    assert temps[2:] == [temps[2]] * 4  # then kept
    assert len(set(first[2:])) == 4  # while the scores go on
    with pytest.raises(ValueError, match="needs a learned temperature"):
        freeze_temperature(base, build("GCN", 4, 8, 2, 3, dense=True),
                           ramp=3)


def test_score_noise_perturbs_the_scores_by_the_seed_and_the_lr():
    cfg = Config("Cora", "GCN", 2, 16, "ugt", 0.5, 0, score_noise=2.0)
    assert cfg.key().endswith("-snoise2-seed0")
    for bad in (dict(score_noise=-1.0), dict(score_noise=float("nan"))):
        with pytest.raises(ValueError, match="score_noise must be"):
            replace(cfg, **bad)
    with pytest.raises(ValueError, match="dense method"):
        replace(cfg, method="dense", sparsity=0.0)

    def scores_after(noise: float, seed: int) -> torch.Tensor:
        model = supermask(build("GCN", 4, 8, 2, 3, dense=False), seed=0)
        optimizer = torch.optim.SGD(score_parameters(model), lr=0.5)
        start = [p.detach().clone() for p in score_parameters(model)]
        train = score_noise(lambda epoch: 0.0, model, optimizer, noise,
                            seed)
        for epoch in range(3):
            train(epoch)
        return torch.cat([(p.detach() - s).flatten() for p, s in
                          zip(score_parameters(model), start)])

    moved = scores_after(2.0, seed=7)
    # three steps of N(0, (2 * 0.5)^2): the sum has variance 3
    assert moved.std().item() == pytest.approx(3 ** 0.5, rel=0.15)
    assert torch.equal(moved, scores_after(2.0, seed=7))  # by the seed
    assert not torch.equal(moved, scores_after(2.0, seed=8))
    assert torch.equal(scores_after(0.0, seed=7), torch.zeros_like(moved))
    with pytest.raises(ValueError, match="noise must be"):
        score_noise(lambda epoch: 0.0, build("GCN", 4, 8, 2, 3, dense=True),
                    optimizer=torch.optim.SGD([torch.nn.Parameter(
                        torch.zeros(1))], lr=1.0), noise=-1.0, seed=0)


def test_coat_levels_weigh_the_sparser_coats_by_the_ratio():
    from benchmarks.search_settings import coat_levels
    from torch_geometric_ugt import GlobalGradualSparsifier, masked_weights
    cfg = Config("Cora", "GCN", 2, 16, "ugt", 0.4, 0, coats=3,
                 coat_ratio=2.0)
    assert cfg.key().endswith("-coats3-cratio2-seed0")
    for bad, match in ((dict(coat_ratio=0.0), "coat_ratio must be"),
                       (dict(coats=1), "fewer than 2 coats"),
                       (dict(restarts=2), "restarts")):
        with pytest.raises(ValueError, match=match):
            replace(cfg, **bad)
    model = supermask(build("GCN", 4, 8, 2, 3, dense=False), seed=0)
    optimizer = torch.optim.Adam(score_parameters(model), lr=0.1)
    sparsifier = GlobalGradualSparsifier(model, optimizer,
                                         final_sparsity=0.4, ramp_epochs=1,
                                         coats=3)
    sparsifier.step(5)
    plain = {e.attr + str(id(e.module)): (getattr(e.module, e.attr).detach(),
                                          e.parametrization.mask.clone())
             for e in masked_weights(model)}
    coat_levels(model, 3, 2.0)
    for e in masked_weights(model):
        weight, mask = plain[e.attr + str(id(e.module))]
        # levels 0, 1/3, 2/3, 1 become 0, 1/7, 3/7, 1
        expected = torch.zeros_like(mask)
        for k, value in ((1, 1 / 7), (2, 3 / 7), (3, 1.0)):
            expected[torch.isclose(mask, torch.tensor(k / 3))] = value
        torch.testing.assert_close(mask * 3, (mask * 3).round())
        assert len((mask * 3).round().unique()) == 4  # every level occurs
        raw = torch.where(mask > 0, weight / mask.clamp(min=1e-9), 0.0)
        torch.testing.assert_close(getattr(e.module, e.attr).detach(),
                                   raw * expected)
    with pytest.raises(ValueError, match="2 or more coats"):
        coat_levels(model, 1, 2.0)


def test_learned_signs_flip_kept_weights_and_train_without_the_penalty():
    from benchmarks.search_settings import optimizer_groups
    from torch_geometric_ugt import GlobalGradualSparsifier, masked_weights
    cfg = Config("Cora", "GCN", 2, 16, "ugt", 0.5, 0, signs=True,
                 score_decay=5e-3)
    assert cfg.key().endswith("-wd0.005-signs-seed0")
    for bad in (dict(method="dense"), dict(restarts=2)):
        with pytest.raises(ValueError, match="signs"):
            replace(cfg, **bad)
    data = tiny_graph(num_nodes=12)
    data.train_mask = torch.ones(12, dtype=torch.bool)
    model = supermask(build("GCN", data.num_features, 16, 2, 3,
                            dense=False), seed=0)
    entry = masked_weights(model)[0]
    before = getattr(entry.module, entry.attr).detach().clone()
    groups = optimizer_groups(model, cfg)
    assert [g["weight_decay"] for g in groups] == [5e-3, 0.0]
    signs = groups[1]["params"]
    assert len(signs) == len(masked_weights(model))  # one per masked weight
    assert torch.equal(getattr(entry.module, entry.attr), before)  # no flip
    with torch.no_grad():
        signs[0][0, 0] = -0.5
    after = getattr(entry.module, entry.attr)
    assert after[0, 0] == -before[0, 0]
    assert torch.equal(after.flatten()[1:], before.flatten()[1:])
    optimizer = torch.optim.Adam(groups, lr=0.1)
    sparsifier = GlobalGradualSparsifier(model, optimizer,
                                         final_sparsity=0.5, ramp_epochs=2)
    train, _ = full_batch(model, data, optimizer)
    sparsifier.step(0)
    train(0)
    assert all(p.grad is not None and p.grad.abs().sum() > 0
               for p in signs)  # straight through the sign
    assert not torch.equal(signs[1], torch.ones_like(signs[1]))


def test_attention_dropout_drops_gats_attention_while_searching():
    cfg = Config("Cora", "GAT", 2, 16, "ugt", 0.5, 0, attention_dropout=0.6)
    assert cfg.key().endswith("-adrop0.6-seed0")
    for bad in (dict(model="GCN"), dict(attention_dropout=1.0)):
        with pytest.raises(ValueError, match="attention_dropout"):
            replace(cfg, **bad)
    with pytest.raises(ValueError, match="attention dropout is for GAT"):
        build("GCN", 8, 16, 2, 3, dense=False, attention_dropout=0.5)
    data = tiny_graph(num_nodes=12)
    outs = {}
    for p in (0.0, 0.6):
        torch.manual_seed(0)
        model = build("GAT", data.num_features, 16, 2, 3, dense=False,
                      attention_dropout=p)
        model.train()
        train = [model(data.x, data.edge_index) for _ in range(2)]
        model.eval()
        outs[p] = (train, model(data.x, data.edge_index))
    (plain, plain_eval), (dropped, dropped_eval) = outs[0.0], outs[0.6]
    assert torch.equal(plain[0], plain[1])  # no dropout without it
    assert not torch.allclose(dropped[0], dropped[1])  # random per call
    assert torch.equal(dropped_eval, plain_eval)  # none when evaluating


def test_input_dropout_is_in_the_key_and_drops_sparse_features():
    cfg = replace(Config("Cora", "GCN", 2, 16, "ugt", 0.5, 0),
                  input_dropout=0.5)
    assert cfg.key().endswith("-idrop0.5-seed0")
    assert replace(cfg, score_decay=5e-3).key().endswith(
        "-idrop0.5-wd0.005-seed0")
    model = build("GCN", 8, 16, 2, 3, dense=False, input_dropout=0.5,
                  head="temp")
    x = torch.rand(6, 8)
    x[x < 0.5] = 0
    seen = []
    model.model.model.convs[0].register_forward_pre_hook(
        lambda module, args: seen.append(args[0]))
    edge_index = torch.tensor([[0, 1], [1, 0]])
    for features in (x, x.to_sparse_csr()):
        seen.clear()
        model.train()
        torch.manual_seed(0)
        model(features, edge_index)
        model.eval()
        model(features, edge_index)
        train, test = (f.to_dense() for f in seen)
        assert torch.equal(test, x)  # no dropout when evaluating
        kept = train != 0
        assert kept.sum() < (x != 0).sum()  # some stored values dropped
        assert torch.allclose(train[kept], 2 * x[kept])  # the rest scaled
    with pytest.raises(ValueError, match="input dropout"):
        build("GCN", 8, 16, 2, 3, dense=False, input_dropout=1.0)


def _write_record(folder: Path, cfg: Config, val: float,
                  test: float) -> None:
    folder.mkdir(exist_ok=True)
    record = {"config": asdict(cfg), "key": cfg.key(), "val_acc": val,
              "test_acc": test}
    (folder / f"{cfg.key()}.json").write_text(json.dumps(record))


def test_table_cells_hold_the_plain_task_only(tmp_path):
    plain = Config("Cora", "GCN", 2, 256, "ugt", 0.9, 0)
    _write_record(tmp_path, plain, 0.8, 0.8)
    # Figure 7 / Figure 6 runs of the same model are not table cells
    _write_record(tmp_path, replace(plain, variant="feat0.1"), 0.5, 0.5)
    _write_record(tmp_path, replace(plain, variant="ood"), 0.5, 0.5)
    groups = load(tmp_path)
    assert [r["key"] for r in groups[("Cora", "GCN", 2, 256, "ugt", 0.9)]] \
        == [plain.key()]


def test_table5_search_compares_each_probe_on_shared_seeds(tmp_path):
    probes, out = tmp_path / "probes", tmp_path / "records"
    assert table5_search(probes, out) == []  # no probes, no section
    # Table 5's records: seed 2 far above the others
    for seed, val in enumerate([0.75, 0.75, 0.96]):
        _write_record(out, Config("Cora", "GAT", 2, 256, "ugt", 0.1, seed),
                      val, 0.76)
    # above the table on seeds 0-1 (78 vs 75), below its all-seed mean
    for seed, val in enumerate([0.76, 0.80]):
        _write_record(probes, Config("Cora", "GAT", 2, 256, "ugt", 0.1, seed,
                                     score_init="uniform"), val, 0.7)
    for seed in range(3):  # below the table on seeds 0-2 (70 vs 82)
        _write_record(probes, Config("Cora", "GAT", 2, 256, "ugt", 0.1, seed,
                                     lr=0.001), 0.70, 0.7)
    # not probed: another sparsity and another method stay out
    _write_record(out, Config("Cora", "GAT", 2, 256, "ugt", 0.3, 0), 0.8, 0.8)
    _write_record(out, Config("Cora", "GAT", 2, 256, "edge-popup", 0.1, 0),
                  0.8, 0.8)
    rows = [[cell.strip() for cell in line.strip("|").split("|")]
            for line in table5_search(probes, out) if line.startswith("| 0.")]
    # score init, lr, seeds, vs table, all-seed val, marker; the table's
    # setting first, then the probes by their gain over it
    assert [[r[2], r[3], r[5], r[6], r[7], r[9]] for r in rows] == [
        ["kaiming_uniform", "0.01", "0, 1, 2", "—", "82.0", "table"],
        ["uniform", "0.01", "0, 1", "78.0 vs 75.0 (0, 1)", "78.0", ""],
        ["kaiming_uniform", "0.001", "0, 1, 2", "70.0 vs 82.0 (0, 1, 2)",
         "70.0", ""]]


def test_deep_selection_marks_each_datasets_table_setting(tmp_path):
    selection, out = tmp_path / "selection", tmp_path / "records"
    tables = {(c.dataset, c.seed): c for c in experiments()["table1"]
              if c.method == "ugt" and c.layers == 16}
    for dataset in ("Cora", "CiteSeer"):
        for seed in range(2):
            table = tables[(dataset, seed)]
            _write_record(out, table, 0.7 + 0.1 * seed, 0.7)
            _write_record(selection, replace(table, lr=0.02), 0.65, 0.8)
    # CiteSeer's setting run on Cora is not Cora's table setting
    citeseer = tables[("CiteSeer", 0)]
    _write_record(selection, replace(tables[("Cora", 0)], lr=citeseer.lr,
                                     adam_eps=citeseer.adam_eps), 0.6, 0.6)
    # Table 6's GAT: its own rows, after the GCN's of its dataset
    gat = next(c for c in experiments()["table6"]
               if c.method == "ugt" and c.layers == 16 and c.seed == 0)
    _write_record(out, gat, 0.72, 0.7)
    _write_record(selection, replace(gat, lr=0.02), 0.74, 0.7)
    # a 2-layer record is not a deep setting
    _write_record(out, Config("Cora", "GCN", 2, 448, "ugt", 0.04, 0), 0.9,
                  0.9)
    rows = [[cell.strip() for cell in line.strip("|").split("|")]
            for line in deep_selection(selection, out)
            if line.startswith(("| Cora", "| CiteSeer"))]
    lr = {d: f"{tables[(d, 0)].lr:g}" for d in ("Cora", "CiteSeer")}
    assert lr["Cora"] != lr["CiteSeer"]
    # dataset, model, lr, seeds, mean val, marker
    assert [[r[0], r[1], r[5], r[7], r[8], r[11]] for r in rows] == [
        ["Cora", "GCN", lr["Cora"], "0, 1", "75.0", "tables"],
        ["Cora", "GCN", "0.02", "0, 1", "65.0", ""],
        ["Cora", "GCN", lr["CiteSeer"], "0", "60.0", ""],
        ["Cora", "GAT", "0.02", "0", "74.0", ""],
        ["Cora", "GAT", f"{gat.lr:g}", "0", "72.0", "tables"],
        ["CiteSeer", "GCN", lr["CiteSeer"], "0, 1", "75.0", "tables"],
        ["CiteSeer", "GCN", "0.02", "0, 1", "65.0", ""]]


@needs_data("planetoid", "Cora", "raw")
def test_quick_tier_end_to_end(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("UGT_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "records"
    main(["run", "quick", "--out", str(out)])
    records = [json.loads(p.read_text()) for p in out.glob("*.json")]
    assert len(records) == len(experiments()["quick"])
    for r in records:
        assert 0.0 <= r["test_acc"] <= 1.0 and r["library"]
        # the search / training curve: every 10th epoch and the last
        assert r["curve"]["epoch"] == [0, 5]
        assert max(r["curve"]["val"]) <= r["val_acc"] + 1e-4  # rounded
        if r["config"]["method"] != "dense":
            assert r["realised_sparsity"] == pytest.approx(0.5, abs=1e-3)
            assert r["layer_sparsities"]
    edge_popup = [r for r in records
                  if r["config"]["method"] == "edge-popup"]
    for r in edge_popup:  # per-layer uniform (7-element tensors round)
        for value in r["layer_sparsities"].values():
            assert value == pytest.approx(0.5, abs=0.08)
    ood = [r for r in records if r["config"]["variant"] == "ood"]
    assert len(ood) == 2
    for r in ood:
        assert len(r["ood_classes"]) == 3  # round(0.4 * 7) of Cora's classes
        for kind in ("max_softmax", "entropy"):
            assert 0.0 <= r[f"ood_auroc_{kind}"] <= 1.0
    perturbed = {r["config"]["variant"] for r in records}
    assert perturbed == {"", "ood", "feat0.2", "edge0.2"}
    capsys.readouterr()
    main(["run", "quick", "--out", str(out)])  # resumable: nothing to do
    assert f"{len(records)} of {len(records)} records exist" in \
        capsys.readouterr().out
    docs = tmp_path / "docs"
    docs.mkdir()
    text = write_report(out, docs, include_quick=True)
    assert "Table 5" in text and (docs / "reproduction.md").exists()
    assert "## Table 3" in text  # from benchmarks/results/table3's sibling


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
@needs_data("planetoid", "Cora", "raw")
@pytest.mark.parametrize("method,variant", [("ugt", ""), ("dense", ""),
                                            ("ugt", "ood")])
def test_run_on_cuda(method, variant):
    cfg = Config("Cora", "GCN", 2, 16, method, 0.5, 0, epochs=4, ramp=2,
                 variant=variant)
    record = run(cfg, ROOT, device="cuda")
    assert record["device"].startswith("cuda")
    assert 0.0 <= record["test_acc"] <= 1.0


def test_shard_spec_parses_and_refuses_bad_shards():
    assert shard_spec("1/2") == (1, 2)
    for bad in ("2/2", "-1/2", "1", "a/b", "0/0"):
        with pytest.raises(Exception, match="0 <= I < N"):
            shard_spec(bad)


@needs_data("planetoid", "Cora", "raw")
def test_shards_split_the_configurations(tmp_path, monkeypatch):
    monkeypatch.setenv("UGT_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "records"
    args = ["one", "--hidden", "8", "--epochs", "2", "--ramp", "1",
            "--seeds", "0", "1", "2", "--out", str(out)]
    main(args + ["--shard", "1/2"])
    assert [json.loads(p.read_text())["config"]["seed"]
            for p in out.glob("*.json")] == [1]
    main(args + ["--shard", "0/2"])
    assert sorted(json.loads(p.read_text())["config"]["seed"]
                  for p in out.glob("*.json")) == [0, 1, 2]


@needs_data("planetoid", "Cora")
def test_the_runner_prints_no_warning(tmp_path):
    import subprocess
    import sys
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.reproduce", "one", "--root",
         ROOT, "--epochs", "2", "--ramp", "1", "--hidden", "8", "--out",
         str(tmp_path), "--model", "GCN"],
        capture_output=True, text=True, timeout=600,
        cwd=Path(__file__).parents[2])
    assert out.returncode == 0, out.stderr
    assert "Warning" not in out.stderr, out.stderr


@needs_data("planetoid", "Cora", "raw")
def test_dense_attention_leaves_gats_attention_unmasked(tmp_path,
                                                        monkeypatch):
    monkeypatch.setenv("UGT_CACHE", str(tmp_path / "cache"))
    layers = {}
    for dense in (False, True):
        out = tmp_path / str(dense)
        main(["one", "--dataset", "Cora", "--model", "GAT", "--sparsity",
              "0.5", "--epochs", "2", "--ramp", "1", "--head", "temp",
              "--out", str(out)] + (["--dense-attention"] if dense else []))
        record, = [json.loads(p.read_text()) for p in out.glob("*.json")]
        assert record["key"].endswith("-denseatt-seed0") == dense
        layers[dense] = set(record["layer_sparsities"])
    attention = {name for name in layers[False] if ".att_" in name}
    assert len(attention) == 4  # two layers, source and target
    assert layers[True] == layers[False] - attention
    with pytest.raises(ValueError, match="GCN has none"):
        Config("Cora", "GCN", 2, 16, "ugt", 0.5, 0, dense_attention=True)


@needs_data("planetoid", "Cora", "raw")
def test_dense_training_selects_on_the_even_validation_nodes(tmp_path,
                                                            monkeypatch):
    monkeypatch.setenv("UGT_CACHE", str(tmp_path / "cache"))
    main(["one", "--dataset", "Cora", "--method", "dense", "--epochs", "20",
          "--select-on", "even", "--out", str(tmp_path / "out")])
    record, = [json.loads(p.read_text())
               for p in (tmp_path / "out").glob("*.json")]
    assert record["key"].endswith("-sel_even-seed0")
    kept, = record["restarts"]
    # the even half chose the epoch (its accuracy is the record's val_acc)
    # and the halves are those of the epoch kept
    assert kept["best_epoch"] == record["best_epoch"]
    assert kept["val_halves"][0] == pytest.approx(record["val_acc"])
    assert 0.0 < kept["val_halves"][1] <= 1.0
