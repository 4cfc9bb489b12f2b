import pytest
import torch
import torch.nn.functional as F
from torch_geometric.nn import GCN

from tests.conftest import HIDDEN, IN, OUT
from torch_geometric_ugt import (EdgePopupSparsifier, GlobalGradualSparsifier,
                                 GradualSchedule, SupermaskSparsifier,
                                 masked_weights, score_parameters, supermask)
from torch_geometric_ugt.threshold import prune_smallest_reference_


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
    sp.remove()
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
    with pytest.raises(ValueError, match="does not train the scores"):
        other = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.1)
        EdgePopupSparsifier(model, other, sparsity=0.5)
    with pytest.raises(ValueError, match="scope"):
        SupermaskSparsifier(model, schedule=GradualSchedule(0.5, 2),
                            scope="row")
    EdgePopupSparsifier(model, opt, sparsity=0.5)  # the hook keeps it
    # a diverged step: NaN gradients make NaN scores
    for s in score_parameters(model):
        s.grad = torch.full_like(s, float("nan"))
    opt.step()  # the selection runs on the next read of the masks
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


def test_at_sparsity_restore_is_consistent_with_refresh(graph):
    model, opt = make()
    sp = GlobalGradualSparsifier(model, opt, final_sparsity=0.9,
                                 ramp_epochs=10)
    sp.step(3)
    with sp.at_sparsity():
        pass
    restored = [w.parametrization.mask.clone() for w in masked_weights(model)]
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


def fresh_masks(model, sparsity, scope="global"):
    """The reference selection of the current scores at ``sparsity``."""
    weights = masked_weights(model)
    scores = [w.parametrization.scores for w in weights]
    masks = [torch.empty_like(w.parametrization.stored_mask())
             for w in weights]
    if scope == "global":
        total = sum(s.numel() for s in scores)
        prune_smallest_reference_(scores, masks, round(sparsity * total))
    else:
        for score, mask in zip(scores, masks):
            prune_smallest_reference_([score], [mask],
                                      round(sparsity * score.numel()))
    return masks


def assert_masks(model, sparsity, scope="global"):
    got = [w.parametrization.mask for w in masked_weights(model)]
    want = fresh_masks(model, sparsity, scope)
    assert all(torch.equal(g, w) for g, w in zip(got, want))


def buffers(model):
    return [w.parametrization.stored_mask().clone()
            for w in masked_weights(model)]


def test_every_reader_sees_fresh_masks(graph):
    import copy

    model, opt = make()
    sp = GlobalGradualSparsifier(model, opt, final_sparsity=0.8,
                                 ramp_epochs=4)

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
        got = read()
        want = fresh_masks(model, sp.current_sparsity)
        assert len(got) == len(want) > 0
        assert all(torch.equal(g, w) for g, w in zip(got, want)), name
    clone = copy.deepcopy(model)
    assert all(w.parametrization.sparsifier is None
               for w in masked_weights(clone))
    assert all(w.parametrization.sparsifier is sp
               for w in masked_weights(model))


@pytest.mark.parametrize("kind", ["adam-fused", "adamw-fused",
                                  "adam-foreach", "sgd"])
def test_masks_follow_every_optimizer_after_the_ramp(graph, kind):
    # 1. a fused step does not bump the scores' version counters
    model = supermask(GCN(IN, HIDDEN, 3, OUT), seed=0)
    params = score_parameters(model)
    opt = {"adam-fused": lambda: torch.optim.Adam(params, lr=0.05,
                                                  fused=True),
           "adamw-fused": lambda: torch.optim.AdamW(params, lr=0.05,
                                                    fused=True),
           "adam-foreach": lambda: torch.optim.Adam(params, lr=0.05,
                                                    foreach=True),
           "sgd": lambda: torch.optim.SGD(params, lr=1.0)}[kind]()
    sp = GlobalGradualSparsifier(model, opt, final_sparsity=0.6,
                                 ramp_epochs=2)
    moved = 0
    for epoch in range(8):
        before = buffers(model)
        train(model, opt, sp, graph, 1, start=epoch)
        assert_masks(model, sp.current_sparsity)
        moved += epoch > 2 and any(not torch.equal(a, b)
                                   for a, b in zip(before, buffers(model)))
    assert moved >= 1  # after the ramp the masks really move


