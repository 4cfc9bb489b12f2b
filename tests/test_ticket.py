import io
import math

import pytest
import torch
import torch.nn.functional as F

from tests.conftest import MODELS
from torch_geometric_ugt import (GlobalGradualSparsifier, load_ticket,
                                 masked_weights, save_ticket,
                                 score_parameters, supermask)
from torch_geometric_ugt import ticket as ticket_module
from torch_geometric_ugt.ticket import pack_bits, unpack_bits


def searched(name, graph, seed=3):
    """A supermask model after a few search steps at sparsity 0.8."""
    torch.manual_seed(seed)  # unmasked parameters (biases) are random too
    model = supermask(MODELS[name](), seed=seed)
    opt = torch.optim.Adam(score_parameters(model), lr=0.05)
    sp = GlobalGradualSparsifier(model, opt, final_sparsity=0.8,
                                 ramp_epochs=2)
    for epoch in range(4):
        sp.step(epoch)
        opt.zero_grad()
        F.cross_entropy(model(graph.x, graph.edge_index), graph.y).backward()
        opt.step()
    return model.eval(), sp


def saved(model, **kwargs):
    buffer = io.BytesIO()
    save_ticket(model, buffer, **kwargs)
    buffer.seek(0)  # read back from the start, as with torch.load
    return buffer


@pytest.mark.parametrize("compress", [True, False])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_round_trip_gives_the_same_outputs(name, compress, graph):
    model, sp = searched(name, graph)
    want = model(graph.x, graph.edge_index)
    buffer = saved(model, compress=compress)
    torch.manual_seed(123)  # the fresh model's own init must not matter
    loaded = load_ticket(MODELS[name](), buffer).eval()
    assert torch.equal(loaded(graph.x, graph.edge_index), want)
    for a, b in zip(masked_weights(model), masked_weights(loaded)):
        assert torch.equal(a.parametrization.mask, b.parametrization.mask)
        assert torch.equal(a.weight, b.weight)
    # scores equal the masks: a sparsifier at the ticket's sparsity keeps it
    s = sp.realised_sparsity()
    GlobalGradualSparsifier(loaded, final_sparsity=s, ramp_epochs=1,
                            initial_sparsity=s)
    assert torch.equal(loaded(graph.x, graph.edge_index), want)


def test_ticket_is_much_smaller_than_a_state_dict(graph):
    from torch_geometric.nn import GCN
    model = supermask(GCN(256, 256, 2, 8, bias=False), seed=0)
    GlobalGradualSparsifier(model, final_sparsity=0.9, ramp_epochs=1,
                            initial_sparsity=0.9)
    plain, packed = io.BytesIO(), io.BytesIO()
    torch.save(model.state_dict(), plain)
    plain.seek(0)
    info = save_ticket(model, packed, compress=False)
    weights = sum(w.weight.numel() for w in masked_weights(model))
    assert info["masked_weights"] == weights
    # 1 bit per weight plus a small header, vs float32 weights, scores and
    # masks in the state dict
    assert info["bytes"] < weights / 8 + 4096
    assert plain.getbuffer().nbytes > 90 * weights / 8
    compressed = save_ticket(model, io.BytesIO())["bytes"]
    assert compressed < info["bytes"]


def test_pack_bits_round_trip():
    gen = torch.Generator().manual_seed(0)
    for n in (0, 1, 7, 8, 9, 1000):
        bits = torch.rand(n, generator=gen) > 0.5
        packed = pack_bits(bits)
        assert packed.dtype == torch.uint8 and packed.numel() == (n + 7) // 8
        assert torch.equal(unpack_bits(packed, n), bits)


def test_refuses_what_it_cannot_regenerate(graph):
    model, _ = searched("GCN", graph)
    with pytest.raises(ValueError, match="no masked weights"):
        save_ticket(MODELS["GCN"](), io.BytesIO())
    w = masked_weights(model)[0]
    with torch.no_grad():
        w.weight[0, 0] += 1.0
    with pytest.raises(ValueError, match="differs from the one"):
        save_ticket(model, io.BytesIO())


