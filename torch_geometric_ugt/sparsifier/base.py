r"""The sparsifier: chooses the masks of a supermask model from its
scores.
"""
from __future__ import annotations

import contextlib
import hashlib
import math
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import torch
from torch.utils.hooks import RemovableHandle

from torch_geometric_ugt.hashing import sha256_of
from torch_geometric_ugt.parametrization import drop_cached_weight
from torch_geometric_ugt.schedule import (SparsitySchedule, check_epoch,
                                          check_sparsity)
from torch_geometric_ugt.supermask import MaskedWeight, masked_weights
from torch_geometric_ugt.threshold import (check_finite_scores,
                                           prune_smallest_)

SCOPES = ("global", "layer")
# the weight scales a sparsifier can apply (its ``rescale``)
RESCALES = ("global", "layer")
MAX_COATS = 64  # the native kernels' limit
_STATE_KEYS = ("last_epoch", "current_sparsity", "scope", "final_sparsity",
               "weights")


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
    scores. The invariant: at every read of a mask (the forward pass,
    :obj:`mask`, the model's :meth:`state_dict`, tickets, the sparsity
    queries), every mask is the selection of the current scores at the
    sparsity in force (with :obj:`coats`, every coat is the selection at
    its own sparsity), which is :attr:`current_sparsity`, or the target of
    the innermost :meth:`at_sparsity` block. Every event that can change
    the selection marks the masks stale (an optimizer step, through a
    post-step hook; a :meth:`step`, entering or leaving a block that
    changes the sparsity in force; loading a state dict), and the next read
    selects them again.
    Writes into the scores that bypass the optimizer (:obj:`copy_` under
    :func:`torch.no_grad`, a model's :meth:`load_state_dict`, a broadcast)
    are caught by the scores' version counters, which can only add a
    selection, never skip one; :meth:`refresh` selects at once. Inside
    :func:`torch.nn.utils.parametrize.cached`, every event that makes the
    masks stale also drops the cached weights, so the next read computes
    them from fresh masks.

    With :obj:`rescale`, each masked weight is multiplied by
    :math:`c = 1/\sqrt{d}`, where :math:`d` is the density in force
    (:math:`1 - s`, :obj:`"global"`) or the realised density of that tensor
    (:obj:`"layer"`), selected with the masks: a ReLU network keeps the
    scale of its activations as weights are removed, and the gradual ramp
    starts at :math:`c = 1`. :func:`~torch_geometric_ugt.squash` bakes
    :math:`c` into the weights; tickets store it.

    A sparsifier owns its model: a second one is refused until
    :meth:`remove` releases it. Every public call validates its arguments
    and the scores before it changes anything, so a refused call leaves
    the sparsifier, the optimizer and the masks as they were. Like
    :mod:`torch.ao.pruning`, the state (:meth:`state_dict`) holds no module
    references: together with the model's and the optimizer's state dicts
    it resumes a run exactly.

    Args:
        model (torch.nn.Module): A model returned by :func:`supermask`.
        optimizer (torch.optim.Optimizer, optional): The optimizer of the
            scores; it must train every score. (default: :obj:`None`)
        schedule (SparsitySchedule): The sparsity of each epoch.
        scope (str): :obj:`"global"` or :obj:`"layer"`.
            (default: :obj:`"global"`)
        rescale (str, optional): :obj:`"global"` or :obj:`"layer"`: scale
            each weight by :math:`1/\sqrt{d}` (see above); :obj:`None`
            keeps the weights as drawn (the paper). (default: :obj:`None`)
        coats (int): Multicoated masks (Okoshi et al., 2022): :math:`C`
            selections of the same scores at the sparsities
            :meth:`coat_sparsities`, each exact (ties by position), and
            every mask entry the share of coats that keep it,
            :math:`m \in \{0, 1/C, \dots, 1\}`, all coats in one call of
            the kernel. :obj:`1` is the binary mask. (default: :obj:`1`)

    """

    def __init__(
        self,
        model: torch.nn.Module,
        optimizer: Optional[torch.optim.Optimizer] = None,
        *,
        schedule: SparsitySchedule,
        scope: str = "global",
        rescale: Optional[str] = None,
        coats: int = 1,
    ) -> None:
        # In a distributed run the ranks compare what they built (or that
        # they refused) before any of them raises, so none is left waiting.
        try:
            sparsity = self._validate(model, optimizer, schedule, scope,
                                      rescale, coats)
        except (TypeError, ValueError, RuntimeError) as error:
            reason = f"refused: {error}"
            _check_ranks_agree(lambda: reason)
            raise
        _check_ranks_agree(self._fingerprint)
        _check_ranks_hold_same_tensors(self.weights)

        # Everything is validated: from here on nothing can be refused.
        self._last_epoch = -1
        self._current_sparsity = sparsity
        self._blocks: List[List[float]] = []  # open at_sparsity() targets
        # k of each selection at the sparsity in force (one for the global
        # scope, one per tensor for the layer scope), as a CPU tensor that
        # a compiled forward pass reads at run time; set with the flag
        # (rows: one per selection; columns: one per coat)
        self._counts = torch.zeros(1 if scope == "global" else
                                   len(self.weights), coats,
                                   dtype=torch.int64)
        self._versions: List[int] = []
        self._stale = True
        self._removed = False
        self._sparsity_changed()
        self._select()
        self._hook: Optional[RemovableHandle] = None
        self._read_check: Optional[RemovableHandle] = None
        if optimizer is not None:
            self._hook = optimizer.register_step_post_hook(
                lambda opt, args, kwargs: self._mark_stale())
            self._read_check = optimizer.register_step_pre_hook(
                lambda opt, args, kwargs: self._check_weights_read())
        for w in self.weights:
            w.parametrization.attach(self)

    def _validate(self, model: torch.nn.Module,
                  optimizer: Optional[torch.optim.Optimizer],
                  schedule: SparsitySchedule, scope: str,
                  rescale: Optional[str], coats: int) -> float:
        # The constructor's checks; sets the validated attributes and
        # returns the sparsity of epoch 0. Changes nothing outside self.
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"model must be a torch.nn.Module; got "
                            f"{type(model).__name__}.")
        if not isinstance(scope, str) or scope not in SCOPES:
            raise ValueError(f"scope must be one of {SCOPES}; got {scope!r}.")
        if isinstance(coats, bool) or not isinstance(coats, int) \
                or not 1 <= coats <= MAX_COATS:
            raise ValueError(f"coats must be an int in [1, {MAX_COATS}]; "
                             f"got {coats!r}.")
        if rescale is not None and rescale not in RESCALES:
            raise ValueError(f"rescale must be None or one of {RESCALES}; "
                             f"got {rescale!r}.")
        if not isinstance(schedule, SparsitySchedule):
            raise TypeError(f"schedule must be a SparsitySchedule; got "
                            f"{type(schedule).__name__}.")
        if optimizer is not None and not isinstance(optimizer,
                                                    torch.optim.Optimizer):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer; "
                            f"got {type(optimizer).__name__}.")
        weights = masked_weights(model)
        if not weights:
            raise ValueError(f"{type(model).__name__} has no masked "
                             f"weights; call supermask(model) first.")
        for w in weights:
            owner = w.parametrization.sparsifier
            if owner is not None:
                raise RuntimeError(
                    f"'{w.name}' is already owned by {owner!r}. One "
                    f"sparsifier owns a model: call remove() on that one "
                    f"first (it is masked_weights(model)[0].parametrization"
                    f".sparsifier), then build the new one.")
        sparsity = schedule(0)
        self.weights: List[MaskedWeight] = weights
        self._scores = [w.parametrization.scores for w in weights]
        self._check_scores(finite=True)
        if optimizer is not None:
            _check_optimizer(optimizer, weights)
        self._schedule = schedule
        self.scope = scope
        self.rescale = rescale
        self.coats = coats
        self.num_weights = sum(s.numel() for s in self._scores)
        return sparsity

    @property
    def schedule(self) -> SparsitySchedule:
        r"""The sparsity of each epoch (read-only)."""
        return self._schedule

    @property
    def last_epoch(self) -> int:
        r"""The epoch of the last :meth:`step` (:obj:`-1` before the first;
        read-only: set it with :meth:`step`).
        """
        return self._last_epoch

    @property
    def current_sparsity(self) -> float:
        r"""The sparsity of :attr:`last_epoch` (read-only: set it with
        :meth:`step`, or evaluate at another one with
        :meth:`at_sparsity`).
        """
        return self._current_sparsity

    @property
    def final_sparsity(self) -> float:
        r"""The sparsity the schedule ends at (where models are
        evaluated).
        """
        return self.schedule.final_sparsity

    @property
    def sparsity_in_force(self) -> float:
        r"""The sparsity the masks have at their next read: the target of
        the innermost :meth:`at_sparsity` block, else
        :attr:`current_sparsity`.
        """
        return self._blocks[-1][0] if self._blocks else self.current_sparsity

    def _check_weights_read(self) -> None:
        # Before the first optimizer step that follows a backward pass:
        # scores without a gradient belong to weights the forward never
        # read, which would take part in the selection all the same and
        # shift the sparsity of the weights in use.
        if all(s.grad is None for s in self._scores):
            return  # no backward yet
        unread = [w.name for w, s in zip(self.weights, self._scores)
                  if s.grad is None]
        if not unread and self._read_check is not None:
            self._read_check.remove()  # checked once is enough
            self._read_check = None
        if unread:
            raise ValueError(
                f"The forward pass never read the masked weights {unread}: "
                f"they would take part in the selection and shift the "
                f"sparsity of the weights in use. Rebuild the model and "
                f"call supermask(model, exclude={unread!r}) to keep them "
                f"out (they stay dense and unused).")

    def remove(self) -> None:
        r"""Detaches the sparsifier from the optimizer and the model; the
        masks are brought up to date (at :attr:`sparsity_in_force`, so
        inside an :meth:`at_sparsity` block at its target) and then stay as
        they are. Scores that cannot be selected from (NaN) leave the masks
        of the last selection. A new sparsifier may then take the model.
        """
        self._check_active()
        try:
            self.before_mask_read()
        except ValueError:
            pass  # non-finite scores: keep the last valid masks, release
        for handle in (self._hook, self._read_check):
            if handle is not None:
                handle.remove()
        self._hook = self._read_check = None
        for w in self.weights:
            w.parametrization.detach()
        self._removed = True

    def step(self, epoch: Optional[int] = None) -> float:
        r"""Sets the sparsity of :obj:`epoch` (a non-negative :obj:`int`;
        default: the next one); the masks follow on their next read.
        Returns the new sparsity.
        """
        self._check_active()
        epoch = (self.last_epoch + 1 if epoch is None else
                 check_epoch(epoch, "epoch"))
        sparsity = self.schedule(epoch)  # may refuse: nothing changed yet
        before = self.sparsity_in_force
        self._last_epoch = epoch
        self._current_sparsity = sparsity
        # The scores did not change here: the masks are stale only if the
        # sparsity in force did (not after the ramp, nor inside a block).
        if self.sparsity_in_force != before:
            self._sparsity_changed()
        return sparsity

    def refresh(self) -> None:
        r"""Selects the masks from the current scores at
        :attr:`sparsity_in_force` now, whatever happened before. Call it
        after editing scores in place by hand (e.g. through :obj:`.data`).
        """
        self._check_active()
        self._mark_stale()
        self.before_mask_read()

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

        Blocks nest; the sparsity queries inside a block report the block's
        masks.
        """
        self._check_active()
        target = (self.final_sparsity if sparsity is None else
                  check_sparsity(sparsity))
        before = self.sparsity_in_force
        block = [target]  # this block's own entry (blocks may exit in any
        self._blocks.append(block)  # order: generators, interleaving)
        if target != before:
            self._sparsity_changed()
        try:
            yield
        finally:
            inside = self.sparsity_in_force
            self._blocks = [b for b in self._blocks if b is not block]
            if self.sparsity_in_force != inside:
                self._sparsity_changed()

    def coat_sparsities(self, sparsity: Optional[float] = None
                        ) -> List[float]:
        r"""The sparsity of each coat at :obj:`sparsity` (default:
        :attr:`sparsity_in_force`): :math:`s_c = s + (1 - s)\,c / C` for
        :math:`c = 0, \dots, C - 1`; the first coat decides which weights
        are zero.
        """
        s = self.sparsity_in_force if sparsity is None else sparsity
        return [s + (1.0 - s) * c / self.coats for c in range(self.coats)]

    def layer_sparsities(self) -> Dict[str, float]:
        r"""The realised sparsity of every masked tensor, by name, at
        :attr:`sparsity_in_force`.
        """
        return {
            w.name: z / max(w.parametrization.scores.numel(), 1)
            for w, z in zip(self.weights, self._zeros())
        }

    def realised_sparsity(self) -> float:
        r"""The fraction of all masked weights that are zeroed at
        :attr:`sparsity_in_force`.
        """
        return sum(self._zeros()) / max(self.num_weights, 1)

    def state_dict(self) -> Dict[str, Any]:
        r"""The sparsifier's state (no tensors, no module references)."""
        return {
            "last_epoch": self.last_epoch,
            "current_sparsity": self.current_sparsity,
            "scope": self.scope,
            "rescale": self.rescale,
            "coats": self.coats,
            "final_sparsity": self.final_sparsity,
            "weights": {
                w.name: tuple(w.parametrization.scores.shape)
                for w in self.weights
            },
        }

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        r"""Restores :meth:`state_dict` and selects the masks. Refuses,
        changing nothing, a state saved for another architecture, scope or
        schedule.
        """
        self._check_active()
        last_epoch, sparsity = self._check_state(state_dict)
        self._check_scores(finite=True)
        self._last_epoch = last_epoch
        self._current_sparsity = sparsity
        self._sparsity_changed()
        self.before_mask_read()

    # The mask owner's protocol (called by the masks) -----------------------

    def before_mask_read(self) -> None:
        r"""Selects the masks now if they are stale: after an event that
        marked them so, or when a score tensor was written since the last
        selection (its version counter moved). Called by every mask before
        it is read.
        """
        if self._removed:
            return
        if not self._stale and not torch.compiler.is_compiling():
            self._stale = self._versions != [s._version
                                             for s in self._scores]
        if self._stale:
            self._select()

    def after_load(self) -> None:
        r"""Marks the masks stale: a state dict was loaded into a masked
        module. Called by the masks.
        """
        self._mark_stale()

    def __repr__(self) -> str:
        rescale = f", rescale={self.rescale!r}" if self.rescale else ""
        return (f"{self.__class__.__name__}(tensors={len(self.weights)}, "
                f"scope={self.scope!r}, schedule={self.schedule!r}, "
                f"current_sparsity={self.current_sparsity:.4f}{rescale})")

    # Internals ------------------------------------------------------------

    def _check_active(self) -> None:
        if self._removed:
            raise RuntimeError("This sparsifier was removed; build a new one "
                               "to go on choosing masks.")

    def _mark_stale(self) -> None:
        # The scores may have changed (every optimizer step): select on the
        # next read, and forget weights parametrize.cached() computed.
        self._stale = True
        for w in self.weights:
            drop_cached_weight(w.module, w.attr)

    def _sparsity_changed(self) -> None:
        # The sparsity in force may have changed: its counts (the only
        # place a selection reads it from), then stale. Every write of
        # _current_sparsity or _blocks is followed by this call.
        sizes = ([self.num_weights] if self.scope == "global" else
                 [t.numel() for t in self._scores])
        self._counts.copy_(torch.tensor([[round(s * n) for s in
                                          self.coat_sparsities()]
                                         for n in sizes]))
        self._mark_stale()

    def _check_scores(self, finite: bool = False) -> None:
        # The scores are the Parameters the sparsifier was built with, in
        # float32, of their masks' shapes (and finite, if asked).
        for w, scores in zip(self.weights, self._scores):
            p = w.parametrization
            if p._parameters.get("scores") is not scores:
                raise RuntimeError(
                    f"The scores of '{w.name}' were replaced after the "
                    f"sparsifier was built, so its optimizer does not train "
                    f"them. Edit scores in place (then call refresh()), or "
                    f"remove() this sparsifier and build a new one with a "
                    f"new optimizer.")
            if scores.device.type == "meta":
                raise ValueError(
                    f"The scores of '{w.name}' are on the meta device: they "
                    f"hold no values, so no mask can be chosen. Build the "
                    f"model on a real device (or materialise it with "
                    f"to_empty() and load a checkpoint) before building the "
                    f"sparsifier.")
            if scores.dtype != torch.float32:
                raise TypeError(f"The scores of '{w.name}' are "
                                f"{scores.dtype}; scores must stay float32.")
            if scores.shape != p.stored_mask().shape:
                raise ValueError(f"The scores of '{w.name}' have shape "
                                 f"{tuple(scores.shape)}, their mask "
                                 f"{tuple(p.stored_mask().shape)}.")
        if finite:
            check_finite_scores(self._scores)

    @torch.no_grad()
    def _select(self) -> None:
        # The masks of the current scores at the sparsity in force. Masks
        # are read from the buffers directly (a read of ``.mask`` would
        # call back here); nothing is written unless every check passes
        # (prune_smallest_ refuses non-finite scores before it writes).
        masks = [w.parametrization.stored_mask() for w in self.weights]
        if self.scope == "global":
            self._check_scores()
            prune_smallest_(self._scores, masks, self._count(0),
                            check_finite=True)
        else:
            self._check_scores(finite=True)  # all tensors, before any write
            for i, (score, mask) in enumerate(zip(self._scores, masks)):
                prune_smallest_([score], [mask], self._count(i),
                                check_finite=True)
        if self.rescale is not None:
            self._write_scales(masks)
        self._stale = False
        if not torch.compiler.is_compiling():
            self._versions = [s._version for s in self._scores]

    def _count(self, row: int) -> torch.Tensor:
        # the k of a selection: one count, or one per coat
        return self._counts[row] if self.coats > 1 else self._counts[row, 0]

    def _write_scales(self, masks: List[torch.Tensor]) -> None:
        # c = 1 / sqrt(density): of the sparsity in force ("global"), or
        # realised by each mask ("layer"); 1 for a mask that keeps nothing.
        if self.rescale == "global":
            kept = self.num_weights - self._counts[:, 0].sum()
            scale = (self.num_weights / kept.clamp(min=1).double()).sqrt()
            scales = [scale.float()] * len(masks)
        else:
            scales = [
                (m.numel() / torch.count_nonzero(m).clamp(min=1).double())
                .sqrt().float() for m in masks
            ]
        for w, scale in zip(self.weights, scales):
            w.parametrization.set_scale(scale)

    @torch.no_grad()
    def _zeros(self) -> List[int]:
        self._check_active()
        self.before_mask_read()
        return torch.stack([
            (w.parametrization.stored_mask() == 0).sum()
            for w in self.weights
        ]).tolist()

    def _fingerprint(self) -> str:
        shapes = [tuple(s.shape) for s in self._scores]
        text = repr((self.scope, self.rescale, self.coats, shapes,
                     self.schedule.final_sparsity,
                     self.schedule.fingerprint()))
        return hashlib.sha256(text.encode()).hexdigest()

    def _check_state(self, state: Any) -> Tuple[int, float]:
        # Validates a saved state against this sparsifier; returns its
        # (last_epoch, current_sparsity).
        if not isinstance(state, dict):
            raise TypeError(f"load_state_dict() takes the dict that "
                            f"state_dict() returned; got "
                            f"{type(state).__name__}.")
        missing = [k for k in _STATE_KEYS if k not in state]
        if missing:
            raise ValueError(f"This sparsifier state lacks {missing}; pass "
                             f"what state_dict() returned.")
        own = self.state_dict()
        saved_weights = state["weights"]
        if not isinstance(saved_weights, dict):
            raise ValueError("The state's 'weights' entry must be a dict of "
                             "names to shapes.")
        saved = {k: tuple(v) for k, v in saved_weights.items()}
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
        if state.get("coats", 1) != self.coats:
            raise ValueError(f"This state was saved by a sparsifier with "
                             f"coats={state.get('coats', 1)}, not "
                             f"{self.coats}: build the sparsifier with the "
                             f"same coats before loading.")
        if state.get("rescale") != self.rescale:
            raise ValueError(f"This state was saved by a sparsifier with "
                             f"rescale={state.get('rescale')!r}, not "
                             f"{self.rescale!r}: build the sparsifier with "
                             f"the same rescale before loading.")
        if state["scope"] != self.scope:
            raise ValueError(f"This state was saved by a sparsifier with "
                             f"scope={state['scope']!r}, not "
                             f"{self.scope!r}.")
        final = check_sparsity(state["final_sparsity"], "final_sparsity")
        if final != self.final_sparsity:
            raise ValueError(f"This state was saved by a sparsifier with "
                             f"final_sparsity={final}, not "
                             f"{self.final_sparsity}: build the sparsifier "
                             f"with the same schedule before loading.")
        last_epoch = check_epoch(state["last_epoch"], "last_epoch",
                                 minimum=-1)
        sparsity = check_sparsity(state["current_sparsity"],
                                  "current_sparsity")
        expected = self.schedule(max(last_epoch, 0))
        if not math.isclose(sparsity, expected, rel_tol=0, abs_tol=1e-12):
            raise ValueError(
                f"This state was saved at epoch {last_epoch} with sparsity "
                f"{sparsity}, but this sparsifier's schedule "
                f"({self.schedule!r}) gives {expected} there: it was saved "
                f"with another schedule. Build the sparsifier with the same "
                f"schedule before loading.")
        return last_epoch, sparsity


def _check_ranks_hold_same_tensors(weights: List[MaskedWeight]) -> None:
    # Every rank must start from the same frozen weights and scores (DDP
    # broadcasts rank 0's at wrap time; a sparsifier built before, or a
    # rank seeded otherwise, would select other masks): a SHA-256 of each.
    import torch.distributed as dist
    if not (dist.is_available() and dist.is_initialized()):
        return
    own = [(f"{w.name} ({kind})", sha256_of([tensor]))
           for w in weights
           for kind, tensor in (("frozen weight", w.weight),
                                ("scores", w.parametrization.scores))]
    gathered: List[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, own)
    for rank, theirs in enumerate(gathered):
        for (name, digest), (_, first) in zip(theirs, gathered[0]):
            if digest != first:
                raise ValueError(
                    f"Rank {rank} holds another {name} than rank 0 (the "
                    f"first tensor that differs), so the ranks would select "
                    f"different masks. Give every rank the same model: the "
                    f"same supermask(seed=...) and the same checkpoint, or "
                    f"wrap the model in DistributedDataParallel (which "
                    f"copies rank 0's tensors) before building the "
                    f"sparsifier.")


def _check_optimizer(optimizer: torch.optim.Optimizer,
                     weights: List[MaskedWeight]) -> None:
    trained = {id(p) for group in optimizer.param_groups
               for p in group["params"]}
    left = [w.name for w in weights
            if id(w.parametrization.scores) not in trained]
    if left:
        raise ValueError(
            f"The optimizer does not train the scores of {len(left)} of "
            f"{len(weights)} masked weights ({left[:3]}), whose masks would "
            f"then never change; build it with "
            f"torch.optim.Adam(score_parameters(model)).")


def _check_ranks_agree(fingerprint: Callable[[], str]) -> None:
    # In a distributed run every rank must build the same sparsifier: a
    # collective over the default group, which every rank reaches.
    import torch.distributed as dist
    if not (dist.is_available() and dist.is_initialized()):
        return
    gathered: List[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, fingerprint())
    refused = [(rank, f) for rank, f in enumerate(gathered)
               if str(f).startswith("refused: ")]
    if refused:
        rank, reason = refused[0]
        raise ValueError(f"Rank {rank} refused to build its sparsifier "
                         f"({reason[len('refused: '):]}); every rank must "
                         f"build the same one.")
    differ = [rank for rank, f in enumerate(gathered) if f != gathered[0]]
    if differ:
        raise ValueError(
            f"The ranks of this distributed run built different sparsifiers "
            f"(ranks {differ[:5]} differ from rank 0 in the model's masked "
            f"weights, the scope or the sparsity schedule), so they would "
            f"select different masks. Pass every rank the same model and "
            f"the same sparsity, ramp and schedule.")
