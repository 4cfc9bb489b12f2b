r"""Global threshold selection: the one place where masks are computed.

Every sparsifier reduces to the same question: given the score tensors of
some masked weights (:math:`N` elements in all) and a count :math:`k`, which
:math:`k` weights have the smallest scores? :func:`prune_smallest_` answers it
and writes the 0/1 masks in place.

Contract (kept small on purpose, so that native kernels can implement it):

* Scores are ordered by ``(value, position)``: a smaller score is pruned
  first; among equal scores the one at the smaller *global position* is
  pruned first. The global position of an element is its row-major index in
  its tensor, offset by the sizes of all tensors before it in the list. As
  floats, ``-0.0 == +0.0`` (a tie), ``-inf``/``+inf`` are ordinary values.
* Exactly ``min(max(k, 0), N)`` entries are set to ``0``, all others to
  ``1``. The result is a pure function of the scores and ``k``: it does not
  depend on the device, the number of threads or the run.
* NaN scores are refused with a :class:`ValueError` before any mask is
  written; with ``check_finite=True`` so are ``+-inf`` (what the
  sparsifiers ask for). A refused call leaves every mask as it was. The
  native CPU kernel screens for both while it builds its first histogram,
  at no extra cost, and writes only after that.
* Masks have the shapes of their scores and any floating dtype; they are
  written in place, scores are not modified. Every score and mask is
  checked before any mask is written: one device (not ``meta``), floating
  dtypes, matching shapes, and masks that overlap neither themselves (an
  expanded view), nor each other, nor a score tensor.
* No host synchronisation is needed beyond what the backend requires (the
  NaN screen costs one on CUDA); ``k`` may be a Python ``int``.
* Several counts :math:`k_1, \dots, k_C` (multicoated masks) select all
  coats in one call: each coat is the exact selection of its own
  :math:`k_c` (so the coats are nested), and every mask entry is the share
  of coats that keep it, :math:`m_i = \frac{1}{C} \sum_c
  \mathbb{1}[i \text{ kept at } k_c]`, computed as ``float32(kept) /
  float32(C)`` and cast to the mask's dtype. One count is the binary mask.
"""
from __future__ import annotations

import math
import numbers
from typing import List, Sequence, Tuple, Union

import torch
from torch import Tensor

from torch_geometric_ugt.backend import native_module, register_self_check
from torch_geometric_ugt.ops import (OPS, PRUNE_SMALLEST_SCHEMA,
                                     prune_smallest_fake)