def test_refuses_corrupted_and_mismatched_files(graph, monkeypatch):
    from torch_geometric.nn import GCN

    from tests.conftest import HIDDEN, IN, OUT
    model, _ = searched("GCN", graph)
    data = saved(model).getvalue()
    # truncated file
    with pytest.raises(ValueError, match="not a readable ticket"):
        load_ticket(MODELS["GCN"](), io.BytesIO(data[:len(data) // 2]))
    # flipped mask bits: the checksum catches them
    ticket = torch.load(io.BytesIO(data), weights_only=True)
    ticket["mask_bits"][len(ticket["mask_bits"]) // 2] ^= 0xFF
    broken = io.BytesIO()
    torch.save(ticket, broken)
    broken.seek(0)
    with pytest.raises(ValueError, match="corrupted"):
        load_ticket(MODELS["GCN"](), broken)
    # not a ticket
    other = io.BytesIO()
    torch.save(model.state_dict(), other)
    other.seek(0)
    with pytest.raises(ValueError, match="not a ticket"):
        load_ticket(MODELS["GCN"](), other)
    # another architecture
    with pytest.raises(ValueError, match="another architecture"):
        load_ticket(GCN(IN, HIDDEN + 1, 2, OUT), io.BytesIO(data))
    with pytest.raises(ValueError, match="another architecture"):
        load_ticket(GCN(IN, HIDDEN, 3, OUT), io.BytesIO(data))
    # already a supermask model
    with pytest.raises(ValueError, match="freshly built"):
        load_ticket(supermask(MODELS["GCN"](), seed=0), io.BytesIO(data))
    # a torch whose random numbers differ: weights fail their checksum
    from torch_geometric_ugt import init
    real = init._kaiming_uniform_

    def shifted(t, fan, gen):
        real(t, fan, gen)
        t.add_(1e-3)

    monkeypatch.setitem(init.WEIGHT_INITS, "kaiming_uniform", shifted)
    with pytest.raises(ValueError, match="torch"):
        load_ticket(MODELS["GCN"](), io.BytesIO(data))


def test_file_round_trip(tmp_path, graph):
    model, _ = searched("GAT", graph)
    path = tmp_path / "gat.ticket"
    info = save_ticket(model, path)
    assert info["bytes"] == path.stat().st_size
    loaded = load_ticket(MODELS["GAT"](), str(path)).eval()
    assert torch.equal(loaded(graph.x, graph.edge_index),
                       model(graph.x, graph.edge_index))


def test_checksum_covers_the_unmasked_tensors(graph):
    # 5. one flipped bit in a bias loads a different model: refused
    model, _ = searched("GCN", graph)
    ticket = torch.load(io.BytesIO(saved(model).getvalue()),
                        weights_only=True)
    key = next(k for k in ticket["other"] if k.endswith("bias"))
    ticket["other"][key].view(torch.int32)[0] ^= 1
    flipped = io.BytesIO()
    torch.save(ticket, flipped)
    flipped.seek(0)
    with pytest.raises(ValueError, match="fails its checksum"):
        load_ticket(MODELS["GCN"](), flipped)
    for field, value in (("recipe", {"weight_init": "kaiming_uniform",
                                     "seed": 4}), ("compressed", False)):
        ticket = torch.load(io.BytesIO(saved(model).getvalue()),
                            weights_only=True)
        ticket[field] = value
        edited = io.BytesIO()
        torch.save(ticket, edited)
        edited.seek(0)
        with pytest.raises(ValueError, match="fails its checksum"):
            load_ticket(MODELS["GCN"](), edited)


def test_refused_load_leaves_the_model_untouched(graph):
    # 5. a retry with a good file works on the same model
    model, _ = searched("GCN", graph)
    data = saved(model).getvalue()
    target = MODELS["GCN"]()
    before = {k: v.clone() for k, v in target.state_dict().items()}
    flags = [p.requires_grad for p in target.parameters()]
    ticket = torch.load(io.BytesIO(data), weights_only=True)
    ticket["mask_bits"][3] ^= 0x10
    corrupted = io.BytesIO()
    torch.save(ticket, corrupted)
    corrupted.seek(0)
    for bad in (corrupted, io.BytesIO(data[:100])):
        with pytest.raises(ValueError):
            load_ticket(target, bad)
        assert not masked_weights(target)
        assert type(target).__name__ == "GCN"
        after = target.state_dict()
        assert before.keys() == after.keys()
        assert all(torch.equal(before[k], after[k]) for k in before)
        assert flags == [p.requires_grad for p in target.parameters()]
    loaded = load_ticket(target, io.BytesIO(data)).eval()
    assert torch.equal(loaded(graph.x, graph.edge_index),
                       model(graph.x, graph.edge_index))


def test_a_failure_half_way_is_rolled_back(graph, monkeypatch):
    model, _ = searched("GAT", graph)
    data = saved(model).getvalue()
    target = MODELS["GAT"]()
    before = {k: v.clone() for k, v in target.state_dict().items()}

    def broken(*args, **kwargs):
        raise RuntimeError("disk gone")

    monkeypatch.setattr(ticket_module, "unpack_bits", broken)
    with pytest.raises(RuntimeError, match="disk gone"):
        load_ticket(target, io.BytesIO(data))
    assert not masked_weights(target)
    after = target.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    monkeypatch.undo()
    load_ticket(target, io.BytesIO(data))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16,
                                   torch.float64])
def test_round_trip_in_every_float_dtype(dtype, graph):
    # 5. float16 / bfloat16 / float64 models
    model, _ = searched("GAT", graph)
    model = model.to(dtype)
    x = graph.x.to(dtype)
    want = model(x, graph.edge_index)
    loaded = load_ticket(MODELS["GAT"]().to(dtype), saved(model)).eval()
    assert all(w.parametrization.mask.dtype == dtype
               for w in masked_weights(loaded))
    assert loaded(x, graph.edge_index).dtype == dtype
    assert torch.equal(loaded(x, graph.edge_index), want)


def test_version_1_files_still_load(graph):
    model, _ = searched("GCN", graph)
    ticket = torch.load(io.BytesIO(saved(model).getvalue()),
                        weights_only=True)
    ticket["version"] = 1
    del ticket["sha256"]
    assert_loads_as(ticket, model, graph)


def assert_loads_as(ticket, model, graph):
    """The (rewritten) ticket loads into a fresh GCN as :obj:`model`."""
    old = io.BytesIO()
    torch.save(ticket, old)
    old.seek(0)
    loaded = load_ticket(MODELS["GCN"](), old).eval()
    assert torch.equal(loaded(graph.x, graph.edge_index),
                       model(graph.x, graph.edge_index))


def test_tickets_of_earlier_releases_keep_their_fan_in(graph):
    # earlier releases counted an attention vector's fan-in as its channels
    from torch_geometric_ugt.init import WEIGHT_INITS, fan_in, sample
    from torch_geometric_ugt.ticket import regenerate_weights
    model, _ = searched("GAT", graph)  # heads=2
    old = [w for w in masked_weights(model) if ".att" in w.name]
    assert old and all(w.weight.shape[1] == 2 for w in old)
    recipe = {"weight_init": "kaiming_uniform", "seed": 3}
    names = [w.name for w in masked_weights(model)]
    shapes = [list(w.weight.shape) for w in masked_weights(model)]
    legacy = regenerate_weights(recipe, shapes, names)
    current = regenerate_weights(dict(recipe, fan_in="torch"), shapes, names)
    for name, a, b in zip(names, legacy, current):
        assert torch.equal(a, b) == (".att" not in name)
    # a model with the old weights saves and loads with its rule
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for w in masked_weights(model):
            w.weight.copy_(sample(w.weight.shape, w.attr,
                                  WEIGHT_INITS["kaiming_uniform"], gen,
                                  "channels"))
            w.parametrization.recipe = ("kaiming_uniform", 3, "channels")
            w.parametrization.fan_in = fan_in(w.attr, w.weight, "channels")
    want = model(graph.x, graph.edge_index)
    ticket = torch.load(io.BytesIO(saved(model).getvalue()),
                        weights_only=True)
    assert ticket["recipe"]["fan_in"] == "channels"
    loaded = load_ticket(MODELS["GAT"](), saved(model)).eval()
    assert torch.equal(loaded(graph.x, graph.edge_index), want)
    again = load_ticket(MODELS["GAT"](), saved(loaded)).eval()
    assert torch.equal(again(graph.x, graph.edge_index), want)


def test_refused_device_leaves_the_model_untouched(graph):
    if torch.cuda.is_available():
        pytest.skip("needs a machine without CUDA")
    model, _ = searched("GCN", graph)
    target = MODELS["GCN"]()
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises((RuntimeError, AssertionError)):
        load_ticket(target, saved(model), device="cuda:7")
    assert not masked_weights(target)
    assert all(torch.equal(before[k], v)
               for k, v in target.state_dict().items())


def test_buffers_named_like_parametrization_parts_are_kept(graph):
    class WithMask(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.gcn = MODELS["GCN"]()
            self.sub = torch.nn.Module()
            self.sub.register_buffer("mask", torch.arange(4.0))

        def forward(self, x, edge_index):
            return self.gcn(x, edge_index) + self.sub.mask[:1]

    torch.manual_seed(0)
    model = supermask(WithMask(), seed=1)
    with torch.no_grad():
        model.sub.mask.mul_(3)
    loaded = load_ticket(WithMask(), saved(model))
    assert torch.equal(loaded.sub.mask, model.sub.mask)


def test_dtype_mismatch_is_refused(graph):
    model, _ = searched("GCN", graph)
    data = saved(model.half()).getvalue()
    with pytest.raises(ValueError, match=r"float16.*model\.half\(\)"):
        load_ticket(MODELS["GCN"](), io.BytesIO(data))
    load_ticket(MODELS["GCN"]().half(), io.BytesIO(data))


def test_a_lowered_version_does_not_skip_the_checksum(graph):
    model, _ = searched("GCN", graph)
    ticket = torch.load(io.BytesIO(saved(model).getvalue()),
                        weights_only=True)
    ticket["version"] = 1
    ticket["other"][next(iter(ticket["other"]))].add_(1.0)
    edited = io.BytesIO()
    torch.save(ticket, edited)
    edited.seek(0)
    with pytest.raises(ValueError, match="fails its checksum"):
        load_ticket(MODELS["GCN"](), edited)


def test_version_3_tickets_read_their_fan_ins_from_the_shapes(graph):
    # version 3 stored no fan-ins: the shapes gave them (torch's rule)
    model, _ = searched("GCN", graph)
    ticket = torch.load(io.BytesIO(saved(model).getvalue()),
                        weights_only=True)
    assert ticket["version"] == 4
    assert ticket["fans"] == [w.weight.shape[1]
                              for w in masked_weights(model)]
    ticket["version"] = 3
    del ticket["fans"], ticket["sha256"]
    ticket["sha256"] = ticket_module._ticket_digest(
        ticket, bytes(ticket["mask_bits"].numpy().tobytes()))
    assert_loads_as(ticket, model, graph)


def test_pyg_bare_weights_round_trip_at_their_own_fan_in():
    # RGCNConv stores (relations, in, out): fan-in 4, not 4 * 32
    from torch_geometric.nn import RGCNConv
    torch.manual_seed(0)
    conv = supermask(RGCNConv(4, 32, 3), seed=1,
                     weight_init="signed_constant")
    fans = {w.name: w.parametrization.fan_in for w in masked_weights(conv)}
    assert fans == {"weight": 4, "root": 4}
    bound = math.sqrt(2.0) / 2.0
    assert torch.allclose(masked_weights(conv)[0].weight.abs(),
                          torch.full((3, 4, 32), bound))
    x = torch.randn(6, 4)
    edge_index = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]])
    edge_type = torch.tensor([0, 1, 2, 0])
    buffer = io.BytesIO()
    save_ticket(conv, buffer)
    buffer.seek(0)
    loaded = load_ticket(RGCNConv(4, 32, 3), buffer)
    assert {w.name: w.parametrization.fan_in
            for w in masked_weights(loaded)} == fans
    assert torch.equal(loaded(x, edge_index, edge_type),
                       conv(x, edge_index, edge_type))
