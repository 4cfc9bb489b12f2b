"""The CUDA kernel: compiled here with nvcc, run where a GPU exists."""
import math
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from torch_geometric_ugt import backend, build
from torch_geometric_ugt.threshold import prune_smallest_reference_

CU = build.CSRC / "threshold_cuda.cu"
needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(),
                               reason="needs a CUDA device")


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="needs nvcc")
def test_cuda_source_compiles(tmp_path):
    # with the flags torch's extension builder always passes to nvcc
    from torch.utils.cpp_extension import COMMON_NVCC_FLAGS
    result = subprocess.run(
        ["nvcc", "-c", str(CU), "-std=c++17", "-gencode",
         "arch=compute_90,code=sm_90", *COMMON_NVCC_FLAGS,
         "-o", str(tmp_path / "k.o")],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr


CUDA_INCLUDE = next((Path(p) / "include" for p in (
    os.environ.get("CUDA_HOME", ""), "/usr/local/cuda")
    if p and (Path(p) / "include" / "cuda_runtime.h").exists()), None)


@pytest.mark.skipif(CUDA_INCLUDE is None or shutil.which("g++") is None,
                    reason="needs the CUDA headers and g++")
def test_cuda_binding_compiles_against_torch(tmp_path):
    # The operator's CUDA implementation, against the installed torch's
    # headers (a CPU build of torch lacks one generated CUDA header, which
    # is empty on Linux: a stand-in is enough to check the source).
    from torch.utils.cpp_extension import include_paths
    stub = tmp_path / "c10" / "cuda" / "impl"
    stub.mkdir(parents=True)
    (stub / "cuda_cmake_macros.h").write_text("#pragma once\n")
    flags = [f"-I{p}" for p in include_paths()]
    result = subprocess.run(
        ["g++", "-fsyntax-only", "-std=c++17", f"-I{tmp_path}", *flags,
         f"-I{CUDA_INCLUDE}", str(build.CSRC / "threshold_cuda.cpp")],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr


@needs_gpu
def test_cuda_operator_opcheck():
    backend.set_backend("native")
    try:
        assert backend.active_backend("cuda") == "native"
        gen = torch.Generator().manual_seed(0)
        scores = [torch.randn(40, 3, generator=gen).cuda(),
                  torch.randn(9, generator=gen).cuda()]
        masks = [torch.empty(40, 3, device="cuda"),
                 torch.empty(9, device="cuda")]
        torch.library.opcheck(torch.ops.torch_geometric_ugt.prune_smallest_,
                              (scores, masks, torch.tensor(50), True))
        bad = [torch.tensor([1.0, math.nan], device="cuda")]
        out = [torch.full((2, ), 7.0, device="cuda")]
        with pytest.raises(ValueError, match="NaN"):
            from torch_geometric_ugt.threshold import prune_smallest_
            prune_smallest_(bad, out, 1)
        assert out[0].tolist() == [7.0, 7.0]
    finally:
        backend.set_backend("auto")


@needs_gpu
def test_the_torch_operator_on_cuda():
    # the pure-PyTorch twin: CUDA without nvcc
    gen = torch.Generator().manual_seed(0)
    scores = [torch.randn(40, 3, generator=gen).cuda(),
              torch.randn(9, generator=gen).cuda()]
    masks = [torch.empty(40, 3, device="cuda"), torch.empty(9, device="cuda")]
    op = torch.ops.torch_geometric_ugt.prune_smallest_torch_
    torch.library.opcheck(op, (scores, masks, torch.tensor(50), True))
    op(scores, masks, torch.tensor(50), True)
    want = [torch.empty_like(s) for s in scores]
    prune_smallest_reference_([s.cpu() for s in scores], want, 50)
    assert all(torch.equal(m.cpu(), w.cpu()) for m, w in zip(masks, want))


def cases():
    gen = torch.Generator().manual_seed(0)
    yield [torch.randn(1000, 37, generator=gen), torch.randn(5, generator=gen)]
    yield [torch.full((50_000, ), 0.5), torch.full((7, ), 0.5)]
    yield [torch.tensor([0.0, -0.0, math.inf, -math.inf, 1e-45, -1e-45])]
    tiny = [torch.randint(-2, 2, (int(n), ), generator=gen).float()
            for n in torch.randint(0, 3, (4096, ), generator=gen)]
    yield tiny
    big = torch.randn(3_000_000, generator=gen)
    big[::5] = 0.125
    yield [big, torch.randn(64, 64, generator=gen).t()]


@needs_gpu
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64,
                                   torch.float16, torch.bfloat16])
def test_cuda_matches_reference(dtype):
    backend.set_backend("native")
    try:
        from torch_geometric_ugt.threshold import prune_smallest_
        for scores in cases():
            total = sum(s.numel() for s in scores)
            for frac in (0.0, 1e-6, 0.3, 0.5, 0.9, 0.999999, 1.0):
                k = round(frac * total)
                expected = [torch.empty(s.shape) for s in scores]
                prune_smallest_reference_(scores, expected, k)
                device = [s.cuda() for s in scores]
                masks = [torch.full(s.shape, 7.0, dtype=dtype, device="cuda")
                         for s in scores]
                prune_smallest_(device, masks, k)
                for m, e in zip(masks, expected):
                    assert torch.equal(m.float().cpu(), e)
    finally:
        backend.set_backend("auto")


@needs_gpu
@pytest.mark.parametrize("index", range(2))
def test_cuda_non_contiguous_masks_on_a_side_stream(index):
    if index >= torch.cuda.device_count():
        pytest.skip(f"needs cuda:{index}")
    backend.set_backend("native")
    try:
        from torch_geometric_ugt.threshold import prune_smallest_
        gen = torch.Generator().manual_seed(1)
        scores = [torch.randn(300, 70, generator=gen),
                  torch.randn(33, generator=gen)]
        expected = [torch.empty(s.shape) for s in scores]
        prune_smallest_reference_(scores, expected, 12_345)
        device = torch.device("cuda", index)
        on_device = [s.to(device) for s in scores]
        masks = [torch.full((70, 300), 7.0, device=device).t(),
                 torch.full((66, ), 7.0, device=device)[::2]]
        stream = torch.cuda.Stream(device)
        stream.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(stream):
            prune_smallest_(on_device, masks, 12_345)
        stream.synchronize()
        for m, e in zip(masks, expected):
            assert torch.equal(m.cpu(), e)
    finally:
        backend.set_backend("auto")


@needs_gpu
def test_cuda_sparsifier_end_to_end():
    from torch_geometric.nn import GCN

    from torch_geometric_ugt import (GlobalGradualSparsifier, masked_weights,
                                     score_parameters, supermask)
    model = supermask(GCN(32, 64, 3, 4), seed=0).cuda()
    opt = torch.optim.Adam(score_parameters(model), lr=0.01)
    sp = GlobalGradualSparsifier(model, opt, final_sparsity=0.9,
                                 ramp_epochs=2)
    sp.step(5)
    zeros = sum(int((w.parametrization.mask == 0).sum())
                for w in masked_weights(model))
    assert zeros == round(0.9 * sp.num_weights)
    assert backend.active_backend("cuda") == "native"
