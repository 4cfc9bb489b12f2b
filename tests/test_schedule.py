import pytest

from torch_geometric_ugt.schedule import (CallableSchedule, ConstantSchedule,
                                          GradualSchedule, check_sparsity)


def test_linear_matches_eq5():
    s = GradualSchedule(0.9, 200)
    assert s(0) == 0.0
    assert s(100) == pytest.approx(0.45)
    assert s(200) == pytest.approx(0.9)
    assert s(399) == pytest.approx(0.9)
    assert s(-5) == 0.0


def test_start_epoch_initial_and_cubic():
    s = GradualSchedule(0.8, 10, initial_sparsity=0.2, start_epoch=5)
    assert s(0) == pytest.approx(0.2) and s(5) == pytest.approx(0.2)
    assert s(10) == pytest.approx(0.5)
    c = GradualSchedule(0.8, 10, kind="cubic")
    assert c(5) == pytest.approx(0.8 - 0.8 * 0.5**3)
    assert c(5) > GradualSchedule(0.8, 10)(5)


def test_constant_and_callable():
    assert ConstantSchedule(0.3)(17) == 0.3
    s = CallableSchedule(lambda e: min(0.05 * e, 0.5), 0.5)
    assert s(4) == pytest.approx(0.2) and s.final_sparsity == 0.5
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        CallableSchedule(lambda e: 1.5, 0.5)(0)


@pytest.mark.parametrize("bad", [1.0, -0.1, 2, float("nan")])
def test_rejects_bad_sparsity(bad):
    with pytest.raises(ValueError, match="fraction of weights REMOVED"):
        check_sparsity(bad)
    with pytest.raises(ValueError):
        GradualSchedule(bad, 10)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_rejects_bad_ramp(bad):
    with pytest.raises(ValueError, match="ramp_epochs"):
        GradualSchedule(0.5, bad)


def test_rejects_unknown_kind_and_type():
    with pytest.raises(ValueError, match="linear"):
        GradualSchedule(0.5, 10, kind="exp")
    with pytest.raises(TypeError):
        check_sparsity("a lot")


@pytest.mark.parametrize("bad", ["0.9", True, None, b"0.5"])
def test_sparsity_is_a_real_number(bad):
    with pytest.raises(TypeError, match="real number"):
        check_sparsity(bad)
    with pytest.raises(TypeError, match="real number"):
        GradualSchedule(bad, 10)


def test_numpy_and_int_sparsities_are_real_numbers():
    import numpy as np
    assert check_sparsity(np.float32(0.5)) == 0.5
    assert check_sparsity(0) == 0.0


def test_epochs_far_past_the_ramp_and_strict_start():
    assert GradualSchedule(0.9, 10)(10**400) == 0.9
    assert GradualSchedule(0.9, 10, start_epoch=5)(-10**400) == 0.0
    with pytest.raises(TypeError, match="start_epoch"):
        GradualSchedule(0.9, 10, start_epoch=1.5)


def test_fingerprints_tell_schedules_apart():
    assert GradualSchedule(0.9, 10).fingerprint() == \
        GradualSchedule(0.9, 10).fingerprint()
    assert GradualSchedule(0.9, 10).fingerprint() != \
        GradualSchedule(0.9, 11).fingerprint()
    a = CallableSchedule(lambda e: min(0.1 * e, 0.5), 0.5)
    b = CallableSchedule(lambda e: min(0.1 * e, 0.5), 0.5)
    c = CallableSchedule(lambda e: min(0.2 * e, 0.5), 0.5)
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()
