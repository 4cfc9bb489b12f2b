from benchmarks.kernel_coats import coat_counts, coats_report, measure_coats
from benchmarks.sparse_crossover import interleaved_medians


def test_interleaved_medians_warm_up_then_time_every_call_each_round():
    calls = []
    medians = interleaved_medians({"a": lambda: calls.append("a"),
                                   "b": lambda: calls.append("b")},
                                  repeats=3, device="cpu")
    assert set(medians) == {"a", "b"} and min(medians.values()) >= 0
    # warm-up, then rounds in rotated order
    assert calls == ["a", "b", "a", "b", "b", "a", "a", "b"]


def test_multicoat_record_and_table(tmp_path):
    assert coat_counts(1000, 2) == [900, 950]
    result = measure_coats("cpu", 1, [5000], [2, 3], repeats=2)
    assert [r["scores"] for r in result["records"]] == ["gaussian", "ties"]
    for r in result["records"]:
        assert set(r["ratio_to_one"]) == {"1", "2", "3"}
        assert r["ratio_to_one"]["1"] == 1.0
    path = tmp_path / "kernel-coats-cpu.json"
    import json
    path.write_text(json.dumps(result))
    lines = coats_report([path])
    assert "| scores | N | C = 2 | C = 3 |" in lines
    assert sum(line.startswith("| gaussian | 5,000 |") for line in lines) == 1
