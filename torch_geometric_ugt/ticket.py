r"""Compact tickets: a found subnetwork stored as the recipe of its random
weights plus one bit per weight.

An untrained ticket is fully described by the seed and init of its frozen
weights and by its masks, so :func:`save_ticket` writes exactly that,
packed (1 bit per masked weight, optionally compressed) instead of the
float32 weights, scores and masks of a :obj:`state_dict`. The parameters
and buffers that are not masked (biases, norms) are stored as they are.
:func:`load_ticket` regenerates the weights and refuses a file whose
regenerated weights differ from the saved ones (another torch version may
draw other random numbers), a corrupted file, or another architecture.

.. code-block:: python

    save_ticket(model, "cora-gcn.ticket")
    ...
    model = load_ticket(GCN(1433, 256, 2, 7, bias=False), "cora-gcn.ticket")
"""
from __future__ import annotations

import hashlib
import io
import os
import zlib
from typing import Any, Dict, List, Optional, Union

import torch
from torch import Tensor

from torch_geometric_ugt.init import WEIGHT_INITS, resolve_init, sample
from torch_geometric_ugt.supermask import masked_weights, supermask

FORMAT = "torch_geometric_ugt.ticket"
VERSION = 1
PathLike = Union[str, "os.PathLike[str]", io.BytesIO]

_STATE_SUFFIXES = (".scores", ".mask", ".original")


def regenerate_weights(recipe: Dict[str, Any],
                       shapes: List[List[int]],
                       names: List[str]) -> List[Tensor]:
    r"""The float32 frozen weights that :func:`supermask` drew for
    :obj:`recipe` (:obj:`seed`, :obj:`weight_init`), in the order of
    :func:`masked_weights`.
    """
    init = resolve_init(recipe["weight_init"], WEIGHT_INITS, "weight_init")
    gen = torch.Generator().manual_seed(int(recipe["seed"]))
    return [
        sample(torch.Size(shape), name.rsplit(".", 1)[-1], init, gen)
        for shape, name in zip(shapes, names)
    ]


def _digest(tensors: List[Tensor]) -> str:
    h = hashlib.sha256()
    for t in tensors:
        h.update(t.detach().cpu().contiguous().view(-1).view(
            torch.uint8).numpy().tobytes())
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


def save_ticket(model: torch.nn.Module, path: PathLike, *,
                compress: bool = True) -> Dict[str, int]:
    r"""Writes the ticket of a supermask model to :obj:`path`.

    Stores the recipe of the frozen weights (:obj:`seed` and
    :obj:`weight_init` given to :func:`supermask`), a SHA-256 checksum of
    those weights, the current masks as packed bits (zlib-compressed if
    :obj:`compress`), and every other parameter and buffer as it is. The
    scores are not stored: the loaded model's scores equal its masks, so
    a sparsifier at the ticket's sparsity selects the same masks again.

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
    weight_init, seed = next(iter(recipes))  # type: ignore[misc]
    recipe = {"weight_init": weight_init, "seed": seed}
    names = [w.name for w in found]
    shapes = [list(w.parametrization.scores.shape) for w in found]
    drawn = regenerate_weights(recipe, shapes, names)
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
    packed = torch.cat([pack_bits(m) for m in masks])
    payload = packed.numpy().tobytes()
    if compress:
        payload = zlib.compress(payload, 9)
    other = {
        key: value.detach().cpu()
        for key, value in model.state_dict().items()
        if not key.endswith(_STATE_SUFFIXES)
    }
    ticket = {
        "format": FORMAT,
        "version": VERSION,
        "torch": str(torch.__version__),
        "recipe": recipe,
        "names": names,
        "shapes": shapes,
        "weights_sha256": _digest(drawn),
        "compressed": compress,
        # A tensor, not bytes: torch.save pickles bytes with protocol 2,
        # which spends two bytes on every byte above 127.
        "mask_bits": torch.frombuffer(bytearray(payload), dtype=torch.uint8),
        "mask_sha256": hashlib.sha256(payload).hexdigest(),
        "other": other,
    }
    torch.save(ticket, path)
    size = (path.getbuffer().nbytes if isinstance(path, io.BytesIO) else
            os.path.getsize(path))
    return {"bytes": size, "masked_weights": sum(m.numel() for m in masks)}


def _read(path: PathLike) -> Dict[str, Any]:
    if isinstance(path, io.BytesIO):
        path.seek(0)
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
    if ticket.get("version") != VERSION:
        raise ValueError(f"{path!r} has ticket format version "
                         f"{ticket.get('version')}; this library reads "
                         f"version {VERSION}. Upgrade torch_geometric_ugt.")
    bits = ticket.get("mask_bits")
    if not isinstance(bits, Tensor) or bits.dtype != torch.uint8:
        raise ValueError(f"{path!r} holds no mask bits: the file is "
                         f"corrupted.")
    ticket["mask_bits"] = bits.numpy().tobytes()
    if hashlib.sha256(ticket["mask_bits"]).hexdigest() != \
            ticket["mask_sha256"]:
        raise ValueError(f"The masks in {path!r} fail their checksum: the "
                         f"file is corrupted.")
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
    if masked_weights(model):
        raise ValueError("load_ticket() takes a freshly built model (no "
                         "supermask() yet): it applies supermask() with the "
                         "ticket's recipe itself.")
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
    recipe = ticket["recipe"]
    # Exact names as include patterns (escaped), so nothing else is masked.
    patterns = [_escape(n) for n in names]
    supermask(model, include=patterns, seed=recipe["seed"],
              weight_init=recipe["weight_init"])
    found = masked_weights(model)
    if [w.name for w in found] != names:
        raise ValueError("The ticket was saved for another architecture: "
                         "its masked weights are not this model's.")
    drawn = [w.weight.detach().float() for w in found]
    if _digest(drawn) != ticket["weights_sha256"]:
        raise ValueError(
            f"The weights regenerated from the ticket's recipe ({recipe}) "
            f"differ from the saved ones: the file was written with torch "
            f"{ticket['torch']}, whose random numbers this torch "
            f"({torch.__version__}) does not reproduce. Load it with torch "
            f"{ticket['torch']}.")
    payload = ticket["mask_bits"]
    if ticket["compressed"]:
        payload = zlib.decompress(payload)
    packed = torch.frombuffer(bytearray(payload), dtype=torch.uint8)
    offset = 0
    with torch.no_grad():
        for w in found:
            mask = w.parametrization.mask
            size = (mask.numel() + 7) // 8
            bits = unpack_bits(packed[offset:offset + size], mask.numel())
            offset += size
            mask.copy_(bits.view(mask.shape).to(mask.dtype))
            w.parametrization.scores.copy_(bits.view(mask.shape).float())
    if offset != packed.numel():
        raise ValueError("The ticket's mask bits do not match its weights: "
                         "the file is corrupted.")
    result = model.load_state_dict(ticket["other"], strict=False)
    unexpected = [k for k in result.unexpected_keys]
    left = [k for k in result.missing_keys if not k.endswith(_STATE_SUFFIXES)]
    if unexpected or left:
        raise ValueError(f"The ticket was saved for another architecture "
                         f"(unexpected: {unexpected[:3]}, missing: "
                         f"{left[:3]}).")
    if device is not None:
        model.to(device)
    return model


def _escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[]" else c for c in name)
