"""The README's example runs (on the offline data when UGT_DATA is set)."""
import os
import re
import shutil
from pathlib import Path

import pytest

README = Path(__file__).parent.parent / "README.md"
ROOT = os.environ.get("UGT_DATA")


@pytest.mark.skipif(not ROOT, reason="set UGT_DATA to the data root")
def test_readme_example_runs(tmp_path, monkeypatch):
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.S)[1]
    shutil.copytree(Path(ROOT, "planetoid", "Cora"), tmp_path / "data" / "Cora")
    monkeypatch.chdir(tmp_path)
    code = code.replace("range(400)", "range(4)").replace(
        "ramp_epochs=200", "ramp_epochs=2")
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    plain = scope["plain"]
    assert not any("parametrizations" in k for k in plain.state_dict())
    zeros = sum(int((p == 0).sum()) for p in plain.parameters())
    total = sum(p.numel() for n, p in plain.named_parameters()
                if n.endswith("weight"))
    assert zeros >= 0.85 * total
