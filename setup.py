"""Optional ahead-of-time build of the native threshold kernels.

By default nothing is compiled at install time: the kernels are built on
first use (torch.utils.cpp_extension.load). For machines whose compute
nodes have no compiler, build them into the package instead:

    UGT_BUILD_EXTENSIONS=1 pip install --no-build-isolation .

(--no-build-isolation so that the kernels are compiled against the torch
that is installed, not against one pip would fetch for the build). The CUDA
kernel is built too when torch has CUDA and the CUDA toolkit is found. The
kernels register an operator with PyTorch's dispatcher: they are loaded
with torch.ops.load_library, not imported.
"""
import os

from setuptools import setup

ext_modules = []
cmdclass = {}
if os.environ.get("UGT_BUILD_EXTENSIONS", "0") == "1":
    import torch
    from torch.utils import cpp_extension

    csrc = "torch_geometric_ugt/csrc"
    ext_modules.append(cpp_extension.CppExtension(
        "torch_geometric_ugt._threshold_cpu", [f"{csrc}/threshold_cpu.cpp"],
        extra_compile_args=["-O3", "-fopenmp"], extra_link_args=["-fopenmp"]))
    if torch.version.cuda and cpp_extension.CUDA_HOME is not None:
        ext_modules.append(cpp_extension.CUDAExtension(
            "torch_geometric_ugt._threshold_cuda",
            [f"{csrc}/threshold_cuda.cpp", f"{csrc}/threshold_cuda.cu"],
            extra_compile_args={"cxx": ["-O3"], "nvcc": ["-O3"]}))
    cmdclass["build_ext"] = cpp_extension.BuildExtension

setup(ext_modules=ext_modules, cmdclass=cmdclass)
