from benchmarks.experiments import experiments
from benchmarks.recipe_report import recipe_results
from benchmarks.recipes import BEST, BUDGET


def _record(seed, recipe_fields, test_acc, restarts=None):
    config = dict(dataset="Cora", model="GCN", layers=2, method="ugt",
                  sparsity=0.9, seed=seed, variant="", rescale="",
                  head="", learn_scale=False, coats=1, iterand="",
                  restarts=1)
    config.update(recipe_fields)
    record = dict(config=config, test_acc=test_acc, val_acc=test_acc)
    if restarts is not None:
        record["restarts"] = restarts
    return record


def test_budget_runs_are_their_own_group_and_pick_by_validation():
    best = BEST[("GCN", "shallow")]
    runs = [dict(val_acc=0.7, test_acc=0.70), dict(val_acc=0.9,
                                                   test_acc=0.80),
            dict(val_acc=0.8, test_acc=0.99), dict(val_acc=0.6,
                                                   test_acc=0.10)]
    records = [
        _record(10, best, 0.81),
        _record(11, best, 0.83),
        _record(10, {}, 0.50),
        _record(3, best, 0.99),  # a seed the recipe was chosen on
        _record(10, dict(best, restarts=BUDGET), 0.80, restarts=runs),
    ]
    lines, panels = recipe_results(records, {"ugt": [0.0] * 6},
                                   [0.1, 0.3, 0.5, 0.7, 0.9, 0.95])
    row = next(line for line in lines
               if line.startswith("| Cora | GCN | 0.9 |"))
    # paper: seed 10 only; best: seeds 10 and 11, not the R = 4 run
    assert "| 50.0 (1) |" in row and "82.0 ± 1.4 (2)" in row
    [(title, series, dense)] = panels
    assert title == "Cora / GCN / 0.9" and dense is None
    # R = 1: the first restart; R = 2 and 4: the best validation (0.9)
    assert series["best"] == [70.0, 80.0, 80.0]


def test_the_budget_experiment_spends_the_whole_budget_on_restarts():
    configs = experiments()["budget"]
    assert configs and all(c.restarts == BUDGET and c.recipe == "best"
                           and c.seed >= 10 for c in configs)


def test_the_paper_tables_never_mix_in_other_search_settings(tmp_path):
    import json
    from dataclasses import asdict

    from benchmarks.experiments import with_recipe
    from benchmarks.reproduction_report import load
    paper = next(c for c in experiments()["recipes"]
                 if c.model == "GCN" and c.layers == 2
                 and c.method == "ugt" and c.recipe == "paper")
    for cfg, acc in ((paper, 0.5), (with_recipe(paper, "best"), 0.9)):
        record = dict(key=cfg.key(), config=asdict(cfg), test_acc=acc,
                      val_acc=acc)
        (tmp_path / f"{cfg.key()}.json").write_text(json.dumps(record))
    groups = load(tmp_path)
    [(key, records)] = groups.items()
    assert [r["test_acc"] for r in records] == [0.5]


def test_the_family_choice_moves_to_the_follow_ups_at_every_sparsity(
        monkeypatch):
    from benchmarks import recipe_selection
    from benchmarks.recipes import SELECTION_SPARSITIES
    # "rescale=global" wins at 0.9 alone; "coats=8" and its base ran everywhere,
    # where "coats=8" has the higher mean: the second stage decides
    monkeypatch.setitem(recipe_selection.BEST, ("GCN", "shallow"),
                        dict(coats=8))
    groups = {}
    for dataset in ("Cora", "CiteSeer"):
        for s in SELECTION_SPARSITIES:
            for name, fields, acc in (("paper", {}, 0.70),
                                      ("coats=8", dict(coats=8), 0.72),
                                      ("rescale=global",
                                       dict(rescale="global"), 0.90)):
                if name == "rescale=global" and s != 0.9:
                    continue
                groups[("GCN", "shallow", dataset, s, name)] = [
                    _record(seed, dict(fields, dataset=dataset,
                                       sparsity=s), acc)
                    for seed in range(10)]
    lines = recipe_selection.family_table(groups)
    rows = [line for line in lines if line.startswith("| GCN")]
    assert rows[0] == ("| GCN | shallow | 0.9 | rescale=global | 2 | 90.00 "
                       "|  |  |")
    final = [r for r in rows if "| 0.3-0.95 |" in r]
    # each follow-up beside the chosen settings, paired by cell and seed
    assert final == ["| GCN | shallow | 0.3-0.95 | coats=8 | 10 | 72.00 | "
                     " | chosen |",
                     "| GCN | shallow | 0.3-0.95 | paper | 10 | 70.00 | "
                     "-2.00 ± 0.00 |  |"]


