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
from torch_geometric.nn.conv import MessagePassing
from torch_geometric.nn.dense import Linear as PyGLinear

from torch_geometric_ugt.init import SCORE_INITS, WEIGHT_INITS, resolve_init
from torch_geometric_ugt.init import sample
from torch_geometric_ugt.parametrization import ScoreMask
from torch_geometric_ugt.temperature import Temperature

Target = Union[Type[torch.nn.Module], str]

LINEAR_TYPES: Tuple[Type[torch.nn.Module], ...] = (torch.nn.Linear, PyGLinear)
r"""Modules whose :obj:`weight` is masked by default."""

ATTENTION_PARAMETERS: Tuple[str, ...] = ("in_proj_weight", "q_proj_weight",
                                         "k_proj_weight", "v_proj_weight")
r"""Parameters of :class:`torch.nn.MultiheadAttention` masked by default
(its :obj:`out_proj` is a :class:`torch.nn.Linear`), as used by
:class:`~torch_geometric.nn.conv.GPSConv` and graph transformers."""

RNN_PARAMETER_PATTERNS: Tuple[str, ...] = ("weight_ih_l*", "weight_hh_l*",
                                           "weight_hr_l*")
r"""Parameters of :class:`torch.nn.RNN` / :class:`~torch.nn.LSTM` /
:class:`~torch.nn.GRU` masked by default (e.g. in
:obj:`SAGEConv(aggr="lstm")` and LSTM jumping knowledge)."""

CONV_PARAMETER_PATTERNS: Tuple[str, ...] = ("weight", "root", "att", "att_*")
r"""Names of bare parameters of a :class:`MessagePassing` module masked by
default (e.g. :class:`~torch_geometric.nn.conv.GATConv`'s :obj:`att_src`,
:obj:`att_dst` and :class:`~torch_geometric.nn.conv.GATv2Conv`'s
:obj:`att`)."""

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


def _is_pooling_projection(module: torch.nn.Module, attr: str) -> bool:
    # The projection vector of TopKPooling's score (PyG >= 2.4). SAGPooling
    # scores with a GNN (masked as any) and keeps a 1-element scale here,
    # which is left alone: its mask could only zero every score.
    try:
        from torch_geometric.nn.pool.select import SelectTopK
    except ImportError:
        return False
    return (isinstance(module, SelectTopK) and attr == "weight"
            and module.weight.numel() > 1)


