import pytest
import torch

from torch_geometric_ugt import backend, build


def test_choose_backend(monkeypatch):
    monkeypatch.setattr(backend, "_requested", None)
    monkeypatch.setenv(backend.ENV_VAR, "torch")
    assert backend.requested_backend() == "torch"
    assert backend.active_backend("cpu") == "torch"
    monkeypatch.setenv(backend.ENV_VAR, "fast")
    with pytest.raises(ValueError, match="UGT_THRESHOLD_BACKEND"):
        backend.requested_backend()
    backend.set_backend("torch")
    assert backend.requested_backend() == "torch"
    with pytest.raises(ValueError, match="Unknown threshold backend"):
        backend.set_backend("gpu")


@pytest.fixture
def fresh_backend(monkeypatch):
    # a process that has loaded and checked nothing yet
    for name in ("_loaded", "_ready", "_refused"):
        monkeypatch.setattr(backend, name, {})


def test_failed_build_falls_back_once(monkeypatch, fresh_backend):
    monkeypatch.setattr(backend, "_requested", "auto")

    def broken(kind):
        raise OSError("no compiler")

    monkeypatch.setattr(backend, "_load", broken)
    with pytest.warns(RuntimeWarning, match="pure-PyTorch"):
        assert backend.native_module(torch.device("cpu")) is None
    assert backend.active_backend("cpu") == "torch"  # no second warning
    monkeypatch.setattr(backend, "_requested", "native")
    with pytest.raises(RuntimeError, match="could not be built"):
        backend.native_module(torch.device("cpu"))


def test_failed_build_names_what_to_install(monkeypatch, fresh_backend):
    monkeypatch.setattr(backend, "_requested", "auto")
    monkeypatch.setattr(backend, "_load", lambda kind: 1 / 0)
    with pytest.warns(RuntimeWarning) as cpu:
        backend.native_module(torch.device("cpu"))
    with pytest.warns(RuntimeWarning, match="nvcc; set CUDA_HOME"):
        backend.native_module(torch.device("cuda"))
    assert "ninja" in str(cpu[0].message)
    assert "nvcc" not in str(cpu[0].message)
    monkeypatch.setattr(backend, "_requested", "native")
    with pytest.raises(RuntimeError, match="CUDA toolkit"):
        backend.native_module(torch.device("cuda"))


def test_native_builds_here():
    backend.set_backend("auto")
    assert backend.active_backend("cpu") == "native"


def test_build_name_is_keyed_by_sources_and_versions(monkeypatch):
    name = build.build_name("cpu")
    assert name.startswith("ugt_native_cpu_") and name != \
        build.build_name("cuda")
    assert build.build_name("cpu") == name  # stable
    # not by the compiler: a node without one finds another node's build
    monkeypatch.setattr(build, "compiler_version", lambda kind: "gcc 99")
    assert build.build_name("cpu") == name
    monkeypatch.undo()
    monkeypatch.setattr(torch, "__version__", "0.0.1")
    assert build.build_name("cpu") != name


def test_lock_wait_times_out_and_names_the_holder(tmp_path, monkeypatch):
    import fcntl
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path))
    monkeypatch.setenv(build.TIMEOUT_ENV_VAR, "0.5")
    monkeypatch.setattr(build, "prebuilt", lambda kind: None)
    lock = tmp_path / f"{build.build_name('cpu')}.lock"
    with open(lock, "w") as held:  # another builder, alive
        held.write("pid 4242\n")
        held.flush()
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(TimeoutError, match=r"pid 4242.*UGT_BUILD_TIME"):
            build.load_library("cpu")
    monkeypatch.setenv(build.TIMEOUT_ENV_VAR, "soon")
    with pytest.raises(ValueError, match="positive number"):
        build.load_library("cpu")


