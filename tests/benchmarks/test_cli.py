"""Every ``python -m benchmarks.<name> --help`` prints its usage with the
module's whole docstring, and writes nothing."""
import ast
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


import benchmarks

ROOT = Path(benchmarks.__file__).parent.parent
MODULES = sorted(p.stem for p in (ROOT / "benchmarks").glob("*.py")
                 if p.stem != "__init__")


def snapshot():
    return {p: p.stat().st_mtime_ns for p in ROOT.rglob("*")
            if p.is_file() and not any(
                part in (".venv", ".cache", ".git", "__pycache__",
                         ".pytest_cache", ".mypy_cache", ".ruff_cache",
                         ".hypothesis") for part in p.parts)}


def test_help_prints_the_whole_usage_and_writes_nothing():
    before = snapshot()

    def run(name):  # as users run them
        return subprocess.run(
            [sys.executable, "-m", f"benchmarks.{name}", "--help"], cwd=ROOT,
            capture_output=True, text=True, timeout=300)

    with ThreadPoolExecutor(4) as pool:  # a few at a time
        done = dict(zip(MODULES, pool.map(run, MODULES)))
    for name, proc in done.items():
        out = proc.stdout
        assert proc.returncode == 0, (name, proc.stderr)
        text = " ".join(out.split())
        module_doc = ast.get_docstring(ast.parse(
            (ROOT / "benchmarks" / f"{name}.py").read_text()), clean=False)
        assert text.startswith("usage:"), name
        # the whole docstring, never cut mid-sentence
        assert " ".join(module_doc.split()) in text, name
    assert snapshot() == before


def test_the_reports_depend_on_the_runner_never_the_reverse():
    sources = {name: (ROOT / "benchmarks" / f"{name}.py").read_text()
               for name in ("reproduce", "table3")}
    for text in sources.values():
        assert "reproduction_report" not in text.replace(
            "python -m benchmarks.reproduction_report", "")
