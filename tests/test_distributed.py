import datetime
import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from torch_geometric.nn import GCN

from tests.conftest import HIDDEN, IN, OUT, tiny_graph
from torch_geometric_ugt import (GlobalGradualSparsifier, masked_weights,
                                 score_parameters, supermask)
from torch_geometric_ugt import backend
from torch_geometric_ugt.distributed import mask_digest, masks_in_sync

WORLD = 2
STEPS = 6


def _join(rank: int, init_file: str) -> None:
    torch.set_num_threads(1)
    # The ranks select with the reference backend (the kernels give the same
    # masks, tests/test_threshold.py), so they need no build of their own.
    backend.set_backend("torch")
    # a rank that never arrives fails the test instead of hanging it
    dist.init_process_group("gloo", init_method=f"file://{init_file}",
                            rank=rank, world_size=WORLD,
                            timeout=datetime.timedelta(seconds=120))


def _leave() -> None:
    dist.destroy_process_group()
    # Leave without running destructors: freeing the DDP reducer here
    # joins gloo's worker thread while holding the GIL, and that thread may
    # need the GIL to free the all_gather's tensors (a deadlock seen in
    # torch's teardown, not in this package). Everything is saved before.
    os._exit(0)


def _spawn(target, tmp_path):
    """Runs ``target(rank, init_file, out)`` on every rank; what each rank
    saved to ``out.<rank>``."""
    out = str(tmp_path / "result")
    mp.spawn(target, args=(str(tmp_path / "init"), out), nprocs=WORLD,
             join=True)
    return [torch.load(f"{out}.{r}", weights_only=True)
            for r in range(WORLD)]


def _search(rank: int, init_file: str, out: str) -> None:
    _join(rank, init_file)
    graph = tiny_graph(num_nodes=40, num_edges=160)
    torch.manual_seed(0)
    model = supermask(GCN(IN, HIDDEN, 3, OUT), seed=0)
    ddp = DistributedDataParallel(model)
    opt = torch.optim.Adam(score_parameters(model), lr=0.05)
    sp = GlobalGradualSparsifier(model, opt, final_sparsity=0.7,
                                 ramp_epochs=3)
    # every rank trains on its own half of the nodes
    nodes = torch.arange(rank, graph.num_nodes, WORLD)
    synced = []
    for epoch in range(STEPS):
        sp.step(epoch)
        opt.zero_grad()
        out_ = ddp(graph.x, graph.edge_index)
        F.cross_entropy(out_[nodes], graph.y[nodes]).backward()
        opt.step()
        synced.append(masks_in_sync(model))
    masks = torch.cat([w.parametrization.mask.reshape(-1)
                       for w in masked_weights(model)])
    scores = torch.cat([s.detach().reshape(-1)
                        for s in score_parameters(model)])
    gathered = [torch.empty_like(masks) for _ in range(WORLD)]
    dist.all_gather(gathered, masks)
    torch.save({"synced": synced, "masks": gathered, "scores": scores,
                "zeros": int((masks == 0).sum()),
                "expected": round(0.7 * sp.num_weights)},
               f"{out}.{rank}")
    _leave()


@pytest.mark.skipif(not dist.is_available() or
                    not dist.is_gloo_available(), reason="needs gloo")
def test_two_ranks_select_identical_masks(tmp_path):
    results = _spawn(_search, tmp_path)
    for r in results:
        assert all(r["synced"])
        assert r["zeros"] == r["expected"]
        # bit for bit, every rank's masks as gathered by every rank
        for m in r["masks"]:
            assert torch.equal(m, results[0]["masks"][0])
    assert torch.equal(results[0]["scores"], results[1]["scores"])
    # the masks moved during the search (the test is not vacuous)
    model = supermask(GCN(IN, HIDDEN, 3, OUT), seed=0)
    GlobalGradualSparsifier(model, final_sparsity=0.7, ramp_epochs=1,
                            initial_sparsity=0.7)
    assert not torch.equal(mask_digest(model),
                           mask_digest_of(results[0]["masks"][0], model))


