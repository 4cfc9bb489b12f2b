r"""Sparse inference: linear layers whose weight is stored sparse.

A ticket keeps a few percent of its weights. :class:`SparseLinear` stores
the weight :math:`W \in \mathbb{R}^{C_{out} \times C_{in}}` in CSR (one
row per output channel: :obj:`indptr`, :obj:`indices`, :obj:`values`) and
computes

.. math::
    \mathbf{Y} = \mathbf{X} \mathbf{W}^{\top} + \mathbf{b}, \qquad
    y_{io} = b_o + \sum_{p = \mathrm{indptr}_o}^{\mathrm{indptr}_{o+1} - 1}
    \mathrm{values}_p \, x_{i, \mathrm{indices}_p}

in :math:`O(n \cdot \mathrm{nnz})` instead of
:math:`O(n \cdot C_{in} C_{out})`, with the operator
:obj:`torch.ops.torch_geometric_ugt.sparse_linear` (a native CPU kernel,
see ``csrc/sparse_linear_cpu.cpp``) or, without it and on other devices,
:func:`torch.sparse.mm` on a CSR tensor (cuSPARSE on CUDA).
:func:`~torch_geometric_ugt.squash` with :obj:`sparse=True` builds these
layers where they are faster than dense ones (:func:`max_density`).
"""
from __future__ import annotations

import numbers
import warnings
from typing import Any, Dict, List, Optional

import torch
from torch import Tensor

from torch_geometric_ugt.backend import native_module, register_self_check
from torch_geometric_ugt.ops import (OPS, SPARSE_LINEAR_SCHEMA,
                                     sparse_linear_fake)

NATIVE_MAX_DENSITY = 0.2
r"""Densest weight (share of nonzeros) that the native CPU kernel runs
faster than dense :func:`torch.nn.functional.linear`, measured by
``python -m benchmarks.sparse_inference --crossover`` (record
``benchmarks/results/sparse-crossover-cpu.json``, see
docs/inference.md): the
smallest crossover over the measured layer shapes, rounded down."""

TORCH_MAX_DENSITY = 0.0
r"""The same for :func:`torch.sparse.mm` on a CSR weight (the CPU path
without the native kernel): it was slower than dense for some layer shapes
at every measured density (down to 0.005), so without the native kernel
no layer goes sparse unless :obj:`max_density` is given."""

MIN_ELEMENTS = 4096
r"""Weights with fewer elements stay dense: the sparse kernel's fixed costs
weigh most on them, so theirs is the lowest measured crossover (a 64 x 32
layer at 20,000 nodes: 0.1, against 0.2 or more for every larger layer),
and their product costs little either way."""


def _check_real(value: Any, name: str) -> float:
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not 0.0 <= float(value) <= 1.0):
        raise ValueError(f"{name} must be a number in [0, 1] (a share of "
                         f"nonzero weights); got {value!r}.")
    return float(value)


def max_density(device: torch.device) -> float:
    r"""The densest weight that :func:`~torch_geometric_ugt.squash` makes
    sparse on :obj:`device` by default: :data:`NATIVE_MAX_DENSITY` on a CPU
    with the native kernel, :data:`TORCH_MAX_DENSITY` on a CPU without it.
    On other devices (CUDA) the crossover has not been measured, so layers
    stay dense unless :obj:`squash(..., max_density=...)` is given.
    """
    if device.type != "cpu":
        return 0.0
    return (NATIVE_MAX_DENSITY if native_module(device) is not None
            else TORCH_MAX_DENSITY)


