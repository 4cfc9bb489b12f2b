"""The sparse inference benchmark: a case runs end to end, the crossover
is read off the timings as documented, and the README / docs sections are
what the committed records give."""
import json

import pytest

from benchmarks import sparse_inference as bench
from benchmarks import sparse_crossover as crossover
from benchmarks import sparse_inference_report as report
from benchmarks.sparse_timing import VARIANTS
from torch_geometric_ugt.sparse_linear import NATIVE_MAX_DENSITY


def test_a_case_runs_and_predictions_match(monkeypatch):
    monkeypatch.setitem(bench.SYNTHETIC, "tiny", (200, 32, 2, 6))
    result = bench.run_case({"graph": "tiny", "model": "GIN", "hidden": 160},
                            None, threads=1, repeats=1)
    assert [r["sparsity"] for r in result["sparsities"]] == \
        list(bench.SPARSITIES)
    for r in result["sparsities"]:
        assert set(r["median_s"]) == set(VARIANTS)
        assert r["max_relative_error"]["sparse"] < 1e-4
        assert r["prediction_agreement"]["sparse"] >= 0.99
        assert 0 < r["linear_share_dense"] < 1
        assert r["model_bytes"]["sparse"] <= r["model_bytes"]["dense"]
        for layer in r["layers"]:  # 160 x 6 is below MIN_ELEMENTS
            big = layer["name"].startswith("convs.0")
            assert layer["sparse"] == (
                big and layer["density"] <= NATIVE_MAX_DENSITY)
    top = result["sparsities"][-1]  # 0.99: the 32 x 160 layer goes sparse
    assert any(layer["sparse"] for layer in top["layers"])
    assert top["model_bytes"]["sparse"] < top["model_bytes"]["dense"]


def row(nodes, density, dense, native, csr):
    return {"nodes": nodes, "in": 128, "out": 64, "density": density,
            "median_s": {"dense": dense, "native": native,
                         "torch_csr": csr}}


def test_the_crossover_is_the_last_density_never_slower():
    rows = [row(10, 0.01, 1.0, 0.2, 0.5), row(10, 0.1, 1.0, 0.6, 1.5),
            row(10, 0.3, 1.0, 1.2, 3.0), row(10, 0.5, 1.0, 0.9, 4.0),
            row(20, 0.01, 1.0, 0.2, 1.1), row(20, 0.1, 1.0, 0.9, 2.0)]
    found = crossover.crossovers(rows)
    assert found["by_layer"]["10:128x64"] == {"native": 0.1,
                                              "torch_csr": 0.01}
    assert found["by_layer"]["20:128x64"] == {"native": 0.1,
                                              "torch_csr": 0.0}
    assert found["smallest"] == {"native": 0.1, "torch_csr": 0.0}


def test_docs_and_readme_hold_what_the_records_give(tmp_path):
    inference = json.loads(
        (bench.RESULTS / "sparse-inference-cpu.json").read_text())
    crossover = json.loads(
        (bench.RESULTS / "sparse-crossover-cpu.json").read_text())
    assert {(c["graph"], c["model"], c["hidden"])
            for c in inference["cases"]} == \
        {(c["graph"], c["model"], c["hidden"]) for c in bench.cases()}
    text = report.report(inference, crossover, images=tmp_path)
    readme = (bench.ROOT / "README.md").read_text()
    docs = (report.DOCS / "inference.md").read_text()
    assert text["readme"] in readme
    assert text["inference"] in docs
    assert (tmp_path / "sparse-inference-cpu.png").exists()
    # the defaults the library ships are the measured crossovers
    from torch_geometric_ugt import sparse_linear
    smallest = crossover["crossover"]["smallest"]
    assert sparse_linear.NATIVE_MAX_DENSITY <= smallest["native"]
    assert sparse_linear.TORCH_MAX_DENSITY <= smallest["torch_csr"]


@pytest.mark.parametrize("sparsity", ["0.99", "0.9"])
def test_the_headline_targets_hold_in_the_record(sparsity):
    inference = json.loads(
        (bench.RESULTS / "sparse-inference-cpu.json").read_text())
    top = report.headline(inference)[sparsity]
    assert top["prediction_agreement"]["sparse"] == 1.0
    if sparsity == "0.99":
        assert top["speedup"]["sparse"] >= 2.0
        assert top["linear_speedup"]["sparse"] >= 4.0
    else:
        assert top["speedup"]["sparse"] >= 0.9


def test_the_summary_spans_what_the_cases_give():
    assert report._span([1.234, 2.0, 1.5], 2) == "1.23–2.00x"
    assert report._span([3.0, 3.04]) == "3.0x"
    assert report._span([17.2, 51.0], 0, " %") == "17–51 %"
    inference = json.loads(
        (bench.RESULTS / "sparse-inference-cpu.json").read_text())
    lines = report.in_short(inference)
    top = report.headline(inference)["0.99"]
    assert f"{top['speedup']['sparse']:.2f}x faster" in lines[0]
    graphs = {c["graph"] for c in inference["cases"]}
    assert {line.split(" (")[0][2:] for line in lines[1:1 + len(graphs)]} \
        == graphs