def prune_smallest_(
    scores: Sequence[Tensor],
    masks: Sequence[Tensor],
    k: Union[int, Sequence[int], Tensor],
    *,
    check_finite: bool = False,
) -> None:
    r"""Writes masks that zero the :obj:`k` globally smallest scores (or,
    for several counts, the multicoated masks of the module's contract).

    Dispatches to the native kernel of the scores' device (see
    :mod:`torch_geometric_ugt.backend`) when it is available and the scores
    are float32 with masks of one dtype it writes (float32, float64,
    float16 or bfloat16), else to
    :func:`prune_smallest_reference_` (as the operator
    :obj:`torch.ops.torch_geometric_ugt.prune_smallest_torch_`). Both
    follow this module's contract, and both are operators with fake
    kernels, so :func:`torch.compile` traces either without a graph break.
    Scores on the :obj:`meta` device are refused (they hold no values).

    Args:
        scores (Sequence[torch.Tensor]): Score tensors (any shapes, one
            device, floating point).
        masks (Sequence[torch.Tensor]): Output tensors, one per score
            tensor and of the same shape, written in place.
        k (int or Sequence[int] or torch.Tensor): The number of entries
            to set to zero over all tensors, or one per coat; or an integer
            CPU tensor of one or more elements holding them (what a
            compiled graph reads at run time).
        check_finite (bool, optional): Also refuse infinite scores (NaN is
            always refused). (default: :obj:`False`)

    Raises:
        ValueError: If a score is NaN, or infinite with
            :obj:`check_finite`; no mask is written then.

    """
    _check_inputs(scores, masks)
    if isinstance(k, Tensor):
        if (k.numel() < 1 or k.dim() > 1 or k.device.type != "cpu"
                or k.dtype.is_floating_point or k.dtype.is_complex
                or k.dtype == torch.bool):
            raise TypeError(f"k must be an int, a sequence of ints, or an "
                            f"integer CPU tensor of one or more elements "
                            f"(0-D or 1-D); got a {k.dtype} tensor of shape "
                            f"{tuple(k.shape)} on {k.device}.")
    else:
        counts = [k] if isinstance(k, numbers.Integral) else k
        if (isinstance(k, (bool, str)) or not hasattr(counts, "__len__")
                or len(counts) < 1  # type: ignore[arg-type]
                or any(isinstance(c, bool)
                       or not isinstance(c, numbers.Integral)
                       for c in counts)):  # type: ignore[union-attr]
            raise TypeError(f"k must be an int (the number of scores to "
                            f"prune) or a non-empty sequence of ints (one "
                            f"per coat); got {k!r}.")
    if not scores:
        return
    if isinstance(k, Tensor):  # the sparsifiers' case: nothing to count
        count = k
    else:  # clamped to [0, N] first: any int fits the tensor
        total = sum(score.numel() for score in scores)
        clamped = [min(max(int(c), 0), total)
                   for c in counts]  # type: ignore[union-attr]
        count = torch.tensor(clamped if len(clamped) > 1 else clamped[0])
    native = (native_module(scores[0].device)
              if _native_eligible(scores, masks) else None)
    if native is None:
        torch.ops.torch_geometric_ugt.prune_smallest_torch_(
            list(scores), list(masks), count, check_finite)
        return
    # The operator (CPU or CUDA) screens before it writes and raises a
    # ValueError if it finds NaN (or inf, when asked to); the message of
    # check_finite_scores says where.
    try:
        native.prune_smallest_(list(scores), list(masks), count,
                               check_finite)
    except ValueError:
        check_finite_scores(scores, allow_infinite=not check_finite)
        raise


@torch.library.custom_op(f"{OPS}::prune_smallest_torch_",
                         mutates_args=("masks", ),
                         schema=PRUNE_SMALLEST_SCHEMA)
def _prune_smallest_torch_(scores: List[Tensor], masks: List[Tensor],
                           k: Tensor, reject_infinite: bool) -> None:
    # The pure-PyTorch path as one operator with the native one's schema
    # and fake kernel: torch.compile traces the call whole instead of
    # breaking the graph at the screen's and the count's host reads.
    check_finite_scores(scores, allow_infinite=not reject_infinite)
    prune_smallest_reference_(scores, masks, k.view(-1).tolist())


_prune_smallest_torch_.register_fake(prune_smallest_fake)


# The mask dtypes the native kernels write; any other goes to the reference.
_NATIVE_MASK_DTYPES = (torch.float32, torch.float64, torch.float16,
                      torch.bfloat16)


def _native_eligible(scores: Sequence[Tensor],
                     masks: Sequence[Tensor]) -> bool:
    # float32 scores, masks of one kernel dtype, all on one device
    device, dtype = scores[0].device, masks[0].dtype
    return dtype in _NATIVE_MASK_DTYPES and all(
        s.dtype == torch.float32 and s.device == device and m.dtype == dtype
        and m.device == device for s, m in zip(scores, masks))