def test_build_killed_half_way_does_not_hang_the_next(tmp_path):
    # A process killed while it compiles leaves torch's lock file behind;
    # the next process must notice, rebuild, and finish in bounded time.
    import os
    import signal
    import subprocess
    import sys
    import time

    env = dict(os.environ, TORCH_EXTENSIONS_DIR=str(tmp_path),
               **{backend.ENV_VAR: "native"})
    code = ("import torch; from torch_geometric_ugt import backend; "
            "print(backend.native_module(torch.device('cpu')).prune_smallest_)")
    victim = subprocess.Popen([sys.executable, "-c", code], env=env,
                              start_new_session=True,
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while not list(tmp_path.glob("*/lock")):
        assert victim.poll() is None, victim.stderr.read()
        assert time.monotonic() < deadline, "the build never started"
        time.sleep(0.05)
    time.sleep(2.0)  # the compiler is running now
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    assert list(tmp_path.glob("*/lock")), "the kill left no stale lock"
    start = time.monotonic()
    after = subprocess.run([sys.executable, "-c", code], env=env,
                           capture_output=True, text=True, timeout=600)
    assert after.returncode == 0, after.stderr
    assert "building the native CPU kernels once" in after.stderr
    assert "torch_geometric_ugt.prune_smallest_" in after.stdout
    assert not list(tmp_path.glob("*/lock"))
    print(f"rebuilt after the kill in {time.monotonic() - start:.0f} s")


def test_ahead_of_time_build_needs_no_compiler_at_run_time(tmp_path):
    # UGT_BUILD_EXTENSIONS=1 builds the kernel into the wheel; a machine
    # without a compiler then loads it instead of compiling.
    import os
    import subprocess
    import sys
    import zipfile
    from pathlib import Path

    root = Path(backend.__file__).parent.parent
    env = dict(os.environ, UGT_BUILD_EXTENSIONS="1", MAX_JOBS="2")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q",
                    "--no-build-isolation", "--no-deps", "-w",
                    str(tmp_path / "wheel"), str(root)], env=env,
                   check=True, capture_output=True, timeout=900)
    wheel = next((tmp_path / "wheel").glob("*.whl"))
    assert "-none-any" not in wheel.name  # a platform wheel
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(tmp_path / "site")
    code = ("import torch; from torch_geometric_ugt import backend; "
            "ops = backend.native_module(torch.device('cpu')); "
            "s = [torch.tensor([3.0, 1.0, 2.0])]; m = [torch.empty(3)]; "
            "ops.prune_smallest_(s, m, torch.tensor(1), True); "
            "print(backend.__file__, m[0].tolist())")
    run_env = dict(os.environ, PYTHONPATH=str(tmp_path / "site"),
                   CXX="/nonexistent/c++", TORCH_EXTENSIONS_DIR=str(
                       tmp_path / "empty"), **{backend.ENV_VAR: "native"})
    out = subprocess.run([sys.executable, "-c", code], env=run_env,
                         capture_output=True, text=True, timeout=300,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert str(tmp_path / "site") in out.stdout
    assert out.stdout.strip().endswith("[1.0, 0.0, 1.0]")
    assert "building" not in out.stderr
    assert not (tmp_path / "empty").exists()


def test_use_restores_the_previous_choice(monkeypatch):
    monkeypatch.setattr(backend, "_requested", None)
    with backend.use("torch"):
        assert backend.requested_backend() == "torch"
        with backend.use("native"):
            assert backend.requested_backend() == "native"
        assert backend.requested_backend() == "torch"
    assert backend._requested is None
    with pytest.raises(ValueError, match="Unknown threshold backend"):
        with backend.use("gpu"):
            pass
    assert backend._requested is None


class _Faulty:
    """The native operators, one of which gives a wrong mask."""

    def __init__(self, ops):
        self._ops = ops

    def prune_smallest_(self, scores, masks, k, reject_infinite):
        self._ops.prune_smallest_(scores, masks, k, reject_infinite)
        if masks and masks[0].numel() > 1 and int(k) > 0:
            masks[0].view(-1)[0] = 1 - masks[0].view(-1)[0]

    def __getattr__(self, name):
        return getattr(self._ops, name)


def test_a_kernel_that_disagrees_with_its_twin_is_not_used(monkeypatch,
                                                           fresh_backend):
    real = backend._load
    monkeypatch.setattr(backend, "_load", lambda kind: _Faulty(real(kind)))
    monkeypatch.setattr(backend, "_requested", "auto")
    with pytest.warns(RuntimeWarning, match=r"self-check.*not used.*report"):
        assert backend.native_module(torch.device("cpu")) is None
    assert backend.active_backend("cpu") == "torch"  # warned once
    from torch_geometric_ugt.threshold import prune_smallest_
    scores = [torch.tensor([3.0, 1.0, 2.0, 0.0])]
    masks = [torch.empty(4)]
    prune_smallest_(scores, masks, 2)  # the twin chooses
    assert masks[0].tolist() == [1.0, 0.0, 1.0, 0.0]
    monkeypatch.setattr(backend, "_requested", "native")
    with pytest.raises(RuntimeError, match="failed its self-check"):
        backend.native_module(torch.device("cpu"))


def test_the_real_kernel_passes_its_self_check(fresh_backend):
    with backend.use("native"):
        assert backend.native_module(torch.device("cpu")) is not None
    assert backend._ready.get("cpu") is not None


def _run(code, cache, **env):
    import os
    import subprocess
    import sys
    full = dict(os.environ, TORCH_EXTENSIONS_DIR=str(cache), **env)
    return subprocess.run([sys.executable, "-W", "always", "-c", code],
                          env=full, capture_output=True, text=True,
                          timeout=900)


_ACTIVE = ("import torch; from torch_geometric_ugt import backend; "
           "print(backend.active_backend('cpu'))")


def _private_cache(tmp_path):
    # a copy of this machine's finished CPU build
    import shutil
    assert backend.active_backend("cpu") == "native"
    name = build.build_name("cpu")
    source = build.build_root() / name
    if build.verified_library(source) is None:  # an install-time build
        pytest.skip("the kernels here come from the install")
    shutil.copytree(source, tmp_path / name)
    return tmp_path, tmp_path / name


def test_a_finished_build_loads_without_lock_compiler_or_writes(tmp_path):
    import os
    cache, folder = _private_cache(tmp_path)
    before = {p: os.stat(p).st_mtime_ns for p in cache.rglob("*")}
    out = _run(_ACTIVE, cache, CXX="/nonexistent/c++")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "native"
    assert "building the native" not in out.stderr
    assert "RuntimeWarning" not in out.stderr
    after = {p: os.stat(p).st_mtime_ns for p in cache.rglob("*")}
    assert after == before  # no lock file, nothing written: read-only OK


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_a_damaged_cached_library_is_rebuilt_not_loaded(tmp_path, damage):
    import json
    cache, folder = _private_cache(tmp_path)
    manifest = json.loads((folder / build.MANIFEST).read_text())
    library = folder / manifest["library"]
    data = library.read_bytes()
    if damage == "truncated":
        library.write_bytes(data[:len(data) // 3])
    else:
        library.write_bytes(bytes(range(256)) * (len(data) // 256 + 1))
    out = _run(_ACTIVE, cache)
    assert out.returncode == 0, out.stderr  # no crash
    assert out.stdout.strip() == "native", out.stderr
    assert "building the native CPU kernels once" in out.stderr
    assert build.verified_library(folder) is not None
    again = _run(_ACTIVE, cache)  # healed: no second build
    assert again.stdout.strip() == "native"
    assert "building" not in again.stderr
