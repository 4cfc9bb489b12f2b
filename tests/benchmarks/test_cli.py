"""Every ``python -m benchmarks.<name> --help`` prints its usage with the
module's whole docstring, and writes nothing."""
import ast
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


import benchmarks

ROOT = Path(benchmarks.__file__).parent.parent
MODULES = sorted(p.stem for p in (ROOT / "benchmarks").glob("*.py")
                 if p.stem != "__init__")


def snapshot(root):
    return {p: p.stat().st_mtime_ns for p in root.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}


def test_help_prints_the_whole_usage_and_writes_nothing(tmp_path):
    # the commands run from a copy of benchmarks/ (its results included),
    # so that a probe runner writing records in the checkout meanwhile
    # cannot fail the test, and anything --help writes, beside the
    # modules (their results, the docs) or in the working directory,
    # lands in tmp_path
    shutil.copytree(ROOT / "benchmarks", tmp_path / "benchmarks",
                    ignore=shutil.ignore_patterns("__pycache__", "*.lock"))
    before = snapshot(tmp_path)
    where = subprocess.run(
        [sys.executable, "-c", "import benchmarks; print(benchmarks.__file__)"],
        cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert Path(where.strip()).parent == tmp_path / "benchmarks"

    def run(name):  # as users run them
        return subprocess.run(
            [sys.executable, "-m", f"benchmarks.{name}", "--help"],
            cwd=tmp_path, capture_output=True, text=True, timeout=300)

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
    assert snapshot(tmp_path) == before


def test_the_reports_depend_on_the_runner_never_the_reverse():
    sources = {name: (ROOT / "benchmarks" / f"{name}.py").read_text()
               for name in ("reproduce", "table3")}
    for text in sources.values():
        assert "reproduction_report" not in text.replace(
            "python -m benchmarks.reproduction_report", "")
