import pytest
import torch
import torch.nn.functional as F
from torch_geometric.nn import GCN

from tests.conftest import HIDDEN, IN, OUT
from torch_geometric_ugt import (EdgePopupSparsifier, GlobalGradualSparsifier,
                                 GradualSchedule, SupermaskSparsifier,
                                 masked_weights, score_parameters, supermask)
from torch_geometric_ugt.threshold import (prune_smallest_reference_,
                                           reads_once)


def make(seed=0):
    model = supermask(GCN(IN, HIDDEN, 3, OUT), seed=seed)
    opt = torch.optim.Adam(score_parameters(model), lr=0.05)
    return model, opt


def train(model, opt, sparsifier, graph, epochs, start=0):
    for epoch in range(start, start + epochs):
        sparsifier.step(epoch)
        opt.zero_grad()
        out = model(graph.x, graph.edge_index)
        F.cross_entropy(out, graph.y).backward()
        opt.step()


def zeros(model):
    return sum(int((w.parametrization.mask == 0).sum())
               for w in masked_weights(model))


def test_masks_follow_scores_after_optimizer_step(graph):
    model, opt = make()
    sp = GlobalGradualSparsifier(model, opt, final_sparsity=0.6,
                                 ramp_epochs=1, initial_sparsity=0.6)
    before = [w.parametrization.mask.clone() for w in masked_weights(model)]
    opt.zero_grad()
    F.cross_entropy(model(graph.x, graph.edge_index), graph.y).backward()
    opt.step()  # the hook must refresh here, without sparsifier.step()
    after = [w.parametrization.mask for w in masked_weights(model)]
    assert any(not torch.equal(a, b) for a, b in zip(before, after))
    fresh = [w.parametrization.mask.clone() for w in masked_weights(model)]
    sp._written = None
    sp.refresh()
    assert all(torch.equal(a, w.parametrization.mask)
               for a, w in zip(fresh, masked_weights(model)))
    assert zeros(model) == round(0.6 * sp.num_weights)
    sp.remove()
    opt.step()


def test_global_exact_count_and_non_uniform_layers(graph):
    model, opt = make()
    sp = GlobalGradualSparsifier(model, opt, final_sparsity=0.9,
                                 ramp_epochs=4)
    assert sp.current_sparsity == 0.0 and zeros(model) == 0
    train(model, opt, sp, graph, 6)
    assert zeros(model) == round(0.9 * sp.num_weights)
    assert sp.realised_sparsity() == pytest.approx(0.9, abs=1e-3)
    layers = sp.layer_sparsities()
    assert set(layers) == {w.name for w in masked_weights(model)}
    assert max(layers.values()) - min(layers.values()) > 0.01


def test_schedule_steps(graph):
    model, opt = make()
    sp = GlobalGradualSparsifier(model, opt, final_sparsity=0.8,
                                 ramp_epochs=4)
    seen = []
    for epoch in range(6):
        seen.append(sp.step(epoch))
        assert zeros(model) == round(seen[-1] * sp.num_weights)
    assert seen == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 0.8])
    assert sp.step() == pytest.approx(0.8) and sp.last_epoch == 6


def test_edge_popup_uniform(graph):
    model, opt = make()
    sp = EdgePopupSparsifier(model, opt, sparsity=0.7)
    train(model, opt, sp, graph, 3)
    for w in masked_weights(model):
        n = w.parametrization.mask.numel()
        assert int((w.parametrization.mask == 0).sum()) == round(0.7 * n)


def test_ablations_expressible(graph):
    model, opt = make()
    global_fixed = GlobalGradualSparsifier(model, opt, final_sparsity=0.7,
                                           ramp_epochs=1,
                                           initial_sparsity=0.7)
    assert global_fixed.current_sparsity == pytest.approx(0.7)
    global_fixed.remove()
    model, opt = make()
    layer_gradual = SupermaskSparsifier(
        model, opt, schedule=GradualSchedule(0.7, 4), scope="layer")
    train(model, opt, layer_gradual, graph, 3)
    assert layer_gradual.current_sparsity == pytest.approx(0.35)
    for w in masked_weights(model):
        n = w.parametrization.mask.numel()
        assert int((w.parametrization.mask == 0).sum()) == round(0.35 * n)


def test_at_sparsity_restores(graph):
    model, opt = make()
    sp = GlobalGradualSparsifier(model, opt, final_sparsity=0.9,
                                 ramp_epochs=10)
    sp.step(2)
    current = zeros(model)
    with sp.at_sparsity():
        assert zeros(model) == round(0.9 * sp.num_weights)
    assert zeros(model) == current
    with sp.at_sparsity(0.5):
        assert zeros(model) == round(0.5 * sp.num_weights)
    with pytest.raises(ValueError):
        with sp.at_sparsity(1.0):
            pass


