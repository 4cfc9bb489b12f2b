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
