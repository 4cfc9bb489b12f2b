r"""Compact tickets: a found subnetwork stored as the recipe of its random
weights plus one bit per weight.

An untrained ticket is fully described by the seed and init of its frozen
weights and by its masks, so :func:`save_ticket` writes exactly that,
packed (1 bit per masked weight, optionally compressed) instead of the
float32 weights, scores and masks of a :obj:`state_dict`. The parameters
and buffers that are not masked (biases, norms) are stored as they are.
:func:`load_ticket` regenerates the weights and refuses a file whose
regenerated weights differ from the saved ones (another torch version may
draw other random numbers), a corrupted file (a SHA-256 checksum covers
every stored field and tensor), or another architecture; a refused load
leaves the model as it was.

.. code-block:: python

    save_ticket(model, "cora-gcn.ticket")
    ...
    model = load_ticket(GCN(1433, 256, 2, 7, bias=False), "cora-gcn.ticket")
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import tempfile
import zlib
from typing import IO, Any, Dict, List, Optional, Tuple, Union

import torch
from torch import Tensor

from torch_geometric_ugt.hashing import sha256_of, tensor_bytes
from torch_geometric_ugt.init import (WEIGHT_INITS, draw, fan_in,
                                     resolve_init, sample)
from torch_geometric_ugt.supermask import (masked_weights, supermask,
                                           undo_supermask)

FORMAT = "torch_geometric_ugt.ticket"
VERSION = 4
r"""The format written; versions 1 (no checksum of the unmasked tensors),
2 (no weight scales) and 3 (fan-ins read from the shapes) are read
too."""
READABLE_VERSIONS = (1, 2, 3, 4)
PathLike = Union[str, "os.PathLike[str]", IO[bytes]]



def _aliases(model: torch.nn.Module, names: List[str]) -> List[str]:
    # Every qualified name of the weights :obj:`names`: a submodule shared
    # by several parents (e.g. SchNet's filter network) has one per path.
    paths: Dict[int, List[str]] = {}
    for path, module in model.named_modules(remove_duplicate=False):
        paths.setdefault(id(module), []).append(path)
    out = []
    for name in names:
        prefix, attr = (name.rsplit(".", 1) if "." in name else ("", name))
        module = model.get_submodule(prefix)
        out += [f"{p}.{attr}" if p else attr for p in paths[id(module)]]
    return out


def _parametrization_keys(names: List[str]) -> set:
    # The state-dict keys of the masked weights' parametrizations (the
    # frozen weight, the scores, the mask): what a ticket does not store.
    keys = set()
    for name in names:
        prefix, attr = (name.rsplit(".", 1) if "." in name else ("", name))
        base = f"{prefix}." if prefix else ""
        keys |= {f"{base}parametrizations.{attr}.original",
                 f"{base}parametrizations.{attr}.0.scores",
                 f"{base}parametrizations.{attr}.0.mask",
                 f"{base}parametrizations.{attr}.0.scale",
                 f"{base}parametrizations.{attr}.0.log_scale"}
    return keys


def regenerate_weights(recipe: Dict[str, Any],
                       shapes: List[List[int]],
                       names: List[str],
                       fans: Optional[List[int]] = None) -> List[Tensor]:
    r"""The float32 frozen weights that :func:`supermask` drew for
    :obj:`recipe` (:obj:`seed`, :obj:`weight_init`), in the order of
    :func:`masked_weights`, at the fan-ins :obj:`fans` (one per weight, as
    tickets of version 4 store them). Older tickets read the fan-in from
    the shape by the rule :obj:`recipe["fan_in"]` (the rule of attention
    vectors; tickets without it counted their channels only).
    """
    init = resolve_init(recipe["weight_init"], WEIGHT_INITS, "weight_init")
    gen = torch.Generator().manual_seed(int(recipe["seed"]))
    if fans is not None:
        if len(fans) != len(shapes) or not all(
                isinstance(f, int) and f > 0 for f in fans):
            raise ValueError(f"fan-ins {fans!r} are not one positive int "
                             f"per weight")
        return [draw(torch.Size(shape), fan, init, gen)
                for shape, fan in zip(shapes, fans)]
    rule = recipe.get("fan_in", "channels")
    return [
        sample(torch.Size(shape), name.rsplit(".", 1)[-1], init, gen, rule)
        for shape, name in zip(shapes, names)
    ]


def _digest(tensors: List[Tensor]) -> str:
    return sha256_of(tensors)


# Every field of a ticket but the checksum, which covers them all.
_FIELDS = ("format", "version", "torch", "recipe", "names", "shapes",
           "weights_sha256", "compressed", "mask_sha256")


def _ticket_digest(ticket: Dict[str, Any], mask_bits: bytes) -> str:
    h = hashlib.sha256()
    fields: Tuple[str, ...] = _FIELDS + ("dtype", )
    if ticket.get("version", 0) >= 3:
        fields += ("scales", "coats")
    if ticket.get("version", 0) >= 4:
        fields += ("fans", )
    h.update(json.dumps({k: ticket.get(k) for k in fields},
                        sort_keys=True).encode())
    h.update(mask_bits)
    other = ticket["other"]
    for key in sorted(other):
        t = other[key]
        h.update(json.dumps([key, str(t.dtype), list(t.shape)]).encode())
        h.update(tensor_bytes(t))
    return h.hexdigest()


def pack_bits(mask: Tensor) -> Tensor:
    r"""Packs a 0/1 tensor into :obj:`uint8` bytes, 8 entries per byte
    (most significant bit first, the last byte zero-padded).
    """
    bits = (mask.detach().reshape(-1) != 0).to(torch.uint8).cpu()
    pad = (-bits.numel()) % 8
    bits = torch.cat([bits, bits.new_zeros(pad)]).view(-1, 8)
    weights = torch.tensor([128, 64, 32, 16, 8, 4, 2, 1], dtype=torch.uint8)
    return (bits * weights).sum(dim=1, dtype=torch.uint8)


def unpack_bits(packed: Tensor, numel: int) -> Tensor:
    r"""Inverse of :func:`pack_bits`: the first :obj:`numel` bits as a
    :obj:`bool` tensor.
    """
    shifts = torch.arange(7, -1, -1, dtype=torch.uint8)
    bits = (packed.view(-1, 1) >> shifts) & 1
    return bits.view(-1)[:numel].bool()


def mask_coats(masks: List[Tensor], most: int = 64) -> int:
    r"""The number of coats :math:`C` of masks whose entries are shares of
    coats, :math:`m = \ell / C` (as ``float32(l) / float32(C)`` in the
    masks' dtype): the smallest :math:`C` that gives every entry back
    exactly; 1 for binary masks. Refuses masks that are no such shares.
    """
    for coats in range(1, most + 1):
        if all(torch.equal(level.float().div(coats).to(m.dtype), m)
               for level, m in zip(_levels(masks, coats), masks)):
            return coats
    raise ValueError(f"The masks hold values that are not shares of up to "
                     f"{most} coats (0, 1/C, ..., 1): they were not written "
                     f"by a sparsifier, so no ticket can store them.")


def _levels(masks: List[Tensor], coats: int) -> List[Tensor]:
    # the number of coats keeping each entry, on the CPU
    return [(m.detach().float().cpu() * coats).round() for m in masks]


def save_ticket(model: torch.nn.Module, path: PathLike, *,
                compress: bool = True) -> Dict[str, int]:
    r"""Writes the ticket of a supermask model to :obj:`path`.

    Stores the recipe of the frozen weights (:obj:`seed` and
    :obj:`weight_init` given to :func:`supermask`), a SHA-256 checksum of
    those weights, the current masks as packed bits (zlib-compressed if
    :obj:`compress`), the weights' scales (a sparsifier's
    :obj:`rescale`), every other parameter and buffer as it is (in the
    model's dtype), and a SHA-256 checksum of all of it. The
    scores are not stored: the loaded model's scores equal its masks, so
    a sparsifier at the ticket's sparsity selects the same masks again.

    A path is written atomically: to a temporary file in the same folder,
    flushed to disk, then renamed over :obj:`path`, so a crash or a kill
    at any moment leaves the old ticket or the new one, never a torn file,
    and a failed write (full disk, read-only folder) raises an
    :class:`OSError` that says so and leaves the old ticket. A file object
    is written at its current position, as :func:`torch.save` does.

    Returns:
        A dict with the file size in bytes (:obj:`"bytes"`) and the number
        of masked weights (:obj:`"masked_weights"`).

    Raises:
        ValueError: If :obj:`model` has no masked weights, or its weights
            are not the ones its recipe draws (e.g. they were loaded from a
            checkpoint or changed), so the file could not regenerate them.

    """
    found = masked_weights(model)
    if not found:
        raise ValueError("save_ticket() takes a model returned by "
                         "supermask(); this one has no masked weights.")
    recipes = {w.parametrization.recipe for w in found}
    if len(recipes) != 1 or None in recipes:
        raise ValueError("The masked weights of this model do not come from "
                         "one supermask() call with a known seed, so a "
                         "compact ticket cannot regenerate them; save its "
                         "state_dict() instead.")
    weight_init, seed, rule = next(iter(recipes))  # type: ignore[misc]
    recipe = {"weight_init": weight_init, "seed": seed, "fan_in": rule}
    names = [w.name for w in found]
    shapes = [list(w.parametrization.scores.shape) for w in found]
    fans = [w.parametrization.fan_in for w in found]
    if any(f is None for f in fans):
        raise ValueError("The masked weights of this model do not record "
                         "the fan-in they were drawn at; save its "
                         "state_dict() instead.")
    drawn = regenerate_weights(recipe, shapes, names,
                               [int(f) for f in fans if f is not None])
    for w, values in zip(found, drawn):
        if not torch.equal(values.to(w.weight.dtype),
                           w.weight.detach().cpu()):
            raise ValueError(
                f"The frozen weight '{w.name}' differs from the one "
                f"supermask(seed={seed}, weight_init={weight_init!r}) drew "
                f"(was it loaded from a checkpoint or modified?), so a "
                f"compact ticket cannot regenerate it; save the model's "
                f"state_dict() instead.")
    masks = [w.parametrization.mask for w in found]
    # the weights' multipliers (a sparsifier's scale times a learned one)
    with torch.no_grad():
        scales = [w.parametrization.multiplier() for w in found]
    coats = mask_coats(masks)
    packed = torch.cat([pack_bits(level > c) for c in range(coats)
                        for level in _levels(masks, coats)])
    payload = packed.numpy().tobytes()
    if compress:
        payload = zlib.compress(payload, 9)
    internal = _parametrization_keys(_aliases(model, names))
    other = {
        key: value.detach().cpu()
        for key, value in model.state_dict().items() if key not in internal
    }
    ticket = {
        "format": FORMAT,
        "version": VERSION,
        "torch": str(torch.__version__),
        "recipe": recipe,
        "names": names,
        "shapes": shapes,
        # the fan-in each weight was drawn at (its layer's own)
        "fans": fans,
        "weights_sha256": _digest(drawn),
        "compressed": compress,
        # A tensor, not bytes: torch.save pickles bytes with protocol 2,
        # which spends two bytes on every byte above 127.
        "mask_bits": torch.frombuffer(bytearray(payload), dtype=torch.uint8),
        "mask_sha256": hashlib.sha256(payload).hexdigest(),
        "dtype": str(found[0].weight.dtype),
        # a float32 scale is exact as a Python float; None: no scale
        "scales": [None if c is None else float(c) for c in scales],
        # masks of several levels (multicoated) are stored as one bit
        # plane per coat: plane c holds the weights kept by more than c
        "coats": coats,
        "other": other,
    }
    ticket["sha256"] = _ticket_digest(ticket, payload)
    size = _write(ticket, path)
    return {"bytes": size, "masked_weights": sum(m.numel() for m in masks)}


def _is_file_object(path: Any) -> bool:
    return hasattr(path, "write") or hasattr(path, "read")


def _write(obj: Any, path: PathLike) -> int:
    # torch.save, atomically for paths; returns the bytes written.
    if _is_file_object(path):
        file = path  # type: ignore[assignment]
        start = file.tell()  # type: ignore[union-attr]
        torch.save(obj, file)  # type: ignore[arg-type]
        return file.tell() - start  # type: ignore[union-attr]
    target = os.fspath(path)  # type: ignore[arg-type]
    if os.path.isdir(target):
        raise IsADirectoryError(f"Cannot write a ticket to {target!r}: it is "
                                f"a directory. Pass a file path, e.g. "
                                f"{os.path.join(target, 'model.ticket')!r}.")
    folder = os.path.dirname(os.path.abspath(target))
    try:
        handle, tmp = tempfile.mkstemp(
            dir=folder, prefix=f".{os.path.basename(target)}.",
            suffix=".tmp")
    except OSError as error:
        raise OSError(error.errno, f"Cannot write a ticket in {folder!r} "
                      f"({error.strerror}): the folder must exist and be "
                      f"writable.") from None
    try:
        with os.fdopen(handle, "wb") as file:
            torch.save(obj, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, target)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(error, OSError):
            raise OSError(error.errno, f"Writing the ticket {target!r} "
                          f"failed ({error.strerror or error}); the file "
                          f"there, if any, is unchanged.") from error
        raise
    _sync_folder(folder)
    return os.path.getsize(target)


def _sync_folder(folder: str) -> None:
    # Makes the rename itself durable (POSIX); best effort elsewhere.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _read(path: PathLike) -> Dict[str, Any]:
    # A file object is read from its current position, as torch.load does.
    try:
        ticket = torch.load(path, map_location="cpu", weights_only=True)
    except (FileNotFoundError, IsADirectoryError):
        raise
    except Exception as error:
        raise ValueError(f"{path!r} is not a readable ticket file (truncated "
                         f"or corrupted?): {type(error).__name__}: "
                         f"{error}") from None
    if not isinstance(ticket, dict) or ticket.get("format") != FORMAT:
        raise ValueError(f"{path!r} is not a ticket written by save_ticket().")
    if ticket.get("version") not in READABLE_VERSIONS:
        raise ValueError(f"{path!r} has ticket format version "
                         f"{ticket.get('version')}; this library reads "
                         f"versions {READABLE_VERSIONS}. Upgrade "
                         f"torch_geometric_ugt.")
    bits = ticket.get("mask_bits")
    other = ticket.get("other")
    if (not isinstance(bits, Tensor) or bits.dtype != torch.uint8
            or not isinstance(other, dict)
            or not all(isinstance(t, Tensor) for t in other.values())
            or any(k not in ticket for k in _FIELDS)):
        raise ValueError(f"{path!r} lacks parts of a ticket: the file is "
                         f"corrupted.")
    scales = ticket.get("scales", [None] * len(ticket.get("names", [])))
    if (ticket["version"] >= 3 and "scales" not in ticket) or not (
            isinstance(scales, list)
            and len(scales) == len(ticket.get("names", []))
            and all(c is None or isinstance(c, float) for c in scales)):
        raise ValueError(f"{path!r} lacks parts of a ticket: the file is "
                         f"corrupted.")
    ticket["scales"] = scales
    coats = ticket.get("coats", 1)
    if isinstance(coats, bool) or not isinstance(coats, int) or coats < 1:
        raise ValueError(f"{path!r} lacks parts of a ticket: the file is "
                         f"corrupted.")
    payload = bits.numpy().tobytes()
    if (ticket["version"] >= 2 or "sha256" in ticket) and \
            _ticket_digest(ticket, payload) != ticket.get("sha256"):
        raise ValueError(f"{path!r} fails its checksum: the file is "
                         f"corrupted (a field, a mask bit or an unmasked "
                         f"tensor changed since save_ticket() wrote it).")
    if hashlib.sha256(payload).hexdigest() != ticket["mask_sha256"]:
        raise ValueError(f"The masks in {path!r} fail their checksum: the "
                         f"file is corrupted.")
    if ticket["compressed"]:
        try:
            payload = zlib.decompress(payload)
        except zlib.error:
            raise ValueError(f"The masks in {path!r} do not decompress: the "
                             f"file is corrupted.") from None
    ticket["mask_bits"] = payload
    return ticket


def load_ticket(model: torch.nn.Module, path: PathLike, *,
                device: Optional[Union[str, torch.device]] = None
                ) -> torch.nn.Module:
    r"""Rebuilds a ticket saved by :func:`save_ticket` in :obj:`model`.

    :obj:`model` is a freshly built instance of the saved architecture
    (e.g. the same :obj:`GCN(...)` call). :func:`supermask` is applied with
    the saved recipe, the weights are checked against the saved checksum,
    the masks and the unmasked parameters and buffers are restored, and
    the scores are set to the masks. The model gives the saved model's
    outputs exactly. Returns :obj:`model`.

    Raises:
        ValueError: If the file is corrupted or not a ticket, was saved for
            another architecture, or the regenerated weights differ from
            the saved ones (another torch version may draw other random
            numbers: load it with the torch version in the error).

    """
    ticket = _read(path)
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"load_ticket() takes a torch.nn.Module; got "
                        f"{type(model).__name__}.")
    if masked_weights(model):
        raise ValueError("load_ticket() takes a freshly built model (no "
                         "supermask() yet): it applies supermask() with the "
                         "ticket's recipe itself.")
    # Everything is checked before the model is touched.
    names: List[str] = ticket["names"]
    params = dict(model.named_parameters())
    missing = [n for n in names if n not in params]
    if missing:
        raise ValueError(f"The ticket was saved for another architecture: "
                         f"this model has no {missing[:3]}.")
    shapes = [list(params[n].shape) for n in names]
    if shapes != ticket["shapes"]:
        bad = [n for n, a, b in zip(names, shapes, ticket["shapes"]) if a != b]
        raise ValueError(f"The ticket was saved for another architecture: "
                         f"shapes differ for {bad[:3]}.")
    every_name = set(_aliases(model, names))
    own = {k: v for k, v in model.state_dict().items()
           if k not in every_name}
    other: Dict[str, Tensor] = ticket["other"]
    unexpected = sorted(set(other) - set(own))
    left = sorted(set(own) - set(other))
    reshaped = sorted(k for k in set(own) & set(other)
                      if own[k].shape != other[k].shape)
    if unexpected or left or reshaped:
        raise ValueError(f"The ticket was saved for another architecture "
                         f"(unexpected: {unexpected[:3]}, missing: "
                         f"{left[:3]}, other shapes: {reshaped[:3]}).")
    # version 1 tickets do not record the masked weights' dtype
    saved_dtypes = {str(other[k].dtype) for k in other
                    if other[k].is_floating_point()}
    own_dtypes = {str(own[k].dtype) for k in other
                  if own[k].is_floating_point()}
    if ticket.get("dtype") is not None:
        saved_dtypes.add(str(ticket["dtype"]))
        own_dtypes |= {str(params[n].dtype) for n in names}
    if saved_dtypes != own_dtypes:
        raise ValueError(f"The ticket was saved from a model in "
                         f"{sorted(saved_dtypes)}, this one is in "
                         f"{sorted(own_dtypes)}: build the model in the "
                         f"ticket's dtype (e.g. model.half() or "
                         f"model.to(torch.bfloat16)) before load_ticket(), "
                         f"or cast it after.")
    target = torch.device(device) if device is not None else None
    recipe = ticket["recipe"]
    try:
        drawn = regenerate_weights(recipe, ticket["shapes"], names,
                                   ticket.get("fans"))
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"The ticket's weight recipe {recipe!r} cannot be "
                         f"drawn ({error}): the file is corrupted or comes "
                         f"from another release.") from None
    if _digest(drawn) != ticket["weights_sha256"]:
        same = ticket["torch"] == str(torch.__version__)
        raise ValueError(
            f"The weights regenerated from the ticket's recipe ({recipe}) "
            f"differ from the saved ones. " + (
                f"The file was written with torch {ticket['torch']}, whose "
                f"random numbers this torch ({torch.__version__}) does not "
                f"reproduce: load it with torch {ticket['torch']}."
                if not same else
                "The file was written with this torch version too, so the "
                "weight initialisation of this install differs from the "
                "one that wrote it (another torch_geometric_ugt release?)."))
    payload: bytes = ticket["mask_bits"]
    coats: int = ticket.get("coats", 1)
    sizes = [(math.prod(shape) + 7) // 8 for shape in ticket["shapes"]]
    if coats * sum(sizes) != len(payload):
        raise ValueError("The ticket's mask bits do not match its weights: "
                         "the file is corrupted.")
    packed = torch.frombuffer(bytearray(payload), dtype=torch.uint8)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    try:
        # Exact names as include patterns (escaped): nothing else is masked.
        supermask(model, include=[_escape(n) for n in names],
                  seed=recipe["seed"], weight_init=recipe["weight_init"])
        found = masked_weights(model)
        assert [w.name for w in found] == names
        starts = [0]
        for size in sizes:
            starts.append(starts[-1] + size)
        with torch.no_grad():
            for i, (w, values) in enumerate(zip(found, drawn)):
                p = w.parametrization
                # the recipe's weights (another fan-in rule for the
                # attention vectors of an older ticket)
                w.weight.copy_(values)
                p.recipe = (recipe["weight_init"], recipe["seed"],
                            recipe.get("fan_in", "channels"))
                p.fan_in = (ticket["fans"][i] if "fans" in ticket else
                            fan_in(names[i].rsplit(".", 1)[-1], values,
                                   p.recipe[2]))
                mask = p.stored_mask()
                level = torch.zeros(mask.shape, dtype=torch.float32)
                for c in range(coats):  # plane c: kept by more than c
                    at = c * starts[-1] + starts[i]
                    level += unpack_bits(packed[at:at + sizes[i]],
                                         mask.numel()).view(mask.shape)
                share = level / float(coats)
                mask.copy_(share.to(mask.dtype))
                p.scores.copy_(share)
        model.load_state_dict(other, strict=False)
        for w, scale in zip(found, ticket["scales"]):  # after: the load
            if scale is not None:  # drops scales its state does not hold
                w.parametrization.set_scale(torch.tensor(scale))
        if target is not None:
            model.to(target)
    except BaseException:
        undo_supermask(model, state, flags)
        raise
    return model


def _escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[]" else c for c in name)