def _check_inputs(scores: Sequence[Tensor],
                  masks: Sequence[Tensor]) -> None:
    # Everything prune_smallest_ needs, checked before any mask is written.
    _check_pairs(scores, masks)
    tensors = list(scores) + list(masks)
    if any(t.device.type == "meta" for t in tensors):
        raise ValueError("prune_smallest_ got tensors on the meta device: "
                         "they hold no values, so no mask can be chosen. "
                         "Materialise them first (to_empty() and a "
                         "checkpoint, or a fresh model on a real device).")
    devices = {t.device for t in tensors}
    if len(devices) > 1:
        raise ValueError(f"prune_smallest_ takes scores and masks on one "
                         f"device; got {sorted(map(str, devices))}. Move "
                         f"them together first (model.to(device)).")
    for i, (score, mask) in enumerate(zip(scores, masks)):
        if not score.is_floating_point() or not mask.is_floating_point():
            raise TypeError(f"Scores and masks must be floating point; "
                            f"pair {i} has {score.dtype} scores and a "
                            f"{mask.dtype} mask.")
        if (not torch.compiler.is_compiling() and mask.numel() > 1
                and torch._debug_has_internal_overlap(mask)):
            raise ValueError(f"Mask {i} overlaps itself (an expanded or "
                             f"strided view): its entries cannot be "
                             f"written one by one. Pass a tensor of its "
                             f"own (mask.contiguous()).")
    if torch.compiler.is_compiling():
        return  # (fake tensors have no memory; the operator checks shapes)
    # Sorted by (storage, first byte), an overlap is with a neighbour that
    # starts before this one ends: O(T log T) for T tensors.
    spans = sorted(_span(t) + (j, ) for j, t in enumerate(tensors)
                   if t.numel())
    for a, (storage, _, end, i) in enumerate(spans):
        for other, start, _, j in spans[a + 1:]:
            if other != storage or start >= end:
                break
            if max(i, j) >= len(scores):  # a mask is involved
                index, rest = max(i, j), min(i, j)
                what = ("another mask" if rest >= len(scores) else
                        f"score tensor {rest}")
                raise ValueError(
                    f"Mask {index - len(scores)} shares memory with {what}: "
                    f"writing it would change that one too. Give every "
                    f"mask a tensor of its own.")


def _span(t: Tensor) -> Tuple[int, int, int]:
    # (storage, first byte, end byte) of the memory a tensor may touch
    start = int(t.storage_offset())
    end = start + 1 + sum((int(n) - 1) * abs(int(s))
                          for n, s in zip(t.shape, t.stride()))
    size = t.element_size()
    return (t.untyped_storage().data_ptr(), start * size, end * size)


def _check_pairs(scores: Sequence[Tensor], masks: Sequence[Tensor]) -> None:
    if len(scores) != len(masks):
        raise ValueError(f"Got {len(scores)} score tensors but {len(masks)} "
                         f"mask tensors; pass one mask per score tensor.")
    for score, mask in zip(scores, masks):
        if score.shape != mask.shape:
            raise ValueError(f"A mask of shape {tuple(mask.shape)} cannot "
                             f"hold the mask of scores of shape "
                             f"{tuple(score.shape)}.")


def prune_smallest_reference_(
    scores: Sequence[Tensor],
    masks: Sequence[Tensor],
    k: Union[int, Sequence[int]],
) -> None:
    r"""Pure-PyTorch reference implementation of the contract in this module's
    docstring: one concatenation, one :meth:`torch.Tensor.kthvalue` and one
    cumulative sum over the ties at the threshold value :math:`\tau`:

    .. math::
        m_i = 0 \iff s_i < \tau \;\lor\;
        \big(s_i = \tau \,\land\, |\{j \le i : s_j = \tau\}|
        \le k - |\{j : s_j < \tau\}|\big)

    Args:
        scores (Sequence[torch.Tensor]): Score tensors (any shapes, one
            device, floating point, no NaN).
        masks (Sequence[torch.Tensor]): Output tensors, one per score
            tensor and of the same shape, written in place.
        k (int or Sequence[int]): The number of entries to set to zero
            over all tensors, or one per coat (the masks then hold the
            share of coats that keep each entry).

    """
    _check_pairs(scores, masks)
    if not isinstance(k, numbers.Integral):
        _levels_reference_(scores, masks, [int(c) for c in k])  # type: ignore[union-attr]
        return
    sizes = [score.numel() for score in scores]
    total = sum(sizes)
    k = min(max(int(k), 0), total)
    if k == 0 or k == total:
        for mask in masks:
            mask.fill_(0.0 if k else 1.0)
        return

    flat = torch.cat([score.detach().reshape(-1) for score in scores])
    tau = flat.kthvalue(k).values
    below = flat < tau
    tie = flat == tau
    # Ties at the threshold are pruned by position until exactly k are gone.
    budget = k - below.sum()
    pruned = below | (tie & (tie.cumsum(0) <= budget))
    for mask, keep in zip(masks, torch.logical_not(pruned).split(sizes)):
        mask.copy_(keep.view(mask.shape))


