r"""Turn any PyG model into a supermask model: frozen weights, learnable
scores.
"""
from __future__ import annotations

import fnmatch
import warnings
from dataclasses import dataclass
from typing import (Any, Dict, Iterator, List, Optional, Sequence, Tuple,
                    Type, Union, cast)

import torch
from torch import Tensor
from torch.nn.parameter import is_lazy
from torch.nn.utils import parametrize
from torch_geometric.nn.dense import Linear as PyGLinear

from torch_geometric_ugt.init import SCORE_INITS, WEIGHT_INITS, resolve_init
from torch_geometric_ugt.init import draw
from torch_geometric_ugt import selection
from torch_geometric_ugt.parametrization import ScoreMask
from torch_geometric_ugt.temperature import Temperature

Target = Union[Type[torch.nn.Module], str]

LINEAR_TYPES: Tuple[Type[torch.nn.Module], ...] = (torch.nn.Linear, PyGLinear)
r"""Modules whose :obj:`weight` is masked by default."""

_SCORE_SEED_OFFSET = 0x5C0DE5


@dataclass(frozen=True)
class MaskedWeight:
    r"""One masked weight of a supermask model.

    Attributes:
        name (str): Qualified name of the weight, e.g.
            :obj:`"convs.0.lin.weight"`.
        module (torch.nn.Module): The module that owns it.
        attr (str): The attribute name on :obj:`module`, e.g.
            :obj:`"weight"`.
        parametrization (ScoreMask): Holds the scores and the mask.

    """

    name: str
    module: torch.nn.Module
    attr: str
    parametrization: ScoreMask

    @property
    def weight(self) -> Tensor:
        r"""The frozen, unmasked weight."""
        return getattr(_parametrizations(self.module), self.attr).original


def masked_weights(model: torch.nn.Module) -> List[MaskedWeight]:
    r"""Lists the masked weights of a supermask model in module order."""
    out: List[MaskedWeight] = []
    for name, module in model.named_modules():
        if not parametrize.is_parametrized(module):
            continue
        for attr, plist in _parametrizations(module).items():
            for p in cast(torch.nn.ModuleList, plist):
                if isinstance(p, ScoreMask):
                    qualified = f"{name}.{attr}" if name else attr
                    out.append(MaskedWeight(qualified, module, attr, p))
    return out


def _parametrizations(module: torch.nn.Module) -> torch.nn.ModuleDict:
    return cast(torch.nn.ModuleDict, module.parametrizations)


def score_parameters(model: torch.nn.Module) -> Iterator[torch.nn.Parameter]:
    r"""Yields the score tensors of a supermask model, the learnable
    weight scales when :func:`supermask` was given :obj:`learn_scale=True`,
    and the temperature of every :class:`~torch_geometric_ugt.Temperature`
    in it: what an optimizer should train.

    .. code-block:: python

        optimizer = torch.optim.Adam(score_parameters(model), lr=0.01)
    """
    found = masked_weights(model)
    if not found:
        raise ValueError("This model has no masked weights; call "
                         "supermask(model) before score_parameters(model).")
    for entry in found:
        yield entry.parametrization.scores
    for entry in found:
        log_scale = entry.parametrization.log_scale
        if log_scale is not None:
            yield log_scale
    for module in model.modules():
        if isinstance(module, Temperature):
            yield module.log_temperature


def _check_targets(targets: Optional[Sequence[Target]], arg: str) -> None:
    if targets is None:
        return
    if isinstance(targets, (str, type)):
        raise TypeError(f"'{arg}' takes a list of module types or name "
                        f"patterns; got {targets!r}. Wrap it in a list.")
    for target in targets:
        if isinstance(target, str):
            continue
        if isinstance(target, type) and issubclass(target, torch.nn.Module):
            continue
        raise TypeError(f"'{arg}' entries must be torch.nn.Module subclasses "
                        f"or name patterns such as 'convs.*.lin.weight'; got "
                        f"{target!r}.")


def _matches(target: Target, name: str, owners: Sequence[torch.nn.Module],
             attr: str, default: bool) -> bool:
    if isinstance(target, str):
        return fnmatch.fnmatchcase(name, target)
    # A type selects the default targets inside modules of that type, and
    # the ``weight`` of modules of exactly that type.
    if default and any(isinstance(m, target) for m in owners):
        return True
    return attr == "weight" and isinstance(owners[-1], target)


