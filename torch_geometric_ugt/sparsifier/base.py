r"""The sparsifier: chooses the masks of a supermask model from its
scores.
"""
from __future__ import annotations

import contextlib
from typing import Any, Dict, Iterator, List, Optional, Tuple

import torch
from torch.utils.hooks import RemovableHandle

from torch_geometric_ugt.schedule import SparsitySchedule, check_sparsity
from torch_geometric_ugt.supermask import MaskedWeight, masked_weights
from torch_geometric_ugt.threshold import (MaskRequest, ThresholdHint,
                                           prune_smallest_,
                                           prune_smallest_together_,
                                           reads_once)

SCOPES = ("global", "layer")


class SupermaskSparsifier:
    r"""Keeps the masks of a supermask model in sync with its scores.

    At sparsity :math:`s`, the masks remove the weights with the smallest
    scores:

    * :obj:`scope="global"`: exactly :math:`\mathrm{round}(s N)` weights over
      all :math:`N` masked weights, below one shared threshold, so the
      per-layer sparsities come out non-uniform (UGTs);
    * :obj:`scope="layer"`: exactly :math:`\mathrm{round}(s N_l)` weights in
      every tensor :math:`l` (Edge-Popup).

    Ties are broken by position, so the masks are a pure function of the
    scores. With an :obj:`optimizer`, a post-step hook refreshes the masks
    after every :meth:`optimizer.step()`; :meth:`step` advances the
    :obj:`schedule` by one epoch. Both refreshes are lazy: the selection
    runs when the masks are next read (the forward pass, :obj:`mask`,
    :meth:`state_dict`, :meth:`at_sparsity`, the sparsity queries), so an
    epoch that evaluates at another sparsity between two steps selects
    twice, not three times; on the native CPU kernel, :meth:`at_sparsity`
    during a ramp also selects the masks of the next epoch's sparsity in
    the same read of the scores (into spare buffers, one extra mask per
    masked weight until the ramp ends), so such an epoch reads the scores
    once. :meth:`refresh` selects at once. Each repeated selection keeps a
    :class:`~torch_geometric_ugt.threshold.ThresholdHint` in :attr:`hints`
    (a cache, not state), so that the native CPU kernel can look for the
    new threshold next to the last one. Like
    :mod:`torch.ao.pruning`, the state
    (:meth:`state_dict`) holds no module references: together with the
    model's and the optimizer's state dicts it resumes a run exactly.

    Args:
        model (torch.nn.Module): A model returned by :func:`supermask`.
        optimizer (torch.optim.Optimizer, optional): The optimizer of the
            scores. (default: :obj:`None`)
        schedule (SparsitySchedule): The sparsity of each epoch.
        scope (str): :obj:`"global"` or :obj:`"layer"`.
            (default: :obj:`"global"`)

    """

    def __init__(
        self,
        model: torch.nn.Module,
        optimizer: Optional[torch.optim.Optimizer] = None,
        *,
        schedule: SparsitySchedule,
        scope: str = "global",
    ) -> None:
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {SCOPES}; got {scope!r}.")
        if not isinstance(schedule, SparsitySchedule):
            raise TypeError(f"schedule must be a SparsitySchedule; got "
                            f"{type(schedule).__name__}.")
        self.weights: List[MaskedWeight] = masked_weights(model)
        if not self.weights:
            raise ValueError(f"{type(model).__name__} has no masked "
                             f"weights; call supermask(model) first.")
        self.schedule = schedule
        self.scope = scope
        self.last_epoch = -1
        self.current_sparsity = schedule(0)
        self.num_weights = sum(w.parametrization.scores.numel()
                               for w in self.weights)
        self._written: Optional[Tuple[Any, ...]] = None
        self.hints: Dict[Tuple[str, int], ThresholdHint] = {}
        # masks selected ahead for the next step (see at_sparsity)
        self._spares: Optional[List[torch.Tensor]] = None
        self._ahead: Optional[Tuple[Any, ...]] = None
        self._hook: Optional[RemovableHandle] = None
        if optimizer is not None:
            self._attach(optimizer)
        self.refresh()

    def _attach(self, optimizer: torch.optim.Optimizer) -> None:
        trained = {id(p) for group in optimizer.param_groups
                   for p in group["params"]}
        if not any(id(w.parametrization.scores) in trained
                   for w in self.weights):
            raise ValueError("The optimizer trains none of the model's "
                             "scores; build it with "
                             "torch.optim.Adam(score_parameters(model)).")
        self._hook = optimizer.register_step_post_hook(
            lambda opt, args, kwargs: self._mark_stale())

    def remove(self) -> None:
        r"""Detaches the sparsifier from the optimizer; the masks are
        brought up to date and then stay as they are.
        """
        self.refresh()
        if self._hook is not None:
            self._hook.remove()
            self._hook = None

    @property
    def final_sparsity(self) -> float:
        r"""The sparsity the schedule ends at (where models are
        evaluated).
        """
        return self.schedule.final_sparsity

    def step(self, epoch: Optional[int] = None) -> float:
        r"""Sets the sparsity of :obj:`epoch` (default: the next one); the
        masks follow on their next read. Returns the new sparsity.
        """
        self.last_epoch = self.last_epoch + 1 if epoch is None else int(epoch)
        self.current_sparsity = self.schedule(self.last_epoch)
        self._mark_stale()
        return self.current_sparsity

    def _version(self, sparsity: float) -> Tuple[Any, ...]:
        return (sparsity, ) + tuple(
            (w.parametrization.scores._version, w.parametrization.mask._version)
            for w in self.weights)

    def _scores_versions(self) -> Tuple[int, ...]:
        return tuple(w.parametrization.scores._version for w in self.weights)

    def _mark_stale(self) -> None:
        for w in self.weights:
            w.parametrization.pending_refresh = self.refresh

    def refresh(self) -> None:
        r"""Recomputes the masks from the current scores at
        :attr:`current_sparsity` now (skipped if nothing changed).
        """
        for w in self.weights:
            w.parametrization.pending_refresh = None
        self._write(self.current_sparsity)

    def _hint(self, sparsity: float, index: int = 0) -> ThresholdHint:
        # one hint per repeated selection: the evaluation one (final
        # sparsity) and the training one, per tensor for the layer scope
        role = "final" if sparsity == self.final_sparsity else "current"
        return self.hints.setdefault((role, index), ThresholdHint())

    @torch.no_grad()
    def _write(self, sparsity: float, ahead: Optional[float] = None) -> None:
        # Masks at `sparsity`. With `ahead` (global scope), the masks at
        # sparsity `ahead` are also selected, in the same read of the
        # scores, into spare buffers that the next _write(ahead) on the
        # same scores swaps in instead of selecting again.
        if self._written == self._version(sparsity):
            return
        masks = [w.parametrization.mask for w in self.weights]
        ready = self._ahead
        self._ahead = None
        if (ready == (sparsity, ) + self._scores_versions()
                and self._spares_fit(masks)):
            assert self._spares is not None
            for mask, spare in zip(masks, self._spares):
                _swap_storage(mask, spare)
            self._written = self._version(sparsity)
            return
        scores = [w.parametrization.scores for w in self.weights]
        try:
            if self.scope == "global":
                requests: List[MaskRequest] = [
                    (masks, round(sparsity * self.num_weights),
                     self._hint(sparsity))]
                if ahead is not None:
                    if not self._spares_fit(masks):
                        self._spares = [torch.empty_like(m) for m in masks]
                    assert self._spares is not None
                    requests.append((self._spares,
                                     round(ahead * self.num_weights),
                                     self._hint(ahead)))
                prune_smallest_together_(scores, requests, check_finite=True)
            else:
                for i, (score, mask) in enumerate(zip(scores, masks)):
                    prune_smallest_([score], [mask],
                                    round(sparsity * score.numel()),
                                    check_finite=True,
                                    hint=self._hint(sparsity, i))
        except ValueError:
            # refused (NaN / inf scores): the masks hold no valid selection
            # now, so every later read must try again (and fail again)
            self._written = None
            self._mark_stale()
            raise
        self._written = self._version(sparsity)
        if ahead is not None and self.scope == "global":
            self._ahead = (ahead, ) + self._scores_versions()

    def _spares_fit(self, masks: List[torch.Tensor]) -> bool:
        return self._spares is not None and all(
            s.shape == m.shape and s.dtype == m.dtype and s.device == m.device
            for s, m in zip(self._spares, masks))

    def _next_sparsity(self, target: float) -> Optional[float]:
        # The sparsity the next step() is expected to set, when selecting it
        # together with `target` pays (a ramp, on the native CPU kernel);
        # else None, and the spare masks are freed.
        ahead: Optional[float] = None
        if (target != self.current_sparsity and self.scope == "global"
                and reads_once(self.weights[0].parametrization.scores.device)):
            ahead = self.schedule(self.last_epoch + 1)
        if ahead is None or ahead == target:
            self._spares = None
            return None
        return ahead

    @contextlib.contextmanager
    def at_sparsity(self,
                    sparsity: Optional[float] = None) -> Iterator[None]:
        r"""Context manager: masks at :obj:`sparsity` (default:
        :attr:`final_sparsity`) inside, back to :attr:`current_sparsity`
        after (on their next read). UGTs evaluates at the final sparsity
        during the ramp too:

        .. code-block:: python

            with torch.no_grad(), sparsifier.at_sparsity():
                out = model(data.x, data.edge_index)
        """
        target = (self.final_sparsity if sparsity is None else
                  check_sparsity(sparsity))
        for w in self.weights:
            w.parametrization.pending_refresh = None
        self._write(target, self._next_sparsity(target))
        try:
            yield
        finally:
            # Back to the current sparsity on the next read of the masks
            # (at once a no-op when the targets agree and scores are as
            # they were).
            if target != self.current_sparsity:
                self._mark_stale()

    @torch.no_grad()
    def _zeros(self) -> List[int]:
        self.refresh()
        return torch.stack([(w.parametrization.mask == 0).sum()
                            for w in self.weights]).tolist()

    def layer_sparsities(self) -> Dict[str, float]:
        r"""The realised sparsity of every masked tensor, by name."""
        return {
            w.name: z / max(w.parametrization.mask.numel(), 1)
            for w, z in zip(self.weights, self._zeros())
        }

    def realised_sparsity(self) -> float:
        r"""The fraction of all masked weights that are zeroed now."""
        return sum(self._zeros()) / self.num_weights

    def state_dict(self) -> Dict[str, Any]:
        r"""The sparsifier's state (no tensors, no module references)."""
        return {
            "last_epoch": self.last_epoch,
            "current_sparsity": self.current_sparsity,
            "scope": self.scope,
            "final_sparsity": self.final_sparsity,
            "weights": {
                w.name: tuple(w.parametrization.scores.shape)
                for w in self.weights
            },
        }

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        r"""Restores :meth:`state_dict` and refreshes the masks. Raises if
        it was saved for another architecture or scope.
        """
        own = self.state_dict()
        saved = {k: tuple(v) for k, v in state_dict["weights"].items()}
        if saved != own["weights"]:
            missing = sorted(set(own["weights"]) - set(saved))
            extra = sorted(set(saved) - set(own["weights"]))
            shapes = sorted(k for k in set(saved) & set(own["weights"])
                            if saved[k] != own["weights"][k])
            raise ValueError(
                f"This sparsifier state was saved for another architecture "
                f"(missing: {missing[:3]}, unexpected: {extra[:3]}, other "
                f"shapes: {shapes[:3]}). Build the same model, call "
                f"supermask() and create the same sparsifier before "
                f"load_state_dict().")
        if state_dict["scope"] != self.scope:
            raise ValueError(f"This state was saved by a sparsifier with "
                             f"scope={state_dict['scope']!r}, not "
                             f"{self.scope!r}.")
        self.last_epoch = int(state_dict["last_epoch"])
        self.current_sparsity = check_sparsity(
            state_dict["current_sparsity"], "current_sparsity")
        self._written = None
        self._ahead = None
        self.hints.clear()
        self.refresh()

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(tensors={len(self.weights)}, "
                f"scope={self.scope!r}, schedule={self.schedule!r}, "
                f"current_sparsity={self.current_sparsity:.4f})")


def _swap_storage(a: torch.Tensor, b: torch.Tensor) -> None:
    # Exchanges the data of two tensors of one shape and dtype in place
    # (each keeps its identity, so module buffers stay registered).
    storage, offset, stride = (a.untyped_storage(), a.storage_offset(),
                               a.stride())
    a.set_(b.untyped_storage(), b.storage_offset(), b.size(), b.stride())
    b.set_(storage, offset, a.size(), stride)
