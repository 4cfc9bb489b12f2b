"""Synthetic node-classification datasets in OGB's on-disk format, written
with ``ogb.io.DatasetSaver`` and read back by the real OGB loader, for
testing the OGB code paths offline (ogbn-arxiv / ogbn-products cannot be
downloaded here).

The graph is homophilous (a fraction ``homophily`` of every node's edges
stays within its class) and the features are noisy class centres, so a GNN
learns it and aggregating neighbours helps.
"""
from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Dict

import numpy as np


def synthetic_graph(num_nodes: int, num_features: int, num_classes: int,
                    avg_degree: float, homophily: float = 0.8,
                    noise: float = 3.0, seed: int = 0) -> Dict[str, np.ndarray]:
    """Edges (directed, ``num_nodes * avg_degree`` of them), features and
    labels as numpy arrays."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, num_classes, num_nodes)
    centres = rng.normal(size=(num_classes, num_features))
    x = (centres[y] + noise * rng.normal(size=(num_nodes, num_features)))
    num_edges = int(num_nodes * avg_degree)
    src = rng.integers(0, num_nodes, num_edges)
    # same-class targets: sort nodes by class, draw inside the class range
    order = np.argsort(y, kind="stable")
    counts = np.bincount(y, minlength=num_classes)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    cls = y[src]
    inside = starts[cls] + (rng.random(num_edges) * counts[cls]).astype(
        np.int64)
    same = rng.random(num_edges) < homophily
    dst = np.where(same, order[inside], rng.integers(0, num_nodes, num_edges))
    return {"edge_index": np.stack([src, dst]).astype(np.int64),
            "x": x.astype(np.float32), "y": y.astype(np.int64)}


def write_synthetic_ogbn(folder: os.PathLike, name: str = "ogbn-synthetic",
                         num_nodes: int = 10_000, num_features: int = 64,
                         num_classes: int = 8, avg_degree: float = 10.0,
                         seed: int = 0) -> dict:
    """Writes a synthetic ``ogbn-*`` dataset under ``folder`` and returns
    the ``meta_dict`` to pass to ``PygNodePropPredDataset``. Splits are
    random 50 / 25 / 25 % and stored as OGB's ``split/<name>/*.csv.gz``."""
    from ogb.io import DatasetSaver
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    graph = synthetic_graph(num_nodes, num_features, num_classes, avg_degree,
                            seed=seed)
    cwd = os.getcwd()
    os.chdir(folder)  # DatasetSaver writes next to the working directory
    try:
        saver = DatasetSaver(name, is_hetero=False, version=1,
                             root="synthetic")
        saver.save_graph_list([{
            "edge_index": graph["edge_index"], "node_feat": graph["x"],
            "edge_feat": None, "num_nodes": num_nodes}])
        saver.save_target_labels(graph["y"].reshape(-1, 1))
        perm = np.random.default_rng(seed + 1).permutation(num_nodes)
        cut = [num_nodes // 2, 3 * num_nodes // 4]
        split = {"train": np.sort(perm[:cut[0]]),
                 "valid": np.sort(perm[cut[0]:cut[1]]),
                 "test": np.sort(perm[cut[1]:])}
        saver.save_split(split, "random")
        mapping = folder / "mapping"
        mapping.mkdir(exist_ok=True)
        (mapping / "README.md").write_text("Synthetic dataset: identity "
                                           "node mapping.\n")
        saver.copy_mapping_dir(str(mapping))
        saver.save_task_info("multiclass classification", "acc",
                             num_classes=num_classes)
        meta = saver.get_meta_dict()
    finally:
        os.chdir(cwd)
    # Same on-disk split format as the released ogbn datasets (csv.gz).
    split_dir = Path(folder) / meta["dir_path"] / "split" / "random"
    (split_dir / "split_dict.pt").unlink()
    for key, index in split.items():
        with gzip.open(split_dir / f"{key}.csv.gz", "wt") as f:
            f.write("\n".join(str(i) for i in index) + "\n")
    meta["dir_path"] = str(Path(folder) / meta["dir_path"])
    return meta


if __name__ == "__main__":
    from benchmarks import cli
    cli.library(__doc__, "benchmarks.synthetic_ogb")