def test_refresh_reselects_after_edits_by_hand(graph):
    # 1. scores edited through .data, then refresh()
    model, opt = make()
    sp = GlobalGradualSparsifier(model, opt, final_sparsity=0.5,
                                 ramp_epochs=1, initial_sparsity=0.5)
    before = buffers(model)
    for s in score_parameters(model):
        s.data.neg_()
    sp.refresh()
    assert any(not torch.equal(a, b) for a, b in zip(before, buffers(model)))
    assert_masks(model, 0.5)


def test_queries_inside_a_block_keep_its_sparsity(graph):
    # 2. realised_sparsity() / layer_sparsities() inside at_sparsity()
    model, opt = make()
    sp = GlobalGradualSparsifier(model, opt, final_sparsity=0.9,
                                 ramp_epochs=10)
    sp.step(2)
    with torch.no_grad(), sp.at_sparsity():
        first = model(graph.x, graph.edge_index)
        assert sp.realised_sparsity() == pytest.approx(0.9, abs=1e-3)
        layers = sp.layer_sparsities()
        assert torch.equal(model(graph.x, graph.edge_index), first)
        assert_masks(model, 0.9)
        with sp.at_sparsity(0.5):
            assert sp.sparsity_in_force == 0.5
            assert_masks(model, 0.5)
        assert sp.layer_sparsities() == layers
        assert torch.equal(model(graph.x, graph.edge_index), first)
    assert sp.sparsity_in_force == sp.current_sparsity == pytest.approx(0.18)
    assert sp.realised_sparsity() == pytest.approx(0.18, abs=1e-3)
    assert_masks(model, sp.current_sparsity)


@pytest.mark.parametrize("backend_name", ["native", "torch"])
@pytest.mark.parametrize("scope", ["global", "layer"])
def test_refused_refresh_leaves_the_masks(graph, backend_name, scope):
    # 3. NaN scores: refused, masks exactly as they were, on both backends
    from torch_geometric_ugt import backend
    backend.set_backend(backend_name)
    try:
        model, opt = make()
        sp = (GlobalGradualSparsifier(model, opt, final_sparsity=0.7,
                                      ramp_epochs=3) if scope == "global"
              else EdgePopupSparsifier(model, opt, sparsity=0.7))
        train(model, opt, sp, graph, 4)
        before = buffers(model)
        last = masked_weights(model)[-1].parametrization.scores
        last.data[0, 0] = float("nan")
        def read_in_block():
            with sp.at_sparsity(0.88):
                model(graph.x, graph.edge_index)

        for call in (sp.refresh, read_in_block,
                     lambda: model(graph.x, graph.edge_index),
                     sp.realised_sparsity):
            with pytest.raises(ValueError, match="NaN"):
                call()
            assert all(torch.equal(a, b)
                       for a, b in zip(before, buffers(model)))
        last.data[0, 0] = 0.0
        sp.refresh()
        assert_masks(model, sp.sparsity_in_force, scope)
    finally:
        backend.set_backend("auto")


