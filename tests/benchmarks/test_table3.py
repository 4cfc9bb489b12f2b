import json

import pytest

from benchmarks.table3 import PAPER, SPARSITIES, main, section
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


def test_bond_gcn_conv_matches_its_formula():
    pytest.importorskip("ogb.graphproppred")
    import torch

    from benchmarks.table3 import BondGCNConv

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
    from benchmarks.table3 import MolGCN

    with pytest.raises(ValueError, match="arch must be one of"):
        MolGCN(1, dense=True, arch="gin")


def test_ogb_arch_ticket_runs_with_scores_as_its_only_trainables():
    pytest.importorskip("ogb.graphproppred")
    import torch
    from torch_geometric.data import Batch, Data

    from benchmarks.table3 import MolGCN

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


def test_probe_section_compares_on_the_probes_seeds(tmp_path):
    from benchmarks.table3 import probe_section

    def write(folder, arch, seed, val, test):
        folder.mkdir(exist_ok=True)
        (folder / f"{arch}-{seed}.json").write_text(json.dumps(dict(
            dataset="molbace", arch=arch, method="ugt", sparsity=0.9,
            seed=seed, val=val, test=test)))

    plain, probes = tmp_path / "plain", tmp_path / "probes"
    assert probe_section(plain, probes) == []  # no probes, no section
    for seed, val in ((0, 0.60), (1, 0.62), (2, 0.99)):  # seed 2: no probe
        write(plain, "plain", seed, val, 0.70)
    write(probes, "ogb", 0, 0.74, 0.75)
    write(probes, "ogb", 1, 0.76, 0.77)
    row = next(line for line in probe_section(plain, probes)
               if line.startswith("| molbace"))
    assert row == ("| molbace | ogb | UGTs s=0.9 | 0, 1 | 75.0 ± 1.4 (2) | "
                   "61.0 ± 1.4 (2) | 76.0 ± 1.4 (2) | 70.0 ± 0.0 (2) | "
                   f"{PAPER['molbace'][1][SPARSITIES.index(0.9)]} |")


def test_run_refuses_a_sparsity_outside_the_row(tmp_path):
    with pytest.raises(ValueError, match="Table 3's row"):
        main(["run", "texas", "--sparsities", "0.45", "--out",
              str(tmp_path)])
    assert not list(tmp_path.glob("*.json"))