def _levels_reference_(scores: Sequence[Tensor], masks: Sequence[Tensor],
                       counts: List[int]) -> None:
    # Each coat's exact selection, then the share of coats keeping each
    # entry: float32(kept) / float32(C), cast to the mask's dtype.
    kept = [torch.zeros(s.shape, dtype=torch.float32, device=s.device)
            for s in scores]
    for count in counts:
        coat = [torch.empty_like(t) for t in kept]
        prune_smallest_reference_(scores, coat, int(count))
        for total, one in zip(kept, coat):
            total.add_(one)
    for mask, total in zip(masks, kept):
        mask.copy_(total / float(len(counts)))


def check_finite_scores(scores: Sequence[Tensor], *,
                        allow_infinite: bool = False) -> None:
    r"""Raises a :class:`ValueError` if any score is NaN, or infinite
    unless :obj:`allow_infinite`.

    A float32 sum per tensor screens all scores in one vectorised pass and
    one host synchronisation; only a suspicious sum (NaN, or non-finite
    when infinite scores are refused; also an overflow of huge finite
    scores) is confirmed element-wise.
    """
    if not scores:
        return
    def fine(t: Tensor) -> Tensor:
        return ~t.isnan().any() if allow_infinite else t.isfinite().all()

    sums = torch.stack([s.detach().sum() for s in scores])
    if bool(fine(sums)):
        return
    good = torch.stack([fine(s.detach()) for s in scores])
    if bool(good.all()):
        return
    bad = [i for i, ok in enumerate(good.tolist()) if not ok]
    what = "NaN" if allow_infinite else "NaN or infinite"
    raise ValueError(
        f"Scores of {len(bad)} masked weight(s) (indices {bad[:5]}) contain "
        f"{what} values, so no mask can be chosen from them. This usually "
        f"means the learning rate is too high or the loss diverged; lower "
        f"the learning rate or reload the last good checkpoint.")


def _self_check_cases(device: torch.device) -> List[tuple]:
    # (scores, k) pairs that have caught selection bugs: ties at the
    # threshold across tensors, signed zeros, infinities, an empty tensor,
    # k = 0 and k = N, many ties among many tensors.
    ties = [torch.tensor([[1.0, 2.0, 2.0], [2.0, 0.0, 2.0]]),
            torch.tensor([2.0, 2.0, -0.0, 0.0]), torch.empty(0),
            torch.tensor([2.0, -math.inf, math.inf])]
    gen = torch.Generator().manual_seed(0)
    many = [torch.randint(-3, 4, (n, ), generator=gen).float()
            for n in (7, 1, 300, 33, 2048)]
    cases: List[tuple] = []
    for scores in (ties, many):
        total = sum(s.numel() for s in scores)
        counts = sorted({0, 1, 3, 5, total // 2, total - 1, total})
        on_device = [s.to(device) for s in scores]
        cases += [(on_device, k) for k in counts]
        # multicoated masks: several counts in one call
        cases.append((on_device, [total // 2, 3, total, 0, total - 1]))
    return cases


@register_self_check
def _self_check_prune_smallest(ops, device: torch.device):
    # The native selection against the reference, in every mask dtype.
    for scores, k in _self_check_cases(device):
        for dtype in _NATIVE_MASK_DTYPES:
            want = [torch.empty_like(s, dtype=dtype) for s in scores]
            prune_smallest_reference_(scores, want, k)
            got = [torch.full_like(s, 7.0, dtype=dtype) for s in scores]
            ops.prune_smallest_(scores, got, torch.tensor(k), False)
            if not all(torch.equal(g, w) for g, w in zip(got, want)):
                return (f"prune_smallest_ chose other masks for "
                        f"{sum(s.numel() for s in scores)} scores in "
                        f"{len(scores)} tensors, k = {k}, {dtype} masks")
    scores = [torch.tensor([1.0, float("nan"), 0.0], device=device)]
    masks = [torch.full_like(scores[0], 7.0)]
    try:
        ops.prune_smallest_(scores, masks, torch.tensor(1), False)
    except (ValueError, RuntimeError):
        pass
    else:
        return "prune_smallest_ accepted a NaN score"
    if not bool((masks[0] == 7.0).all()):
        return "prune_smallest_ wrote masks before refusing a NaN score"
    return None
