import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from torch_geometric_ugt import backend
from torch_geometric_ugt.threshold import check_finite_scores
from torch_geometric_ugt.threshold import prune_smallest_
from torch_geometric_ugt.threshold import prune_smallest_reference_


@pytest.fixture(autouse=True, params=["torch", "native"])
def threshold_backend(request):
    """Every test runs on both backends; native must build here."""
    backend.set_backend(request.param)
    if request.param == "native":
        assert backend.active_backend("cpu") == "native"
    yield request.param
    backend.set_backend("auto")


def reference_masks(scores, k):
    """Brute force: stable sort by (value, global position)."""
    flat = torch.cat([s.reshape(-1) for s in scores]).double()
    flat = torch.where(flat == 0, torch.zeros_like(flat), flat)  # -0 == +0
    order = torch.sort(flat, stable=True).indices
    keep = torch.ones_like(flat)
    keep[order[:k]] = 0
    sizes = [s.numel() for s in scores]
    return [c.view(s.shape) for c, s in zip(keep.split(sizes), scores)]


def run(scores, k, dtype=torch.float32):
    masks = [torch.full(s.shape, 7.0, dtype=dtype) for s in scores]
    prune_smallest_(scores, masks, k)
    return masks


def assert_same(masks, expected):
    for m, e in zip(masks, expected):
        assert torch.equal(m.double(), e), (m, e)


def test_exact_count_and_order():
    scores = [torch.tensor([[3.0, 1.0], [2.0, 5.0]]), torch.tensor([4.0, 0.0])]
    masks = run(scores, 3)
    assert masks[0].tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert masks[1].tolist() == [1.0, 0.0]


def test_ties_broken_by_position():
    scores = [torch.ones(2, 3), torch.ones(4)]
    masks = run(scores, 4)
    assert masks[0].flatten().tolist() == [0, 0, 0, 0, 1, 1]
    assert masks[1].tolist() == [1, 1, 1, 1]


@pytest.mark.parametrize("k", [0, 1, 5, 9, 10, 11, -3])
def test_edge_counts(k):
    scores = [torch.randn(3, 3), torch.randn(1)]
    masks = run(scores, k)
    zeros = sum(int((m == 0).sum()) for m in masks)
    assert zeros == min(max(k, 0), 10)
    assert_same(masks, reference_masks(scores, min(max(k, 0), 10)))


def test_special_values():
    inf = math.inf
    scores = [torch.tensor([0.0, -0.0, inf, -inf, 1e-45, -1e-45, 0.0])]
    for k in range(8):
        assert_same(run(scores, k), reference_masks(scores, k))


def test_empty_and_non_contiguous_and_half_masks():
    base = torch.randn(6, 5)
    scores = [torch.empty(0), base.t(), torch.randn(1)]
    masks = run(scores, 12, dtype=torch.bfloat16)
    assert_same(masks, reference_masks(scores, 12))


@pytest.mark.skipif(not hasattr(torch, "float8_e4m3fn"),
                    reason="no float8 in this torch")
def test_masks_of_a_dtype_no_kernel_writes():
    # float8 masks go to the reference on either backend, same masks.
    scores = [torch.randn(40, 3), torch.randn(9)]
    masks = run(scores, 50, dtype=torch.float8_e4m3fn)
    assert_same(masks, reference_masks(scores, 50))


def test_rejects_mismatched_masks():
    with pytest.raises(ValueError, match="one mask per score"):
        prune_smallest_([torch.ones(2)], [], 1)
    with pytest.raises(ValueError, match="cannot hold"):
        prune_smallest_([torch.ones(2)], [torch.ones(3)], 1)


def test_check_finite_scores():
    check_finite_scores([torch.ones(3), torch.zeros(2)])
    with pytest.raises(ValueError, match="NaN or infinite"):
        check_finite_scores([torch.ones(3), torch.tensor([0.0, math.nan])])
    with pytest.raises(ValueError, match="NaN or infinite"):
        check_finite_scores([torch.tensor([math.inf])])


values = st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5, 1e-40, math.inf,
                          -math.inf, 3.0])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(values | st.floats(-10, 10, width=32),
                         min_size=0, max_size=12), min_size=1, max_size=6),
       st.floats(0, 1))
