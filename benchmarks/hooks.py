"""What the reproduction runner measures besides accuracy: per-layer MAD
(Fig. 4), t-SNE of the last hidden layer (Fig. 3), OOD detection (Fig. 6),
the validation halves of a ticket, and IteRand's re-randomisation (a
probe)."""
from __future__ import annotations

import copy
from typing import Dict, List, Tuple

import torch

from torch_geometric_ugt import masked_weights
from torch_geometric_ugt.analysis import LayerOutputs, mad, ood_score, roc_auc
from torch_geometric_ugt.init import WEIGHT_INITS, resolve_init, sample
from torch_geometric_ugt.search import graph_input


@torch.no_grad()
def per_layer_mad(model: torch.nn.Module, data) -> List[float]:
    """Global MAD (cosine) of every message-passing layer's output over all
    nodes, in layer order (paper Fig. 4)."""
    model.eval()
    with LayerOutputs(model) as outputs:
        model(data.x, graph_input(data))
    return [round(mad(h), 5) for h in outputs.values()]


@torch.no_grad()
def last_hidden_tsne(model: torch.nn.Module, data, seed: int) -> Dict:
    """2-D t-SNE of the last hidden layer's output (the input of the last
    message-passing layer) with the node labels (paper Fig. 3)."""
    from benchmarks.tsne import tsne
    model.eval()
    with LayerOutputs(model) as outputs:
        model(data.x, graph_input(data))
    hidden = list(outputs.values())[-2].relu()  # as the next layer sees it
    coords = tsne(hidden, seed=seed)
    return {"coords": [[round(float(a), 2), round(float(b), 2)]
                       for a, b in coords.tolist()],
            "labels": data.y.tolist()}


@torch.no_grad()
def ood_scores(model: torch.nn.Module, task, data) -> Dict[str, float]:
    """Validation accuracy (in-distribution classes) and OOD ROC-AUC of the
    max-softmax and entropy scores on all test nodes."""
    model.eval()
    out = model(task.x, graph_input(task))
    model.train()
    pred = out[task.val_mask].argmax(dim=-1)
    test = data.test_mask
    scores = {"val": float((pred == task.y[task.val_mask]).float().mean())}
    for kind in ("max_softmax", "entropy"):
        scores[f"ood_auroc_{kind}"] = roc_auc(ood_score(out[test], kind),
                                             data.ood_mask[test])
    return scores


def _validation_halves(data) -> Tuple[torch.Tensor, torch.Tensor]:
    # the validation nodes at even and at odd positions
    nodes = data.val_mask.nonzero().view(-1)
    return nodes[0::2], nodes[1::2]


@torch.no_grad()
def validation_halves(model: torch.nn.Module, data) -> List[float]:
    """Accuracy of the selected ticket on the even and the odd positions
    of the validation nodes: a restart chosen on one half is judged on the
    other when recipes are compared (benchmarks.recipes)."""
    model.eval()
    pred = model(data.x, graph_input(data)).argmax(dim=-1)
    return [float((pred[half] == data.y[half]).float().mean())
            for half in _validation_halves(data)]


def even_validation(data):
    """A shallow copy of :obj:`data` whose validation nodes are the even
    positions of its own (the half that :func:`validation_halves` lists
    first)."""
    out = copy.copy(data)
    out.val_mask = torch.zeros_like(data.val_mask)
    out.val_mask[_validation_halves(data)[0]] = True
    return out


def iterand_setting(text: str) -> Tuple[int, float]:
    """(period, share) of an IteRand setting ``p<P>-r<R>``."""
    try:
        period, share = text.split("-")
        assert period[0] == "p" and share[0] == "r"
        return int(period[1:]), float(share[1:])
    except (ValueError, AssertionError, IndexError):
        raise ValueError(f"iterand must look like 'p10-r0.1' (every 10 "
                         f"epochs, 10 % of the pruned weights); got "
                         f"{text!r}.") from None


@torch.no_grad()
def rerandomize(model: torch.nn.Module, share: float, weight_init: str,
                seed: int, epoch: int) -> None:
    """IteRand: a share of the pruned weights drawn again from their init,
    with a generator seeded by (seed, epoch), so runs repeat exactly."""
    gen = torch.Generator().manual_seed(seed * 100_003 + epoch)
    init = resolve_init(weight_init, WEIGHT_INITS, "weight_init")
    for w in masked_weights(model):
        pruned = (w.parametrization.mask == 0).cpu()
        pick = pruned & (torch.rand(pruned.shape, generator=gen) < share)
        fresh = sample(w.weight.shape, w.name.rsplit(".", 1)[-1], init, gen)
        w.weight.copy_(torch.where(pick, fresh, w.weight.cpu()).to(w.weight))


if __name__ == "__main__":
    from benchmarks import cli
    cli.library(__doc__, "benchmarks.hooks")
