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
  sparsifiers ask for). The native CPU kernel screens for both while it
  builds its histogram, at no extra cost.
* Masks have the shapes of their scores and any floating dtype; they are
  written in place, scores are not modified.
* No host synchronisation is needed beyond what the backend requires (the
  NaN screen costs one on CUDA); ``k`` may be a Python ``int``.

A search selects again and again on scores that moved a little since the
last selection. A :class:`ThresholdHint` remembers where the last threshold
was; the native CPU kernel then looks for the new one in a narrow band
around it first and, when it is there, saves one of its two passes over the
scores. The hint never changes the masks, only the time.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional, Sequence, Tuple

import torch
from torch import Tensor

from torch_geometric_ugt.backend import native_module


@dataclass
class ThresholdHint:
    r"""Where the next threshold of a repeated selection is expected: the
    band :math:`[\tau + \delta - w, \tau + \delta + w]` around the last
    threshold :math:`\tau` moved by its last change :math:`\delta` (the
    scores of a search drift steadily, and so does the threshold). Updated
    in place by :func:`prune_smallest_`; keep one hint per selection that
    is repeated (e.g. one for the training and one for the evaluation
    sparsity of a search).

    Attributes:
        value (float): The last threshold :math:`\tau` (NaN: none yet).
        step (float): Its last change :math:`\delta`.
        width (float): The band's half-width :math:`w` (NaN: none yet).
        hits (int): Selections the band held.
        misses (int): Selections it did not (they ran the full select).

    """

    value: float = math.nan
    step: float = 0.0
    width: float = math.nan
    hits: int = 0
    misses: int = 0

    # a band holding more (fewer) than this share of all scores shrinks
    # (widens) for the next call
    MAX_SHARE = 1 / 32
    MIN_SHARE = 1 / 1024

    def band(self) -> Tuple[float, float]:
        r"""The band to search first (NaNs: no band, full select)."""
        if math.isfinite(self.value) and math.isfinite(self.width):
            center = self.value + self.step
            return (center - self.width, center + self.width)
        return (math.nan, math.nan)

    def update(self, selection: Any, total: int) -> None:
        r"""Learns from the native kernel's answer (a ``Selection``)."""
        if not math.isfinite(selection.tau):  # k = 0 or k = N
            return
        if selection.in_band:
            self.hits += 1
            if selection.candidates > self.MAX_SHARE * total:
                self.width /= 2
            elif selection.candidates < self.MIN_SHARE * total:
                self.width *= 2
        else:
            lo, hi = selection.band_lo, selection.band_hi
            width = (max(selection.tau - lo, hi - selection.tau)
                     if math.isfinite(lo) and math.isfinite(hi) else math.nan)
            if math.isfinite(self.width):
                self.misses += 1
                width = (2 * self.width if math.isnan(width) else
                         max(width, 2 * self.width))
            self.width = width
        self.step = (selection.tau - self.value
                     if math.isfinite(self.value) else 0.0)
        self.value = selection.tau


def prune_smallest_(
    scores: Sequence[Tensor],
    masks: Sequence[Tensor],
    k: int,
    *,
    check_finite: bool = False,
    hint: Optional[ThresholdHint] = None,
) -> None:
    r"""Writes masks that zero the :obj:`k` globally smallest scores.

    Dispatches to the native kernel of the scores' device (see
    :mod:`torch_geometric_ugt.backend`) when it is available and the scores
    are float32 with masks of one dtype it writes (float32, float64,
    float16 or bfloat16), else to
    :func:`prune_smallest_reference_`. Both follow this module's contract.

    Args:
        scores (Sequence[torch.Tensor]): Score tensors (any shapes, one
            device, floating point).
        masks (Sequence[torch.Tensor]): Output tensors, one per score
            tensor and of the same shape, written in place.
        k (int): The number of entries to set to zero over all tensors.
        check_finite (bool, optional): Also refuse infinite scores (NaN is
            always refused). (default: :obj:`False`)
        hint (ThresholdHint, optional): Where the threshold was the last
            time; read and updated by the native CPU kernel, which then may
            save a pass (the masks are the same with or without it).
            (default: :obj:`None`)

    Raises:
        ValueError: If a score is NaN, or infinite with
            :obj:`check_finite`. No mask is written then, except with a
            :obj:`hint`: the banded pass writes the masks while it screens,
            so after the error they hold no valid selection and must be
            recomputed (the sparsifiers do).

    """
    prune_smallest_together_(scores, [(masks, k, hint)],
                             check_finite=check_finite)


MaskRequest = Tuple[Sequence[Tensor], int, Optional[ThresholdHint]]


def prune_smallest_together_(
    scores: Sequence[Tensor],
    selections: Sequence[MaskRequest],
    *,
    check_finite: bool = False,
) -> None:
    r"""Several :func:`prune_smallest_` selections on the same scores, each
    a ``(masks, k, hint)`` triple (e.g. the masks at the training and at
    the evaluation sparsity of a search). The native CPU kernel serves the
    hinted ones in one read of the scores; otherwise it is the same as one
    :func:`prune_smallest_` call per selection.
    """
    for masks, _, _ in selections:
        _check_pairs(scores, masks)
    if not selections:
        return
    native = None
    if scores and all(_native_eligible(scores, masks, selections[0][0])
                      for masks, _, _ in selections):
        native = native_module(scores[0].device)
        if native is not None and scores[0].device.type == "cpu":
            # The CPU kernel screens while it reads the scores and returns
            # ok = False if it finds NaN (or inf, when asked to).
            bands = [hint.band() if hint is not None else (math.nan,
                                                           math.nan)
                     for _, _, hint in selections]
            answers = native.prune_smallest_(
                list(scores), [list(masks) for masks, _, _ in selections],
                [int(k) for _, k, _ in selections], check_finite,
                [lo for lo, _ in bands], [hi for _, hi in bands])
            if not answers[0].ok:
                check_finite_scores(scores, allow_infinite=not check_finite)
                raise RuntimeError("internal error: the kernel refused "
                                   "scores that passed the finite check")
            total = sum(s.numel() for s in scores)
            for (_, _, hint), answer in zip(selections, answers):
                if hint is not None:
                    hint.update(answer, total)
            return
    check_finite_scores(scores, allow_infinite=not check_finite)
    for masks, k, _ in selections:
        if native is not None:
            native.prune_smallest_(list(scores), list(masks), int(k))
        else:
            prune_smallest_reference_(scores, masks, k)


def reads_once(device: torch.device) -> bool:
    r"""Whether :func:`prune_smallest_together_` serves several selections
    on :obj:`device` in one read of the scores (the native CPU kernel).
    """
    return device.type == "cpu" and native_module(device) is not None


# The mask dtypes the native kernels write; any other goes to the reference.
_NATIVE_MASK_DTYPES = (torch.float32, torch.float64, torch.float16,
                      torch.bfloat16)


def _native_eligible(scores: Sequence[Tensor], masks: Sequence[Tensor],
                     first: Sequence[Tensor]) -> bool:
    # float32 scores, masks of one kernel dtype (that of the first set)
    device, dtype = scores[0].device, first[0].dtype
    return dtype in _NATIVE_MASK_DTYPES and all(
        s.dtype == torch.float32 and s.device == device and m.dtype == dtype
        and m.device == device for s, m in zip(scores, masks))


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
    k: int,
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
        k (int): The number of entries to set to zero over all tensors.

    """
    _check_pairs(scores, masks)
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
