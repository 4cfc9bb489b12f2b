"""The sparsifier's invariant under any interleaving of what a user does:
every mask read is the selection of the current scores at the sparsity in
force, checked against the pure-PyTorch reference after every rule."""
import io
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, initialize,
                                 invariant, precondition, rule)
from torch_geometric.nn import GCN

from tests.conftest import HIDDEN, IN, OUT, tiny_graph
from torch_geometric_ugt import (EdgePopupSparsifier, GlobalGradualSparsifier,
                                 backend, load_ticket, masked_weights,
                                 save_ticket, score_parameters, supermask)
from torch_geometric_ugt.threshold import prune_smallest_reference_

OPTIMIZERS = {
    "sgd": lambda p: torch.optim.SGD(p, lr=0.5, momentum=0.9),
    "adam": lambda p: torch.optim.Adam(p, lr=0.05, foreach=False),
    "adam-foreach": lambda p: torch.optim.Adam(p, lr=0.05, foreach=True),
    "adam-fused": lambda p: torch.optim.Adam(p, lr=0.05, fused=True),
    "adamw-fused": lambda p: torch.optim.AdamW(p, lr=0.05, fused=True),
}
sparsities = st.sampled_from([0.0, 0.1, 0.5, 0.77, 0.9, 0.99])


def build():
    return GCN(IN, HIDDEN, 2, OUT)


def expected_masks(sp):
    """The reference selection of the current scores at the sparsity in
    force."""
    scores = [w.parametrization.scores.detach() for w in sp.weights]
    out = [torch.empty_like(s) for s in scores]
    s = sp.sparsity_in_force
    if sp.scope == "global":
        prune_smallest_reference_(scores, out, round(s * sp.num_weights))
    else:
        for score, mask in zip(scores, out):
            prune_smallest_reference_([score], [mask],
                                      round(s * score.numel()))
    return out


def assert_invariant(sp, model):
    # Read as a user does (the public attribute), then compare.
    read = [w.parametrization.mask for w in masked_weights(model)]
    for got, want in zip(read, expected_masks(sp)):
        assert torch.equal(got.float(), want)


class SparsifierMachine(RuleBasedStateMachine):

    @initialize(kind=st.sampled_from(sorted(OPTIMIZERS)),
                native=st.booleans(), scope=st.sampled_from(
                    ["global", "global", "layer"]),
                ramp=st.integers(1, 6), final=sparsities)
    def setup(self, kind, native, scope, ramp, final):
        backend.set_backend("native" if native else "torch")
        self.graph = tiny_graph()
        self.model = supermask(build(), seed=0)
        self.opt = OPTIMIZERS[kind](score_parameters(self.model))
        if scope == "global":
            self.sp = GlobalGradualSparsifier(self.model, self.opt,
                                              final_sparsity=final,
                                              ramp_epochs=ramp)
        else:
            self.sp = EdgePopupSparsifier(self.model, self.opt,
                                          sparsity=final)

    def teardown(self):
        backend.set_backend("auto")

    def forward(self):
        return self.model(self.graph.x, self.graph.edge_index)

    def optimizer_step(self):
        self.opt.zero_grad()
        F.cross_entropy(self.forward(), self.graph.y).backward()
        self.opt.step()

    @rule(epoch=st.one_of(st.none(), st.integers(0, 12)))
    def step(self, epoch):
        self.sp.step(epoch)

    @rule()
    def train(self):
        self.optimizer_step()

    @rule(sparsity=sparsities, train=st.booleans(), nested=st.booleans())
    def evaluate_in_block(self, sparsity, train, nested):
        target = sparsity
        with self.sp.at_sparsity(target):
            first = self.forward().detach()
            realised = self.sp.realised_sparsity()
            layers = self.sp.layer_sparsities()
            assert torch.equal(self.forward().detach(), first)
            assert_invariant(self.sp, self.model)
            if self.sp.scope == "global":
                assert realised == round(target * self.sp.num_weights) / \
                    self.sp.num_weights
            assert set(layers) == {w.name for w in self.sp.weights}
            if nested:
                with self.sp.at_sparsity():
                    assert_invariant(self.sp, self.model)
                assert self.sp.sparsity_in_force == target
                assert torch.equal(self.forward().detach(), first)
            if train:
                self.optimizer_step()
                assert_invariant(self.sp, self.model)

    @rule(epoch=st.integers(0, 12))
    def state_dict_round_trip(self, epoch):
        saved = self.sp.state_dict()
        model_state = {k: v.clone()
                       for k, v in self.model.state_dict().items()}
        self.sp.step(epoch)
        self.optimizer_step()
        self.model.load_state_dict(model_state)
        self.sp.load_state_dict(saved)
        assert self.sp.state_dict() == saved

    @rule()
    def refused_state_dict(self):
        saved = self.sp.state_dict()
        bad = dict(saved, final_sparsity=0.123)
        with pytest.raises(ValueError, match="final_sparsity"):
            self.sp.load_state_dict(bad)
        assert self.sp.state_dict() == saved

    @rule()
    def ticket_round_trip(self):
        buffer = io.BytesIO()
        save_ticket(self.model, buffer)
        buffer.seek(0)
        loaded = load_ticket(build(), buffer)
        for a, b in zip(masked_weights(loaded), masked_weights(self.model)):
            assert torch.equal(a.parametrization.mask, b.parametrization.mask)

    @rule(where=st.integers(0, 10_000), bad=st.sampled_from(
        [math.nan, math.inf, -math.inf]))
    def inject_non_finite(self, where, bad):
        w = self.sp.weights[where % len(self.sp.weights)]
        scores = w.parametrization.scores
        index = where % scores.numel()
        before = [m.parametrization.stored_mask().clone()
                  for m in self.sp.weights]
        old = scores.data.view(-1)[index].item()
        scores.data.view(-1)[index] = bad
        with pytest.raises(ValueError, match="NaN"):
            self.sp.refresh()
        with pytest.raises(ValueError, match="NaN"):
            self.forward()  # every read refuses too
        after = [m.parametrization.stored_mask() for m in self.sp.weights]
        assert all(torch.equal(a, b) for a, b in zip(before, after))
        scores.data.view(-1)[index] = old
        self.sp.refresh()

    @rule(scale=st.sampled_from([-1.0, 0.0, 3.0]), seed=st.integers(0, 9))
    def edit_scores_by_hand(self, scale, seed):
        gen = torch.Generator().manual_seed(seed)
        for w in self.sp.weights:
            s = w.parametrization.scores
            s.data.mul_(scale).add_(torch.randn(s.shape, generator=gen))
        self.sp.refresh()

    @precondition(lambda self: hasattr(self, "sp"))
    @invariant()
    def masks_are_the_selection(self):
        assert_invariant(self.sp, self.model)


SparsifierMachine.TestCase.settings = settings(
    max_examples=25, stateful_step_count=12, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
test_sparsifier_invariant = SparsifierMachine.TestCase