def test_refused_constructor_leaves_no_hook(graph):
    # 7. a constructor that raises leaves nothing behind
    model, opt = make()
    good = buffers(model)
    next(score_parameters(model)).data[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        GlobalGradualSparsifier(model, opt, final_sparsity=0.5,
                                ramp_epochs=2)
    assert not opt._optimizer_step_post_hooks
    assert all(w.parametrization.sparsifier is None
               for w in masked_weights(model))
    next(score_parameters(model)).data[0, 0] = 0.0
    opt.zero_grad()
    F.cross_entropy(model(graph.x, graph.edge_index), graph.y).backward()
    opt.step()
    assert all(torch.equal(a, b) for a, b in zip(good, buffers(model)))
    GlobalGradualSparsifier(model, opt, final_sparsity=0.5, ramp_epochs=2)


def test_refused_calls_change_nothing(graph):
    # 7. step() and load_state_dict() validate before they change anything
    model, opt = make()
    sp = GlobalGradualSparsifier(model, opt, final_sparsity=0.5,
                                 ramp_epochs=3,
                                 schedule=lambda e: 1.2 if e > 5 else 0.1 * e)
    sp.step(2)
    state = sp.state_dict()
    with pytest.raises(ValueError, match=r"schedule\(6\)"):
        sp.step(6)
    assert sp.state_dict() == state
    for bad in (2.5, "7", True, -5, None.__class__):
        with pytest.raises((TypeError, ValueError), match="epoch"):
            sp.step(bad)
        assert sp.state_dict() == state
    broken = [dict(state, final_sparsity=0.9), dict(state, last_epoch="3"),
              dict(state, current_sparsity=0.3),  # another schedule
              dict(state, scope="layer"), {"last_epoch": 1}, [state]]
    for bad in broken:
        with pytest.raises((TypeError, ValueError)):
            sp.load_state_dict(bad)
        assert sp.state_dict() == state
    sp.load_state_dict(dict(state, last_epoch=4, current_sparsity=0.4))
    assert sp.last_epoch == 4
    assert_masks(model, 0.4)


def test_epochs_far_past_the_ramp():
    model, opt = make()
    sp = GlobalGradualSparsifier(model, opt, final_sparsity=0.5,
                                 ramp_epochs=3)
    assert sp.step(10**400) == 0.5 and sp.last_epoch == 10**400
    assert_masks(model, 0.5)


def test_one_sparsifier_owns_a_model(graph):
    # 8. a second sparsifier is refused until remove()
    model, opt = make()
    first = GlobalGradualSparsifier(model, opt, final_sparsity=0.5,
                                    ramp_epochs=2)
    with pytest.raises(RuntimeError, match="call remove"):
        EdgePopupSparsifier(model, opt, sparsity=0.3)
    first.remove()
    with pytest.raises(RuntimeError, match="removed"):
        first.step(1)
    second = EdgePopupSparsifier(model, opt, sparsity=0.3)
    train(model, opt, second, graph, 2)
    assert_masks(model, 0.3, "layer")
    assert len(opt._optimizer_step_post_hooks) == 1


def test_optimizer_must_train_every_score():
    # 8. an optimizer that trains only some of the scores
    model, _ = make()
    some = list(score_parameters(model))[1:]
    with pytest.raises(ValueError, match=r"1 of 3 masked weights"):
        GlobalGradualSparsifier(model, torch.optim.Adam(some),
                                final_sparsity=0.5, ramp_epochs=2)


def test_replaced_scores_are_refused(graph):
    # 8. score Parameters replaced by the user
    model, opt = make()
    sp = GlobalGradualSparsifier(model, opt, final_sparsity=0.5,
                                 ramp_epochs=2)
    p = masked_weights(model)[0].parametrization
    old = p.scores
    p.scores = torch.nn.Parameter(old.detach().clone())
    with pytest.raises(RuntimeError, match="replaced"):
        sp.refresh()
    p.scores = old
    old.data = old.data.double()
    with pytest.raises(TypeError, match="float32"):
        sp.refresh()
    old.data = old.data.float()
    sp.refresh()


@pytest.mark.parametrize("bad", ["0.9", True, None, [0.5]])
def test_sparsities_are_real_numbers(bad):
    # 8. final_sparsity="0.9" or True
    model, opt = make()
    with pytest.raises(TypeError, match="real number"):
        GlobalGradualSparsifier(model, opt, final_sparsity=bad,
                                ramp_epochs=2)
    with pytest.raises(TypeError, match="real number"):
        EdgePopupSparsifier(model, opt, sparsity=bad)
    sp = GlobalGradualSparsifier(model, opt, final_sparsity=0.5,
                                 ramp_epochs=2)
    if bad is not None:  # None: the final sparsity
        with pytest.raises(TypeError, match="real number"):
            sp.at_sparsity(bad).__enter__()
    assert sp.sparsity_in_force == 0.0


def test_schedule_must_end_at_final_sparsity():
    model, opt = make()
    with pytest.raises(ValueError, match="ends at"):
        GlobalGradualSparsifier(model, opt, final_sparsity=0.5,
                                ramp_epochs=2,
                                schedule=GradualSchedule(0.8, 2))


def test_a_model_with_nan_scores_can_be_reloaded_and_released(graph):
    model, opt = make()
    sp = GlobalGradualSparsifier(model, opt, final_sparsity=0.5,
                                 ramp_epochs=2)
    good = {k: v.clone() for k, v in model.state_dict().items()}
    for s in score_parameters(model):
        s.grad = torch.full_like(s, float("nan"))
    opt.step()  # diverged
    with pytest.raises(ValueError, match="NaN"):
        model(graph.x, graph.edge_index)
    model.load_state_dict(good)  # the recovery the error suggests
    assert_masks(model, sp.sparsity_in_force)
    for s in score_parameters(model):
        s.grad = torch.full_like(s, float("nan"))
    opt.step()
    kept = buffers(model)
    sp.remove()  # releases, keeping the last valid masks
    assert all(torch.equal(a, b) for a, b in zip(kept, buffers(model)))
    assert masked_weights(model)[0].parametrization.sparsifier is None


def test_blocks_may_exit_in_any_order(graph):
    model, opt = make()
    sp = GlobalGradualSparsifier(model, opt, final_sparsity=0.9,
                                 ramp_epochs=10)
    sp.step(3)
    a, b = sp.at_sparsity(0.2), sp.at_sparsity(0.9)
    a.__enter__()
    b.__enter__()
    assert_masks(model, 0.9)
    a.__exit__(None, None, None)  # the outer block ends first
    assert sp.sparsity_in_force == 0.9
    assert_masks(model, 0.9)
    b.__exit__(None, None, None)
    assert sp.sparsity_in_force == sp.current_sparsity
    assert_masks(model, sp.current_sparsity)
    assert sp.realised_sparsity() == pytest.approx(0.27, abs=2e-3)


@pytest.mark.parametrize("backend_name", ["native", "torch"])
def test_a_mask_saved_for_backward_is_never_used_changed(graph,
                                                         backend_name):
    # a trainable weight's gradient needs the mask of its forward pass
    from torch_geometric_ugt import backend
    backend.set_backend(backend_name)
    try:
        model = supermask(GCN(IN, HIDDEN, 2, OUT), seed=0,
                          freeze_unmasked=False)
        for w in masked_weights(model):
            w.weight.requires_grad_(True)
        sp = GlobalGradualSparsifier(model, final_sparsity=0.9,
                                     ramp_epochs=10, initial_sparsity=0.2)
        loss = model(graph.x, graph.edge_index).sum()
        with torch.no_grad(), sp.at_sparsity(0.9):
            model(graph.x, graph.edge_index)
        with pytest.raises(RuntimeError, match="inplace operation"):
            loss.backward()
        # frozen weights (the usual case) need no mask in backward
        frozen, opt = make()
        sp2 = GlobalGradualSparsifier(frozen, opt, final_sparsity=0.9,
                                      ramp_epochs=10, initial_sparsity=0.2)
        loss = frozen(graph.x, graph.edge_index).sum()
        with torch.no_grad(), sp2.at_sparsity(0.9):
            frozen(graph.x, graph.edge_index)
        loss.backward()
    finally:
        backend.set_backend("auto")


def test_schedule_state_is_read_only():
    model, opt = make()
    sp = GlobalGradualSparsifier(model, opt, final_sparsity=0.5,
                                 ramp_epochs=2)
    for name, value in (("current_sparsity", 0.3), ("last_epoch", 4),
                        ("schedule", GradualSchedule(0.9, 2))):
        with pytest.raises(AttributeError):
            setattr(sp, name, value)
    assert sp.current_sparsity == 0.0 and sp.last_epoch == -1


def test_weights_the_forward_never_reads_are_refused_by_name():
    # a weight that is never read would keep its initial scores and take
    # part in the global selection all the same
    class HalfUsed(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.used = torch.nn.Linear(8, 8)
            self.unused = torch.nn.Linear(8, 8)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.used(x)

    model = supermask(HalfUsed(), seed=0)
    optimizer = torch.optim.Adam(score_parameters(model), lr=0.1)
    sparsifier = GlobalGradualSparsifier(model, optimizer, final_sparsity=0.5,
                                         ramp_epochs=1)
    optimizer.step()  # no backward yet: nothing to judge
    model(torch.randn(4, 8)).sum().backward()
    before = [s.detach().clone() for s in score_parameters(model)]
    with pytest.raises(ValueError, match=r"never read .*'unused.weight'"):
        optimizer.step()
    assert all(torch.equal(a, b)
               for a, b in zip(before, score_parameters(model)))
    sparsifier.remove()

    model = supermask(HalfUsed(), seed=0, exclude=["unused.weight"])
    optimizer = torch.optim.Adam(score_parameters(model), lr=0.1)
    GlobalGradualSparsifier(model, optimizer, final_sparsity=0.5,
                            ramp_epochs=1)
    model(torch.randn(4, 8)).sum().backward()
    optimizer.step()