def test_matches_reference_property(lists, frac):
    scores = [torch.tensor(v, dtype=torch.float32) for v in lists]
    total = sum(s.numel() for s in scores)
    k = int(round(frac * total))
    assert_same(run(scores, k), reference_masks(scores, k))


def test_many_tiny_and_one_large_tensor():
    gen = torch.Generator().manual_seed(0)
    tiny = [torch.randint(-3, 3, (int(n), ), generator=gen).float()
            for n in torch.randint(0, 4, (3000, ), generator=gen)]
    for k in (0, 1, 1234, sum(t.numel() for t in tiny)):
        assert_same(run(tiny, k), reference_masks(tiny, k))
    large = [torch.randn(300_000, generator=gen)]
    large[0][::7] = 0.25  # many ties at one value
    for k in (1, 150_000, 299_999):
        assert_same(run(large, k), reference_masks(large, k))
    tie_k = int((large[0] < 0.25).sum()) + 1000
    assert_same(run(large, tie_k), reference_masks(large, tie_k))


def test_non_float32_scores_and_empty_lists():
    scores = [torch.randn(4, 3, dtype=torch.float64), torch.randn(5).double()]
    assert_same(run(scores, 6, dtype=torch.float64),
                reference_masks(scores, 6))
    prune_smallest_([], [], 0)


def test_all_equal_scores():
    scores = [torch.full((40_000, ), 0.5), torch.full((3, 3), 0.5)]
    for k in (1, 17, 39_999, 40_005):
        assert_same(run(scores, k), reference_masks(scores, k))


@pytest.mark.parametrize("k", [0, 1, 3])
def test_nan_refused_before_writing(k):
    scores = [torch.tensor([1.0, 2.0]), torch.tensor([1.0, math.nan, 0.0])]
    with pytest.raises(ValueError, match="NaN"):
        run(scores, k)
    masks = [torch.full((2, ), 7.0), torch.full((3, ), 7.0)]
    with pytest.raises(ValueError, match="NaN"):
        prune_smallest_(scores, masks, k, check_finite=True)
    assert all(bool((m == 7.0).all()) for m in masks)


@pytest.mark.parametrize("bad", [math.inf, -math.inf])
@pytest.mark.parametrize("k", [0, 2, 4])
def test_infinite_refused_only_when_asked(bad, k):
    scores = [torch.randn(3000), torch.tensor([0.5, bad, 0.0, -1.0])]
    assert_same(run(scores, k), reference_masks(scores, k))
    masks = [torch.full(s.shape, 7.0) for s in scores]
    with pytest.raises(ValueError, match="NaN or infinite"):
        prune_smallest_(scores, masks, k, check_finite=True)
    assert all(bool((m == 7.0).all()) for m in masks)


def test_largest_finite_values_are_not_screened_out():
    big = torch.finfo(torch.float32).max
    scores = [torch.tensor([big, -big, 0.0, 1e-45, -1e-45])]
    masks = [torch.empty(5)]
    prune_smallest_(scores, masks, 2, check_finite=True)
    assert masks[0].tolist() == [1.0, 0.0, 1.0, 1.0, 0.0]


def test_check_finite_scores_huge_but_finite():
    huge = torch.full((10, ), 3e38)
    check_finite_scores([huge])  # the float32 sum overflows, values do not


def test_check_finite_scores_allowing_infinite():
    # +inf and -inf in one tensor sum to NaN: the screen must confirm.
    check_finite_scores([torch.tensor([math.inf, -math.inf, 1.0])],
                        allow_infinite=True)
    with pytest.raises(ValueError, match=r"indices \[1\]\) contain NaN "):
        check_finite_scores([torch.ones(2), torch.tensor([math.nan])],
                            allow_infinite=True)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 200_000), st.floats(0, 1), st.floats(0, 1),
       st.sampled_from([math.nan, -math.nan, math.inf, -math.inf]),
       st.booleans())
def test_refused_selection_writes_no_mask_property(n, frac, where, bad,
                                                   check_finite):
    # however large, and wherever the bad value is: untouched masks
    scores = [torch.randn(n), torch.randn(3)]
    scores[0][min(int(where * n), n - 1)] = bad
    masks = [torch.full(s.shape, 7.0) for s in scores]
    k = round(frac * (n + 3))
    if math.isinf(bad) and not check_finite:
        prune_smallest_(scores, masks, k)
        assert_same(masks, reference_masks(scores, k))
        return
    with pytest.raises(ValueError, match="NaN"):
        prune_smallest_(scores, masks, k, check_finite=check_finite)
    assert all(bool((m == 7.0).all()) for m in masks)