def _is_default_target(module: torch.nn.Module, attr: str) -> bool:
    if isinstance(module, LINEAR_TYPES):
        return attr == "weight"
    if _is_pooling_projection(module, attr):
        return True
    if isinstance(module, torch.nn.MultiheadAttention):
        return attr in ATTENTION_PARAMETERS
    if isinstance(module, torch.nn.RNNBase):
        return any(fnmatch.fnmatchcase(attr, pattern)
                   for pattern in RNN_PARAMETER_PATTERNS)
    if isinstance(module, MessagePassing):
        return any(fnmatch.fnmatchcase(attr, pattern)
                   for pattern in CONV_PARAMETER_PATTERNS)
    return False


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
) -> Tuple[List[Tuple[str, torch.nn.Module, str]], List[Tuple[str, int]]]:
    # The (name, module, attr) to mask, and the (name, numel) of the weights
    # (2 or more dimensions) left dense that no include/exclude entry chose.
    # Refuses tied weights (one Parameter under several names) it would
    # mask, and skips, with a note, weights without elements.
    users: dict = {}
    for module_name, module in model.named_modules(remove_duplicate=False):
        for attr, param in module._parameters.items():
            if param is not None:
                name = f"{module_name}.{attr}" if module_name else attr
                users.setdefault(id(param), [])
                if name not in users[id(param)]:
                    users[id(param)].append(name)
    selected: List[Tuple[str, torch.nn.Module, str]] = []
    left: List[Tuple[str, int]] = []
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
            default = _is_default_target(module, attr)
            if include is None:
                chosen = default
            else:
                hits = [t for t in include
                        if _matches(t, name, owners, attr, default)]
                used.extend(hits)
                chosen = bool(hits)
            hits = []
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
                hits = [name]  # not "left dense": nothing to warn about
            if chosen:
                seen.add(id(param))
                selected.append((name, module, attr))
            elif include is None and not hits and param.dim() >= 2:
                left.append((name, param.numel()))
        for child_name, child in module._modules.items():
            if child is not None:
                visit(child, f"{prefix}{child_name}.", owners)

    visit(model, "", ())
    for name, module, attr in selected:
        tied = users[id(module._parameters[attr])]
        if len(tied) > 1:
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
    return selected, left


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

    By default the selected weights are the :obj:`weight` of every
    :class:`torch.nn.Linear` and :class:`torch_geometric.nn.dense.Linear`
    (which :class:`~torch_geometric.nn.conv.GCNConv`,
    :class:`~torch_geometric.nn.conv.SAGEConv`, :class:`GINConv`'s MLP or
    :class:`~torch_geometric.nn.conv.GATConv` use) and the bare weight-like
    parameters of message passing layers (:obj:`weight`, :obj:`root`,
    :obj:`att*`, e.g. GAT's :obj:`att_src` / :obj:`att_dst`), the input
    projections of :class:`torch.nn.MultiheadAttention`
    (:obj:`in_proj_weight` or :obj:`q/k/v_proj_weight`, e.g. in
    :class:`~torch_geometric.nn.conv.GPSConv`), the weights of
    :class:`torch.nn.RNN` / :class:`~torch.nn.LSTM` / :class:`~torch.nn.GRU`
    (:obj:`weight_ih_l*`, :obj:`weight_hh_l*`, :obj:`weight_hr_l*`, e.g. in
    :obj:`SAGEConv(aggr="lstm")`) and the projection of
    :class:`~torch_geometric.nn.pool.TopKPooling`. A warning names the
    weights (tensors of 2 or more dimensions) left dense when they are more
    than 5 % of the model's weights and no :obj:`exclude` entry asked for
    it; :func:`~torch_geometric_ugt.summary` lists what is masked.

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

    selected, left = _select(model, include, exclude)
    if not selected:
        raise ValueError(
            f"supermask() found nothing to mask in {type(model).__name__}: "
            f"it masks torch.nn.Linear / torch_geometric.nn.dense.Linear "
            f"weights and bare weights of MessagePassing layers. Pass "
            f"include=[...] with module types or parameter name patterns.")
    for name, module, attr in selected:
        if is_lazy(getattr(module, attr)):
            raise RuntimeError(
                f"'{name}' is a lazy parameter that is not materialised yet "
                f"(in_channels=-1). Run one forward pass, e.g. "
                f"model(data.x, data.edge_index), before supermask(model).")

    _warn_if_left_dense(model, selected, left)

    if seed is None:
        seed = int(torch.randint(0, 2**62, (1, )).item())
    weight_gen = torch.Generator().manual_seed(seed)
    score_gen = torch.Generator().manual_seed(seed + _SCORE_SEED_OFFSET)

    # All or nothing: a failure half-way puts the model back as it was.
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    try:
        for name, module, attr in selected:
            weight = getattr(module, attr)
            attr_name = name.rsplit(".", 1)[-1]
            with torch.no_grad():
                values = sample(weight.shape, attr_name, init_weight,
                                weight_gen)
                weight.copy_(values)
            weight.requires_grad_(False)
            scores = sample(weight.shape, attr_name, init_score, score_gen)
            parametrization = ScoreMask(scores.to(weight.device),
                                        weight.dtype, learn_scale)
            parametrization.recipe = (weight_init, seed, "torch")
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


UNMASKED_WARNING_SHARE = 0.05
r""":func:`supermask` warns when more than this share of a model's weight
elements (tensors of 2 or more dimensions) stays dense without an
:obj:`include` / :obj:`exclude` entry choosing so."""


def _warn_if_left_dense(model: torch.nn.Module,
                        selected: List[Tuple[str, torch.nn.Module, str]],
                        left: List[Tuple[str, int]]) -> None:
    if not left:
        return
    masked = sum(getattr(m, a).numel() for _, m, a in selected)
    dense = sum(n for _, n in left)
    share = dense / (masked + dense)
    if share > UNMASKED_WARNING_SHARE:
        names = [n for n, _ in left]
        warnings.warn(
            f"supermask() leaves {100 * share:.0f} % of the weights of "
            f"{type(model).__name__} dense, with no mask: "
            f"{names[:5]}{' ...' if len(names) > 5 else ''}. Pass "
            f"include=[...] with their names to mask them, or "
            f"exclude=[...] to keep them dense on purpose (no warning "
            f"then).", UserWarning, stacklevel=3)


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
