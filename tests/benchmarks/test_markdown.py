import pytest

from benchmarks.markdown import mean_std, replace_section


def test_replace_section_keeps_the_rest(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("intro\n<!-- t:start -->\nold\n<!-- t:end -->\noutro\n")
    replace_section(doc, "t", "| a |\n| 1 |")
    assert doc.read_text() == ("intro\n<!-- t:start -->\n| a |\n| 1 |\n"
                               "<!-- t:end -->\noutro\n")
    replace_section(doc, "t", "new")  # idempotent structure
    assert doc.read_text().count("<!-- t:start -->") == 1
    assert "| a |" not in doc.read_text()


@pytest.mark.parametrize("body", ["no markers\n",
                                  "<!-- t:start -->\n<!-- t:start -->\n"
                                  "<!-- t:end -->\n"])
def test_replace_section_needs_one_pair_of_markers(tmp_path, body):
    doc = tmp_path / "doc.md"
    doc.write_text(body)
    with pytest.raises(ValueError, match="exactly one"):
        replace_section(doc, "t", "x")
    assert doc.read_text() == body


def test_mean_std_cells():
    assert mean_std([]) == "—"
    assert mean_std([70.0]) == "70.0 (1)"  # one seed: no spread to show
    assert mean_std([70.0, 72.0, 74.0]) == "72.0 ± 2.0 (3)"
