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
    import importlib.util

    import torch
    from torch.utils import cpp_extension

    # The sources and flags of the JIT build, from the one place that lists
    # them (build.py imports only torch, so it loads without the package).
    spec = importlib.util.spec_from_file_location(
        "_ugt_build", os.path.join("torch_geometric_ugt", "build.py"))
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)

    def extension(kind, make):
        recipe = build.recipe(kind)
        return make(
            f"torch_geometric_ugt._native_{kind}",
            [os.path.relpath(s) for s in recipe["sources"]],
            extra_compile_args={"cxx": recipe["extra_cflags"],
                                "nvcc": recipe.get("extra_cuda_cflags", [])},
            extra_link_args=recipe.get("extra_ldflags", []))

    ext_modules.append(extension("cpu", cpp_extension.CppExtension))
    if torch.version.cuda and cpp_extension.CUDA_HOME is not None:
        ext_modules.append(extension("cuda", cpp_extension.CUDAExtension))
    cmdclass["build_ext"] = cpp_extension.BuildExtension

setup(ext_modules=ext_modules, cmdclass=cmdclass)