def _check_operands(input: Tensor, indptr: Tensor, indices: Tensor,
                    values: Tensor, bias: Optional[Tensor]) -> None:
    # What every path checks before it computes (metadata only; the native
    # kernel and the CSR constructor check the indices themselves).
    if input.dim() < 1:
        raise ValueError("sparse_linear: the input needs at least one "
                         "dimension (its last one holds the features).")
    if indptr.dim() != 1 or indptr.numel() < 1 \
            or indptr.dtype != torch.int64:
        raise ValueError("sparse_linear: indptr must be a 1-D int64 tensor "
                         "of out_features + 1 entries.")
    if indices.dim() != 1 or indices.dtype != torch.int32 \
            or values.shape != indices.shape:
        raise ValueError("sparse_linear: indices must be a 1-D int32 tensor "
                         "and values a tensor of the same length.")
    if values.dtype != input.dtype:
        raise TypeError(f"sparse_linear: the input is {input.dtype} but the "
                        f"weight is {values.dtype}; convert the model (e.g. "
                        f"model.to({input.dtype})) or the input.")
    if bias is not None and (bias.shape != (indptr.numel() - 1, )
                             or bias.dtype != input.dtype):
        raise ValueError(f"sparse_linear: the bias must have shape "
                         f"({indptr.numel() - 1},) and the input's dtype.")
    devices = {t.device for t in (input, indptr, indices, values)}
    if bias is not None:
        devices.add(bias.device)
    if len(devices) != 1:
        raise ValueError(f"sparse_linear: all tensors must be on one "
                         f"device; got {sorted(map(str, devices))}.")


def sparse_linear_reference(input: Tensor, indptr: Tensor, indices: Tensor,
                            values: Tensor,
                            bias: Optional[Tensor] = None) -> Tensor:
    r""":func:`sparse_linear` with :func:`torch.sparse.mm` on a CSR tensor:
    the pure-PyTorch path (cuSPARSE on CUDA). Half and bfloat16 are
    computed in float32.
    """
    _check_operands(input, indptr, indices, values, bias)
    in_features = input.shape[-1]
    out_features = indptr.numel() - 1
    compute = (input.dtype if input.dtype in (torch.float32, torch.float64)
               else torch.float32)
    with warnings.catch_warnings():  # "CSR support is in beta state"
        warnings.simplefilter("ignore", UserWarning)
        weight = torch.sparse_csr_tensor(
            indptr, indices.to(torch.int64), values.to(compute),
            size=(out_features, in_features), check_invariants=True)
    x = input.reshape(-1, in_features).to(compute)
    out = torch.sparse.mm(weight, x.t()).t()
    if bias is not None:
        out = out + bias.to(compute)
    out = _propagate_nonfinite(input.reshape(-1, in_features), indptr,
                               indices, out)
    return out.to(input.dtype).reshape(*input.shape[:-1], out_features)


def _propagate_nonfinite(x: Tensor, indptr: Tensor, indices: Tensor,
                         out: Tensor) -> Tensor:
    # The dense product is NaN at (i, o) where input i holds a non-finite
    # value in a column that row o does not store (0 * inf = NaN); the
    # sparse product never reads those. Only rows with such values pay.
    if bool(torch.isfinite(x.sum())):  # one reduction: no NaN, no inf
        return out  # (an overflowing sum only takes the exact path)
    bad = ~torch.isfinite(x)
    rows = bad.any(dim=1).nonzero().view(-1)
    if rows.numel() == 0:
        return out
    bad = bad[rows].to(torch.int64)
    total = bad.sum(dim=1, keepdim=True)
    at_stored = bad[:, indices.to(torch.int64)]
    running = torch.nn.functional.pad(at_stored.cumsum(dim=1), (1, 0))
    stored = running[:, indptr[1:]] - running[:, indptr[:-1]]
    out = out.clone()
    out[rows] = out[rows].masked_fill(stored < total, float("nan"))
    return out


@torch.library.custom_op(f"{OPS}::sparse_linear_csr", mutates_args=(),
                         schema=SPARSE_LINEAR_SCHEMA)
def _sparse_linear_csr(input: Tensor, indptr: Tensor, indices: Tensor,
                       values: Tensor, bias: Optional[Tensor]) -> Tensor:
    # sparse_linear_reference as one operator with the native one's schema
    # and fake kernel: torch.compile cannot build sparse tensors in a
    # graph, so it traces this call whole instead of breaking the graph (or
    # skipping the frame). The product comes out transposed; the fake
    # kernel's (and the native kernel's) output is contiguous.
    return sparse_linear_reference(input, indptr, indices, values,
                                   bias).contiguous()


