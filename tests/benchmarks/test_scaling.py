import json

import pytest

from benchmarks.scaling import report


def record(mode, nodes, hidden, layers, method, params, step_s, rss_mib):
    return {"mode": mode, "nodes": nodes, "hidden": hidden, "layers": layers,
            "method": method, "params": params, "step_s": step_s,
            "us_per_seed_node": 1e6 * step_s / nodes, "peak_rss_mib": rss_mib}


def test_report_fits_the_growth_laws(tmp_path):
    pytest.importorskip("matplotlib")
    records = []
    for nodes in (10_000, 100_000, 1_000_000):
        # full-batch: step time ∝ N^1.5, memory 100 MiB + 2 KiB per node
        # (UGTs) and 1 MiB less (dense); mini-batch: time ∝ N^0.5
        rss = 100 + 2 * nodes / 1024
        for method, extra in (("ugt", 1.0), ("dense", 0.0)):
            records.append(record("fullbatch", nodes, 128, 2, method, 9216,
                                  1e-6 * nodes ** 1.5, rss + extra - 1))
            records.append(record("minibatch", nodes, 128, 2, method, 18432,
                                  1e-3 * nodes ** 0.5, rss))
    for hidden, params in ((256, 1 << 20), (1024, 4 << 20)):
        # the UGTs search: 16 bytes more per masked weight
        records += [record("fullbatch", 10_000, hidden, 2, "ugt", params,
                           0.1, 500 + 16 * params / 2 ** 20),
                    record("fullbatch", 10_000, hidden, 2, "dense", params,
                           0.1, 500)]
    path = tmp_path / "scaling.json"
    path.write_text(json.dumps({"records": records}))
    doc = tmp_path / "scaling.md"
    doc.write_text("# s\n<!-- scaling:start -->\n<!-- scaling:end -->\n")
    text = report(path, doc, tmp_path / "scaling.png")
    assert "fullbatch ugt: step time ∝ N^1.50" in text
    assert "minibatch dense: step time ∝ N^0.50" in text
    assert "peak memory grows by 2.0 KiB per node" in text
    assert "needs 16 bytes more than dense training per masked weight" in text
    assert "| fullbatch | 1,000,000 | 2x128 |" in text and "+1 MiB" in text
    assert text in doc.read_text()
    assert (tmp_path / "scaling.png").exists()