def _select(
    model: torch.nn.Module,
    include: Optional[Sequence[Target]],
    exclude: Optional[Sequence[Target]],
) -> List[Tuple[str, torch.nn.Module, str, int]]:
    # The (name, module, attr, fan-in) to mask, in module order, with the
    # fan-in read before any parametrization changes the module's class.
    # Refuses tied weights (one Parameter under several names) it would
    # mask, and skips, with a note, weights without elements.
    # One Parameter held by several (module, attribute) pairs is tied; one
    # module reached by several paths (a shared submodule) is not: its
    # parametrization serves every path.
    users: dict = {}
    holders: dict = {}
    for module_name, module in model.named_modules(remove_duplicate=False):
        for attr, param in module._parameters.items():
            if param is not None:
                name = f"{module_name}.{attr}" if module_name else attr
                users.setdefault(id(param), [])
                holders.setdefault(id(param), set()).add((id(module), attr))
                if name not in users[id(param)]:
                    users[id(param)].append(name)
    selected: List[Tuple[str, torch.nn.Module, str, int]] = []
    used: List[Target] = []
    excluded: List[Target] = []
    seen: set = set()

    def visit(module: torch.nn.Module, prefix: str,
              owners: Tuple[torch.nn.Module, ...]) -> None:
        owners = owners + (module, )
        for attr, param in module._parameters.items():
            if param is None or id(param) in seen:
                continue
            name = prefix + attr
            default = selection.kind(module, attr, param) is None
            if include is None:
                chosen = default
            else:
                hits = [t for t in include
                        if _matches(t, name, owners, attr, default)]
                used.extend(hits)
                chosen = bool(hits)
            if exclude is not None:
                hits = [t for t in exclude
                        if _matches(t, name, owners, attr, default)]
                excluded.extend(hits)
                chosen = chosen and not hits
            if chosen and not is_lazy(param) and param.numel() == 0:
                warnings.warn(f"supermask() leaves '{name}' as it is: it "
                              f"has no elements, so there is nothing to "
                              f"mask.", UserWarning, stacklevel=4)
                chosen = False
            if chosen:
                seen.add(id(param))
                fan = (0 if is_lazy(param) else
                       selection.weight_fan_in(module, param.shape))
                selected.append((name, module, attr, fan))
        for child_name, child in module._modules.items():
            if child is not None:
                visit(child, f"{prefix}{child_name}.", owners)

    visit(model, "", ())
    for name, module, attr, _ in selected:
        key = id(module._parameters[attr])
        tied = users[key]
        if len(holders[key]) > 1:
            raise ValueError(
                f"{tied} are one Parameter (tied weights): masking it would "
                f"give the mask to '{name}' only while the others read the "
                f"dense weight. Untie them (give each module its own "
                f"Parameter), or keep it dense in all of them with "
                f"exclude={tied!r}.")
    for arg, targets, hit in (("include", include, used),
                              ("exclude", exclude, excluded)):
        unused = [t for t in targets or [] if not any(t is u for u in hit)]
        if unused:
            raise ValueError(
                f"{arg}={unused!r} matched no parameter of the model. "
                f"Pass module types or patterns over parameter names such as "
                f"{[n for n, _ in model.named_parameters()][:3]}.")
    return selected