_sparse_linear_csr.register_fake(sparse_linear_fake)


@register_self_check
def _self_check_sparse_linear(ops: Any, device: torch.device
                              ) -> Optional[str]:
    # The native product against torch.sparse on a small layer with empty
    # rows and columns and a non-finite input, on the CPU (its only
    # kernel), in float32 and float64.
    if device.type != "cpu":
        return None
    gen = torch.Generator().manual_seed(0)
    for dtype in (torch.float32, torch.float64):
        weight = torch.randn(9, 21, generator=gen, dtype=dtype)
        weight *= torch.rand(9, 21, generator=gen) < 0.3
        weight[2] = 0
        weight[:, 5] = 0
        x = torch.randn(37, 21, generator=gen, dtype=dtype)
        x[3, 5] = float("inf")
        bias = torch.randn(9, generator=gen, dtype=dtype)
        layer = SparseLinear.from_dense(weight, bias)
        args = (x, layer.indptr, layer.indices, layer.values, bias)
        got = ops.sparse_linear(*args)
        want = sparse_linear_reference(*args)
        if not (torch.equal(got.isnan(), want.isnan()) and torch.allclose(
                got.nan_to_num(), want.nan_to_num(), rtol=1e-4, atol=1e-5)):
            return f"sparse_linear gave another product in {dtype}"
    return None


def sparse_linear(input: Tensor, indptr: Tensor, indices: Tensor,
                  values: Tensor, bias: Optional[Tensor] = None) -> Tensor:
    r""":math:`\mathbf{X} \mathbf{W}^{\top} + \mathbf{b}` for a CSR weight
    :math:`\mathbf{W}` (see the module's docstring), over the last
    dimension of :obj:`input` (any leading shape, any strides, 0 rows
    included). The native CPU kernel when it is available (see
    :mod:`torch_geometric_ugt.backend`), else
    :func:`sparse_linear_reference` (as the operator
    :obj:`torch.ops.torch_geometric_ugt.sparse_linear_csr`). Both are
    operators with fake kernels, so :func:`torch.compile` traces them
    without a graph break. No gradients: an operand that requires grad
    while autograd records is refused.

    Args:
        input (torch.Tensor): :math:`(*, C_{in})`, floating point.
        indptr (torch.Tensor): :math:`(C_{out} + 1,)` int64 row offsets.
        indices (torch.Tensor): :math:`(\mathrm{nnz},)` int32 columns.
        values (torch.Tensor): :math:`(\mathrm{nnz},)`, the input's dtype.
        bias (torch.Tensor, optional): :math:`(C_{out},)`.

    Returns:
        :math:`(*, C_{out})`, the input's dtype.

    """
    _check_operands(input, indptr, indices, values, bias)
    if torch.is_grad_enabled() and any(
            t is not None and t.requires_grad
            for t in (input, values, bias)):
        raise RuntimeError("sparse_linear has no gradients, and an operand "
                           "requires grad: run it under torch.no_grad() / "
                           "torch.inference_mode(), or detach the operands.")
    if input.device.type == "cpu":
        ops = native_module(input.device)
        if ops is not None:
            return ops.sparse_linear(input, indptr, indices, values, bias)
    return torch.ops.torch_geometric_ugt.sparse_linear_csr(
        input, indptr, indices, values, bias)


