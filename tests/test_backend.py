import pytest
import torch

from torch_geometric_ugt import backend


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


def test_failed_build_falls_back_once(monkeypatch):
    monkeypatch.setattr(backend, "_requested", "auto")
    monkeypatch.setattr(backend, "_loaded", {})

    def broken(kind):
        raise OSError("no compiler")

    monkeypatch.setattr(backend, "_build", broken)
    with pytest.warns(RuntimeWarning, match="pure-PyTorch"):
        assert backend.native_module(torch.device("cpu")) is None
    assert backend.active_backend("cpu") == "torch"  # no second warning
    monkeypatch.setattr(backend, "_requested", "native")
    with pytest.raises(RuntimeError, match="could not be built"):
        backend.native_module(torch.device("cpu"))


def test_failed_build_names_what_to_install(monkeypatch):
    monkeypatch.setattr(backend, "_requested", "auto")
    monkeypatch.setattr(backend, "_loaded", {})
    monkeypatch.setattr(backend, "_build", lambda kind: 1 / 0)
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
    name = backend.build_name("cpu")
    assert name.startswith("ugt_native_cpu_") and name != \
        backend.build_name("cuda")
    assert backend.build_name("cpu") == name  # stable
    monkeypatch.setattr(backend, "_compiler_version", lambda kind: "gcc 99")
    assert backend.build_name("cpu") != name
    monkeypatch.undo()
    monkeypatch.setattr(torch, "__version__", "0.0.1")
    assert backend.build_name("cpu") != name


def test_lock_wait_times_out_and_names_the_holder(tmp_path, monkeypatch):
    import fcntl
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path))
    monkeypatch.setenv(backend.TIMEOUT_ENV_VAR, "0.5")
    lock = tmp_path / f"{backend.build_name('cpu')}.lock"
    with open(lock, "w") as held:  # another builder, alive
        held.write("pid 4242\n")
        held.flush()
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(TimeoutError, match=r"pid 4242.*UGT_BUILD_TIME"):
            backend._build("cpu")
    monkeypatch.setenv(backend.TIMEOUT_ENV_VAR, "soon")
    with pytest.raises(ValueError, match="positive number"):
        backend._build("cpu")


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