@pytest.mark.parametrize("k", [2.0, True, "3", None])
def test_k_must_be_an_int(k):
    with pytest.raises(TypeError, match="k must be an int"):
        prune_smallest_([torch.randn(4)], [torch.empty(4)], k)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64,
                                   torch.float16, torch.bfloat16])
def test_the_torch_path_is_an_operator_too(dtype):
    # the reference as one operator, opaque to torch.compile
    op = torch.ops.torch_geometric_ugt.prune_smallest_torch_
    gen = torch.Generator().manual_seed(0)
    scores = [torch.randn(40, 3, generator=gen), torch.randn(9, generator=gen)]
    masks = [torch.empty(40, 3, dtype=dtype), torch.empty(9, dtype=dtype)]
    torch.library.opcheck(op, (scores, masks, torch.tensor(50), True))
    op(scores, masks, torch.tensor(50), True)
    assert_same(masks, reference_masks(scores, 50))
    scores[1][4] = math.inf
    before = [m.clone() for m in masks]
    with pytest.raises(ValueError, match="infinite"):
        op(scores, masks, torch.tensor(50), True)
    assert all(torch.equal(m, b) for m, b in zip(masks, before))
    op(scores, masks, torch.tensor(50), False)
    assert_same(masks, reference_masks(scores, 50))


def test_meta_scores_are_refused():
    scores = [torch.empty(4, 3, device="meta")]
    with pytest.raises(ValueError, match="meta device"):
        prune_smallest_(scores, [torch.empty(4, 3, device="meta")], 5)


def test_counts_beyond_int64_are_clamped():
    scores = [torch.randn(4, 3), torch.randn(5)]
    assert_same(run(scores, 2**70), reference_masks(scores, 17))
    assert_same(run(scores, -2**70), reference_masks(scores, 0))


def _bad_inputs():
    scores = [torch.randn(4, 4), torch.randn(3)]
    base = torch.ones(20)
    return {
        "overlapping masks": (scores, [base[:16].view(4, 4), base[10:13]],
                              ValueError, "shares memory with another"),
        "mask over a score": (scores, [scores[0], torch.ones(3)],
                              ValueError, "shares memory with score"),
        "expanded mask": (scores, [torch.ones(4, 1).expand(4, 4),
                                   torch.ones(3)], ValueError,
                          "overlaps itself"),
        "integer mask": (scores, [torch.ones(4, 4),
                                  torch.ones(3, dtype=torch.long)],
                         TypeError, "floating point"),
        "meta mask": (scores, [torch.ones(4, 4),
                               torch.ones(3, device="meta")],
                      ValueError, "meta device"),
        "wrong shape last": (scores, [torch.ones(4, 4), torch.ones(4)],
                             ValueError, "cannot hold"),
    }


@pytest.mark.parametrize("case", sorted(_bad_inputs()))
def test_every_input_is_checked_before_any_mask_is_written(case):
    scores, masks, error, match = _bad_inputs()[case]
    # the first mask is always a valid one: it must stay untouched
    before = [m.clone() for m in masks if m.device.type != "meta"]
    score_copies = [s.clone() for s in scores]
    with pytest.raises(error, match=match):
        prune_smallest_(scores, masks, 7)
    after = [m for m in masks if m.device.type != "meta"]
    assert all(torch.equal(a, b) for a, b in zip(before, after))
    assert all(torch.equal(a, b) for a, b in zip(score_copies, scores))


def test_a_transposed_mask_is_written_right():
    scores = [torch.randn(4, 5)]
    mask = torch.ones(5, 4).t()
    prune_smallest_(scores, [mask], 7)
    want = torch.ones(4, 5)
    prune_smallest_reference_(scores, [want], 7)
    assert torch.equal(mask, want)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(values | st.floats(-10, 10, width=32),
                         min_size=0, max_size=12), min_size=1, max_size=6),
       st.lists(st.floats(0, 1), min_size=2, max_size=5),
       st.sampled_from([torch.float32, torch.float16, torch.bfloat16]))