class SparseLinear(torch.nn.Module):
    r"""A linear layer :math:`\mathbf{y} = \mathbf{x}\mathbf{W}^{\top} +
    \mathbf{b}` whose weight is stored in CSR and run by
    :func:`sparse_linear`: what :func:`~torch_geometric_ugt.squash` with
    :obj:`sparse=True` puts in place of a sparse enough
    :class:`torch.nn.Linear` or :class:`torch_geometric.nn.dense.Linear`.

    It is for inference: it has no gradients, and calling it while
    autograd records (in training mode, or with an input that requires
    grad) raises. Its :meth:`state_dict` holds :obj:`indptr`,
    :obj:`indices`, :obj:`values` and :obj:`bias`; loading one with
    another number of nonzeros resizes the layer. :attr:`weight` gives the
    weight back as a dense tensor.

    Args:
        in_channels (int): Size of each input sample.
        out_channels (int): Size of each output sample.
        bias (bool): Whether the layer has a bias. (default: :obj:`True`)
        dtype (torch.dtype, optional): The weight's dtype.
        device (torch.device, optional): The weight's device.

    """

    indptr: Tensor
    indices: Tensor
    values: Tensor

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True,
                 *, dtype: Optional[torch.dtype] = None,
                 device: Optional[torch.device] = None) -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels),
                            ("out_channels", out_channels)):
            if isinstance(value, bool) or not isinstance(value, int) \
                    or value < 0:
                raise ValueError(f"{name} must be a non-negative int; got "
                                 f"{value!r}.")
        if in_channels >= 2**31:
            raise ValueError("SparseLinear stores int32 column indices: "
                             "in_channels must be below 2**31.")
        self.in_channels = in_channels
        self.out_channels = out_channels
        dtype = dtype or torch.get_default_dtype()
        self.register_buffer("indptr", torch.zeros(
            out_channels + 1, dtype=torch.int64, device=device))
        self.register_buffer("indices", torch.zeros(
            0, dtype=torch.int32, device=device))
        self.register_buffer("values", torch.zeros(0, dtype=dtype,
                                                   device=device))
        self.bias: Optional[torch.nn.Parameter]
        if bias:
            self.bias = torch.nn.Parameter(
                torch.zeros(out_channels, dtype=dtype, device=device),
                requires_grad=False)
        else:
            self.register_parameter("bias", None)

    @classmethod
    def from_dense(cls, weight: Tensor,
                   bias: Optional[Tensor] = None) -> "SparseLinear":
        r"""The layer of a dense :obj:`weight` (:math:`C_{out} \times
        C_{in}`; its zeros are dropped) and :obj:`bias`.
        """
        if weight.dim() != 2 or not weight.is_floating_point():
            raise ValueError(f"SparseLinear.from_dense takes a 2-D floating "
                             f"point weight; got shape {tuple(weight.shape)} "
                             f"of {weight.dtype}.")
        if bias is not None and bias.shape != weight.shape[:1]:
            raise ValueError(f"The bias has shape {tuple(bias.shape)}, not "
                             f"({weight.shape[0]},).")
        out_channels, in_channels = weight.shape
        layer = cls(in_channels, out_channels, bias is not None,
                    dtype=weight.dtype, device=weight.device)
        with torch.no_grad():
            weight = weight.detach()
            rows, columns = weight.nonzero(as_tuple=True)  # row-major
            counts = torch.bincount(rows, minlength=out_channels)
            layer.indptr[1:] = counts.cumsum(0)
            layer.indices = columns.to(torch.int32)
            layer.values = weight[rows, columns]
            if bias is not None:
                assert layer.bias is not None
                layer.bias.copy_(bias.detach())
        return layer

    @property
    def nnz(self) -> int:
        r"""The number of stored (nonzero) weights."""
        return self.values.numel()

    @property
    def density(self) -> float:
        r"""The share of the weight's entries that are stored."""
        total = self.in_channels * self.out_channels
        return self.nnz / total if total else 0.0

    @property
    def weight(self) -> Tensor:
        r"""The weight as a dense :math:`C_{out} \times C_{in}` tensor
        (computed; for code that reads :obj:`lin.weight`).
        """
        rows = torch.repeat_interleave(
            torch.arange(self.out_channels, device=self.indptr.device),
            self.indptr.diff())
        weight = self.values.new_zeros(self.out_channels, self.in_channels)
        weight[rows, self.indices.to(torch.int64)] = self.values
        return weight

    def reset_parameters(self) -> None:
        raise RuntimeError("A SparseLinear layer holds a squashed ticket and "
                           "cannot be re-initialised; build the model again "
                           "to start afresh.")

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1:] != (self.in_channels, ):
            raise ValueError(f"SparseLinear expects inputs with "
                             f"{self.in_channels} features in the last "
                             f"dimension; got shape {tuple(x.shape)}.")
        if torch.is_grad_enabled() and (self.training or x.requires_grad):
            raise RuntimeError(
                "This layer was squashed with sparse=True: it runs inference "
                "only and has no gradients. Call model.eval() (with an "
                "input that does not require grad), or run it under "
                "torch.no_grad() / torch.inference_mode(). To fine-tune, "
                "squash the ticket without sparse=True.")
        return sparse_linear(x, self.indptr, self.indices, self.values,
                             self.bias)

    def _load_from_state_dict(self, state_dict: Dict[str, Any], prefix: str,
                              local_metadata: Any, strict: bool,
                              missing_keys: List[str],
                              unexpected_keys: List[str],
                              error_msgs: List[str]) -> None:
        # The number of nonzeros is the checkpoint's: check the CSR arrays
        # it holds, then take their sizes before the usual copy.
        names = ("indptr", "indices", "values")
        if prefix + "weight" in state_dict and prefix + "indptr" \
                not in state_dict:
            error_msgs.append(
                f"'{prefix}weight' is a dense weight, but this layer is a "
                f"SparseLinear (of squash(model, sparse=True)): load the "
                f"checkpoint into the model squashed without sparse=True, or "
                f"load the ticket and squash it with sparse=True.")
            return
        # All or nothing: every key is checked before anything is loaded,
        # so a refused checkpoint leaves the layer as it was.
        own_keys = list(names) + (["bias"] if self.bias is not None else [])
        missing = [prefix + n for n in own_keys if prefix + n not in
                   state_dict]
        extra = [k for k in state_dict if k.startswith(prefix)
                 and "." not in k[len(prefix):]
                 and k[len(prefix):] not in own_keys]
        if missing or (strict and extra):
            error_msgs.append(
                f"SparseLinear '{prefix.rstrip('.')}' loads all of "
                f"{own_keys} or nothing: the checkpoint lacks {missing} and "
                f"has unexpected {extra}; the layer is unchanged. Save it "
                f"from a model squashed the same way (same bias).")
            missing_keys.extend(missing)
            unexpected_keys.extend(extra if strict else [])
            return
        tensors = {n: state_dict[prefix + n] for n in own_keys}
        if not all(isinstance(t, Tensor) for t in tensors.values()):
            error_msgs.append(f"'{prefix}...' entries must be tensors.")
            return
        problem = _csr_problem(tensors["indptr"], tensors["indices"],
                               tensors["values"], self.in_channels,
                               self.out_channels)
        if problem is None and self.bias is not None \
                and tensors["bias"].shape != self.bias.shape:
            problem = f"the bias must have shape {tuple(self.bias.shape)}"
        if problem is not None:
            error_msgs.append(f"'{prefix}indptr/indices/values' do not "
                              f"hold a {self.out_channels} x "
                              f"{self.in_channels} CSR weight: "
                              f"{problem}; the layer is unchanged.")
            return
        for name in names:
            own = self._buffers[name]
            assert own is not None
            self._buffers[name] = own.new_empty(tensors[name].shape)
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, "
                f"bias={self.bias is not None}, nnz={self.nnz}, "
                f"density={self.density:.4f}")


def _csr_problem(indptr: Tensor, indices: Tensor, values: Tensor,
                 in_channels: int, out_channels: int) -> Optional[str]:
    if indptr.shape != (out_channels + 1, ) or indptr.dtype != torch.int64:
        return f"indptr must be int64 of shape ({out_channels + 1},)"
    if indices.dim() != 1 or indices.dtype != torch.int32:
        return "indices must be a 1-D int32 tensor"
    if values.shape != indices.shape or not values.is_floating_point():
        return "values must be floating point, one per index"
    if int(indptr[0]) != 0 or int(indptr[-1]) != indices.numel():
        return "indptr must start at 0 and end at the number of values"
    if bool((indptr[1:] < indptr[:-1]).any()):
        return "indptr decreases"
    if indices.numel() and (int(indices.min()) < 0
                            or int(indices.max()) >= in_channels):
        return f"a column index is outside [0, {in_channels})"
    return None