def mask_digest_of(flat, model):
    offset = 0
    with torch.no_grad():
        for w in masked_weights(model):
            n = w.parametrization.mask.numel()
            w.parametrization.mask.copy_(
                flat[offset:offset + n].view_as(w.parametrization.mask))
            offset += n
    return mask_digest(model)


def _disagree(rank: int, init_file: str, out: str) -> None:
    _join(rank, init_file)
    results = []
    for final, ramp in ((0.7, 3), (0.7 + 0.1 * rank, 3), (0.7, 3 + rank),
                        (0.7, 3)):
        model = supermask(GCN(IN, HIDDEN, 3, OUT), seed=0)
        if len(results) == 3 and rank == 1:  # refuses: the others too
            next(model.parameters()).data.fill_(0.0)
            for s in model.parameters():
                if s.requires_grad:
                    s.data[0] = float("nan")
        try:
            GlobalGradualSparsifier(model, final_sparsity=final,
                                    ramp_epochs=ramp)
            results.append("built")
        except ValueError as error:
            results.append(str(error))
    torch.save(results, f"{out}.{rank}")
    _leave()


@pytest.mark.skipif(not dist.is_available() or
                    not dist.is_gloo_available(), reason="needs gloo")
def test_ranks_that_disagree_on_the_schedule_fail_loudly(tmp_path):
    for same, sparsity, ramp, refused in _spawn(_disagree, tmp_path):
        assert same == "built"
        assert "ranks [1] differ" in sparsity and "ranks [1]" in ramp
        assert "NaN" in refused  # rank 1's own message, on every rank


def test_masks_in_sync_needs_a_process_group():
    if dist.is_initialized():
        pytest.skip("a process group is already running")
    model = supermask(GCN(IN, HIDDEN, 2, OUT), seed=0)
    with pytest.raises(RuntimeError, match="init_process_group"):
        masks_in_sync(model)
    with pytest.raises(ValueError, match="supermask"):
        mask_digest(GCN(IN, HIDDEN, 2, OUT))


def _different_weights(rank: int, init_file: str, out: str) -> None:
    _join(rank, init_file)
    results = []
    for case in ("weights", "scores", "same"):
        model = supermask(GCN(IN, HIDDEN, 3, OUT), seed=0)
        if rank == 1 and case == "weights":
            with torch.no_grad():
                masked_weights(model)[1].weight.mul_(2.0)
        if rank == 1 and case == "scores":
            with torch.no_grad():
                masked_weights(model)[2].parametrization.scores[0, 0] += 1.0
        try:
            GlobalGradualSparsifier(model, final_sparsity=0.7,
                                    ramp_epochs=3)
            results.append("built")
        except ValueError as error:
            results.append(str(error))
    torch.save(results, f"{out}.{rank}")
    _leave()


@pytest.mark.skipif(not dist.is_available() or
                    not dist.is_gloo_available(), reason="needs gloo")
def test_ranks_with_other_weights_or_scores_are_refused(tmp_path):
    for weights, scores, same in _spawn(_different_weights, tmp_path):
        assert "Rank 1" in weights and "convs.1.lin.weight (frozen " \
            "weight)" in weights
        assert "Rank 1" in scores and "convs.2.lin.weight (scores)" in scores
        assert same == "built"


def test_mask_digest_tells_apart_masks_with_the_same_position_sums():
    # kept positions {0, 3} and {1, 2}: same count, same sum of positions
    model = supermask(torch.nn.Linear(2, 2, bias=False), seed=0)
    mask = masked_weights(model)[0].parametrization.mask
    digests = []
    for kept in ([1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 1.0, 0.0]):
        with torch.no_grad():
            mask.copy_(torch.tensor(kept).view(2, 2))
        digests.append(mask_digest(model))
    assert not torch.equal(digests[0], digests[1])
    assert digests[0].dtype == torch.uint8 and digests[0].numel() == 32