def test_resume_is_bit_identical(graph):
    def fresh():
        model, opt = make(seed=5)
        sp = GlobalGradualSparsifier(model, opt, final_sparsity=0.8,
                                     ramp_epochs=6)
        return model, opt, sp

    model, opt, sp = fresh()
    train(model, opt, sp, graph, 10)

    model2, opt2, sp2 = fresh()
    train(model2, opt2, sp2, graph, 4)
    states = (model2.state_dict(), opt2.state_dict(), sp2.state_dict())
    model3, opt3, sp3 = fresh()
    model3.load_state_dict(states[0])
    opt3.load_state_dict(states[1])
    sp3.load_state_dict(states[2])
    assert sp3.last_epoch == 3
    train(model3, opt3, sp3, graph, 6, start=4)
    for a, b in zip(masked_weights(model), masked_weights(model3)):
        assert torch.equal(a.parametrization.scores, b.parametrization.scores)
        assert torch.equal(a.parametrization.mask, b.parametrization.mask)


def test_state_dict_mismatch():
    model, opt = make()
    sp = GlobalGradualSparsifier(model, opt, final_sparsity=0.5,
                                 ramp_epochs=2)
    state = sp.state_dict()
    assert "weights" in state and not any(
        isinstance(v, torch.nn.Module) for v in state.values())
    other = supermask(GCN(IN, HIDDEN + 2, 3, OUT), seed=0)
    with pytest.raises(ValueError, match="another architecture"):
        GlobalGradualSparsifier(other, final_sparsity=0.5,
                                ramp_epochs=2).load_state_dict(state)
    with pytest.raises(ValueError, match="scope"):
        EdgePopupSparsifier(model, sparsity=0.5).load_state_dict(state)


def test_errors(graph):
    model, opt = make()
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        GlobalGradualSparsifier(model, final_sparsity=1.0, ramp_epochs=3)
    with pytest.raises(ValueError, match="ramp_epochs"):
        GlobalGradualSparsifier(model, final_sparsity=0.5, ramp_epochs=0)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        EdgePopupSparsifier(model, sparsity=-0.2)
    with pytest.raises(ValueError, match="supermask"):
        EdgePopupSparsifier(GCN(IN, HIDDEN, 2, OUT), sparsity=0.5)
    with pytest.raises(ValueError, match="optimizer trains none"):
        other = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.1)
        EdgePopupSparsifier(model, other, sparsity=0.5)
    with pytest.raises(ValueError, match="scope"):
        SupermaskSparsifier(model, schedule=GradualSchedule(0.5, 2),
                            scope="row")
    sp = EdgePopupSparsifier(model, opt, sparsity=0.5)
    with torch.no_grad():
        next(score_parameters(model))[0, 0] = float("nan")
    sp.step(1)  # the selection runs on the next read of the masks
    with pytest.raises(ValueError, match="NaN"):
        model(graph.x, graph.edge_index)
    # a refused selection is retried (and refused) on every later read,
    # never answered with the masks it left behind
    with pytest.raises(ValueError, match="NaN"):
        model(graph.x, graph.edge_index)


def test_callable_schedule(graph):
    model, opt = make()
    sp = GlobalGradualSparsifier(model, opt, final_sparsity=0.5,
                                 ramp_epochs=1,
                                 schedule=lambda e: min(0.1 * e, 0.5))
    assert sp.step(3) == pytest.approx(0.3)
    assert zeros(model) == round(0.3 * sp.num_weights)
    assert "GlobalGradualSparsifier" in repr(sp)


def test_refresh_is_lazy_and_every_reader_sees_fresh_masks(graph,
                                                           monkeypatch):
    import copy

    from torch_geometric_ugt.sparsifier import base
    calls = []
    real = base.prune_smallest_together_
    monkeypatch.setattr(
        base, "prune_smallest_together_", lambda scores, requests, **kw:
        calls.append([k for _, k, _ in requests]) or real(scores, requests,
                                                          **kw))
    model, opt = make()
    sp = GlobalGradualSparsifier(model, opt, final_sparsity=0.8,
                                 ramp_epochs=4)
    # a ramp epoch of the UGTs protocol selects twice: the new sparsity on
    # the forward pass, the final one for the evaluation; on the native CPU
    # kernel the evaluation also selects the next epoch's masks, in the
    # same read of the scores, and the next forward pass selects nothing
    ahead = reads_once(torch.device("cpu"))
    calls.clear()
    train(model, opt, sp, graph, 1, start=1)
    with torch.no_grad(), sp.at_sparsity():
        model(graph.x, graph.edge_index)
    k = [round(s * sp.num_weights) for s in (0.2, 0.4, 0.8)]
    assert calls == ([[k[0]], [k[2], k[1]]] if ahead else [[k[0]], [k[2]]])
    # each reader brings the stale masks up to date first
    def masks_in(state):
        return [v.clone() for k, v in state.items() if k.endswith(".mask")]

    readers = {
        "mask": lambda: [w.parametrization.mask.clone()
                         for w in masked_weights(model)],
        "state_dict": lambda: masks_in(model.state_dict()),
        "deepcopy": lambda: masks_in(copy.deepcopy(model).state_dict()),
    }
    for name, read in readers.items():
        train(model, opt, sp, graph, 1, start=2)
        assert all(w.parametrization.pending_refresh is not None
                   for w in masked_weights(model)), name
        got = read()
        sp.refresh()
        want = [w.parametrization.mask for w in masked_weights(model)]
        assert len(got) == len(want) > 0
        assert all(torch.equal(g, w) for g, w in zip(got, want)), name
    clone = copy.deepcopy(model)
    assert all(w.parametrization.pending_refresh is None
               for w in masked_weights(clone))