def test_a_recipe_sets_adam_eps_only_where_it_chooses_one(monkeypatch):
    from benchmarks import recipes
    from benchmarks.experiments import Config, with_recipe
    from benchmarks.recipes import label
    deep = Config("Cora", "GCN", 32, 448, "ugt", 0.04, 0, adam_eps=1e-14)
    assert with_recipe(deep, "best").adam_eps == 1e-14
    monkeypatch.setitem(recipes.BEST, ("GCN", "deep"), dict(adam_eps=1e-4))
    chosen = with_recipe(deep, "best")
    assert chosen.adam_eps == 1e-4 and label(chosen.__dict__) == \
        "adam_eps=0.0001"


def test_a_weight_init_other_than_the_default_is_a_setting(monkeypatch):
    from benchmarks import recipes
    from benchmarks.experiments import DEEP_WEIGHT_INIT, Config, with_recipe
    from benchmarks.recipes import label
    shallow = Config("Cora", "GCN", 2, 256, "ugt", 0.9, 0)
    assert shallow.weight_init == "signed_constant"
    assert label(shallow.__dict__) == "paper"
    other = Config("Cora", "GCN", 2, 256, "ugt", 0.9, 0,
                   weight_init="kaiming_uniform")
    assert label(other.__dict__) == "weight_init=kaiming_uniform"
    # the deep tables' init is the deep models' default, kept by a recipe
    # that sets none, and replaced by one that does
    deep = Config("Cora", "GCN", 16, 448, "ugt", 0.04, 0,
                  weight_init=DEEP_WEIGHT_INIT)
    assert label(deep.__dict__) == "paper"
    assert Config("Cora", "GCN", 16, 448, "ugt", 0.04, 0).weight_init == \
        DEEP_WEIGHT_INIT  # the deep default without --weight-init
    assert with_recipe(deep, "best").weight_init == DEEP_WEIGHT_INIT
    monkeypatch.setitem(recipes.BEST, ("GCN", "deep"),
                        dict(weight_init="kaiming_normal"))
    chosen = with_recipe(deep, "best")
    assert chosen.weight_init == "kaiming_normal"
    assert label(chosen.__dict__) == label(
        {**recipes.PAPER, **recipes.BEST[("GCN", "deep")]}) == \
        "weight_init=kaiming_normal"
    # a recipe that sets the default init sets nothing
    monkeypatch.setitem(recipes.BEST, ("GCN", "shallow"),
                        dict(weight_init="signed_constant"))
    assert recipes.settings("best", "GCN", 2)["weight_init"] == ""


def test_compare_pairs_two_settings_by_seed_per_cell(tmp_path):
    import json

    import pytest

    from benchmarks.recipe_compare import compare
    for dataset, gain in (("Cora", 0.01), ("CiteSeer", 0.03)):
        for seed in range(10):
            for name, fields, acc in (("a", {}, 0.70),
                                      ("b", dict(coats=2), 0.70 + gain)):
                record = _record(seed, dict(fields, dataset=dataset), acc)
                (tmp_path / f"{dataset}-{name}-{seed}.json").write_text(
                    json.dumps(record))
    lines = compare("GCN", "paper", "coats=2", folder=tmp_path)
    assert lines == ["CiteSeer 0.9: +3.00 ± 0.00", "Cora 0.9: +1.00 ± 0.00",
                     "all cells: +2.00 ± 0.23"]
    with pytest.raises(ValueError, match="labelled 'coats=3'"):
        compare("GCN", "paper", "coats=3", folder=tmp_path)