def test_several_counts_match_the_reference_property(lists, fracs, dtype):
    scores = [torch.tensor(v, dtype=torch.float32) for v in lists]
    total = sum(s.numel() for s in scores)
    ks = [int(round(f * total)) for f in fracs]
    got = [torch.full(s.shape, 7.0, dtype=dtype) for s in scores]
    prune_smallest_(scores, got, ks)
    want = [torch.empty(s.shape, dtype=dtype) for s in scores]
    prune_smallest_reference_(scores, want, ks)
    assert_same(got, want)


def test_coats_are_nested_exact_selections():
    gen = torch.Generator().manual_seed(3)
    scores = [torch.randn(300_000, generator=gen),
              torch.randint(-4, 5, (70_000, ), generator=gen).float()]
    total = 370_000
    ks = [int(0.9 * total), int(0.95 * total), int(0.99 * total)]
    levels = [torch.empty_like(s) for s in scores]
    prune_smallest_(scores, levels, torch.tensor(ks))
    flat = torch.cat([m.view(-1) for m in levels])
    for c, k in enumerate(ks):  # coat c keeps what has level > c / C
        coat = reference_masks(scores, k)
        kept = torch.cat([m.view(-1) for m in coat])
        assert torch.equal(flat * 3 > c + 0.5, kept.bool())
    # one count is the binary mask
    single = [torch.empty_like(s) for s in scores]
    prune_smallest_(scores, single, [ks[0]])
    assert_same(single, reference_masks(scores, ks[0]))


def test_coats_sharing_a_tied_value_over_many_segments():
    # three values over many kernel work items: the ties at a threshold
    # span segments, and two coats prune inside the same run of ties
    gen = torch.Generator().manual_seed(4)
    scores = [torch.randint(0, 3, (150_000, ), generator=gen).float(),
              torch.randint(0, 3, (90_000, ), generator=gen).float()]
    ks = [50_000, 61_234, 170_001]
    levels = [torch.empty_like(s) for s in scores]
    prune_smallest_(scores, levels, ks)
    flat = torch.cat([m.view(-1) for m in levels])
    for c, k in enumerate(ks):
        kept = torch.cat([m.view(-1) for m in reference_masks(scores, k)])
        assert torch.equal(flat * 3 > c + 0.5, kept.bool())
    for k in ks:  # and each count alone
        assert_same(run(scores, k), reference_masks(scores, k))


def test_coats_over_a_million_scores_are_exact():
    # over 2^20 scores several counts take the kernel's wide histogram:
    # Gaussian scores, runs of ties, +-0, the largest finite values and
    # +-inf, over tensors of uneven sizes
    gen = torch.Generator().manual_seed(5)
    big = torch.finfo(torch.float32).max
    scores = [torch.randn(700_001, generator=gen),
              torch.randint(-3, 4, (400_000, ), generator=gen).float() / 8,
              torch.tensor([0.0, -0.0, big, -big, math.inf, -math.inf]),
              torch.randn(3, 5, generator=gen)]
    total = sum(s.numel() for s in scores)
    assert total > 2 ** 20
    ks = [0, 1, int(0.3 * total), int(0.5 * total), 700_123, total - 1,
          total]
    levels = [torch.empty_like(s) for s in scores]
    prune_smallest_(scores, levels, ks)
    flat = torch.cat([m.view(-1) for m in levels])
    for c, k in enumerate(ks):
        kept = torch.cat([m.view(-1) for m in reference_masks(scores, k)])
        assert torch.equal(flat * len(ks) > c + 0.5, kept.bool()), k


def test_coats_over_a_million_scores_refuse_nan_before_writing():
    scores = [torch.randn(1_100_000), torch.tensor([1.0, math.nan])]
    masks = [torch.full(s.shape, 7.0) for s in scores]
    with pytest.raises(ValueError, match="NaN"):
        prune_smallest_(scores, masks, [5, 500_000])
    scores[1] = torch.tensor([1.0, -math.inf])
    with pytest.raises(ValueError, match="NaN or infinite"):
        prune_smallest_(scores, masks, [5, 500_000], check_finite=True)
    assert all(bool((m == 7.0).all()) for m in masks)


@pytest.mark.parametrize("k", [[], [1, "2"], [True, 1],
                               torch.tensor([[1, 2]]),
                               torch.tensor([1.0, 2.0])])
def test_bad_count_lists_are_refused(k):
    with pytest.raises(TypeError, match="k must be"):
        prune_smallest_([torch.randn(4)], [torch.empty(4)], k)