def test_at_sparsity_restore_is_consistent_with_refresh(graph):
    model, opt = make()
    sp = GlobalGradualSparsifier(model, opt, final_sparsity=0.9,
                                 ramp_epochs=10)
    sp.step(3)
    with sp.at_sparsity():
        pass
    restored = [w.parametrization.mask.clone() for w in masked_weights(model)]
    sp._written = None
    sp.refresh()
    assert all(torch.equal(a, w.parametrization.mask)
               for a, w in zip(restored, masked_weights(model)))
    # scores changed inside the block: masks are recomputed afterwards
    with sp.at_sparsity():
        with torch.no_grad():
            for s in score_parameters(model):
                s.mul_(-1)
    after = [w.parametrization.mask.clone() for w in masked_weights(model)]
    assert any(not torch.equal(a, b) for a, b in zip(restored, after))
    sp.refresh()
    assert all(torch.equal(a, w.parametrization.mask)
               for a, w in zip(after, masked_weights(model)))


@pytest.mark.parametrize("kind", ["edge_index", "sparse_tensor"])
@pytest.mark.parametrize("name", ["GCN", "GraphSAGE", "GIN", "GAT", "GATv2",
                                  "TwoConv"])
def test_exact_counts_on_every_model(name, kind, graph):
    from tests.conftest import MODELS, adjacency
    adj = adjacency(graph, kind)
    for make_sp in (
            lambda m, o: GlobalGradualSparsifier(m, o, final_sparsity=0.8,
                                                 ramp_epochs=2),
            lambda m, o: EdgePopupSparsifier(m, o, sparsity=0.8)):
        model = supermask(MODELS[name](), seed=0)
        opt = torch.optim.Adam(score_parameters(model), lr=0.05)
        sp = make_sp(model, opt)
        for epoch in range(3):
            sp.step(epoch)
            opt.zero_grad()
            F.cross_entropy(model(graph.x, adj), graph.y).backward()
            opt.step()
        if sp.scope == "global":
            assert zeros(model) == round(0.8 * sp.num_weights)
        else:
            for w in masked_weights(model):
                n = w.parametrization.mask.numel()
                assert int((w.parametrization.mask == 0).sum()) == \
                    round(0.8 * n)


def fresh_masks(model, sparsity):
    weights = masked_weights(model)
    scores = [w.parametrization.scores for w in weights]
    masks = [torch.empty_like(w.parametrization.mask) for w in weights]
    total = sum(s.numel() for s in scores)
    prune_smallest_reference_(scores, masks, round(sparsity * total))
    return masks


@pytest.mark.parametrize("backend_name", ["native", "torch"])
def test_masks_selected_ahead_are_the_masks_of_the_next_epoch(
        graph, backend_name):
    from torch_geometric_ugt import backend
    backend.set_backend(backend_name)
    try:
        model, opt = make()
        sp = GlobalGradualSparsifier(model, opt, final_sparsity=0.7,
                                     ramp_epochs=5)
        for epoch in range(8):
            sp.step(epoch)
            opt.zero_grad()
            out = model(graph.x, graph.edge_index)
            used = [w.parametrization.mask.clone()
                    for w in masked_weights(model)]
            want = fresh_masks(model, sp.current_sparsity)
            assert all(torch.equal(u, w) for u, w in zip(used, want)), epoch
            F.cross_entropy(out, graph.y).backward()
            opt.step()
            with torch.no_grad(), sp.at_sparsity():
                model(graph.x, graph.edge_index)
                evaluated = [w.parametrization.mask.clone()
                             for w in masked_weights(model)]
            want = fresh_masks(model, 0.7)
            assert all(torch.equal(e, w) for e, w in zip(evaluated, want))
            # spares live during the ramp only, and only where they pay
            ramp = epoch + 1 < 5
            assert (sp._spares is not None) == (ramp and
                                                backend_name == "native")
        # a look-ahead that does not fit any more (the masks changed dtype)
        # or whose step never comes is not used
        sp2 = GlobalGradualSparsifier(model, opt, final_sparsity=0.7,
                                      ramp_epochs=5)
        sp2.step(1)
        with torch.no_grad(), sp2.at_sparsity():
            pass
        model.double()
        sp2.step(2)
        got = [w.parametrization.mask.clone() for w in masked_weights(model)]
        want = fresh_masks(model, sp2.current_sparsity)
        assert all(torch.equal(g, w) for g, w in zip(got, want))
        assert all(g.dtype == torch.float64 for g in got)
        with torch.no_grad(), sp2.at_sparsity():
            pass
        sp2.step(5)  # not the epoch that was looked ahead to
        got = [w.parametrization.mask.clone() for w in masked_weights(model)]
        want = fresh_masks(model, sp2.current_sparsity)
        assert all(torch.equal(g, w) for g, w in zip(got, want))
    finally:
        backend.set_backend("auto")