def supermask(
    model: torch.nn.Module,
    *,
    include: Optional[Sequence[Target]] = None,
    exclude: Optional[Sequence[Target]] = None,
    weight_init: str = "kaiming_uniform",
    score_init: str = "kaiming_uniform",
    seed: Optional[int] = None,
    freeze_unmasked: bool = True,
    learn_scale: bool = False,
) -> torch.nn.Module:
    r"""Turns :obj:`model` into a supermask model, in place, and returns it.

    Every selected weight :math:`W` is re-initialised from :obj:`seed` and
    frozen, and replaced (via :mod:`torch.nn.utils.parametrize`) by
    :math:`W \odot m(S)` with a float32 score tensor :math:`S` of the same
    shape (see :class:`ScoreMask`). The scores are the only trainable
    tensors. Until a sparsifier runs, every mask is all ones.

    By default the selected weights are those that multiply an input
    (:mod:`torch_geometric_ugt.selection`): every floating parameter of 2
    or more dimensions wherever it lives (:class:`torch.nn.Linear` and
    :class:`torch_geometric.nn.dense.Linear` weights, bare weights of
    message passing layers such as :class:`~torch_geometric.nn.conv.
    RGCNConv`'s, GAT's attention vectors, RNN and RNN cell weights,
    :class:`torch.nn.MultiheadAttention`'s input projections,
    :class:`~torch.nn.ParameterDict` entries) and the 1-D :obj:`weight`,
    :obj:`root` and :obj:`att*` of message passing layers. Biases,
    embeddings, mixture means and widths, one-element gates and per-channel
    scales stay dense (:data:`~torch_geometric_ugt.selection.DENSE_KINDS`).
    Each weight is drawn at its layer's own fan-in
    (:func:`~torch_geometric_ugt.selection.weight_fan_in`: PyG's bare
    weights are stored ``(..., in, out)``).
    :func:`~torch_geometric_ugt.summary` lists what is masked; a sparsifier
    refuses, on the first optimizer step, masked weights the forward pass
    never read.

    Args:
        model (torch.nn.Module): Any model, e.g. a
            :class:`~torch_geometric.nn.models.GCN`. Lazy parameters
            (:obj:`in_channels=-1`) must be materialised first.
        include (List[type or str], optional): If given, mask only weights
            inside modules of these types or whose qualified names match
            these :mod:`fnmatch` patterns (a pattern may also pick a
            parameter that is not masked by default). (default:
            :obj:`None`)
        exclude (List[type or str], optional): Never mask weights inside
            modules of these types or matching these patterns.
            (default: :obj:`None`)
        weight_init (str): :obj:`"kaiming_uniform"`,
            :obj:`"kaiming_normal"` or :obj:`"signed_constant"`.
            (default: :obj:`"kaiming_uniform"`)
        score_init (str): :obj:`"kaiming_uniform"` or :obj:`"uniform"`.
            (default: :obj:`"kaiming_uniform"`)
        seed (int, optional): Seed of the weights and scores. The weights
            depend only on :obj:`seed`, :obj:`weight_init` and the
            architecture, not on the device or the score init. If
            :obj:`None`, a seed is drawn from :mod:`torch`'s global
            generator. (default: :obj:`None`)
        freeze_unmasked (bool): Freeze every parameter that is not masked
            (biases, norms) too. (default: :obj:`True`)
        learn_scale (bool): Give every masked weight a learnable scale
            :math:`e^{g}` (:math:`g = 0` at first, one float32 scalar per
            weight, :obj:`ScoreMask.log_scale`), trained with the scores
            (:func:`score_parameters` yields it). The masks do not depend
            on it; :func:`squash` bakes it into the weights and tickets
            store it. (default: :obj:`False`)

    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"supermask() takes a torch.nn.Module; got "
                        f"{type(model).__name__}.")
    if not isinstance(learn_scale, bool):
        raise TypeError(f"learn_scale must be True or False; got "
                        f"{learn_scale!r}.")
    if masked_weights(model):
        raise RuntimeError("supermask() was already applied to this model. "
                           "Apply it once to a freshly built model.")
    _check_targets(include, "include")
    _check_targets(exclude, "exclude")
    init_weight = resolve_init(weight_init, WEIGHT_INITS, "weight_init")
    init_score = resolve_init(score_init, SCORE_INITS, "score_init")

    selected = _select(model, include, exclude)
    if not selected:
        raise ValueError(
            f"supermask() found nothing to mask in {type(model).__name__}: "
            f"it masks every floating parameter of 2 or more dimensions "
            f"(and the 1-D weight / root / att* of message passing layers) "
            f"but biases, embeddings, mixture means and widths and "
            f"one-element gates (torch_geometric_ugt.selection.DENSE_KINDS)."
            f" Pass include=[...] with module types or parameter name "
            f"patterns to mask others.")
    for name, module, attr, _ in selected:
        if is_lazy(getattr(module, attr)):
            raise RuntimeError(
                f"'{name}' is a lazy parameter that is not materialised yet "
                f"(in_channels=-1). Run one forward pass, e.g. "
                f"model(data.x, data.edge_index), before supermask(model).")

    if seed is None:
        seed = int(torch.randint(0, 2**62, (1, )).item())
    weight_gen = torch.Generator().manual_seed(seed)
    score_gen = torch.Generator().manual_seed(seed + _SCORE_SEED_OFFSET)

    # All or nothing: a failure half-way puts the model back as it was.
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    try:
        for name, module, attr, fan in selected:
            weight = getattr(module, attr)
            with torch.no_grad():
                weight.copy_(draw(weight.shape, fan, init_weight,
                                  weight_gen))
            weight.requires_grad_(False)
            scores = draw(weight.shape, fan, init_score, score_gen)
            parametrization = ScoreMask(scores.to(weight.device),
                                        weight.dtype, learn_scale)
            parametrization.recipe = (weight_init, seed, "torch")
            parametrization.fan_in = fan
            parametrize.register_parametrization(module, attr,
                                                 parametrization)
            module.register_state_dict_post_hook(_drop_computed_weights)
            module.register_load_state_dict_pre_hook(
                _check_plain_checkpoint)
    except BaseException:
        undo_supermask(model, state, flags)
        raise

    if freeze_unmasked:  # (what the search trains stays trainable)
        scores_ids = {id(p) for p in score_parameters(model)}
        for param in model.parameters():
            if id(param) not in scores_ids:
                param.requires_grad_(False)
    return model


def undo_supermask(model: torch.nn.Module, state: Dict[str, Tensor],
                   flags: Dict[str, bool]) -> None:
    r"""Puts a model back as it was before :func:`supermask`: removes every
    parametrization and hook it added, then restores the plain
    :obj:`state` and :obj:`requires_grad` :obj:`flags` taken before.
    """
    for w in masked_weights(model):
        own_class(w.module)
        parametrize.remove_parametrizations(w.module, w.attr,
                                            leave_parametrized=False)
        remove_hooks(w.module)
    model.load_state_dict(state)
    for name, param in model.named_parameters():
        param.requires_grad_(flags[name])


def own_class(module: torch.nn.Module) -> None:
    r"""Gives :obj:`module` a class of its own (same bases, same
    attributes) before a parametrization is removed from it.

    :mod:`torch.nn.utils.parametrize` keeps each parametrized property on
    a class made for the module, and removing a parametrization deletes it
    there. A deep copy shares that class with its original.
    """
    cls = type(module)
    body = {k: v for k, v in vars(cls).items()
            if k not in ("__dict__", "__weakref__")}
    module.__class__ = type(cls.__name__, cls.__bases__, body)


def _drop_computed_weights(module: torch.nn.Module, state_dict: Any,
                           prefix: str, local_metadata: Any) -> None:
    # Some modules (PyG's ``Linear``) write ``weight`` themselves; for a
    # masked weight that is the computed ``W * m``, which is not a state.
    if not parametrize.is_parametrized(module):
        return
    for attr in _parametrizations(module).keys():
        state_dict.pop(prefix + attr, None)


def _check_plain_checkpoint(module: torch.nn.Module, state_dict: Any,
                            prefix: str, *args: Any) -> None:
    if not parametrize.is_parametrized(module):
        return
    for attr in _parametrizations(module).keys():
        original = f"{prefix}parametrizations.{attr}.original"
        if prefix + attr not in state_dict:
            continue
        if original in state_dict:
            state_dict.pop(prefix + attr)  # a computed copy; ignore it
            continue
        raise RuntimeError(
            f"The checkpoint holds a plain weight '{prefix}{attr}' but this "
            f"model is a supermask model. Load plain checkpoints before "
            f"calling supermask(), or load a checkpoint saved from a "
            f"supermask model.")


def remove_hooks(module: torch.nn.Module) -> None:
    r"""Removes the state-dict hooks that :func:`supermask` registered."""
    for hooks in (module._state_dict_hooks,
                  module._load_state_dict_pre_hooks):
        for key, hook in list(hooks.items()):
            fn = getattr(hook, "hook", hook)
            if fn in (_drop_computed_weights, _check_plain_checkpoint):
                del hooks[key]