def test_runs_of_another_protocol_are_never_pooled_with_the_protocols(
        tmp_path):
    import json

    from benchmarks.recipe_compare import compare, groups_by_label, run_label
    assert run_label(dict(coats=2, epochs=400, lr=0.01)) == "coats=2"
    assert run_label(dict(epochs=800, ramp=400)) == "epochs=800, ramp=400"
    assert run_label(dict(coats=2, hidden=1024, lr=0.005)) == \
        "coats=2, hidden=1024, lr=0.005"
    records = []
    for seed in range(10):
        for name, fields, acc in (("a", dict(coats=2), 0.70),
                                  ("b", dict(coats=2, epochs=800), 0.72)):
            records.append(_record(seed, fields, acc))
            (tmp_path / f"{name}-{seed}.json").write_text(
                json.dumps(records[-1]))
    assert sorted(key[-1] for key in groups_by_label(records)) == [
        "coats=2", "coats=2, epochs=800"]
    assert compare("GCN", "coats=2", "coats=2, epochs=800",
                   folder=tmp_path)[-1] == "all cells: +2.00 ± 0.00"


def test_deep_runs_of_the_deep_protocol_carry_no_protocol_fields():
    from dataclasses import asdict

    from benchmarks.experiments import deep_grid
    from benchmarks.recipe_compare import run_label
    from benchmarks.recipes import label
    configs = deep_grid(["Cora", "CiteSeer"], "GCN", range(1))
    assert {c.method for c in configs} == {"ugt", "dense"}
    assert {c.lr for c in configs} == {0.005, 0.01}
    for c in configs:  # (Cora's 32 layers label their Adam eps)
        assert run_label(asdict(c)) == label(asdict(c))
    other = asdict(configs[0])
    assert run_label({**other, "hidden": 256}) == "hidden=256"


def test_the_depth_sweeps_shallow_runs_stay_in_the_paper_tables(tmp_path):
    import json
    from dataclasses import asdict

    from benchmarks.reproduction_report import load
    shallow = [c for c in experiments()["fig2"] if c.layers == 2]
    assert shallow and shallow[0].weight_init == "kaiming_uniform"
    for c in shallow:
        record = dict(key=c.key(), config=asdict(c), test_acc=0.8,
                      val_acc=0.8)
        (tmp_path / f"{c.key()}.json").write_text(json.dumps(record))
    assert sum(len(r) for r in load(tmp_path).values()) == len(shallow)


def test_compare_held_out_judges_on_the_odd_nodes_of_even_selections(
        tmp_path):
    import json

    import pytest

    from benchmarks.recipe_compare import compare, held_out_accuracy
    for seed in range(10):
        for name, fields, even, odd in (
                ("a", {}, 0.90, 0.70), ("b", dict(average=0.9), 0.80, 0.72),
                ("c", dict(average=0.9), 0.99, 0.99)):
            selected = dict(select_on="even") if name != "c" else {}
            record = _record(seed, dict(fields, **selected), even)
            record["restarts"] = [dict(val_halves=[even, odd])]
            record["key"] = f"{name}-{seed}"
            (tmp_path / f"{name}-{seed}.json").write_text(json.dumps(record))
    # b loses on the nodes that chose (-10) and wins on the others (+2);
    # c, which chose on every node, is left out
    assert compare("GCN", "select_on=even", "average=0.9, select_on=even",
                   folder=tmp_path, held_out=True)[-1] == \
        "all cells: +2.00 ± 0.00"
    assert compare("GCN", "select_on=even", "average=0.9, select_on=even",
                   folder=tmp_path)[-1] == "all cells: -10.00 ± 0.00"
    with pytest.raises(ValueError, match="labelled 'average=0.9'"):
        compare("GCN", "select_on=even", "average=0.9", folder=tmp_path,
                held_out=True)
    plain = json.loads((tmp_path / "c-0.json").read_text())
    with pytest.raises(ValueError, match="c-0 chose its epoch on every"):
        held_out_accuracy(plain)


