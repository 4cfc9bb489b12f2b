import json
import multiprocessing as mp

import pytest

from benchmarks.records import (claim, parse_record, read_records,
                                record_done, write_atomic, write_record)


def test_truncated_records_are_redone_and_named(tmp_path, capsys):
    # 9. a pre-existing truncated record is not taken as done
    good, cut = tmp_path / "a.json", tmp_path / "b.json"
    write_record(good, {"test_acc": 0.8})
    cut.write_text(json.dumps({"test_acc": 0.8})[:7])
    assert record_done(good) and not record_done(cut)
    assert str(cut) in capsys.readouterr().err
    (tmp_path / "c.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"b\.json is not a readable"):
        read_records(tmp_path)
    with pytest.raises(ValueError, match=r"c\.json holds no record"):
        parse_record(tmp_path / "c.json")
    with claim(cut) as mine:
        assert mine  # redone
        write_record(cut, {"test_acc": 0.7})
    assert parse_record(cut) == {"test_acc": 0.7}
    with claim(cut) as mine:
        assert not mine  # done now
    assert not list(tmp_path.glob("*.lock"))


def _hold(path, ready, release):
    with claim(path) as mine:
        assert mine
        ready.set()
        release.wait(60)


def test_a_record_is_claimed_by_one_runner(tmp_path):
    # 9. two runners on one folder never compute a record twice
    path = tmp_path / "r.json"
    ctx = mp.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    other = ctx.Process(target=_hold, args=(path, ready, release))
    other.start()
    try:
        assert ready.wait(60)
        with claim(path) as mine:
            assert not mine
    finally:
        release.set()
        other.join(60)
    assert other.exitcode == 0
    with claim(path) as mine:  # released when the other runner ended
        assert mine


def test_write_atomic_writes_text_and_bytes_and_leaves_no_temporary(
        tmp_path):
    text, image = tmp_path / "a.md", tmp_path / "a.png"
    write_atomic(text, "old")
    write_atomic(text, "new\n")
    write_atomic(image, b"\x89PNG\x00\xff")
    assert text.read_text() == "new\n"
    assert image.read_bytes() == b"\x89PNG\x00\xff"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.md", "a.png"]
