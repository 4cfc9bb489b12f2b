import json

import pytest

pytest.importorskip("ogb")
torch_geometric = pytest.importorskip("torch_geometric")
from torch_geometric.typing import WITH_PYG_LIB, WITH_TORCH_SPARSE  # noqa

from benchmarks.data import load_ogbn  # noqa: E402
from benchmarks.ogb_node import main  # noqa: E402
from benchmarks.synthetic_ogb import write_synthetic_ogbn  # noqa: E402

needs_sampler = pytest.mark.skipif(
    not (WITH_PYG_LIB or WITH_TORCH_SPARSE),
    reason="NeighborLoader needs pyg-lib or torch-sparse")


def test_synthetic_dataset_round_trips_through_the_ogb_loader(tmp_path):
    meta = write_synthetic_ogbn(tmp_path, num_nodes=600, num_features=12,
                                num_classes=4, avg_degree=5)
    data, split = load_ogbn("ogbn-synthetic", meta_dict=meta)
    assert data.num_nodes == 600 and data.x.shape == (600, 12)
    assert data.num_edges == 3000 and data.num_classes == 4
    sizes = {k: int(v.numel()) for k, v in split.items()}
    assert sizes == {"train": 300, "valid": 150, "test": 150}
    every = sorted(int(i) for v in split.values() for i in v)
    assert every == list(range(600))  # a partition of the nodes


@needs_sampler
@pytest.mark.parametrize("per_step", [False, True])
def test_minibatch_search_end_to_end(tmp_path, per_step):
    out = tmp_path / "record.json"
    args = ["--synthetic", "800", "--synthetic-dir", str(tmp_path / "d"),
            "--hidden", "16", "--layers", "2", "--fanout", "5", "3",
            "--batch-size", "128", "--epochs", "3", "--ramp", "2",
            "--sparsity", "0.8", "--out", str(out)]
    main(args + (["--schedule-per-step"] if per_step else []))
    record = json.loads(out.read_text())
    zeros = round(record["realised_sparsity"] * record["num_weights"])
    assert zeros == round(0.8 * record["num_weights"])
    assert 0.0 <= record["test_acc"] <= 1.0
    assert record["steps_per_epoch"] == 4  # ceil(400 training nodes / 128)
    assert set(record["layer_sparsities"]) >= {"convs.0.lin_l.weight"}
