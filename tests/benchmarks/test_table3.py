import json

import pytest

from benchmarks.table3 import main
from benchmarks.table3_report import (PAPER, SPARSITIES, section,
                                      split_section)
from tests.benchmarks.marks import needs_data


@needs_data("webkb", "texas", "raw")
def test_texas_runs_end_to_end_and_reports(tmp_path, monkeypatch):
    monkeypatch.setenv("UGT_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "records"
    args = ["run", "texas", "--seeds", "0", "1", "--epochs", "4",
            "--sparsities", "0.5", "--out", str(out)]
    main(args + ["--shard", "1/2"])  # every other configuration
    records = [json.loads(p.read_text()) for p in out.glob("*.json")]
    assert {(r["method"], r["seed"]) for r in records} == {("dense", 1),
                                                            ("ugt", 1)}
    main(args + ["--shard", "0/2"])
    records = [json.loads(p.read_text()) for p in out.glob("*.json")]
    assert len(records) == 4  # dense and UGTs, two seeds
    assert {r["split"] for r in records} == {0, 1}
    assert {r["arch"] for r in records} == {"plain"}  # the table's Texas GCN
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

    main(args + ["--split", "0"])  # every seed on split 0: new records
    fixed = [json.loads(p.read_text()) for p in out.glob("texas-split0-*")]
    assert len(fixed) == 4
    assert {(r["split"], r["split_fixed"]) for r in fixed} == {(0, True)}
    assert "\n".join(section(out)) == text  # the table ignores them
    rows = [line for line in split_section(out)
            if line.startswith("| texas, split 0 |")]
    assert len(rows) == 2 and "(2) [" in rows[1].split(" | ")[2 + half]

    main(["majority", "--out", str(out)])  # the floor of every split
    floors = [json.loads(p.read_text()) for p in out.glob("*majority*")]
    assert sorted(r["split"] for r in floors) == list(range(10))
    for r in floors:  # Texas's majority class, 'student', is 3
        assert r["majority_class"] == 3 and 0.4 < r["test"] < 0.7
    lines = section(out) + split_section(out)
    assert sum("majority class of the training nodes" in line and
               "(10)" in line for line in lines) == 1  # all splits
    assert any(line.startswith("| texas, split 0 | majority class")
               for line in lines)


def test_bond_gcn_conv_matches_its_formula():
    pytest.importorskip("ogb.graphproppred")
    import torch

    from benchmarks.mol_models import BondGCNConv

    torch.manual_seed(0)
    conv = BondGCNConv(4, bias=False)
    with torch.no_grad():
        conv.lin.weight.copy_(torch.eye(4))
        conv.root.weight.fill_(0.5)
        for emb in conv.bonds.bond_embedding_list:
            emb.weight.zero_()
        conv.bonds.bond_embedding_list[0].weight[1] = -1.0
    x = torch.randn(3, 4)
    # path 0 - 1 - 2, both directions; the bond 1 -> 2 has type 1
    edge_index = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    edge_attr = torch.zeros(4, 3, dtype=torch.long)
    edge_attr[2, 0] = 1
    out = conv(x, edge_index, edge_attr)
    deg = torch.tensor([2.0, 3.0, 2.0])  # neighbours + 1
    relu = torch.relu
    expected = relu(x + 0.5) / deg.unsqueeze(-1)
    expected[1] += relu(x[0]) / (2 * 3) ** 0.5 + relu(x[2]) / (2 * 3) ** 0.5
    expected[0] += relu(x[1]) / (3 * 2) ** 0.5
    expected[2] += relu(x[1] - 1.0) / (3 * 2) ** 0.5
    assert torch.allclose(out, expected, atol=1e-6)


def test_mol_gcn_rejects_an_unknown_arch():
    pytest.importorskip("ogb.graphproppred")
    from benchmarks.mol_models import MolGCN

    with pytest.raises(ValueError, match="arch must be one of"):
        MolGCN(1, dense=True, arch="gin")


def test_ogb_arch_ticket_runs_with_scores_as_its_only_trainables():
    pytest.importorskip("ogb.graphproppred")
    import torch
    from torch_geometric.data import Batch, Data

    from benchmarks.mol_models import MolGCN

    graphs = [Data(x=torch.zeros(n, 9, dtype=torch.long),
                   edge_index=torch.tensor([[0, 1], [1, 0]]),
                   edge_attr=torch.zeros(2, 3, dtype=torch.long))
              for n in (2, 3)]
    batch = Batch.from_data_list(graphs)
    model = MolGCN(1, dense=False, arch="ogb")
    scores = model.to_ticket(seed=0)
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert {id(p) for p in trainable} == {id(p) for p in scores}
    model(batch).sum().backward()
    assert all(p.grad is not None for p in scores)
    assert model.norms[0].weight.grad is None


def write_mol_record(folder, arch, seed, val, test, sparsity=0.9,
                     name="molbace"):
    folder.mkdir(exist_ok=True)
    method = "dense" if sparsity == 0.0 else "ugt"
    (folder / f"{name}-{arch}-{sparsity}-{seed}.json").write_text(json.dumps(
        dict(dataset=name, arch=arch, method=method, sparsity=sparsity,
             seed=seed, val=val, test=test, epochs=100)))


def test_section_fills_the_molecule_rows_with_the_ogb_arch_only(tmp_path):
    write_mol_record(tmp_path, "ogb", 0, 0.74, 0.75)
    write_mol_record(tmp_path, "plain", 0, 0.60, 0.61)
    write_mol_record(tmp_path, "plain", 1, 0.60, 0.62, sparsity=0.0)
    lines = section(tmp_path)
    ugt = next(line for line in lines if line.startswith("| molbace | UGTs"))
    cells = ugt.split(" | ")[2:]
    assert cells[SPARSITIES.index(0.9)].startswith("75.0 (1) [")
    dense = next(line for line in lines
                 if line.startswith("| molbace | trained dense"))
    assert "— [" in dense  # the plain dense record is not the table's


def test_arch_section_compares_on_the_seeds_both_archs_have(tmp_path):
    from benchmarks.table3_report import arch_section

    write_mol_record(tmp_path, "ogb", 0, 0.74, 0.75)
    assert arch_section(tmp_path) == []  # no plain record to compare with
    for seed, val in ((0, 0.60), (1, 0.62), (2, 0.99)):  # seed 2: no ogb
        write_mol_record(tmp_path, "plain", seed, val, 0.70)
    write_mol_record(tmp_path, "ogb", 1, 0.76, 0.77)
    write_mol_record(tmp_path, "ogb", 0, 0.70, 0.71, sparsity=0.0)
    write_mol_record(tmp_path, "plain", 0, 0.65, 0.66, sparsity=0.0)
    rows = [line for line in arch_section(tmp_path)
            if line.startswith("| molbace")]
    assert rows == [
        "| molbace | trained dense | 0 | 70.0 (1) | 65.0 (1) | 71.0 (1) | "
        f"66.0 (1) | {PAPER['molbace'][0]} |",
        "| molbace | UGTs s=0.9 | 0, 1 | 75.0 ± 1.4 (2) | 61.0 ± 1.4 (2) | "
        "76.0 ± 1.4 (2) | 70.0 ± 0.0 (2) | "
        f"{PAPER['molbace'][1][SPARSITIES.index(0.9)]} |"]


def test_run_refuses_a_sparsity_outside_the_row(tmp_path):
    with pytest.raises(ValueError, match="Table 3's row"):
        main(["run", "texas", "--sparsities", "0.45", "--out",
              str(tmp_path)])
    assert not list(tmp_path.glob("*.json"))


@pytest.mark.parametrize("args", [["texas", "--split", "10"],
                                  ["molbace", "--split", "0"]])
def test_run_refuses_a_split_outside_texas_webkb_splits(tmp_path, args):
    with pytest.raises(ValueError, match="WebKB splits 0-9"):
        main(["run", *args, "--out", str(tmp_path)])


def test_split_section_is_empty_without_fixed_split_records(tmp_path):
    write_mol_record(tmp_path, "ogb", 0, 0.74, 0.75)
    assert split_section(tmp_path) == []


def test_run_refuses_the_ogb_arch_on_texas(tmp_path):
    with pytest.raises(ValueError, match="molecule datasets only"):
        main(["run", "texas", "--arch", "ogb", "--out", str(tmp_path)])