def test_restarts_are_judged_on_the_odd_validation_nodes_paired_by_seed(
        tmp_path):
    import json

    from benchmarks.recipe_selection import restart_table

    def run(picked_on, judged_on):
        return dict(val_halves=[picked_on, judged_on])
    for dataset, later in (("Cora", 0.74), ("CiteSeer", 0.72)):
        for seed in range(3):
            # the first restart judges 0.70; the one the even nodes pick
            # (0.9) judges `later`; a restart that would judge best (0.99)
            # is never picked, since its even nodes say 0.1
            runs = [run(0.5, 0.70), run(0.1, 0.99), run(0.9, later),
                    run(0.2, 0.99)]
            record = _record(seed, dict(dataset=dataset, restarts=BUDGET),
                             0.9, restarts=runs)
            (tmp_path / f"{dataset}-{seed}.json").write_text(
                json.dumps(record))
    rows = [line for line in restart_table(tmp_path)
            if line.startswith("| GCN")]
    assert rows == [
        "| GCN | CiteSeer | 0.9 | restarts=4 | 70.0 ± 0.0 (3) | "
        "70.0 ± 0.0 (3) | 72.0 ± 0.0 (3) | +2.00 ± 0.00 |",
        "| GCN | Cora | 0.9 | restarts=4 | 70.0 ± 0.0 (3) | 70.0 ± 0.0 (3) "
        "| 74.0 ± 0.0 (3) | +4.00 ± 0.00 |",
        "| GCN | all | 2 cells | restarts=4 | | | | +3.00 ± 0.45 |"]
    # a probe of R = 2 fills its columns and pairs R = 2 with R = 1
    for seed in range(3):
        record = _record(seed, dict(restarts=2, sparsity=0.5), 0.9,
                         restarts=[run(0.5, 0.70), run(0.9, 0.71)])
        (tmp_path / f"two-{seed}.json").write_text(json.dumps(record))
    assert ("| GCN | Cora | 0.5 | restarts=2 | 70.0 ± 0.0 (3) | 71.0 ± 0.0 "
            "(3) |  | +1.00 ± 0.00 |") in restart_table(tmp_path)


def test_against_dense_compares_held_out_nodes_with_the_trained_model(
        tmp_path):
    import json

    import pytest

    from benchmarks.recipe_compare import against_dense
    from benchmarks.recipe_selection import main
    for seed in range(10):
        odd = 0.70 + 0.01 * (seed % 2)  # 70.5 ± 0.53 mean
        record = _record(seed, dict(select_on="even", coats=2), 0.9)
        record["restarts"] = [dict(val_halves=[0.9, odd])]
        record["key"] = f"t-{seed}"
        (tmp_path / f"t-{seed}.json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match="No trained dense GCN"):
        against_dense("GCN", "coats=2, select_on=even", folder=tmp_path)
    for seed in range(4):
        record = _record(seed, dict(method="dense", sparsity=0.0,
                                    select_on="even"), 0.9)
        record["restarts"] = [dict(val_halves=[0.9, 0.72 + 0.02 * seed])]
        record["key"] = f"d-{seed}"
        (tmp_path / f"d-{seed}.json").write_text(json.dumps(record))
    for seed, fields in enumerate((dict(hidden=1024), dict(epochs=800))):
        # dense runs of another protocol are not the baseline
        record = _record(seed, dict(fields, method="dense", sparsity=0.0,
                                    select_on="even"), 0.9)
        record["restarts"] = [dict(val_halves=[0.9, 0.10])]
        record["key"] = f"other-{seed}"
        (tmp_path / f"other-{seed}.json").write_text(json.dumps(record))
    line, = against_dense("GCN", "coats=2, select_on=even", folder=tmp_path)
    # 70.5 against 75.0 (4 runs, std 2.58): -4.50 ± sqrt(0.28/10 + 6.67/4)
    assert line == ("Cora 0.9: ticket 70.5 ± 0.5 (10) vs dense 75.0 ± 2.6 "
                    "(4): -4.50 ± 1.30")
    with pytest.raises(ValueError, match="labelled 'coats=3"):
        against_dense("GCN", "coats=3, select_on=even", folder=tmp_path)
    with pytest.raises(SystemExit):
        main(["GCN", "coats=2, select_on=even", "dense", "--folder",
              str(tmp_path)])  # the held-out nodes only
